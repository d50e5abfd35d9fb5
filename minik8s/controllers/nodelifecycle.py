"""The node lifecycle controller, after upstream's pkg/controller/nodelifecycle: notice nodes whose
kubelet went quiet and say so in the API, so that the scheduler, the endpoints and the taint eviction
manager act on it.

A node's heartbeat is its Lease (kube-node-lease/NAME, renewed by the kubelet) or a new
`lastHeartbeatTime` on its Ready condition. The controller notes, on its own clock, when it last saw
either move; when none moved for `nodeMonitorGracePeriod` (upstream 50 s; `nodeStartupGracePeriod`,
60 s, for a node that never posted Ready), it sets Ready, MemoryPressure, DiskPressure and PIDPressure
to Unknown (`NodeStatusUnknown`, "Kubelet stopped posting node status.") and marks the node's pods not
ready. Taints follow the conditions: `node.kubernetes.io/unreachable` (Ready Unknown) or
`node.kubernetes.io/not-ready` (Ready False) as NoSchedule and NoExecute, the pressure and
unschedulable NoSchedule taints likewise; all are removed when the node is healthy again. Each node is
looked at again every `nodeMonitorPeriod` (5 s). A NoExecute taint new to a node waits for its zone's
eviction rate limit (zonestate.py: `nodeEvictionRate`, `secondaryNodeEvictionRate`,
`unhealthyZoneThreshold`, `largeClusterSizeThreshold`, upstream's values by default); while every zone
is fully disrupted no node gets one and those there are removed."""
from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass

from minik8s.api.clock import rfc3339
from minik8s.api.errors import NotFound
from minik8s.api.pb import core_pb2
from minik8s.client.events import NORMAL, WARNING
from minik8s.client.informer import NODE_NAME_INDEX, copy, key_of

from minik8s.controllers.base import Controller, ControllerContext
from minik8s.controllers.zonestate import (LARGE_CLUSTER_SIZE_THRESHOLD, NODE_EVICTION_RATE,
                                           SECONDARY_NODE_EVICTION_RATE, UNHEALTHY_ZONE_THRESHOLD,
                                           ZoneEvictionLimits, zone_key)

log = logging.getLogger("minik8s.controllers.nodelifecycle")

COMPONENT = "node-controller"
NODE_LEASE_NAMESPACE = "kube-node-lease"

NODE_MONITOR_GRACE_PERIOD = 50.0      # upstream --node-monitor-grace-period (since 1.32)
NODE_STARTUP_GRACE_PERIOD = 60.0      # upstream --node-startup-grace-period
NODE_MONITOR_PERIOD = 5.0             # upstream --node-monitor-period

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NO_SCHEDULE, NO_EXECUTE = "NoSchedule", "NoExecute"

# condition type -> (status, taint key): a NoSchedule taint the node carries while the condition has it
CONDITION_TAINTS = (
    ("Ready", "False", TAINT_NOT_READY),
    ("Ready", "Unknown", TAINT_UNREACHABLE),
    ("MemoryPressure", "True", "node.kubernetes.io/memory-pressure"),
    ("DiskPressure", "True", "node.kubernetes.io/disk-pressure"),
    ("PIDPressure", "True", "node.kubernetes.io/pid-pressure"),
    ("NetworkUnavailable", "True", "node.kubernetes.io/network-unavailable"),
)
MANAGED_TAINTS = {(key, NO_SCHEDULE) for _, _, key in CONDITION_TAINTS} | {
    (TAINT_UNSCHEDULABLE, NO_SCHEDULE), (TAINT_NOT_READY, NO_EXECUTE), (TAINT_UNREACHABLE, NO_EXECUTE)}

NO_EXECUTE_TAINTS = {(TAINT_NOT_READY, NO_EXECUTE), (TAINT_UNREACHABLE, NO_EXECUTE)}
ZONE_PASS = ("zone-states",)          # the queue key of the periodic zone state pass (node keys are strings)

MONITORED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
REASON_UNKNOWN = "NodeStatusUnknown"
MESSAGE_UNKNOWN = "Kubelet stopped posting node status."
REASON_NEVER_UPDATED = "NodeStatusNeverUpdated"
MESSAGE_NEVER_UPDATED = "Kubelet never posted node status."


@dataclass
class NodeHealth:
    """What the controller last saw of a node's heartbeats, and when (its clock) it last saw one move."""
    probe_time: float
    ready_heartbeat: str
    lease_renew_time: str


def condition(node, type_: str):
    return next((c for c in node.status.conditions if c.type == type_), None)


def ready_status(node) -> str:
    c = condition(node, "Ready")
    return c.status if c is not None else "Unknown"


def desired_taints(node) -> set[tuple[str, str]]:
    """The (key, effect) pairs among MANAGED_TAINTS that the node's conditions and spec call for."""
    out = set()
    for type_, status, key in CONDITION_TAINTS:
        c = condition(node, type_)
        if c is not None and c.status == status:
            out.add((key, NO_SCHEDULE))
    if node.spec.unschedulable:
        out.add((TAINT_UNSCHEDULABLE, NO_SCHEDULE))
    ready = ready_status(node)
    if ready == "False":
        out.add((TAINT_NOT_READY, NO_EXECUTE))
    elif ready == "Unknown":
        out.add((TAINT_UNREACHABLE, NO_EXECUTE))
    return out


