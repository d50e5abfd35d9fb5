"""One pod's sync, after upstream's SyncPod / computePodActions (kuberuntime_manager.go): read what the
runtime has for the pod, decide what should run, act, and report the status. Level-triggered and
idempotent: a sync may run any number of times and only ever moves the pod towards its spec.

    admitted?      refused while the node is under pressure (the eviction manager's rule); devices
                   (GPUs) assigned once; a pod that cannot get them fails, as upstream
    sandbox        one ready sandbox (the pod's network); volumes set up before it
    init           init containers one at a time, in order, each to success
    containers     each started; a dead one restarted as restartPolicy says, after the crash-loop backoff;
                   one whose liveness or startup probe failed killed first
    terminal       a pod whose containers are all done for good gets its sandbox stopped
    evicted        node-pressure eviction: containers killed at once, phase Failed, reason Evicted,
                   the DisruptionTarget condition (TerminationByKubelet)
    deleted        preStop, SIGTERM, the grace period, SIGKILL; then the kubelet deletes the pod object

Messages and reasons are upstream's, so `describe pod` reads as it would on a real cluster."""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from minik8s.api.clock import Clock, rfc3339
from minik8s.api.errors import Conflict, NotFound
from minik8s.api.pb import core_pb2
from minik8s.api.quantity import bytes_value, cpu_millis
from minik8s.api.service_env import pod_service_env
from minik8s.client.events import NORMAL, WARNING

from kubelet import gpu as gpumod
from kubelet.backoff import Backoff
from kubelet.env import EnvError, command_line, container_env
from kubelet.eviction import DISRUPTION_REASON, EVICTION_GRACE, REASON as EVICTED
from kubelet.paths import LABEL_CLUSTER, container_log_path, pod_log_dir
from kubelet.pod_objects import PodObjects, fetch_pod_objects
from kubelet.probes import http_get, resolve_port
from kubelet.runtime.base import (LABEL_ATTEMPT, LABEL_CONTAINER_NAME, LABEL_NODE, LABEL_POD_NAME,
                                  LABEL_POD_NAMESPACE, LABEL_POD_UID, ContainerConfig, ContainerStatus,
                                  ImageNeverPullError, ImagePullError, PortMapping, RuntimeError_,
                                  SandboxConfig, SandboxStatus)
from kubelet.status import TERMINAL, ObservedPod, generate_status, should_restart
from kubelet.tokens import TokenManager
from kubelet.volumes import VolumeError, cleanup_pod_dir, container_mounts, setup_volumes

log = logging.getLogger("kubelet.sync")

MIN_GRACE = 2.0            # upstream minimumGracePeriodInSeconds, for what is left after a preStop hook
SANDBOX_RETRY = 2.0
KEEP_INSTANCES = 2         # of a container: the current instance and the previous one (logs --previous)


@dataclass
class PodState:
    """What the kubelet remembers about one pod between syncs (upstream: reason cache, status cache)."""
    uid: str = ""
    start_time: str = ""
    admitted: bool = False
    rejected: tuple[str, str] | None = None               # (reason, message) when admission failed
    evicted: str | None = None                             # the eviction message, once evicted
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)   # why a container is waiting
    image_failed_at: dict[str, float] = field(default_factory=dict)
    start_failed_at: dict[str, float] = field(default_factory=dict)
    backoff_reported: dict[str, float] = field(default_factory=dict)    # container -> finishedAt reported
    last_status: core_pb2.PodStatus | None = None         # the last status written
    last_rv: int = 0                                       # the resourceVersion that write made
    terminal: bool = False                                 # containers done for good, sandbox stopped
    volumes: dict[str, str] = field(default_factory=dict)
    objects: PodObjects = field(default_factory=PodObjects)  # its ConfigMaps and Secrets, read this sync


@dataclass
class SyncResult:
    requeue: float | None = None        # sync again after this many seconds (None: at the resync period)
    done: bool = False                   # the pod is gone: the worker may exit


def pod_full_name(pod) -> str:
    return f"{pod.metadata.name}_{pod.metadata.namespace}({pod.metadata.uid})"


