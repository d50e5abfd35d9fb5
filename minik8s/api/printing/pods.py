"""A Pod's row as kubectl prints it: READY, STATUS and RESTARTS computed as upstream's printPod does
(init containers, sidecars, terminating and lost pods), and the -o wide IP, node and readiness gates."""
from __future__ import annotations

import time

from minik8s.api import kinds

from minik8s.api.printing.cells import cond_true, human_duration, parse_time, since
from minik8s.api.printing.columns import columns


def pod_status(pod, now: float | None = None) -> tuple[str, str, str]:
    """(READY, STATUS, RESTARTS) exactly as kubectl's printPod computes them."""
    spec, status = pod.spec, pod.status
    restarts = 0
    restartable_restarts = 0
    total = len(spec.containers)
    ready = 0
    last_restart = 0.0
    last_restartable_restart = 0.0
    phase = status.phase
    reason = status.reason or phase
    for c in status.conditions:
        if c.type == "PodScheduled" and c.reason == "SchedulingGated":
            reason = "SchedulingGated"
    init_restartable = {}
    for c in spec.initContainers:
        always = c.HasField("restartPolicy") and c.restartPolicy == "Always"
        init_restartable[c.name] = always
        if always:
            total += 1
    initializing = False
    n_init = len(spec.initContainers)
    for i, cs in enumerate(status.initContainerStatuses):
        restarts += cs.restartCount
        if cs.lastState.HasField("terminated"):
            last_restart = max(last_restart, parse_time(cs.lastState.terminated.finishedAt))
        restartable = init_restartable.get(cs.name, False)
        if restartable:
            restartable_restarts += cs.restartCount
            if cs.lastState.HasField("terminated"):
                last_restartable_restart = max(last_restartable_restart,
                                               parse_time(cs.lastState.terminated.finishedAt))
        st = cs.state
        if st.HasField("terminated") and st.terminated.exitCode == 0:
            continue
        if restartable and cs.HasField("started") and cs.started:
            if cs.ready:
                ready += 1
            continue
        if st.HasField("terminated"):
            t = st.terminated
            if not t.reason:
                reason = f"Init:Signal:{t.signal}" if t.signal else f"Init:ExitCode:{t.exitCode}"
            else:
                reason = "Init:" + t.reason
        elif st.HasField("waiting") and st.waiting.reason and st.waiting.reason != "PodInitializing":
            reason = "Init:" + st.waiting.reason
        else:
            reason = f"Init:{i}/{n_init}"
        initializing = True
        break
    if not initializing or cond_true(status.conditions, "Initialized"):
        restarts = restartable_restarts
        last_restart = last_restartable_restart
        has_running = False
        for cs in reversed(status.containerStatuses):
            restarts += cs.restartCount
            if cs.lastState.HasField("terminated"):
                last_restart = max(last_restart, parse_time(cs.lastState.terminated.finishedAt))
            st = cs.state
            if st.HasField("waiting") and st.waiting.reason:
                reason = st.waiting.reason
            elif st.HasField("terminated") and st.terminated.reason:
                reason = st.terminated.reason
            elif st.HasField("terminated"):
                t = st.terminated
                reason = f"Signal:{t.signal}" if t.signal else f"ExitCode:{t.exitCode}"
            elif cs.ready and st.HasField("running"):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if cond_true(status.conditions, "Ready") else "NotReady"
    if pod.metadata.deletionTimestamp and status.reason == "NodeLost":
        reason = "Unknown"
    elif pod.metadata.deletionTimestamp and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_s = str(restarts)
    if restarts and last_restart:
        restarts_s = f"{restarts} ({human_duration((now or time.time()) - last_restart)} ago)"
    return f"{ready}/{total}", reason, restarts_s


@columns(kinds.POD, "Name", "Ready", "Status", "Restarts", "Age",
         wide=("IP", "Node", "Nominated Node", "Readiness Gates"))
def _pod_row(o, now):
    ready, reason, restarts = pod_status(o, now)
    ip = o.status.podIPs[0].ip if o.status.podIPs else (o.status.podIP or "")
    gates = "<none>"
    if o.spec.readinessGates:
        conds = {c.type: c.status for c in o.status.conditions}
        true = sum(1 for g in o.spec.readinessGates if conds.get(g.conditionType) == "True")
        gates = f"{true}/{len(o.spec.readinessGates)}"
    return [o.metadata.name, ready, reason, restarts, since(o.metadata.creationTimestamp, now),
            ip or "<none>", o.spec.nodeName or "<none>", o.status.nominatedNodeName or "<none>", gates]
