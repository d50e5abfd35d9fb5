"""Node-pressure eviction, after upstream's pkg/kubelet/eviction (eviction_manager.go, helpers.go): the
kubelet watches the node's memory and filesystem and, when one runs low, fails pods to get it back.

Signals, hard thresholds only (`kubelet.evictionHard` in the cluster file; upstream's defaults
`memory.available: 100Mi`, `nodefs.available: 10%`; a value is a quantity or a percentage of the
capacity; as upstream, a given evictionHard replaces the defaults, so a signal left out is not watched):

    memory.available   a minik8s node's memory is its declared capacity (several nodes may share one
                       host), so available = that capacity - the sum of the working sets of the pods'
                       running containers as the runtime reports them (cgroup or /proc for process, the
                       engine's stats for docker, the `fake.minik8s.io/memory-bytes` annotation for
                       fake). The host's own free memory is not looked at.
    nodefs.available   the filesystem holding the node's root directory: its real free space for
                       process and docker; `FakeRuntime.filesystem_stats` for fake, which tests set to
                       play a full disk. A pod's disk usage is its containers' log files (upstream
                       also counts the writable layer and local volumes).

Every `evictionMonitoringPeriod` (upstream's 10 s) the manager observes the node, then:
- a crossed threshold sets its node condition (MemoryPressure, DiskPressure) True; the condition stays
  True until the threshold has not been crossed for `evictionPressureTransitionPeriod` (upstream 5 m).
  The node status manager writes the conditions (`pressure()`); the node lifecycle controller adds the
  `node.kubernetes.io/memory-pressure` / `disk-pressure` NoSchedule taints from them, as upstream.
- while a threshold is crossed (memory before disk), one pod is evicted per period, ranked as upstream:
  pods whose usage exceeds their request first, then lower priority first, then larger usage above
  the request first (in effect BestEffort, then Burstable, then Guaranteed); critical pods never.
  An EvictionThresholdMet event on the node, an Evicted event on the pod with upstream's message; the
  pod worker kills the containers (grace 1 s, upstream's for hard thresholds) and reports phase Failed,
  reason Evicted, with the DisruptionTarget condition (TerminationByKubelet).
- while under pressure, new pods are refused as upstream's admission does: every pod under disk
  pressure, BestEffort pods (unless they tolerate the memory-pressure taint) under memory pressure."""
from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from minik8s.api.clock import Clock
from minik8s.api.kinds.pod import qos_class
from minik8s.api.pb import core_pb2
from minik8s.api.quantity import BINARY_SI, Quantity, QuantityError, bytes_value, parse_quantity
from minik8s.client.events import WARNING

from kubelet.runtime.base import LABEL_POD_UID

log = logging.getLogger("kubelet.eviction")

MEMORY_AVAILABLE = "memory.available"
NODEFS_AVAILABLE = "nodefs.available"
# signal -> (node condition, the resource messages name); in upstream's eviction order (memory first)
SIGNALS = {MEMORY_AVAILABLE: ("MemoryPressure", "memory"),
           NODEFS_AVAILABLE: ("DiskPressure", "ephemeral-storage")}
DEFAULT_EVICTION_HARD = {MEMORY_AVAILABLE: "100Mi", NODEFS_AVAILABLE: "10%"}

REASON = "Evicted"
DISRUPTION_REASON = "TerminationByKubelet"
EVICTION_GRACE = 1.0                   # upstream immediateEvictionGracePeriodSeconds (hard thresholds)
CRITICAL_PRIORITY = 2_000_000_000      # upstream SystemCriticalPriority: such pods are never evicted
TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"

NODE_LOW = "The node was low on resource: {}. "
THRESHOLD_MET = "Threshold quantity: {}, available: {}. "
CONTAINER_USAGE = "Container {} was using {}, request is {}, has larger consumption of {}. "
NODE_CONDITION = "The node had condition: {}. "


# ---------------------------------------------------------------------- thresholds
@dataclass(frozen=True)
class Threshold:
    signal: str
    quantity: int | None = None          # bytes
    percentage: float | None = None      # of the capacity, 0..1

    def value(self, capacity: int) -> int:
        if self.quantity is not None:
            return self.quantity
        return int(capacity * self.percentage)

    @property
    def condition(self) -> str:
        return SIGNALS[self.signal][0]

    @property
    def resource(self) -> str:
        return SIGNALS[self.signal][1]


