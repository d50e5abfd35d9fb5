"""DefaultPreemption (PostFilter): when a pod fits nowhere, find the one node where evicting pods of
lower priority makes it fit, evicting as few and as unimportant pods as possible.

For each node whose filter failure preemption could cure (Unschedulable, not UnschedulableAndUnresolvable),
remove every lower-priority pod and check the pod fits; then give back the most important of those
pods one by one (highest priority, then longest running) while it still fits: the rest are the
victims. Among candidate nodes, upstream's order picks: the lowest highest-victim priority, the lowest
sum of victim priorities, the fewest victims, the latest start among the most important victims, and
finally the name that sorts first. PodDisruptionBudgets are not considered.

The victims get the DisruptionTarget condition (reason PreemptionByScheduler) and are deleted with
their own grace period; pods of lower priority nominated to that node lose the nomination; the
preemptor is nominated to it (status.nominatedNodeName) and is scheduled once the victims are gone."""
from __future__ import annotations

import asyncio
import logging

from minik8s.api.errors import ApiError, NotFound
from minik8s.scheduler.framework import Code, FitError, PostFilterResult, Status, unschedulable
from minik8s.scheduler.framework.interface import reason_counts
from minik8s.scheduler.framework.evaluation import with_nominated
from minik8s.scheduler.podstatus import patch_status

log = logging.getLogger("minik8s.scheduler")

NAME = "DefaultPreemption"
NOT_HELPFUL = unschedulable(NAME, "Preemption is not helpful for scheduling", resolvable=False)
NO_VICTIMS = unschedulable(NAME, "No preemption victims found for incoming pod", resolvable=False)
REASON = "PreemptionByScheduler"
_INT32 = 2 ** 31


def terminating_by_preemption(pod) -> bool:
    return bool(pod.metadata.deletionTimestamp) and any(
        c.type == "DisruptionTarget" and c.reason == REASON for c in pod.status.conditions)


class DefaultPreemption:
    name = NAME

    def __init__(self, args: dict, handle):
        self.handle = handle

    def post_filter(self, state, pod, statuses: dict[str, Status], snapshot) -> PostFilterResult:
        if pod.pod.spec.preemptionPolicy == "Never":
            return PostFilterResult(message="preemption: not eligible due to preemptionPolicy=Never.")
        nominated = snapshot.nominated_node(pod.uid) or pod.pod.status.nominatedNodeName
        ni = snapshot.nodes.get(nominated) if nominated else None
        if ni is not None and statuses.get(nominated, NOT_HELPFUL).code != Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
            if any(p.priority < pod.priority and terminating_by_preemption(p.pod) for p in ni.pods.values()):
                return PostFilterResult(message="preemption: not eligible due to a terminating pod on the "
                                                "nominated node.")
        outcome: dict[str, Status] = {}
        candidates = []
        lowest = snapshot.lowest_priority()
        for name, st in statuses.items():
            if st.code != Code.UNSCHEDULABLE:
                outcome[name] = NOT_HELPFUL
            elif lowest is None or lowest >= pod.priority:
                outcome[name] = NO_VICTIMS
            else:
                victims, why = self._victims(state, pod, snapshot.nodes[name], snapshot)
                if victims:
                    candidates.append((name, victims))
                else:
                    outcome[name] = why
        if not candidates:
            fit = FitError(snapshot.num_nodes, reason_counts(outcome.values()))
            return PostFilterResult(message="preemption: " + str(fit))
        node, victims = min(candidates, key=_preference)
        lower_nominated = [p for p in snapshot.nominated_pods(node) if p.priority < pod.priority]

        async def act():
            await self._evict(pod, node, victims, lower_nominated)
        return PostFilterResult(nominated_node=node, victims=victims, actions=act)

    def _victims(self, state, pod, node_info, snapshot):
        """The fewest, least important pods whose removal lets `pod` fit on the node; or (None, why)."""
        ni = with_nominated(node_info, pod, snapshot).clone()
        lower = [p for p in ni.pods.values() if p.priority < pod.priority]
        if not lower:
            return None, NO_VICTIMS
        for p in lower:
            ni.remove_pod(p)
        st = self.handle.run_filters(state, pod, ni)
        if st is not None:
            return None, st
        victims = []
        for p in sorted(lower, key=lambda p: (-p.priority, p.start_time)):
            ni.add_pod(p)
            if self.handle.run_filters(state, pod, ni) is not None:
                ni.remove_pod(p)
                victims.append(p)
        return victims, None

    async def _evict(self, preemptor, node: str, victims, lower_nominated) -> None:
        client, clock, recorder = self.handle.client, self.handle.clock, self.handle.recorder
        condition = {"type": "DisruptionTarget", "status": "True", "reason": REASON,
                     "message": f"{preemptor.pod.spec.schedulerName}: preempting to accommodate a higher "
                                "priority pod"}

        async def evict(victim) -> None:
            if victim.terminating:
                return          # graceful deletion already under way
            try:
                await patch_status(client, victim.pod, clock, condition=condition)
                await client.delete("Pod", victim.name, victim.namespace, preconditions={"uid": victim.uid})
            except NotFound:
                return
            except ApiError as e:
                log.warning("preempting %s for %s failed: %s", victim.key, preemptor.key, e)
                return
            if recorder is not None:
                recorder.event(victim.pod, "Normal", "Preempted",
                               f"Preempted by pod {preemptor.uid} on node {node}")

        await asyncio.gather(*(evict(v) for v in victims))
        for p in lower_nominated:
            try:
                await patch_status(client, p.pod, clock, nominated_node="")
            except ApiError as e:
                log.warning("clearing the nomination of %s failed: %s", p.key, e)


def _preference(candidate) -> tuple:
    name, victims = candidate
    top = max(v.priority for v in victims)
    earliest_top = min(v.start_time for v in victims if v.priority == top)
    return (top, sum(v.priority + _INT32 for v in victims), len(victims), -earliest_top, name)