class NodeLifecycleController(Controller):
    name = "node-lifecycle"

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder(COMPONENT)
        self.grace_period = float(ctx.setting("nodeMonitorGracePeriod", NODE_MONITOR_GRACE_PERIOD))
        self.startup_grace_period = float(ctx.setting("nodeStartupGracePeriod", NODE_STARTUP_GRACE_PERIOD))
        self.monitor_period = float(ctx.setting("nodeMonitorPeriod", NODE_MONITOR_PERIOD))
        self.health: dict[str, NodeHealth] = {}
        self.zone_seen: dict[str, str] = {}        # node -> its Ready status as the zones last counted it
        self.granted: set[str] = set()             # nodes the zones let have a NoExecute taint
        self.zones = ZoneEvictionLimits(
            float(ctx.setting("nodeEvictionRate", NODE_EVICTION_RATE)),
            float(ctx.setting("secondaryNodeEvictionRate", SECONDARY_NODE_EVICTION_RATE)),
            float(ctx.setting("unhealthyZoneThreshold", UNHEALTHY_ZONE_THRESHOLD)),
            int(ctx.setting("largeClusterSizeThreshold", LARGE_CLUSTER_SIZE_THRESHOLD)))
        self.nodes = ctx.informers.informer("Node")
        self.leases = ctx.informers.informer("Lease", NODE_LEASE_NAMESPACE)
        self.pods = ctx.informers.informer("Pod")
        self.nodes.add_event_handler(self._enqueue_node, lambda old, new: self._enqueue_node(new),
                                     self._node_deleted)
        self.leases.add_event_handler(self._enqueue_lease, lambda old, new: self._enqueue_lease(new), None)
        self.pods.add_event_handler(self._pod_changed, lambda old, new: self._pod_changed(new), None)
        self.enqueue(ZONE_PASS)

    # ------------------------------------------------------------------ handlers (enqueue only)
    def _enqueue_node(self, node) -> None:
        self.enqueue(key_of(node))

    def _enqueue_lease(self, lease) -> None:
        self.enqueue(lease.metadata.name)

    def _node_deleted(self, node) -> None:
        self.enqueue(key_of(node))

    def _pod_changed(self, pod) -> None:
        # a pod that turns (or is bound) ready on a node that is not: its node's sync marks it
        node = self.nodes.get(pod.spec.nodeName) if pod.spec.nodeName else None
        if node is not None and ready_status(node) != "True" and _pod_ready(pod):
            self.enqueue(pod.spec.nodeName)

    # ------------------------------------------------------------------ sync
    async def sync(self, key) -> None:
        if key == ZONE_PASS:
            self.handle_disruption()
            self.enqueue_after(ZONE_PASS, self.monitor_period)
            return
        await self.sync_node(key)

    def handle_disruption(self, seen: dict[str, str] | None = None) -> None:
        """Recompute the zones' states and eviction rates (upstream handleDisruption) from the nodes'
        Ready statuses; `seen` overrides those of nodes whose status this controller just wrote."""
        seen = seen or {}
        by_zone: dict[str, list[str]] = defaultdict(list)
        nodes = self.nodes.list()
        self.zone_seen = {n.metadata.name: seen.get(n.metadata.name) or ready_status(n) for n in nodes}
        for node in nodes:
            by_zone[zone_key(node.metadata.labels)].append(self.zone_seen[node.metadata.name])
        change = self.zones.update(dict(by_zone), self.clock.now())
        if change.entered:
            log.warning("Controller detected that all Nodes are not-Ready. Entering master disruption mode.")
        if change.exited:
            log.info("Controller detected that some Nodes are Ready. Exiting master disruption mode.")
            now = self.clock.now()
            for health in self.health.values():      # every node gets a whole grace period again
                health.probe_time = now
        for zone, state in change.zones.items():
            log.info("Controller detected that zone %r is now in state %s.", zone, state)
        if change.entered or change.exited:
            for node in nodes:
                self.enqueue(node.metadata.name)

    async def sync_node(self, name: str) -> None:
        node = self.nodes.get(name)
        if node is None:
            self.health.pop(name, None)
            self.zones.forget(name)
            self.granted.discard(name)
            return
        was_ready = ready_status(node)
        node = await self._update_health(node)
        ready = ready_status(node)
        if self.zone_seen.get(name) != ready:      # the zones must know before its NoExecute taint is weighed
            self.handle_disruption({name: ready})
        await self._reconcile_taints(node)
        if ready != "True":
            if was_ready == "True":
                self.recorder.eventf(_node_ref(node), NORMAL, "NodeNotReady",
                                     "Node %s status is now: NodeNotReady", name)
            await self._mark_pods_not_ready(node)
        self.enqueue_after(name, self.monitor_period)

    def _observe(self, node) -> NodeHealth:
        """Record a heartbeat if the Ready condition's lastHeartbeatTime or the Lease's renewTime moved
        since last seen (upstream tryUpdateNodeHealth's probeTimestamp, on this controller's clock)."""
        now = self.clock.now()
        ready = condition(node, "Ready")
        heartbeat = ready.lastHeartbeatTime if ready is not None else ""
        lease = self.leases.get_by(NODE_LEASE_NAMESPACE, node.metadata.name)
        renew = lease.spec.renewTime if lease is not None else ""
        health = self.health.get(node.metadata.name)
        if health is None:
            health = self.health[node.metadata.name] = NodeHealth(now, heartbeat, renew)
        elif heartbeat != health.ready_heartbeat or (renew and renew != health.lease_renew_time):
            health.probe_time, health.ready_heartbeat, health.lease_renew_time = now, heartbeat, renew
        return health

    async def _update_health(self, node):
        """Set the monitored conditions Unknown once the node's grace period passed without a heartbeat;
        returns the node as it now stands."""
        health = self._observe(node)
        grace = self.grace_period if condition(node, "Ready") is not None else self.startup_grace_period
        now = self.clock.now()
        if now <= health.probe_time + grace:
            self.enqueue_after(node.metadata.name, health.probe_time + grace - now + 0.001)
            return node
        new = copy(node)
        ts = rfc3339(now)
        changed = False
        for type_ in MONITORED_CONDITIONS:
            c = condition(new, type_)
            if c is None:
                new.status.conditions.add(type=type_, status="Unknown", reason=REASON_NEVER_UPDATED,
                                          message=MESSAGE_NEVER_UPDATED, lastHeartbeatTime=node.metadata.creationTimestamp,
                                          lastTransitionTime=ts)
                changed = True
            elif c.status != "Unknown":
                c.status, c.reason, c.message, c.lastTransitionTime = "Unknown", REASON_UNKNOWN, MESSAGE_UNKNOWN, ts
                changed = True
        if not changed:
            return node
        log.info("node %s: no heartbeat for %gs; conditions set Unknown", node.metadata.name, now - health.probe_time)
        updated = await self.client.update_status(new)
        # our own write is no heartbeat
        ready = condition(updated, "Ready")
        health.ready_heartbeat = ready.lastHeartbeatTime if ready is not None else ""
        return updated

    async def _reconcile_taints(self, node) -> None:
        have = {(t.key, t.effect) for t in node.spec.taints if (t.key, t.effect) in MANAGED_TAINTS}
        want = self._rate_limited(node, desired_taints(node), have)
        if want == have:
            return
        new = copy(node)
        keep = [t for t in new.spec.taints if (t.key, t.effect) not in MANAGED_TAINTS or (t.key, t.effect) in want]
        now = rfc3339(self.clock.now())
        for key, effect in sorted(want - have):
            keep.append(core_pb2.Taint(key=key, effect=effect, timeAdded=now if effect == NO_EXECUTE else ""))
        del new.spec.taints[:]
        new.spec.taints.extend(keep)
        log.info("node %s: taints %s", node.metadata.name, sorted(f"{k}:{e}" for k, e in want) or "none managed")
        await self.client.update(new)

    def _rate_limited(self, node, want: set, have: set) -> set:
        """`want` less a NoExecute taint the zones do not allow yet (upstream processTaintBaseEviction:
        a node newly bad waits its turn; one whose taint only swaps between not-ready and unreachable
        does not; none while every zone is fully disrupted)."""
        name = node.metadata.name
        no_execute = want & NO_EXECUTE_TAINTS
        if not no_execute or ((have & NO_EXECUTE_TAINTS or name in self.granted) and not self.zones.all_disrupted):
            self.zones.forget(name)
            if not no_execute:
                self.granted.discard(name)
            return want
        self.granted.discard(name)
        wait = self.zones.try_taint(name, zone_key(node.metadata.labels), self.clock.now())
        if wait == 0:
            self.granted.add(name)      # until the cache shows the taint, it is still this node's
            return want
        self.enqueue_after(name, min(wait, self.monitor_period) if math.isfinite(wait) else self.monitor_period)
        return want - NO_EXECUTE_TAINTS

    async def _mark_pods_not_ready(self, node) -> None:
        """upstream MarkPodsNotReady: the node's pods' Ready condition goes False (endpoints drop them)."""
        ts = rfc3339(self.clock.now())
        errors = []
        for pod in self.pods.by_index(NODE_NAME_INDEX, node.metadata.name):
            if not _pod_ready(pod):
                continue
            new = copy(pod)
            for c in new.status.conditions:
                if c.type == "Ready":
                    c.status, c.lastTransitionTime = "False", ts
            try:
                await self.client.update_status(new)
            except NotFound:
                continue
            except Exception as e:     # the others still get marked; the sync is retried
                errors.append(e)
                continue
            self.recorder.event(pod, WARNING, "NodeNotReady", "Node is not ready")
        if errors:
            raise errors[0]


def _pod_ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def _node_ref(node) -> core_pb2.ObjectReference:
    # upstream records node events with the node's name as its UID, as the kubelet does
    return core_pb2.ObjectReference(kind="Node", apiVersion="v1", name=node.metadata.name, uid=node.metadata.name)