def parse_thresholds(spec: dict | None) -> list[Threshold]:
    """`{"memory.available": "100Mi", "nodefs.available": "10%"}` -> thresholds; errors name the key."""
    out = []
    for signal, raw in (DEFAULT_EVICTION_HARD if spec is None else spec).items():
        where = f"kubelet.evictionHard.{signal}"
        if signal not in SIGNALS:
            raise ValueError(f"{where}: unknown signal (known: {', '.join(SIGNALS)})")
        text = str(raw).strip()
        if text.endswith("%"):
            try:
                pct = float(text[:-1])
            except ValueError:
                pct = -1.0
            if not 0 <= pct <= 100:
                raise ValueError(f"{where}: {raw!r} is not a percentage between 0% and 100%")
            out.append(Threshold(signal, percentage=pct / 100))
            continue
        try:
            n = bytes_value(text)
        except QuantityError as e:
            raise ValueError(f"{where}: {raw!r} is not a quantity or a percentage: {e}") from None
        if n < 0:
            raise ValueError(f"{where}: {raw!r} must not be negative")
        out.append(Threshold(signal, quantity=n))
    return out


# ---------------------------------------------------------------------- observations
@dataclass
class SignalObservation:
    available: int
    capacity: int


@dataclass
class ContainerUsage:
    memory: int = 0        # working set
    disk: int = 0          # log files

    def of(self, resource: str) -> int:
        return self.memory if resource == "memory" else self.disk


@dataclass
class Observations:
    signals: dict[str, SignalObservation]
    pods: dict[str, dict[str, ContainerUsage]] = field(default_factory=dict)   # uid -> container -> usage

    def pod_usage(self, uid: str, resource: str) -> int:
        return sum(u.of(resource) for u in self.pods.get(uid, {}).values())


def _file_bytes(path: str) -> int:
    total = 0
    for p in (path, path + ".1"):          # the live log and its rotated predecessor
        try:
            total += os.path.getsize(p)
        except OSError:
            pass
    return total


class NodeObserver:
    """The node's signals from the runtime: each running container's working set and logs, the node's
    declared memory (`memory_capacity()`, bytes) and the filesystem of its root directory `root`."""

    def __init__(self, runtime, memory_capacity: Callable[[], int], root: str):
        self.runtime = runtime
        self.memory_capacity = memory_capacity
        self.root = root

    async def observe(self) -> Observations:
        containers = [c for c in await self.runtime.list_containers()
                      if c.state == "running" and c.labels.get(LABEL_POD_UID)]
        stats = await asyncio.gather(*(self.runtime.stats(c.id) for c in containers), return_exceptions=True)
        pods: dict[str, dict[str, ContainerUsage]] = {}
        for c, s in zip(containers, stats):
            usage = pods.setdefault(c.labels[LABEL_POD_UID], {}).setdefault(c.name, ContainerUsage())
            if s is not None and not isinstance(s, BaseException):
                usage.memory = s.memory_bytes
            if c.log_path:
                usage.disk = await asyncio.to_thread(_file_bytes, c.log_path)
        capacity = self.memory_capacity()
        used = sum(u.memory for conts in pods.values() for u in conts.values())
        fs = await self.runtime.filesystem(self.root)
        return Observations({MEMORY_AVAILABLE: SignalObservation(max(capacity - used, 0), capacity),
                             NODEFS_AVAILABLE: SignalObservation(fs.available_bytes, fs.capacity_bytes)}, pods)


# ---------------------------------------------------------------------- ranking and messages
def quantity_text(n: int) -> str:
    return str(Quantity(n, 0, BINARY_SI))


def container_request(c, resource: str) -> int:
    raw = c.resources.requests.get(resource)
    return bytes_value(raw) if raw else 0


def pod_request(pod, resource: str) -> int:
    """Upstream's pod request: the app containers' sum, or the largest init container's if more."""
    total = sum(container_request(c, resource) for c in pod.spec.containers)
    return max([total] + [container_request(c, resource) for c in pod.spec.initContainers])


def priority(pod) -> int:
    return pod.spec.priority if pod.spec.HasField("priority") else 0


def rank_for_eviction(pods: list, obs: Observations, resource: str) -> list:
    """Upstream rankMemoryPressure / rankDiskPressureFunc: exceeds requests, priority, usage over request."""
    def key(pod):
        over = obs.pod_usage(pod.metadata.uid, resource) - pod_request(pod, resource)
        return (over <= 0, priority(pod), -over)
    return sorted(pods, key=key)


