"""The kubelet's Node and its heartbeat, after upstream's kubelet_node_status.go and nodelease:

- registration: the Node with its labels (kubernetes.io/hostname, kubernetes.io/os, kubernetes.io/arch,
  node.kubernetes.io/instance-type when configured, the node's own and the GPU labels), the runtime's
  notes on itself as annotations (runtime.minik8s.io/image: "ignored: ..."), taints, pod CIDR,
  and its status: capacity and allocatable (cpu, memory, pods, nvidia.com/gpu; declared values win over
  the host's), addresses, nodeInfo, daemon endpoints and the conditions. A Node that already exists (a
  restarted kubelet) keeps its spec and other writers' labels; the kubelet's labels are set again.
- heartbeat: the Lease kube-node-lease/NAME renewed every quarter of its duration; the Node's status
  rewritten when it changes, and at least every nodeStatusReportPeriod, with Ready true while the
  runtime answers ("container runtime is down" when it does not) and can give pods a network
  (upstream's "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady
  message:..." when it cannot; the kubelet starts no pod outside the host network meanwhile), and the
  pressure conditions as the eviction manager finds them (MemoryPressure True, KubeletHasInsufficientMemory;
  DiskPressure True, KubeletHasDiskPressure; each turn with upstream's NodeHas... event).

The Node last written is the kubelet's cache of it, so a quiet tick costs no request. A kubelet that
went silent (stalled, or cut off from the API server: a heartbeat a whole period late, or one that
failed) cannot trust that cache: the node lifecycle controller may have set its conditions Unknown
meanwhile, and a status equal to the cached one would not be written before the report period (5 min)
ran out, leaving the node NotReady. So after a silence the next status tick reads the Node again and
posts Ready within nodeStatusUpdatePeriod of the recovery."""
from __future__ import annotations

import functools
import logging
import os
import platform
import socket
import uuid as uuidlib
from typing import Awaitable, Callable

import psutil

from minik8s.api.clock import Clock, rfc3339, rfc3339_micro
from minik8s.api.errors import AlreadyExists, Conflict, NotFound
from minik8s.api.pb import coordination_pb2, core_pb2

from kubelet import gpu as gpumod

log = logging.getLogger("kubelet.node")

KUBELET_VERSION = "v0.1.0-minik8s"
RUNTIME_NOTE_PREFIX = "runtime.minik8s.io/"     # node annotations: what the runtime says of itself
KUBELET_PORT = 10250

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm"}

# condition -> (reason, message, event) when False, then when True (upstream's setters.go)
PRESSURE_CONDITIONS = {
    "MemoryPressure": (("KubeletHasSufficientMemory", "kubelet has sufficient memory available",
                        "NodeHasSufficientMemory"),
                       ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available",
                        "NodeHasInsufficientMemory")),
    "DiskPressure": (("KubeletHasNoDiskPressure", "kubelet has no disk pressure", "NodeHasNoDiskPressure"),
                     ("KubeletHasDiskPressure", "kubelet has disk pressure", "NodeHasDiskPressure")),
    "PIDPressure": (("KubeletHasSufficientPID", "kubelet has sufficient PID available", "NodeHasSufficientPID"),
                    ("KubeletHasInsufficientPID", "kubelet has insufficient PID available", "NodeHasInsufficientPID")),
}


def host_ip() -> str:
    """The address other machines would reach this host on (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.platform()


def arch() -> str:
    m = platform.machine()
    return _ARCH.get(m, m)


@functools.cache
def _host_capacity() -> tuple[tuple[str, str], ...]:
    return (("cpu", str(os.cpu_count() or 1)), ("memory", f"{psutil.virtual_memory().total // 1024}Ki"),
            ("pods", "110"))


def host_capacity() -> dict[str, str]:
    """The host's cpus and memory (read once: they do not change under a running kubelet)."""
    return dict(_host_capacity())


@functools.cache
def _host_facts() -> tuple[str, str, str, str]:
    """(machine id, boot id, kernel, OS image): fixed while this process runs, so read once, not on
    every status tick of every node."""
    return (_read("/etc/machine-id"), _read("/proc/sys/kernel/random/boot_id"), platform.release(), _os_image())


