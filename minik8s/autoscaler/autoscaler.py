"""The autoscaler's loop, after upstream's StaticAutoscaler.RunOnce: every `scanInterval` (on the
injected clock) it looks at the cluster through its informers and does at most one thing of each kind:

1. a group below its `min` is brought up to it (upstream's --enforce-node-group-min-size);
2. scale-up: pods marked unschedulable that a new node of some group would hold get nodes of the group
   the expander chooses, within max; each pod helped gets `TriggeredScaleUp`, and when nothing could
   help, each pod gets `NotTriggerScaleUp` saying why;
3. otherwise scale-down: a node that has been a candidate (scaledown.py) for `scaleDownUnneededTime`,
   no sooner than `scaleDownDelayAfterAdd` after a scale-up and `scaleDownDelayAfterFailure` after a
   failed one, is tainted `ToBeDeletedByClusterAutoscaler`, drained through the Eviction API (budgets
   honoured: a 429 is retried each scan until `maxPodEvictionTime`) and removed by the provider, one
   node at a time.

Every scan writes the status ConfigMap (status.py) when it changed."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from minik8s.api.clock import Clock, parse_time, rfc3339
from minik8s.api.errors import ApiError, Conflict, NotFound, TooManyRequests
from minik8s.api.nodefit import NO_SCHEDULE
from minik8s.api.nodegroups import (AUTOSCALER_DEFAULTS, STATUS_CONFIGMAP, STATUS_LAST_UPDATED, STATUS_NAMESPACE,
                                    NodeGroup)
from minik8s.api.pb import core_pb2
from minik8s.client.events import NORMAL, WARNING, EventRecorder
from minik8s.client.informer import SharedInformerFactory

from minik8s.autoscaler.provider import Provider
from minik8s.autoscaler.scaledown import CONSOLIDATION, EMPTY, TO_BE_DELETED_TAINT, Candidate, find_candidates
from minik8s.autoscaler.scaleup import choose, not_triggered_message, plan, pod_key, still_pending
from minik8s.autoscaler.simulator import Snapshot, group_of, is_daemon_or_mirror, is_ready, take_snapshot
from minik8s.autoscaler.status import ClusterStatus, GroupStatus

log = logging.getLogger("minik8s.autoscaler")

COMPONENT = "cluster-autoscaler"
NEVER = float("-inf")


@dataclass
class Drain:
    """The one node being drained: what was asked of it and when."""
    candidate: Candidate
    started: float
    message: str
    evicted: set = field(default_factory=set)


class ClusterAutoscaler:
    def __init__(self, client, provider: Provider, settings: dict | None = None, clock: Clock | None = None,
                 informers: SharedInformerFactory | None = None):
        self.client = client
        self.provider = provider
        self.settings = {**AUTOSCALER_DEFAULTS, **(settings or {})}
        self.clock = clock or Clock()
        self.informers = informers or SharedInformerFactory(client, self.clock)
        self.nodes = self.informers.informer("Node")
        self.pods = self.informers.informer("Pod")
        self.pdbs = self.informers.informer("PodDisruptionBudget")
        self.recorder = EventRecorder(client, COMPONENT, clock=self.clock)
        self.unneeded_since: dict[str, float] = {}
        self.draining: Drain | None = None
        self.last_scale_up = NEVER
        self.last_scale_down_failure = NEVER
        self.backoff_until: dict[str, float] = {}
        self.decisions: dict[str, str] = {}
        self.node_seconds: dict[str, float] = {}     # each group's nodes' registered time, summed
        self._last_scan: float | None = None
        self._status_text = ""
        self._status_cm = None

    # ------------------------------------------------------------------ running
    async def start(self) -> None:
        await self.informers.start_all()
        await self.informers.wait_for_cache_sync()

    async def run(self) -> None:
        await self.start()
        while True:
            try:
                await self.run_once()
            except ApiError as e:
                log.warning("scan failed: %s", e)
            await self.clock.sleep(self.settings["scanInterval"])

    async def stop(self) -> None:
        await self.informers.stop_all()
        await self.recorder.flush()
        await self.recorder.stop()

    # ------------------------------------------------------------------ one scan
    async def run_once(self) -> None:
        now = self.clock.monotonic()
        snap = take_snapshot(self.nodes.list(), self.pods.list())
        groups = self.provider.node_groups()
        self._count_node_seconds(groups, snap, now)
        for g in groups:
            if self.provider.failed(g.name):
                self.backoff_until[g.name] = now + self.settings["initialNodeGroupBackoffDuration"]
                self._decide(g.name, "ScaleUpFailed: a node did not start; the group backs off")
        targets = {g.name: self._target(g, snap) for g in groups}
        scaled = await self._enforce_min(groups, targets)
        scaled = await self._scale_up(snap, groups, targets, now) or scaled
        if scaled:
            self.last_scale_up = now
            self.unneeded_since.clear()
        candidates = []
        if self.draining is not None:
            await self._continue_drain(snap, groups, now)
        elif not scaled:
            candidates = await self._scale_down(snap, groups, targets, now)
        await self._write_status(snap, groups, targets, candidates)

    def _count_node_seconds(self, groups: list[NodeGroup], snap: Snapshot, now: float) -> None:
        """What the groups cost: their registered nodes times the time since the last scan."""
        if self._last_scan is not None:
            for g in groups:
                self.node_seconds[g.name] = self.node_seconds.get(g.name, 0.0) + \
                    len(self._registered(g, snap)) * (now - self._last_scan)
        self._last_scan = now

    def _registered(self, group: NodeGroup, snap: Snapshot) -> list[str]:
        return [n for n, node in snap.nodes.items() if group_of(node) == group.name]

    def _target(self, group: NodeGroup, snap: Snapshot) -> int:
        return len(set(self._registered(group, snap)) | self.provider.starting(group.name))

    def _decide(self, group: str, text: str) -> None:
        self.decisions[group] = f"{rfc3339(self.clock.now())} {text}"
        log.info("%s: %s", group, text)

    async def _grow(self, group: NodeGroup, snap_names: set[str], count: int) -> list[str]:
        taken = snap_names | self.provider.starting(group.name)
        names, i = [], 0
        while len(names) < count:
            i += 1
            if group.node_name(i) not in taken:
                names.append(group.node_name(i))
        await self.provider.increase_size(group, names)
        return names

    async def _enforce_min(self, groups: list[NodeGroup], targets: dict[str, int]) -> bool:
        grew = False
        names = {n.metadata.name for n in self.nodes.list()}
        for g in groups:
            if targets[g.name] < g.min:
                added = await self._grow(g, names, g.min - targets[g.name])
                self._decide(g.name, f"ScaleUp: {targets[g.name]}->{g.min} to reach the group's min "
                                     f"({', '.join(added)})")
                targets[g.name] = g.min
                grew = True
        return grew

    # ------------------------------------------------------------------ scale-up
    def _upcoming_shapes(self, groups: list[NodeGroup], snap: Snapshot) -> list:
        """A template node for each node asked for that is not Ready yet: pods it will hold need no more."""
        out = []
        for g in groups:
            ready = sum(1 for n in self._registered(g, snap) if is_ready(snap.nodes[n]))
            out += [g.template_shape(f"{g.name}-upcoming-{i}") for i in range(self._target(g, snap) - ready)]
        return out

    async def _scale_up(self, snap: Snapshot, groups: list[NodeGroup], targets: dict[str, int], now: float) -> bool:
        delay = self.settings["newPodScaleUpDelay"]
        pending = [p for p in snap.pending if not delay or self._age(p) >= delay]
        if not pending:
            return False
        shapes = [s.copy() for n, s in snap.shapes.items() if is_ready(snap.nodes[n])]
        pending = still_pending(pending, shapes + self._upcoming_shapes(groups, snap))
        if not pending:
            return False
        room = {g.name: 0 if self.backoff_until.get(g.name, NEVER) > now else g.max - targets[g.name]
                for g in groups}
        p = plan(pending, groups, room)
        best = choose(p.options, self.settings["expander"])
        if best is None:
            for pod in pending:
                reasons = p.refused.get(pod_key(pod))
                if reasons:
                    self.recorder.event(pod, NORMAL, "NotTriggerScaleUp", not_triggered_message(reasons))
            return False
        g, before = best.group, targets[best.group.name]
        added = await self._grow(g, set(snap.nodes), best.nodes)
        targets[g.name] = before + best.nodes
        info = f"[{{{g.name} {before}->{targets[g.name]} (max: {g.max})}}]"
        for pod in best.pods:
            self.recorder.event(pod, NORMAL, "TriggeredScaleUp", f"pod triggered scale-up: {info}")
        self._decide(g.name, f"ScaleUp: {before}->{targets[g.name]} for {len(best.pods)} unschedulable "
                             f"pod(s) ({', '.join(added)})")
        if self._status_cm is not None:
            self.recorder.event(self._status_cm, NORMAL, "ScaledUpGroup",
                                f"Scale-up: setting group {g.name} size to {targets[g.name]} instead of "
                                f"{before} (max: {g.max})")
        return True

    def _age(self, pod) -> float:
        return self.clock.now() - parse_time(pod.metadata.creationTimestamp)

    # ------------------------------------------------------------------ scale-down
    async def _scale_down(self, snap: Snapshot, groups: list[NodeGroup], targets: dict[str, int],
                          now: float) -> list[Candidate]:
        if snap.pending:
            self.unneeded_since.clear()         # pods wait for room: no node is unneeded
            return []
        removable = {g.name: targets[g.name] - g.min for g in groups if not self.provider.starting(g.name)}
        candidates, _ = find_candidates(snap, removable, self.pdbs.list(),
                                        self.settings["scaleDownUtilizationThreshold"],
                                        self.settings["consolidation"])
        names = {c.node for c in candidates}
        self.unneeded_since = {n: self.unneeded_since.get(n, now) for n in names}
        if now - self.last_scale_up < self.settings["scaleDownDelayAfterAdd"] or \
                now - self.last_scale_down_failure < self.settings["scaleDownDelayAfterFailure"]:
            return candidates
        ripe = [c for c in candidates if now - self.unneeded_since[c.node] >= self.settings["scaleDownUnneededTime"]]
        if ripe:
            await self._start_drain(ripe[0], snap, now)
        return candidates

    def _why(self, c: Candidate, snap: Snapshot) -> str:
        pods = ",".join(pod_key(p) for p in c.pods)
        if c.reason == EMPTY:
            return f"Scale-down: removing empty node {c.node}"
        if c.reason == CONSOLIDATION:
            usable = sum(1 for node in snap.nodes.values() if is_ready(node))
            return (f"Consolidation: the pods of {usable} nodes fit on {usable - 1}: removing node {c.node}, "
                    f"utilization: {c.utilization:.2f}, pods to reschedule: {pods}")
        return f"Scale-down: removing node {c.node}, utilization: {c.utilization:.2f}, pods to reschedule: {pods}"

    async def _start_drain(self, c: Candidate, snap: Snapshot, now: float) -> None:
        node = snap.nodes[c.node]
        taints = [{"key": t.key, "value": t.value, "effect": t.effect} for t in node.spec.taints]
        taints.append({"key": TO_BE_DELETED_TAINT, "value": str(int(self.clock.now())), "effect": NO_SCHEDULE})
        try:
            node = await self.client.patch("Node", c.node, {"metadata": {"resourceVersion": node.metadata.resourceVersion},
                                                            "spec": {"taints": taints}})
        except (Conflict, NotFound):
            return                              # it moved on: the next scan looks again
        message = self._why(c, snap)
        self.recorder.event(node, NORMAL, "ScaleDown", f"marked the node as toBeDeleted/unschedulable: {message}")
        if self._status_cm is not None:
            self.recorder.event(self._status_cm, NORMAL, "ScaleDownEmpty" if c.reason == EMPTY else "ScaleDown", message)
        self._decide(c.group, message)
        self.draining = Drain(c, now, message)
        await self._continue_drain(snap, self.provider.node_groups(), now)

    async def _continue_drain(self, snap: Snapshot, groups: list[NodeGroup], now: float) -> None:
        d = self.draining
        name = d.candidate.node
        if name not in snap.nodes:
            self.draining = None
            return
        left = [p for p in snap.pods_on[name] if not is_daemon_or_mirror(p)]
        if not left:
            group = next(g for g in groups if g.name == d.candidate.group)
            if not await self.provider.delete_node(group, name):
                await self._fail_drain(snap, "the provider could not remove it", now)
                return
            self._decide(group.name, f"ScaleDown: node {name} removed ({d.candidate.reason})")
            self.unneeded_since.pop(name, None)
            self.draining = None
            return
        if now - d.started > self.settings["maxPodEvictionTime"] + self.settings["maxGracefulTerminationSec"]:
            await self._fail_drain(snap, f"pods still on the node: {', '.join(pod_key(p) for p in left)}", now)
            return
        grace_cap = int(self.settings["maxGracefulTerminationSec"])
        for pod in left:
            if pod.metadata.deletionTimestamp or pod.metadata.uid in d.evicted:
                continue
            grace = pod.spec.terminationGracePeriodSeconds if pod.spec.HasField("terminationGracePeriodSeconds") else 30
            try:
                await self.client.evict(pod.metadata.namespace, pod.metadata.name, grace_period=min(grace, grace_cap))
            except TooManyRequests:
                continue                        # its budget allows none now: the next scan asks again
            except NotFound:
                continue
            d.evicted.add(pod.metadata.uid)
            why = "consolidation" if d.candidate.reason == CONSOLIDATION else d.candidate.reason
            self.recorder.event(pod, NORMAL, "ScaleDown",
                                f"deleting pod for node scale down ({why}: node {name}'s pods fit on other nodes)")

    async def _fail_drain(self, snap: Snapshot, why: str, now: float) -> None:
        d, self.draining = self.draining, None
        self.last_scale_down_failure = now
        node = snap.nodes[d.candidate.node]
        taints = [{"key": t.key, "value": t.value, "effect": t.effect} for t in node.spec.taints
                  if t.key != TO_BE_DELETED_TAINT]
        try:
            node = await self.client.patch("Node", node.metadata.name, {"spec": {"taints": taints}})
        except NotFound:
            return
        self.recorder.event(node, WARNING, "ScaleDownFailed", f"failed to drain the node: {why}")
        self._decide(d.candidate.group, f"ScaleDownFailed: node {node.metadata.name}: {why}")

    # ------------------------------------------------------------------ status
    async def _write_status(self, snap: Snapshot, groups: list[NodeGroup], targets: dict[str, int],
                            candidates: list[Candidate]) -> None:
        status = ClusterStatus(registered=len(snap.nodes), ready=sum(1 for n in snap.nodes.values() if is_ready(n)))
        now = self.clock.monotonic()
        for g in groups:
            names = self._registered(g, snap)
            starting = self.provider.starting(g.name)
            status.groups.append(GroupStatus(
                g.name, g.min, g.max, len(names), sum(1 for n in names if is_ready(snap.nodes[n])), targets[g.name],
                "Backoff" if self.backoff_until.get(g.name, NEVER) > now else "InProgress" if starting else "NoActivity",
                sum(1 for c in candidates if c.group == g.name), self.decisions.get(g.name, ""),
                round(self.node_seconds.get(g.name, 0.0))))
        text = status.to_yaml(self.clock.now())
        if text.partition("\n")[2] == self._status_text.partition("\n")[2]:
            return                              # nothing but the time changed
        cm = core_pb2.ConfigMap(apiVersion="v1", kind="ConfigMap")
        cm.metadata.name, cm.metadata.namespace = STATUS_CONFIGMAP, STATUS_NAMESPACE
        cm.metadata.annotations[STATUS_LAST_UPDATED] = rfc3339(self.clock.now())
        cm.data["status"] = text
        try:
            if self._status_cm is None:
                try:
                    self._status_cm = await self.client.get("ConfigMap", STATUS_CONFIGMAP, STATUS_NAMESPACE)
                except NotFound:
                    self._status_cm = await self.client.create(cm)
                    self._status_text = text
                    return
            cm.metadata.resourceVersion = self._status_cm.metadata.resourceVersion
            self._status_cm = await self.client.update(cm)
            self._status_text = text
        except (Conflict, NotFound):
            self._status_cm = None              # read again next scan
