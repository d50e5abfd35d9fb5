"""The taint eviction manager, after upstream's pkg/controller/tainteviction: a pod bound to a node with
a NoExecute taint it does not tolerate is deleted; one that tolerates every such taint stays, for the
least `tolerationSeconds` among the tolerations used (counted from when this controller first saw the
pod under those taints; forever when none sets it; at once when one is zero or less).

Before deleting, the pod gets the condition DisruptionTarget=True (`DeletionByTaintManager`, "Taint
manager: deleting due to NoExecute taint") and the event `TaintManagerEviction` "Marking for deletion
Pod NS/NAME"; a pending deletion called off because the taint went away or the pod now tolerates it is
announced with "Cancelling deletion of Pod NS/NAME". The deletion is graceful: a pod on a lost node
stays Terminating until its kubelet returns or the pod garbage collector force-deletes it."""
from __future__ import annotations

import logging

from minik8s.api.clock import rfc3339
from minik8s.api.errors import NotFound
from minik8s.client.events import NORMAL
from minik8s.client.informer import NODE_NAME_INDEX, copy, key_of

from minik8s.controllers.base import Controller, ControllerContext

log = logging.getLogger("minik8s.controllers.tainteviction")

COMPONENT = "taint-eviction-controller"
NO_EXECUTE = "NoExecute"
DISRUPTION_TARGET = "DisruptionTarget"
REASON = "DeletionByTaintManager"
MESSAGE = "Taint manager: deleting due to NoExecute taint"


def tolerates(toleration, taint) -> bool:
    """upstream Toleration.ToleratesTaint: an empty effect matches every effect, an empty key with Exists
    every key; Equal (the default operator) compares values, Exists does not."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key != taint.key and not (toleration.key == "" and toleration.operator == "Exists"):
        return False
    op = toleration.operator or "Equal"
    if op == "Exists":
        return True
    return op == "Equal" and toleration.value == taint.value


def no_execute_taints(node) -> list:
    return [t for t in node.spec.taints if t.effect == NO_EXECUTE] if node is not None else []


def toleration_seconds(tolerations, taints) -> float | None:
    """How long a pod with `tolerations` may stay under NoExecute `taints`: 0 when one taint is not
    tolerated, None (forever) when no toleration used sets tolerationSeconds, else the least of them
    (upstream getMinTolerationTime; a negative value counts as 0)."""
    least: float | None = None
    for taint in taints:
        used = [t for t in tolerations if tolerates(t, taint)]
        if not used:
            return 0.0
        for t in used:
            if t.HasField("tolerationSeconds"):
                secs = max(0.0, float(t.tolerationSeconds))
                least = secs if least is None else min(least, secs)
    return least


def _taint_digest(node) -> tuple:
    return tuple(sorted((t.key, t.value) for t in no_execute_taints(node)))


class TaintEvictionController(Controller):
    name = "taint-eviction-controller"
    default_workers = 4

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder(COMPONENT)
        # pod key -> (uid, when this controller first saw it under NoExecute taints it tolerates for a while)
        self.pending: dict[str, tuple[str, float]] = {}
        self.nodes = ctx.informers.informer("Node")
        self.pods = ctx.informers.informer("Pod")
        self.nodes.add_event_handler(self._node_added, self._node_updated, self._node_added)
        self.pods.add_event_handler(self._pod_changed, lambda old, new: self._pod_changed(new),
                                    self._pod_changed)

    # ------------------------------------------------------------------ handlers (enqueue only)
    def _enqueue_pods_on(self, node_name: str) -> None:
        for pod in self.pods.by_index(NODE_NAME_INDEX, node_name):
            self.enqueue(key_of(pod))

    def _node_added(self, node) -> None:
        if no_execute_taints(node):
            self._enqueue_pods_on(node.metadata.name)

    def _node_updated(self, old, new) -> None:
        if _taint_digest(old) != _taint_digest(new):
            self._enqueue_pods_on(new.metadata.name)

    def _pod_changed(self, pod) -> None:
        key = key_of(pod)
        if key in self.pending:
            self.enqueue(key)
            return
        if pod.spec.nodeName and no_execute_taints(self.nodes.get(pod.spec.nodeName)):
            self.enqueue(key)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        await self.sync_pod(key)

    async def sync_pod(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None or pod.metadata.deletionTimestamp or not pod.spec.nodeName:
            self.pending.pop(key, None)
            return
        taints = no_execute_taints(self.nodes.get(pod.spec.nodeName))
        allowed = toleration_seconds(pod.spec.tolerations, taints) if taints else None
        if allowed is None:
            self._cancel(key, pod)
            return
        uid, since = self.pending.get(key, (None, None))
        if uid != pod.metadata.uid:
            since = self.clock.now()
            self.pending[key] = (pod.metadata.uid, since)
        left = since + allowed - self.clock.now()
        if left > 0:
            self.enqueue_after(key, left)
            return
        await self._evict(key, pod)

    def _cancel(self, key: str, pod) -> None:
        entry = self.pending.pop(key, None)
        if entry is not None and entry[0] == pod.metadata.uid:
            self.recorder.eventf(pod, NORMAL, "TaintManagerEviction", "Cancelling deletion of Pod %s", key)

    async def _evict(self, key: str, pod) -> None:
        """upstream addConditionAndDeletePod: mark the pod a disruption target, then delete it."""
        self.recorder.eventf(pod, NORMAL, "TaintManagerEviction", "Marking for deletion Pod %s", key)
        log.info("evicting pod %s: NoExecute taint on node %s", key, pod.spec.nodeName)
        new = copy(pod)
        if _set_disruption_target(new, self.clock.now()):
            try:
                await self.client.update_status(new)
            except NotFound:
                self.pending.pop(key, None)
                return
        try:
            await self.client.delete("Pod", pod.metadata.name, pod.metadata.namespace,
                                     preconditions={"uid": pod.metadata.uid})
        except NotFound:
            pass
        self.pending.pop(key, None)


def _set_disruption_target(pod, now: float) -> bool:
    """Add (or refresh) DisruptionTarget=True with this controller's reason; False when already there."""
    cond = next((c for c in pod.status.conditions if c.type == DISRUPTION_TARGET), None)
    if cond is not None and (cond.status, cond.reason, cond.message) == ("True", REASON, MESSAGE):
        return False
    if cond is None:
        cond = pod.status.conditions.add(type=DISRUPTION_TARGET)
    if cond.status != "True":
        cond.lastTransitionTime = rfc3339(now)
    cond.status, cond.reason, cond.message = "True", REASON, MESSAGE
    return True