class NodeStatusManager:
    def __init__(self, client, node_cfg, runtime, gpus: list, settings, clock: Clock, address: str,
                 recorder=None, pressure: Callable[[], set[str]] | None = None):
        """`pressure()`: the pressure conditions that are True now (the eviction manager's)."""
        self.client = client
        self.pressure = pressure or set
        self.recorder = recorder
        self.cfg = node_cfg
        self.name = node_cfg.name
        self.runtime = runtime
        self.gpus = gpus
        self.settings = settings
        self.clock = clock
        self.address = address
        self.node: core_pb2.Node | None = None
        self._last_report = 0.0
        self._runtime_version = ""
        self._lease: coordination_pb2.Lease | None = None
        self._network_error: str | None = None
        self._last_heartbeat: float | None = None     # monotonic time of the last lease renewal or status tick
        self._silent = False                          # a heartbeat was missed: the cached Node may be stale
        self._system_info: core_pb2.NodeSystemInfo | None = None     # the last one built
        self._observed: tuple | None = None         # what the cached Node's status was last found made of
        # how a renewal is written, for a node among many in one process: in its host's batch
        # (kubelet/lease_batch.py); None: an Update of its own
        self.update_lease: Callable[[coordination_pb2.Lease], Awaitable[coordination_pb2.Lease]] | None = None
        # with many nodes in one process: where in the renewal (and status) period this node's heartbeats
        # fall, on the clock, so that their owner can spread them out; None: a period after the last one
        self.heartbeat_offset: float | None = None

    # ------------------------------------------------------------------ what the node is
    def capacity(self) -> dict[str, str]:
        cap = host_capacity()
        cap.update(self.cfg.capacity)
        if self.gpus:
            cap[gpumod.RESOURCE] = str(len(self.gpus))
        return cap

    def labels(self) -> dict[str, str]:
        labels = {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": arch()}
        if self.cfg.instance_type:
            labels["node.kubernetes.io/instance-type"] = self.cfg.instance_type
        labels.update(gpumod.node_labels(self.gpus))
        labels.update(self.cfg.labels)
        return labels

    def annotations(self) -> dict[str, str]:
        """The runtime's own notes (`describe()`: image ignored, limits unavailable and why, ...), so
        that `minictl describe node` shows what this node's containers really are."""
        try:
            notes = self.runtime.describe()
        except Exception as e:      # a runtime that cannot say is still a runtime
            notes = {"describe": f"unavailable: {e}"}
        return {RUNTIME_NOTE_PREFIX + k: str(v) for k, v in notes.items()}

    def taints(self) -> list[core_pb2.Taint]:
        return [core_pb2.Taint(key=t["key"], value=str(t.get("value", "")), effect=t.get("effect", "NoSchedule"))
                for t in self.cfg.taints]

    async def _runtime_ok(self) -> tuple[bool, str]:
        try:
            v = await self.runtime.version()
        except Exception as e:        # the runtime is down: the node is not ready
            return False, str(e)
        self._runtime_version = v
        return True, ""

    async def _check_network(self) -> None:
        try:
            problem = await self.runtime.network_ready()
        except Exception as e:        # a runtime that cannot say has no network to offer either
            problem = f"{type(e).__name__}: {e}"
        self._network_error = None if problem is None else \
            f"container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:{problem}"

    def network_error(self) -> str | None:
        """Why pods cannot get a network, as of the last status check; None when they can."""
        return self._network_error

    def _node_info(self) -> core_pb2.NodeSystemInfo:
        runtime = f"{self.runtime.name}://{self._runtime_version_short()}"
        if self._system_info is None or self._system_info.containerRuntimeVersion != runtime:
            machine, boot, kernel, image = _host_facts()
            self._system_info = core_pb2.NodeSystemInfo(
                machineID=machine, systemUUID=str(uuidlib.uuid5(uuidlib.NAMESPACE_DNS, f"{machine}.{self.name}")),
                bootID=boot, kernelVersion=kernel, osImage=image, containerRuntimeVersion=runtime,
                kubeletVersion=KUBELET_VERSION, kubeProxyVersion="", operatingSystem="linux", architecture=arch())
        return self._system_info

    def _runtime_version_short(self) -> str:
        """"process 0.1 (linux ...)" -> "0.1"; "28.2.2" -> "28.2.2"."""
        v = self._runtime_version.split("://", 1)[-1]
        for tok in v.split():
            if tok[:1].isdigit():
                return tok.rstrip(",;")
        return v

    async def _observe(self) -> tuple:
        """What of the status can change under a running kubelet: whether the runtime answers (and its
        version), whether it can give pods a network, and the pressure conditions."""
        ok, why = await self._runtime_ok()
        if ok:
            await self._check_network()
        return ok, why, self._runtime_version, self._network_error, frozenset(self.pressure())

    async def desired_status(self, old: core_pb2.NodeStatus | None, observed: tuple | None = None) \
            -> core_pb2.NodeStatus:
        ok, why, _, _, pressure = observed or await self._observe()
        s = core_pb2.NodeStatus()
        cap = self.capacity()
        s.capacity.update(cap)
        s.allocatable.update(cap)
        s.addresses.add(type="InternalIP", address=self.address)
        s.addresses.add(type="Hostname", address=self.name)
        s.daemonEndpoints.kubeletEndpoint.Port = KUBELET_PORT
        s.nodeInfo.CopyFrom(self._node_info())
        now = rfc3339(self.clock.now())
        old_conds = {c.type: c for c in old.conditions} if old is not None else {}

        def cond(type_, status, reason, message):
            c = core_pb2.NodeCondition(type=type_, status=status, reason=reason, message=message,
                                       lastHeartbeatTime=now)
            prev = old_conds.get(type_)
            c.lastTransitionTime = prev.lastTransitionTime if prev is not None and prev.status == status \
                and prev.lastTransitionTime else now
            return c

        for type_, (calm, pressed) in PRESSURE_CONDITIONS.items():
            reason, message, _ = pressed if type_ in pressure else calm
            s.conditions.append(cond(type_, "True" if type_ in pressure else "False", reason, message))
        if not ok:
            s.conditions.append(cond("Ready", "False", "KubeletNotReady", f"container runtime is down: {why}"))
        elif self._network_error:
            s.conditions.append(cond("Ready", "False", "KubeletNotReady", self._network_error))
        else:
            s.conditions.append(cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"))
        return s

    # ------------------------------------------------------------------ registration
    async def register(self) -> core_pb2.Node:
        """Create the Node, or take over the existing one (a restarted kubelet)."""
        self._observed = None
        while True:
            try:
                node = await self.client.get("Node", self.name)
            except NotFound:
                node = core_pb2.Node()
                node.metadata.name = self.name
                node.metadata.labels.update(self.labels())
                node.metadata.annotations.update(self.annotations())
                node.spec.taints.extend(self.taints())
                if self.cfg.pod_cidr:
                    node.spec.podCIDR = self.cfg.pod_cidr
                    node.spec.podCIDRs.append(self.cfg.pod_cidr)
                node.status.CopyFrom(await self.desired_status(None))
                try:
                    self.node = await self.client.create(node)
                except AlreadyExists:
                    continue
                self._last_report = self.clock.monotonic()
                log.info("registered node %s", self.name)
                self.event("Starting", "Starting kubelet.")
                self._ready_event(core_pb2.NodeStatus(), self.node.status)
                return self.node
            node.metadata.labels.update(self.labels())
            for k in [k for k in node.metadata.annotations if k.startswith(RUNTIME_NOTE_PREFIX)]:
                del node.metadata.annotations[k]       # the runtime may have changed since
            node.metadata.annotations.update(self.annotations())
            if not node.spec.podCIDR and self.cfg.pod_cidr:
                node.spec.podCIDR = self.cfg.pod_cidr
                node.spec.podCIDRs.append(self.cfg.pod_cidr)
            try:
                node = await self.client.update(node)
            except Conflict:
                continue
            self.node = node
            self.event("Starting", "Starting kubelet.")
            await self.update_status(force=True)
            log.info("node %s already registered: taken over", self.name)
            return self.node

    async def update_status(self, force: bool = False) -> None:
        """Write the Node's status if it changed, or if the report period has passed (or `force`).
        The Node last written is the cache; it is read again when a write conflicts or after a silence.
        A tick that observes what the cached status was last found to be made of builds no status to
        compare (thousands of idle nodes in one process tick every nodeStatusUpdatePeriod)."""
        observed = await self._observe()
        due = force or self.clock.monotonic() - self._last_report >= self.settings.node_status_report_period
        if not due and not self._silent and self.node is not None and observed == self._observed:
            return
        node = None if self._silent else self.node
        for _ in range(3):
            if node is None:
                try:
                    node = await self.client.get("Node", self.name)
                except NotFound:
                    await self.register()
                    return
            status = await self.desired_status(node.status, observed)
            if not due and _same_status(status, node.status):
                self.node, self._silent, self._observed = node, False, observed
                return
            out = core_pb2.Node()
            out.CopyFrom(node)
            out.status.CopyFrom(status)
            try:
                self.node = await self.client.update_status(out)
            except (Conflict, NotFound):
                node = None
                continue
            self._last_report = self.clock.monotonic()
            self._silent, self._observed = False, observed
            self._ready_event(node.status, status)
            self._pressure_events(node.status, status)
            return

    def event(self, reason: str, message: str, type_: str = "Normal") -> None:
        if self.recorder is not None and self.node is not None:
            ref = core_pb2.ObjectReference(kind="Node", apiVersion="v1", name=self.name, uid=self.name)
            self.recorder.event(ref, type_, reason, message)

    def _ready_event(self, old: core_pb2.NodeStatus, new: core_pb2.NodeStatus) -> None:
        """Upstream's `Node X status is now: NodeReady` when the Ready condition changes."""
        def ready(s):
            return next((c.status for c in s.conditions if c.type == "Ready"), "")
        if ready(old) != ready(new):
            what = "NodeReady" if ready(new) == "True" else "NodeNotReady"
            self.event(what, f"Node {self.name} status is now: {what}")

    def _pressure_events(self, old: core_pb2.NodeStatus, new: core_pb2.NodeStatus) -> None:
        """Upstream's `Node X status is now: NodeHasInsufficientMemory` when a pressure condition turns."""
        before = {c.type: c.status for c in old.conditions}
        for c in new.conditions:
            if c.type in PRESSURE_CONDITIONS and before.get(c.type, "False") != c.status:
                what = PRESSURE_CONDITIONS[c.type][c.status == "True"][2]
                self.event(what, f"Node {self.name} status is now: {what}")

    def _heartbeat(self, ok: bool = True) -> None:
        """Note a heartbeat (a lease renewal or a status tick); one that failed, or came a whole period
        late, means the kubelet was silent and its cached Node may be stale."""
        now = self.clock.monotonic()
        gap = now - self._last_heartbeat if self._last_heartbeat is not None else 0.0
        # heartbeats come at least every min(renew, update) period; twice that is a missed one
        if not ok or gap > 2 * min(self.settings.lease_renew_period, self.settings.node_status_update_period):
            if not self._silent:
                log.info("node %s: heartbeat %s; reading the Node again", self.name,
                         "failed" if not ok else f"late by {gap:.1f}s")
            self._silent = True
        if ok:
            self._last_heartbeat = now

    def _wait(self, period: float) -> float:
        """Seconds until the next heartbeat: a period, or, with a `heartbeat_offset`, until the node's
        next slot offset + k * period. A slot is kept even when the process stalled (nodes woken late
        together would otherwise stay in step for good: a herd)."""
        if self.heartbeat_offset is None:
            return period
        wait = period - (self.clock.monotonic() - self.heartbeat_offset) % period
        return wait if wait > period / 10 else wait + period      # just before a slot: woken early for it

    async def status_loop(self) -> None:
        while True:
            await self.clock.sleep(self._wait(self.settings.node_status_update_period))
            self._heartbeat()
            try:
                await self.update_status()
            except Exception as e:
                self._heartbeat(ok=False)
                log.warning("node status update failed: %s", e)

    # ------------------------------------------------------------------ the lease
    async def renew_lease(self) -> None:
        """Renew (or create) the node's Lease; the last one written is reused until a write conflicts."""
        now = rfc3339_micro(self.clock.now())
        lease = self._lease
        if lease is None:
            try:
                lease = await self.client.get("Lease", self.name, "kube-node-lease")
            except NotFound:
                lease = coordination_pb2.Lease()
                lease.metadata.name, lease.metadata.namespace = self.name, "kube-node-lease"
                if self.node is not None:
                    ref = lease.metadata.ownerReferences.add()
                    ref.apiVersion, ref.kind, ref.name, ref.uid = "v1", "Node", self.name, self.node.metadata.uid
                lease.spec.holderIdentity = self.name
                lease.spec.leaseDurationSeconds = self.settings.lease_duration
                lease.spec.renewTime = now
                try:
                    self._lease = await self.client.create(lease)
                except AlreadyExists:
                    pass
                return
        lease.spec.holderIdentity = self.name
        lease.spec.leaseDurationSeconds = self.settings.lease_duration
        lease.spec.renewTime = now
        try:
            self._lease = await (self.update_lease or self.client.update)(lease)
        except (Conflict, NotFound):
            self._lease = None
            raise

    async def lease_loop(self) -> None:
        while True:
            for _ in range(2):          # a conflict drops the cached Lease: read it and go again
                try:
                    await self.renew_lease()
                    self._heartbeat()
                    break
                except (Conflict, NotFound):
                    continue
                except Exception as e:
                    self._heartbeat(ok=False)
                    log.warning("lease renewal failed: %s", e)
                    break
            await self.clock.sleep(self._wait(self.settings.lease_renew_period))


def _same_status(a: core_pb2.NodeStatus, b: core_pb2.NodeStatus) -> bool:
    """Equal but for heartbeat times."""
    def strip(s):
        c = core_pb2.NodeStatus()
        c.CopyFrom(s)
        for cond in c.conditions:
            cond.lastHeartbeatTime = ""
        c.ClearField("images")
        return c.SerializeToString(deterministic=True)
    return strip(a) == strip(b)
