"""The pod status the scheduler writes: the PodScheduled=False condition of a pod it cannot place, the
DisruptionTarget condition of a preemption victim, and `status.nominatedNodeName`.

A merge patch replaces a whole list, so the patch carries every condition, with the pod's
resourceVersion so that a condition someone else wrote meanwhile is never lost: on Conflict the pod is
read again and the change re-applied to it."""
from __future__ import annotations

import logging

from minik8s.api import codec
from minik8s.api.clock import rfc3339
from minik8s.api.errors import Conflict, NotFound

log = logging.getLogger("minik8s.scheduler")

ATTEMPTS = 3


def with_condition(pod, condition: dict, now: str) -> list[dict] | None:
    """The pod's conditions with `condition` set (its lastTransitionTime moves only when its status
    does), or None when the pod already has it."""
    conds = [codec.to_dict(c) for c in pod.status.conditions]
    for i, c in enumerate(conds):
        if c.get("type") == condition["type"]:
            if all(c.get(k, "") == v for k, v in condition.items()):
                return None
            since = c.get("lastTransitionTime") if c.get("status") == condition["status"] else now
            conds[i] = dict(condition, lastTransitionTime=since or now)
            return conds
    conds.append(dict(condition, lastTransitionTime=now))
    return conds


async def patch_status(client, pod, clock, condition: dict | None = None, nominated_node: str | None = None) -> bool:
    """Set `condition` and/or nominatedNodeName ("" clears it) on `pod`; False when there was nothing to
    change or the pod is gone."""
    for _ in range(ATTEMPTS):
        status: dict = {}
        if condition is not None:
            conds = with_condition(pod, condition, rfc3339(clock.now()))
            if conds is not None:
                status["conditions"] = conds
        if nominated_node is not None and pod.status.nominatedNodeName != nominated_node:
            status["nominatedNodeName"] = nominated_node or None
        if not status:
            return False
        patch = {"metadata": {"resourceVersion": pod.metadata.resourceVersion}, "status": status}
        try:
            await client.patch("Pod", pod.metadata.name, patch, pod.metadata.namespace, status=True)
            return True
        except NotFound:
            return False
        except Conflict:
            uid = pod.metadata.uid
            try:
                pod = await client.get("Pod", pod.metadata.name, pod.metadata.namespace)
            except NotFound:
                return False
            if pod.metadata.uid != uid:
                return False
    log.warning("gave up writing the status of pod %s/%s after %d conflicts", pod.metadata.namespace,
                pod.metadata.name, ATTEMPTS)
    return False
