"""The pod garbage collector, after upstream's pkg/controller/podgc: every `podGCPeriod` (upstream 20 s)
it force-deletes (grace period 0) pods that no kubelet will ever finish:

- finished pods (Succeeded, Failed) beyond `terminatedPodGCThreshold` (upstream 12500; 0 turns this
  off), evicted ones first, then the oldest;
- terminating pods on a node that is not Ready and carries the `node.kubernetes.io/out-of-service`
  taint (an administrator's word that the node is down for good: its pods stuck Terminating go);
- pods bound to a node that no longer exists, once it has stayed missing for the quarantine (40 s) and
  a fresh read confirms it, with DisruptionTarget=True (`DeletionByPodGC`, "PodGC: node no longer exists");
- terminating pods never bound to a node.

A pod not yet finished is first marked Failed, so that whoever owns it sees it end."""
from __future__ import annotations

import asyncio
import logging

from minik8s.api.clock import rfc3339
from minik8s.api.errors import NotFound
from minik8s.client.informer import copy, key_of

from minik8s.controllers.base import Controller, ControllerContext

log = logging.getLogger("minik8s.controllers.podgc")

GC_CHECK_PERIOD = 20.0               # upstream gcCheckPeriod
TERMINATED_POD_GC_THRESHOLD = 12500  # upstream --terminated-pod-gc-threshold
QUARANTINE_TIME = 40.0               # upstream quarantineTime: how long a node must be missing
TAINT_OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
GC_KEY = "gc"


def is_terminated(pod) -> bool:
    return pod.status.phase not in ("Pending", "Running", "Unknown", "")


def is_node_ready(node) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)


def _eviction_and_age(pod) -> tuple:
    """upstream byEvictionAndCreationTimestamp: evicted pods first, then the oldest, then by name."""
    evicted = pod.status.phase == "Failed" and pod.status.reason == "Evicted"
    return (not evicted, pod.metadata.creationTimestamp, pod.metadata.name)


class PodGCController(Controller):
    name = "pod-garbage-collector"

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.period = float(ctx.setting("podGCPeriod", GC_CHECK_PERIOD))
        self.threshold = int(ctx.setting("terminatedPodGCThreshold", TERMINATED_POD_GC_THRESHOLD))
        self.quarantine = float(ctx.setting("podGCQuarantineTime", QUARANTINE_TIME))
        self.pods = ctx.informers.informer("Pod")
        self.nodes = ctx.informers.informer("Node")
        self.missing_since: dict[str, float] = {}     # node name -> when first seen missing (monotonic)

    async def run(self) -> None:
        self.enqueue(GC_KEY)
        await super().run()

    async def sync(self, key: str) -> None:
        try:
            await self.gc()
        finally:
            self.enqueue_after(GC_KEY, self.period)

    async def gc(self) -> None:
        pods = self.pods.list()
        if self.threshold > 0:
            await self.gc_terminated(pods)
        await self.gc_terminating(pods)
        await self.gc_orphaned(pods)
        await self.gc_unscheduled_terminating(pods)

    async def gc_terminated(self, pods: list) -> None:
        terminated = [p for p in pods if is_terminated(p)]
        excess = len(terminated) - self.threshold
        if excess <= 0:
            return
        log.info("garbage collecting %d finished pods (threshold %d)", excess, self.threshold)
        await self._delete_all(sorted(terminated, key=_eviction_and_age)[:excess])

    async def gc_terminating(self, pods: list) -> None:
        victims = []
        for pod in pods:
            if not pod.metadata.deletionTimestamp or not pod.spec.nodeName:
                continue
            node = self.nodes.get(pod.spec.nodeName)
            if node is not None and not is_node_ready(node) \
                    and any(t.key == TAINT_OUT_OF_SERVICE for t in node.spec.taints):
                victims.append(pod)
        if victims:
            log.info("garbage collecting %d terminating pods on out-of-service nodes", len(victims))
            await self._delete_all(sorted(victims, key=_eviction_and_age))

    async def gc_orphaned(self, pods: list) -> None:
        now = self.clock.monotonic()
        missing = {p.spec.nodeName for p in pods if p.spec.nodeName and self.nodes.get(p.spec.nodeName) is None}
        for name in list(self.missing_since):
            if name not in missing:
                del self.missing_since[name]
        gone = set()
        for name in missing:
            since = self.missing_since.setdefault(name, now)
            if now - since >= self.quarantine and not await self._node_exists(name):
                gone.add(name)
        orphans = [p for p in pods if p.spec.nodeName in gone]
        for pod in orphans:
            log.info("pod %s is bound to node %s, which no longer exists: deleting", key_of(pod), pod.spec.nodeName)
        await self._delete_all(orphans, ("DeletionByPodGC", "PodGC: node no longer exists"))

    async def gc_unscheduled_terminating(self, pods: list) -> None:
        await self._delete_all([p for p in pods if p.metadata.deletionTimestamp and not p.spec.nodeName])

    async def _node_exists(self, name: str) -> bool:
        # the cache may be behind a node that was just created: ask the server
        try:
            await self.client.get("Node", name)
        except NotFound:
            return False
        return True

    async def _delete_all(self, pods: list, condition: tuple[str, str] | None = None) -> None:
        results = await asyncio.gather(*(self.mark_failed_and_delete(p, condition) for p in pods),
                                       return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    async def mark_failed_and_delete(self, pod, condition: tuple[str, str] | None = None) -> None:
        """upstream markFailedAndDeletePodWithCondition: a pod that has not finished is set Failed (with
        `condition`, a DisruptionTarget reason and message, when given), then deleted with grace 0."""
        meta = pod.metadata
        try:
            if pod.status.phase not in ("Succeeded", "Failed"):
                new = copy(pod)
                new.status.phase = "Failed"
                if condition is not None:
                    _set_condition(new, "DisruptionTarget", condition[0], condition[1], self.clock.now())
                await self.client.update_status(new)
            await self.client.delete("Pod", meta.name, meta.namespace, grace_period=0,
                                     preconditions={"uid": meta.uid})
        except NotFound:
            return


def _set_condition(pod, type_: str, reason: str, message: str, now: float) -> None:
    cond = next((c for c in pod.status.conditions if c.type == type_), None)
    if cond is None:
        cond = pod.status.conditions.add(type=type_)
    if cond.status != "True":
        cond.lastTransitionTime = rfc3339(now)
    cond.status, cond.reason, cond.message = "True", reason, message