def go_duration(seconds: float) -> str:
    """Go's time.Duration text for whole seconds: 10s, 1m20s, 5m0s."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s}s"
    h, m = divmod(m, 60)
    return f"{h}h{m}m{s}s"


def go_duration_ms(seconds: float) -> str:
    """Go's time.Duration text truncated to milliseconds, as upstream's pull events give it: 850ms,
    1.2s, 1m3.04s."""
    ms = int(seconds * 1000)
    if ms < 1000:
        return f"{ms}ms" if ms else "0s"
    m, ms = divmod(ms, 60000)
    h, m = divmod(m, 60)
    return (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{ms / 1000:.3f}".rstrip("0").rstrip(".") + "s"


def container_ref(pod, cname: str) -> core_pb2.ObjectReference:
    is_init = any(c.name == cname for c in pod.spec.initContainers)
    return core_pb2.ObjectReference(
        kind="Pod", apiVersion="v1", namespace=pod.metadata.namespace, name=pod.metadata.name,
        uid=pod.metadata.uid, resourceVersion=pod.metadata.resourceVersion,
        fieldPath=f"spec.{'initContainers' if is_init else 'containers'}{{{cname}}}")


def grace_period(pod) -> float:
    meta = pod.metadata
    if meta.HasField("deletionGracePeriodSeconds"):
        return float(meta.deletionGracePeriodSeconds)
    return float(pod.spec.terminationGracePeriodSeconds if pod.spec.HasField("terminationGracePeriodSeconds")
                 else 30)


async def observe(runtime, uid: str) -> tuple[list[SandboxStatus], dict[str, list[ContainerStatus]]]:
    """What the runtime holds for pod `uid`: its sandboxes, newest first, and each container's instances,
    the latest first."""
    # the two lists at once: on an engine each is a round trip of its own
    all_sandboxes, containers = await asyncio.gather(runtime.list_sandboxes(), runtime.list_containers())
    sandboxes = sorted((s for s in all_sandboxes if s.pod_uid == uid), key=lambda s: s.created_at, reverse=True)
    history: dict[str, list[ContainerStatus]] = {}
    for c in containers:
        if c.labels.get(LABEL_POD_UID) == uid:
            history.setdefault(c.name, []).append(c)
    for h in history.values():
        h.sort(key=lambda c: (c.attempt, c.created_at), reverse=True)
    return sandboxes, history


class PodSyncer:
    """The sync of one pod at a time. What it is handed: the runtime; the API client (deleting a
    terminated pod), status writer, event recorder and metrics publisher (forgetting a deleted pod's
    usage); the clock; the probe manager, GPU allocator and the container and image pull backoffs;
    the service informer (service env vars); `allocatable()` (the node's, for resourceFieldRef env
    vars); `network_error()` (why pods cannot get a network; None when they can); `pressure_admit(pod)`
    (why the node's pressure refuses a new pod; None when it does not); and where it lives:
    node name, cluster id, host IP, the cluster home (logs) and the node's root (volumes); `pod_dns`
    (kubelet/dns.py: each pod's resolv.conf)."""

    def __init__(self, *, runtime, client, status_writer, recorder, metrics, clock: Clock, probes, gpus,
                 backoff: Backoff, image_backoff: Backoff, services, allocatable: Callable[[], dict[str, str]],
                 network_error: Callable[[], str | None], pressure_admit: Callable[[object], str | None],
                 node_name: str, cluster_id: str, host_ip: str, home: str, root: str, pod_dns=None):
        self.runtime = runtime
        self.client = client
        self.status_writer = status_writer
        self.recorder = recorder
        self.metrics = metrics
        self.clock = clock
        self.probes = probes
        self.gpus = gpus
        self.backoff = backoff
        self.image_backoff = image_backoff
        self.services = services
        self.allocatable = allocatable
        self.network_error = network_error
        self.pressure_admit = pressure_admit
        self.node_name = node_name
        self.cluster_id = cluster_id
        self.host_ip = host_ip
        self.home = home
        self.root = root
        self.pod_dns = pod_dns
        self.tokens = TokenManager(clock)      # the pods' ServiceAccount tokens, refreshed before expiry

    # set by the kubelet: ships what the stopped containers wrote last to the log archive
    flush_logs: Callable[[], Awaitable[object]] | None = None

    async def observe(self, uid: str) -> tuple[list[SandboxStatus], dict[str, list[ContainerStatus]]]:
        return await observe(self.runtime, uid)

    # ------------------------------------------------------------------ the sync
    async def sync(self, pod, st: PodState) -> SyncResult:
        if pod.metadata.deletionTimestamp:
            return await self.terminate(pod, st)
        if pod.status.phase in TERMINAL:
            await self.stop_pod(pod, st, grace_period(pod), reason="")
            return SyncResult()
        if st.terminal:                  # done, but the terminal status has not been written yet
            _, history = await self.observe(pod.metadata.uid)
            return await self.finish(pod, st, history)
        if st.evicted is not None:
            return await self.evict(pod, st)
        if not st.start_time:
            st.start_time = pod.status.startTime or rfc3339(self.clock.now())
        if not st.admitted:
            if not self.admit(pod, st):
                return await self.finish(pod, st, {})
        uid = pod.metadata.uid
        sandboxes, history = await self.observe(uid)
        sandbox = next((s for s in sandboxes if s.ready), None)
        if sandbox is None and self._pod_done(pod, history):
            return await self.finish(pod, st, history)
        if sandbox is None and not pod.spec.hostNetwork and self.network_error():
            # as upstream: no sandbox is tried while the pod network is not ready; the pod waits
            self.event(pod, WARNING, "NetworkNotReady", f"network is not ready: {self.network_error()}")
            await self.write_status(pod, st, self._obs(st, history, ""))
            return SyncResult(requeue=SANDBOX_RETRY)
        st.objects = await fetch_pod_objects(self.client, pod, self.tokens)
        sandbox = await self.ensure_sandbox(pod, st, sandbox, history)
        if sandbox is None:
            return SyncResult(requeue=SANDBOX_RETRY)

        requeue: list[float] = []
        pod_ip = self.host_ip if pod.spec.hostNetwork else sandbox.ip
        initialized, failed_init = await self.sync_init_containers(pod, st, sandbox, history, requeue)
        if initialized:
            for c in pod.spec.containers:
                await self.sync_container(pod, st, c, sandbox, history.get(c.name, []), requeue)

        _, history = await self.observe(uid)
        await self.remove_dead_containers(history)
        if failed_init or self._pod_done(pod, history):
            return await self.finish(pod, st, history, pod_ip)
        latest = {name: h[0] for name, h in history.items() if h}
        self.probes.update_pod(pod, latest, pod_ip)
        await self.write_status(pod, st, self._obs(st, history, pod_ip))
        return SyncResult(requeue=min(requeue) if requeue else None)

    async def ensure_sandbox(self, pod, st: PodState, sandbox: SandboxStatus | None,
                             history) -> SandboxStatus | None:
        """The pod's volumes and its ready sandbox (made if missing); None when that failed (reported)."""
        if sandbox is not None:
            # every sync: a changed ConfigMap or Secret reaches its volume's files; a restarted kubelet
            # adopting the pod learns its volumes here
            try:
                st.volumes = setup_volumes(self.root, pod, pod_ip=sandbox.ip, host_ip=self.host_ip,
                                           objects=st.objects)
            except (VolumeError, OSError) as e:
                self.event(pod, WARNING, "FailedMount", str(e))
                if not st.volumes:      # running containers keep the files they have
                    return None
            return sandbox
        # the sandbox died under its containers (or never was): kill what is left and start over
        for hist in history.values():
            if hist and hist[0].state == "running":
                await self.runtime.stop_container(hist[0].id, 0)
        try:
            st.volumes = setup_volumes(self.root, pod, host_ip=self.host_ip, objects=st.objects)
            return await self.runtime.run_sandbox(self.sandbox_config(pod))
        except (VolumeError, OSError) as e:
            self.event(pod, WARNING, "FailedMount", str(e))
        except Exception as e:           # whatever the runtime raised, the pod waits and retries
            msg = e.message if isinstance(e, RuntimeError_) else f"{type(e).__name__}: {e}"
            self.event(pod, WARNING, "FailedCreatePodSandBox", f"Failed to create pod sandbox: {msg}")
        await self.write_status(pod, st, self._obs(st, history, ""))
        return None

    def _obs(self, st: PodState, history, pod_ip: str, terminal: bool = False) -> ObservedPod:
        return ObservedPod(containers=history, waiting=dict(st.waiting), ready=self.probes.readiness(),
                           started=self.probes.startup(), pod_ip=pod_ip, host_ip=self.host_ip,
                           start_time=st.start_time, terminal=terminal, runtime=self.runtime.name)

    def _pod_done(self, pod, history) -> bool:
        """No container will run again: every app container has exited and may not restart."""
        if pod.spec.restartPolicy == "Always":
            return False
        for c in pod.spec.containers:
            h = history.get(c.name)
            if not h or h[0].state != "exited" or should_restart(pod.spec.restartPolicy, h[0]):
                return False
        return True

    async def remove_dead_containers(self, history: dict[str, list[ContainerStatus]]) -> None:
        """Container garbage collection: of each container's dead instances only the newest two are
        kept (the current one and the one `logs --previous` reads); older ones go, with their logs."""
        for name, hist in history.items():
            for cs in hist[KEEP_INSTANCES:]:
                if cs.state == "running":
                    continue
                try:
                    await self.runtime.remove_container(cs.id)
                except RuntimeError_ as e:
                    log.warning("removing dead container %s: %s", cs.id, e.message)
                    continue
                if cs.log_path:
                    for path in (cs.log_path, cs.log_path + ".1"):
                        try:
                            os.unlink(path)
                        except FileNotFoundError:
                            pass
            del hist[KEEP_INSTANCES:]

    # ------------------------------------------------------------------ admission
    def admit(self, pod, st: PodState) -> bool:
        # a pod already running (a restarted kubelet adopting it) is not admitted again
        refused = self.pressure_admit(pod) if pod.status.phase in ("", "Pending") else None
        if refused is not None:
            st.rejected = (EVICTED, refused)
            self.event(pod, WARNING, EVICTED, refused)
            st.terminal = True
            return False
        fresh = pod.metadata.uid not in self.gpus.assigned
        try:
            assigned = self.gpus.admit(pod)
        except gpumod.AdmissionError as e:
            st.rejected = (e.reason, str(e))
            self.event(pod, WARNING, e.reason, str(e))
            st.terminal = True
            return False
        if fresh:               # the assignment, where `describe pod` shows it
            for cname, uuids in assigned.items():
                self.event(pod, NORMAL, "DevicesAssigned", f"{gpumod.RESOURCE} {', '.join(uuids)} assigned to "
                                                           f"container {cname}", cname)
        st.admitted = True
        return True

    # ------------------------------------------------------------------ init containers
    async def sync_init_containers(self, pod, st, sandbox, history, requeue) -> tuple[bool, bool]:
        """(all init containers succeeded, one failed for good)."""
        for c in pod.spec.initContainers:
            hist = history.get(c.name, [])
            latest = hist[0] if hist else None
            if latest is not None and latest.state == "exited" and latest.exit_code == 0:
                continue
            if latest is not None and latest.state == "running":
                return False, False
            if latest is not None and latest.state == "exited" and pod.spec.restartPolicy == "Never":
                return False, True
            await self.sync_container(pod, st, c, sandbox, hist, requeue)
            return False, False
        return True, False

    # ------------------------------------------------------------------ one container
    async def sync_container(self, pod, st: PodState, c, sandbox: SandboxStatus, hist: list[ContainerStatus],
                             requeue: list[float]) -> None:
        latest = hist[0] if hist else None
        is_init = any(ic.name == c.name for ic in pod.spec.initContainers)
        policy = pod.spec.restartPolicy if not is_init or pod.spec.restartPolicy == "Never" else "OnFailure"
        if latest is not None and latest.state == "running":
            why = self.probes.failed(latest.id)
            if why is None:
                return
            probe = c.livenessProbe if why == "Liveness" else c.startupProbe
            grace = float(probe.terminationGracePeriodSeconds) if probe.HasField("terminationGracePeriodSeconds") \
                else grace_period(pod)
            await self.kill_container(pod, c, latest, grace,
                                      f"Container {c.name} failed {why.lower()} probe, will be restarted")
            latest = await self.runtime.container_status(latest.id) or latest
            if latest.state == "running":
                return
        if latest is not None and latest.state == "created":
            # a start that failed (or a kubelet that died between create and start): try again later
            failed_at = st.start_failed_at.get(c.name, latest.created_at)
            if self.backoff.in_backoff_since((pod.metadata.uid, c.name), failed_at):
                self._crash_loop(pod, st, c, failed_at, requeue)
                return
            await self.runtime.remove_container(latest.id)
        elif not should_restart(policy, latest):
            st.waiting.pop(c.name, None)
            return
        elif latest is not None and latest.state == "exited":
            key = (pod.metadata.uid, c.name)
            if self.backoff.in_backoff_since(key, latest.finished_at):
                self._crash_loop(pod, st, c, latest.finished_at, requeue)
                return
            self.backoff.next(key, latest.finished_at)
        attempt = latest.attempt + 1 if latest is not None else 0
        await self.start_container(pod, st, c, sandbox, attempt, requeue)

    def _crash_loop(self, pod, st: PodState, c, since: float, requeue: list[float]) -> None:
        key = (pod.metadata.uid, c.name)
        wait = self.backoff.current(key)
        st.waiting[c.name] = ("CrashLoopBackOff", f"back-off {go_duration(wait)} restarting failed "
                                                  f"container={c.name} pod={pod_full_name(pod)}")
        if st.backoff_reported.get(c.name) != since:
            st.backoff_reported[c.name] = since
            self.event(pod, WARNING, "BackOff", f"Back-off restarting failed container {c.name} in pod "
                                                f"{pod_full_name(pod)}", c.name)
        requeue.append(self.backoff.remaining(key, since) + 0.01)

    async def start_container(self, pod, st: PodState, c, sandbox: SandboxStatus, attempt: int,
                              requeue: list[float]) -> None:
        uid = pod.metadata.uid
        now = self.clock.now()
        # image
        ikey = (uid, c.name, "image")
        failed = st.image_failed_at.get(c.name)
        if failed is not None and self.image_backoff.in_backoff_since(ikey, failed):
            msg = f'Back-off pulling image "{c.image}"'
            if st.waiting.get(c.name, ("",))[0] != "ImagePullBackOff":
                self.event(pod, NORMAL, "BackOff", msg, c.name)
            st.waiting[c.name] = ("ImagePullBackOff", msg)
            requeue.append(self.image_backoff.remaining(ikey, failed) + 0.01)
            return
        image_events = self.runtime.name not in ("process", "fake")
        policy = c.imagePullPolicy or "IfNotPresent"
        # upstream's image manager: Pulling and Pulled when the policy pulls, else Pulled saying so
        present = image_events and policy == "IfNotPresent" and await self.runtime.image_present(c.image)
        pulls = image_events and (policy == "Always" or policy == "IfNotPresent" and not present)
        if pulls:
            self.event(pod, NORMAL, "Pulling", f'Pulling image "{c.image}"', c.name)
        t0 = time.monotonic()
        try:
            if not present:        # an image just seen on the engine leaves IfNotPresent nothing to do
                await self.runtime.pull_image(c.image, policy)
        except ImageNeverPullError as e:
            st.waiting[c.name] = ("ErrImageNeverPull", e.message)
            self.event(pod, WARNING, "ErrImageNeverPull", e.message, c.name)
            requeue.append(self.backoff.base)
            return
        except ImagePullError as e:
            self.image_backoff.next(ikey, now)
            st.image_failed_at[c.name] = now
            prefix = f'Failed to pull image "{c.image}": '
            detail = e.message[len(prefix):] if e.message.startswith(prefix) else e.message
            st.waiting[c.name] = ("ErrImagePull", detail)
            self.event(pod, WARNING, "Failed", prefix + detail, c.name)
            self.event(pod, WARNING, "Failed", "Error: ErrImagePull", c.name)
            requeue.append(self.image_backoff.remaining(ikey, now) + 0.01)
            return
        st.image_failed_at.pop(c.name, None)
        self.image_backoff.forget(ikey)
        if image_events:
            took = go_duration_ms(time.monotonic() - t0)      # no pull queue here: no waiting of its own
            if pulls:
                self.event(pod, NORMAL, "Pulled", f'Successfully pulled image "{c.image}" in {took} '
                                                  f'({took} including waiting)', c.name)
            else:
                self.event(pod, NORMAL, "Pulled", f'Container image "{c.image}" already present on machine',
                           c.name)
        # configuration
        try:
            cfg = self.container_config(pod, c, sandbox, attempt, st.volumes, st.objects)
        except (EnvError, VolumeError) as e:
            st.waiting[c.name] = ("CreateContainerConfigError", str(e))
            self.event(pod, WARNING, "Failed", f"Error: {e}", c.name)
            requeue.append(self.backoff.base)
            return
        os.makedirs(os.path.dirname(cfg.log_path), exist_ok=True)
        try:
            cid = await self.runtime.create_container(sandbox.id, cfg)
        except RuntimeError_ as e:
            st.waiting[c.name] = (e.reason, e.message)
            self.event(pod, WARNING, "Failed", f"Error: {e.message}", c.name)
            key = (uid, c.name)
            self.backoff.next(key, now)
            requeue.append(self.backoff.remaining(key, now) + 0.01)
            return
        self.event(pod, NORMAL, "Created", f"Created container {c.name}", c.name)
        try:
            await self.runtime.start_container(cid)
        except RuntimeError_ as e:
            st.waiting[c.name] = (e.reason, e.message)
            st.start_failed_at[c.name] = now
            self.event(pod, WARNING, "Failed", f"Error: {e.message}", c.name)
            key = (uid, c.name)
            self.backoff.next(key, now)
            requeue.append(self.backoff.remaining(key, now) + 0.01)
            return
        st.waiting.pop(c.name, None)
        st.start_failed_at.pop(c.name, None)
        self.event(pod, NORMAL, "Started", f"Started container {c.name}", c.name)
        if c.HasField("lifecycle") and c.lifecycle.HasField("postStart"):
            err = await self.run_hook(c.lifecycle.postStart, cid, sandbox.ip, c, timeout=30.0)
            if err is not None:
                msg = f"PostStartHook failed: {err}" if err else "PostStartHook failed"
                self.event(pod, WARNING, "FailedPostStartHook", msg, c.name)
                await self.kill_container(pod, c, ContainerStatus(cid, c.name, sandbox.id, "running"),
                                          grace_period(pod), "FailedPostStartHook")

    # ------------------------------------------------------------------ configs
    def sandbox_config(self, pod) -> SandboxConfig:
        meta = pod.metadata
        ports = [PortMapping(p.containerPort, p.hostPort, p.protocol or "TCP", p.hostIP)
                 for c in pod.spec.containers for p in c.ports if p.hostPort]
        return SandboxConfig(pod_uid=meta.uid, namespace=meta.namespace, name=meta.name,
                             hostname=pod.spec.hostname or meta.name,
                             labels={LABEL_POD_NAMESPACE: meta.namespace, LABEL_POD_NAME: meta.name,
                                     LABEL_POD_UID: meta.uid, LABEL_NODE: self.node_name,
                                     LABEL_CLUSTER: self.cluster_id},
                             port_mappings=ports, host_network=pod.spec.hostNetwork,
                             log_dir=pod_log_dir(self.home, meta.namespace, meta.name, meta.uid),
                             dns_config=self.pod_dns.config(pod) if self.pod_dns else None)

    def container_config(self, pod, c, sandbox: SandboxStatus, attempt: int,
                         volumes: dict[str, str], objects: PodObjects | None = None) -> ContainerConfig:
        meta = pod.metadata
        env = container_env(pod, c, sandbox.ip, self.host_ip, self.allocatable(),
                            base=pod_service_env(pod, self.services.list()), objects=objects)
        devices = self.gpus.devices_of(meta.uid, c.name)
        env.update(self.gpus.env(devices))
        command, args = command_line(c, env)
        req, lim = c.resources.requests, c.resources.limits
        labels = {LABEL_POD_NAMESPACE: meta.namespace, LABEL_POD_NAME: meta.name, LABEL_POD_UID: meta.uid,
                  LABEL_CONTAINER_NAME: c.name, LABEL_ATTEMPT: str(attempt), LABEL_NODE: self.node_name,
                  LABEL_CLUSTER: self.cluster_id}
        if devices:
            labels[gpumod.LABEL_DEVICES] = ",".join(devices)
        return ContainerConfig(
            name=c.name, image=c.image, image_pull_policy=c.imagePullPolicy or "IfNotPresent",
            command=command, args=args, working_dir=c.workingDir, env=env,
            mounts=container_mounts(c, volumes),
            cpu_request_millis=cpu_millis(req["cpu"]) if "cpu" in req else 0,
            cpu_limit_millis=cpu_millis(lim["cpu"]) if "cpu" in lim else 0,
            memory_limit_bytes=bytes_value(lim["memory"]) if "memory" in lim else 0,
            gpu_devices=self.gpus.runtime_devices(devices), tty=c.tty, stdin=c.stdin, labels=labels,
            log_path=container_log_path(self.home, meta.namespace, meta.name, meta.uid, c.name, attempt),
            attempt=attempt, annotations=dict(meta.annotations))

    # ------------------------------------------------------------------ hooks and killing
    async def run_hook(self, handler, cid: str, pod_ip: str, c, timeout: float) -> str | None:
        """Run a lifecycle hook; None on success, else what went wrong."""
        try:
            if handler.HasField("exec"):
                code, out = await self.runtime.exec_sync(cid, list(handler.exec.command), timeout)
                if code != 0:
                    return f"command '{' '.join(handler.exec.command)}' exited with {code}: " \
                           f"{out.decode(errors='replace') if isinstance(out, bytes) else out}"
                return None
            if handler.HasField("httpGet"):
                g = handler.httpGet
                r = await http_get(g.host or pod_ip or "127.0.0.1", resolve_port(c, g.port), g.path or "/",
                                   g.scheme or "HTTP", g.httpHeaders, timeout)
                return None if r.success else r.output
            if handler.HasField("sleep"):
                await self.clock.sleep(min(float(handler.sleep.seconds), timeout))
                return None
            return None
        except (TimeoutError, asyncio.TimeoutError):
            return f"hook timed out after {timeout:.0f}s"
        except Exception as e:
            return getattr(e, "message", str(e))

    async def kill_container(self, pod, c, cs: ContainerStatus, grace: float, message: str) -> None:
        """Upstream killContainer: the Killing event, the preStop hook within the grace period, then the
        runtime's stop (SIGTERM, what is left of the grace period, SIGKILL)."""
        self.event(pod, NORMAL, "Killing", message, cs.name)
        if c is not None and c.HasField("lifecycle") and c.lifecycle.HasField("preStop") and grace > 0:
            t0 = self.clock.monotonic()
            err = await self.run_hook(c.lifecycle.preStop, cs.id, pod.status.podIP, c, grace)
            if err is not None:
                self.event(pod, WARNING, "FailedPreStopHook", f"PreStopHook failed: {err}", c.name)
            grace = max(grace - (self.clock.monotonic() - t0), MIN_GRACE)
        await self.runtime.stop_container(cs.id, grace)

    async def stop_pod(self, pod, st: PodState, grace: float, reason: str) -> None:
        """Stop every running container (concurrently), then the sandbox; free the pod's devices."""
        sandboxes, history = await self.observe(pod.metadata.uid)
        specs = {c.name: c for c in list(pod.spec.containers) + list(pod.spec.initContainers)}
        running = [h[0] for h in history.values() if h and h[0].state == "running"]
        await asyncio.gather(*(self.kill_container(pod, specs.get(cs.name), cs, grace,
                                                   reason or f"Stopping container {cs.name}")
                               for cs in running))
        for s in sandboxes:
            if s.ready:
                await self.runtime.stop_sandbox(s.id)
        self.probes.remove_pod(pod.metadata.uid)
        self.gpus.release(pod.metadata.uid)

    async def finish(self, pod, st: PodState, history, pod_ip: str = "") -> SyncResult:
        """The pod's containers are done for good: report the terminal phase and free the sandbox."""
        st.terminal = True
        if self.flush_logs is not None:             # a finished pod may be deleted at once (a Job's TTL)
            await self.flush_logs()
        await self.write_status(pod, st, self._obs(st, history, pod_ip, terminal=True))
        await self.stop_pod(pod, st, grace_period(pod), reason="")
        return SyncResult()

    async def evict(self, pod, st: PodState) -> SyncResult:
        """Node-pressure eviction: kill the containers at once, then report the pod Failed/Evicted."""
        await self.stop_pod(pod, st, EVICTION_GRACE, reason="")
        st.rejected = (EVICTED, st.evicted)
        _, history = await self.observe(pod.metadata.uid)
        return await self.finish(pod, st, history, pod.status.podIP)

    async def terminate(self, pod, st: PodState) -> SyncResult:
        """A pod marked for deletion: stop it within its grace period, report, and delete it for good."""
        grace = grace_period(pod)
        await self.stop_pod(pod, st, grace, reason="")
        await self.metrics.forget_pod(pod)          # a node may delete a pod's metrics only while the pod exists
        if self.flush_logs is not None:             # and ship its last log lines only while it exists
            await self.flush_logs()
        _, history = await self.observe(pod.metadata.uid)
        # as upstream, the pod's volumes are reclaimed before the pod may leave the API: a client that
        # waited for the deletion finds them gone
        cleanup_pod_dir(self.root, pod.metadata.uid)
        # a terminal phase on a deleted pod lets the server remove it at once
        await self.write_status(pod, st, self._obs(st, history, pod.status.podIP, terminal=True))
        try:
            await self.client.delete("Pod", pod.metadata.name, pod.metadata.namespace, grace_period=0,
                                  preconditions={"uid": pod.metadata.uid})
        except (NotFound, Conflict):
            pass
        await self.cleanup(pod.metadata.uid, pod)
        return SyncResult(done=True)

    async def cleanup(self, uid: str, pod=None) -> None:
        """Remove everything the node holds for a pod that no longer exists."""
        sandboxes, history = await self.observe(uid)
        for h in history.values():
            for cs in h:
                try:
                    await self.runtime.remove_container(cs.id)
                except RuntimeError_ as e:
                    log.warning("removing container %s: %s", cs.id, e.message)
        for s in sandboxes:
            try:
                await self.runtime.remove_sandbox(s.id)
            except RuntimeError_ as e:
                log.warning("removing sandbox %s: %s", s.id, e.message)
        self.probes.remove_pod(uid)
        self.gpus.release(uid)
        self.backoff.forget_prefix(uid)
        self.image_backoff.forget_prefix(uid)
        cleanup_pod_dir(self.root, uid)
        ref = pod or (sandboxes[0] if sandboxes else None)
        if ref is not None:
            ns = ref.metadata.namespace if pod is not None else ref.namespace
            name = ref.metadata.name if pod is not None else ref.name
            shutil.rmtree(pod_log_dir(self.home, ns, name, uid), ignore_errors=True)

    # ------------------------------------------------------------------ status and events
    async def write_status(self, pod, st: PodState, obs: ObservedPod) -> None:
        status = generate_status(pod, obs, self.clock.now(), self.status_writer.base(pod, st))
        if st.rejected:
            status.phase = "Failed"
            status.reason, status.message = st.rejected
        if st.evicted is not None and not any(c.type == "DisruptionTarget" for c in status.conditions):
            status.conditions.add(type="DisruptionTarget", status="True", reason=DISRUPTION_REASON,
                                  message=st.evicted, lastTransitionTime=rfc3339(self.clock.now()))
        await self.status_writer.write(pod, st, status)

    def event(self, pod, type_: str, reason: str, message: str, cname: str | None = None) -> None:
        ref = container_ref(pod, cname) if cname else pod
        self.recorder.event(ref, type_, reason, message)
