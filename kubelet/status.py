"""Pod status as upstream's kubelet computes it (kubelet_pods.go generateAPIPodStatus, getPhase,
convertToAPIContainerStatuses; status/generate.go for the conditions), from what the runtime shows
and what the kubelet remembers (why a container is waiting, probe results). Pure functions: the
pod worker gathers the inputs, this module decides, the StatusWriter writes."""
from __future__ import annotations

from dataclasses import dataclass, field

from minik8s.api.clock import rfc3339
from minik8s.api.pb import core_pb2

from kubelet.runtime.base import ContainerStatus

PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"
TERMINAL = (SUCCEEDED, FAILED)
KUBELET_CONDITIONS = ("Initialized", "Ready", "ContainersReady", "PodScheduled")


@dataclass
class ObservedPod:
    """What the pod worker saw and remembers for one pod."""
    containers: dict[str, list[ContainerStatus]] = field(default_factory=dict)   # name -> newest first
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)            # name -> (reason, message)
    ready: dict[str, bool] = field(default_factory=dict)       # container id -> readiness result
    started: dict[str, bool] = field(default_factory=dict)     # container id -> startup result
    pod_ip: str = ""
    host_ip: str = ""
    start_time: str = ""
    terminal: bool = False             # the pod is done: no container will run again
    runtime: str = ""                  # containerID scheme: docker://, process://, fake://


def container_id(runtime: str, cid: str) -> str:
    return f"{runtime}://{cid}" if cid else ""


def _state(cs: ContainerStatus, runtime: str) -> core_pb2.ContainerState:
    st = core_pb2.ContainerState()
    if cs.state == "running":
        st.running.startedAt = rfc3339(cs.started_at)
    elif cs.state == "exited":
        t = st.terminated
        t.exitCode = cs.exit_code
        t.reason = cs.reason or ("Completed" if cs.exit_code == 0 else "Error")
        t.message = cs.message
        t.startedAt = rfc3339(cs.started_at) if cs.started_at else ""
        t.finishedAt = rfc3339(cs.finished_at) if cs.finished_at else ""
        t.containerID = container_id(runtime, cs.id)
    else:
        st.waiting.reason = "ContainerCreating"
    return st


def should_restart(restart_policy: str, cs: ContainerStatus | None) -> bool:
    """Upstream ShouldContainerBeRestarted for a container that is not running."""
    if cs is None or cs.state != "exited":
        return True
    if restart_policy == "Never":
        return False
    if restart_policy == "OnFailure":
        return cs.exit_code != 0
    return True


def _container_statuses(pod, specs, obs: ObservedPod, old: dict, has_init: bool, is_init: bool,
                        restart_policy: str) -> list:
    out = []
    default_reason = "PodInitializing" if has_init else "ContainerCreating"
    for c in specs:
        history = obs.containers.get(c.name, [])
        prev = old.get(c.name)
        s = core_pb2.ContainerStatus(name=c.name, image=c.image, restartCount=0, ready=False)
        if not history:
            s.state.waiting.reason = default_reason
            if prev is not None:
                s.restartCount = prev.restartCount
                s.lastState.CopyFrom(prev.lastState)
        else:
            latest = history[0]
            s.state.CopyFrom(_state(latest, obs.runtime))
            s.restartCount = latest.attempt
            s.imageID = latest.image_id
            s.containerID = container_id(obs.runtime, latest.id)
            if len(history) > 1 and history[1].state == "exited":
                s.lastState.CopyFrom(_state(history[1], obs.runtime))
        latest = history[0] if history else None
        running = latest is not None and latest.state == "running"
        if running:
            started = obs.started.get(latest.id, not c.HasField("startupProbe"))
            s.started = started
            if is_init:
                s.ready = False
            else:
                s.ready = started and obs.ready.get(latest.id, not c.HasField("readinessProbe"))
        else:
            s.started = False
            s.ready = is_init and latest is not None and latest.state == "exited" and latest.exit_code == 0
        why = obs.waiting.get(c.name)
        restartable = not (is_init and latest is not None and latest.state == "exited" and latest.exit_code == 0)
        if why and not running and restartable and should_restart(restart_policy, latest) and not obs.terminal:
            if s.state.HasField("terminated"):
                s.lastState.CopyFrom(s.state)
            s.state.Clear()
            s.state.waiting.reason, s.state.waiting.message = why
        out.append(s)
    return out


def get_phase(spec, statuses: list, init_statuses: list, terminal: bool) -> str:
    """Upstream getPhase (regular init containers only: minik8s has no sidecars)."""
    pending_init = failed_init = 0
    by_name = {s.name: s for s in init_statuses}
    for c in spec.initContainers:
        s = by_name.get(c.name)
        if s is None:
            pending_init += 1
        elif s.state.HasField("running"):
            pending_init += 1
        elif s.state.HasField("terminated"):
            if s.state.terminated.exitCode != 0:
                failed_init += 1
        elif s.state.HasField("waiting"):
            if s.lastState.HasField("terminated"):
                if s.lastState.terminated.exitCode != 0:
                    failed_init += 1
            else:
                pending_init += 1
        else:
            pending_init += 1
    unknown = running = waiting = stopped = succeeded = 0
    by_name = {s.name: s for s in statuses}
    for c in spec.containers:
        s = by_name.get(c.name)
        if s is None:
            unknown += 1
        elif s.state.HasField("running"):
            running += 1
        elif s.state.HasField("terminated"):
            stopped += 1
            if s.state.terminated.exitCode == 0:
                succeeded += 1
        elif s.state.HasField("waiting"):
            if s.lastState.HasField("terminated"):
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1
    if failed_init > 0 and spec.restartPolicy == "Never":
        return FAILED
    any_regular_started = any(s.state.HasField("running") or s.state.HasField("terminated")
                              or s.lastState.HasField("terminated") for s in statuses)
    if (pending_init > 0 and not any_regular_started) or waiting > 0:
        return PENDING
    if running > 0 and unknown == 0:
        return RUNNING
    if running == 0 and stopped > 0 and unknown == 0:
        if terminal:
            return SUCCEEDED if stopped == succeeded else FAILED
        if spec.restartPolicy == "Always":
            return RUNNING
        if stopped == succeeded:
            return SUCCEEDED
        if spec.restartPolicy == "Never":
            return FAILED
        return RUNNING
    return PENDING