def eviction_message(resource: str, threshold: Threshold, seen: SignalObservation, pod,
                     usage: dict[str, ContainerUsage]) -> str:
    """Upstream evictionMessage, to the trailing space."""
    msg = NODE_LOW.format(resource)
    msg += THRESHOLD_MET.format(quantity_text(threshold.value(seen.capacity)), quantity_text(seen.available))
    for c in pod.spec.containers:
        u = usage.get(c.name)
        if u is None:
            continue
        raw = c.resources.requests.get(resource)
        used = u.of(resource)
        if used > container_request(c, resource):
            msg += CONTAINER_USAGE.format(c.name, quantity_text(used), str(parse_quantity(raw)) if raw else "0",
                                          resource)
    return msg


def tolerates_memory_pressure(pod) -> bool:
    for t in pod.spec.tolerations:
        if t.effect not in ("", "NoSchedule"):
            continue
        if (t.operator == "Exists" and t.key in ("", TAINT_MEMORY_PRESSURE)) or \
                (t.key == TAINT_MEMORY_PRESSURE and not t.value):
            return True
    return False


# ---------------------------------------------------------------------- the manager
class EvictionManager:
    """Handed: the thresholds and periods; `observe()` (an Observations); `active_pods()` (the node's
    pods that may still be evicted); `evict(pod, message)` (hands the kill to the pod's worker);
    `conditions_changed()` (writes the node status); the event recorder, the node's name and the clock."""

    def __init__(self, *, thresholds: list[Threshold], transition_period: float, monitoring_period: float,
                 observe: Callable[[], Awaitable[Observations]], active_pods: Callable[[], list],
                 evict: Callable[[object, str], None], conditions_changed: Callable[[], Awaitable[None]],
                 recorder, node_name: str, clock: Clock):
        self.thresholds = thresholds
        self.transition_period = transition_period
        self.monitoring_period = monitoring_period
        self.observe = observe
        self.active_pods = active_pods
        self.evict = evict
        self.conditions_changed = conditions_changed
        self.recorder = recorder
        self.node_ref = core_pb2.ObjectReference(kind="Node", apiVersion="v1", name=node_name, uid=node_name)
        self.clock = clock
        self._last_met: dict[str, float] = {}      # node condition -> when its threshold was last crossed
        self._conditions: set[str] = set()

    def pressure(self) -> set[str]:
        """The node conditions that are True now (MemoryPressure, DiskPressure)."""
        return set(self._conditions)

    def admit(self, pod) -> str | None:
        """Upstream's Admit: why `pod` may not start on this node now, or None."""
        if not self._conditions or priority(pod) >= CRITICAL_PRIORITY:
            return None
        if self._conditions == {"MemoryPressure"} and (qos_class(pod.spec) != "BestEffort" or tolerates_memory_pressure(pod)):
            return None
        return NODE_CONDITION.format("[" + " ".join(sorted(self._conditions, key=_condition_order)) + "]")

    async def synchronize(self):
        """One monitoring pass; returns the pod evicted, if one was."""
        obs = await self.observe()
        now = self.clock.monotonic()
        met = [t for t in self.thresholds
               if obs.signals[t.signal].available < t.value(obs.signals[t.signal].capacity)]
        for t in met:
            self._last_met[t.condition] = now
        conditions = {c for c, at in self._last_met.items() if now - at <= self.transition_period}
        if conditions != self._conditions:
            log.info("node pressure: %s", sorted(conditions) or "none")
            self._conditions = conditions
            await self.conditions_changed()
        if not met:
            return None
        threshold = min(met, key=lambda t: list(SIGNALS).index(t.signal))
        resource = threshold.resource
        self.recorder.eventf(self.node_ref, WARNING, "EvictionThresholdMet", "Attempting to reclaim %s", resource)
        seen = obs.signals[threshold.signal]
        for pod in rank_for_eviction(self.active_pods(), obs, resource):
            if priority(pod) >= CRITICAL_PRIORITY:
                continue
            message = eviction_message(resource, threshold, seen, pod, obs.pods.get(pod.metadata.uid, {}))
            log.info("evicting pod %s/%s: %s", pod.metadata.namespace, pod.metadata.name, message)
            self.recorder.event(pod, WARNING, REASON, message)
            self.evict(pod, message)
            return pod
        log.warning("eviction thresholds met (%s) but no pod can be evicted", resource)
        return None

    async def loop(self) -> None:
        while True:
            try:
                await self.synchronize()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("eviction manager: %s", e)
            await self.clock.sleep(self.monitoring_period)


def _condition_order(condition: str) -> int:
    return [c for c, _ in SIGNALS.values()].index(condition)