def _go_list(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def containers_ready_condition(spec, statuses: list, phase: str) -> tuple[str, str, str]:
    by_name = {s.name: s for s in statuses}
    unknown = [c.name for c in spec.containers if c.name not in by_name]
    unready = [c.name for c in spec.containers if c.name in by_name and not by_name[c.name].ready]
    if phase == SUCCEEDED and not unknown:
        return "False", "PodCompleted", ""
    if phase == FAILED:
        return "False", "PodFailed", ""
    msgs = []
    if unknown:
        msgs.append(f"containers with unknown status: {_go_list(unknown)}")
    if unready:
        msgs.append(f"containers with unready status: {_go_list(unready)}")
    if msgs:
        return "False", "ContainersNotReady", ", ".join(msgs)
    return "True", "", ""


def ready_condition(spec, conditions: dict, statuses: list, phase: str) -> tuple[str, str, str]:
    status, reason, message = containers_ready_condition(spec, statuses, phase)
    if status != "True":
        return status, reason, message
    msgs = []
    for gate in spec.readinessGates:
        c = conditions.get(gate.conditionType)
        if c is None:
            msgs.append(f'corresponding condition of pod readiness gate "{gate.conditionType}" does not exist.')
        elif c.status != "True":
            msgs.append(f'the status of pod readiness gate "{gate.conditionType}" is not "True", but {c.status}')
    if msgs:
        return "False", "ReadinessGatesNotReady", ", ".join(msgs)
    return "True", "", ""


def initialized_condition(spec, init_statuses: list, phase: str) -> tuple[str, str, str]:
    by_name = {s.name: s for s in init_statuses}
    unknown = [c.name for c in spec.initContainers if c.name not in by_name]
    unready = [c.name for c in spec.initContainers if c.name in by_name and not by_name[c.name].ready]
    if phase == SUCCEEDED and not unknown:
        return "True", "PodCompleted", ""
    msgs = []
    if unknown:
        msgs.append(f"containers with unknown status: {_go_list(unknown)}")
    if unready:
        msgs.append(f"containers with incomplete status: {_go_list(unready)}")
    if msgs:
        return "False", "ContainersNotInitialized", ", ".join(msgs)
    return "True", "", ""


def generate_status(pod, obs: ObservedPod, now: float, old: core_pb2.PodStatus | None = None
                    ) -> core_pb2.PodStatus:
    """The pod's status now. `old` is the kubelet's last status for it (the API's when None): restart
    counts and condition transition times carry over from it."""
    api = pod.status
    old = api if old is None else old
    spec = pod.spec
    s = core_pb2.PodStatus()
    old_regular = {c.name: c for c in old.containerStatuses}
    old_init = {c.name: c for c in old.initContainerStatuses}
    has_init = len(spec.initContainers) > 0
    s.initContainerStatuses.extend(_container_statuses(pod, spec.initContainers, obs, old_init, has_init, True,
                                                        "Never" if spec.restartPolicy == "Never" else "OnFailure"))
    s.containerStatuses.extend(_container_statuses(pod, spec.containers, obs, old_regular, has_init, False,
                                                    spec.restartPolicy))
    phase = get_phase(spec, list(s.containerStatuses), list(s.initContainerStatuses), obs.terminal)
    if api.phase in TERMINAL:
        phase = api.phase                # pods never leave a terminal phase
    elif old.phase in TERMINAL:
        phase = old.phase
    s.phase = phase
    if phase == old.phase:
        s.reason, s.message = old.reason, old.message
    s.hostIP = obs.host_ip
    if obs.host_ip:
        s.hostIPs.add(ip=obs.host_ip)
    ip = obs.pod_ip or (old.podIP if phase in TERMINAL else "")
    if ip:
        s.podIP = ip
        s.podIPs.add(ip=ip)
    s.startTime = obs.start_time or old.startTime
    s.qosClass = old.qosClass
    s.nominatedNodeName = old.nominatedNodeName

    old_conds = {c.type: c for c in old.conditions}
    ts = rfc3339(now)

    def cond(type_: str, value: tuple[str, str, str]):
        status, reason, message = value
        c = core_pb2.PodCondition(type=type_, status=status, reason=reason, message=message)
        prev = old_conds.get(type_)
        c.lastTransitionTime = prev.lastTransitionTime if prev is not None and prev.status == status \
            and prev.lastTransitionTime else ts
        return c

    for c in api.conditions:             # conditions the kubelet does not own are kept as they are
        if c.type not in KUBELET_CONDITIONS:
            s.conditions.append(c)
    all_conds = {c.type: c for c in s.conditions}
    s.conditions.append(cond("Initialized", initialized_condition(spec, list(s.initContainerStatuses), phase)))
    s.conditions.append(cond("Ready", ready_condition(spec, all_conds, list(s.containerStatuses), phase)))
    s.conditions.append(cond("ContainersReady", containers_ready_condition(spec, list(s.containerStatuses), phase)))
    s.conditions.append(cond("PodScheduled", ("True", "", "")))
    return s


def status_equal(a: core_pb2.PodStatus, b: core_pb2.PodStatus) -> bool:
    return a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True)
