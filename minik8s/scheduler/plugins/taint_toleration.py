"""TaintToleration: a node's NoSchedule and NoExecute taints keep off every pod that does not tolerate
them (Filter); its PreferNoSchedule taints count against it (Score, fewest untolerated is best)."""
from __future__ import annotations

from minik8s.api.nodefit import (PREFER_NO_SCHEDULE, tolerates,  # noqa: F401
                                 untolerated, untolerated_message)
from minik8s.scheduler.framework import SKIP, Status, default_normalize_score, unschedulable

NAME = "TaintToleration"
EVENTS = frozenset({"NodeAdd", "NodeUpdate"})


class TaintToleration:
    name = NAME
    node_local = True
    events = EVENTS

    def __init__(self, args: dict, handle=None):
        self._statuses: dict[tuple[str, str], Status] = {}

    def pre_filter(self, state, pod, snapshot):
        state[NAME] = pod.tolerations
        return None

    def filter(self, state, pod, node):
        if not node.taints:
            return None
        taint = untolerated(state[NAME], node.taints)
        if taint is None:
            return None
        st = self._statuses.get(taint[:2])
        if st is None:
            st = self._statuses[taint[:2]] = unschedulable(NAME, untolerated_message(taint), resolvable=False)
        return st

    def pre_score(self, state, pod, snapshot):
        if not snapshot.prefer_taint_nodes:
            return SKIP         # no node has a PreferNoSchedule taint: every node would score 100
        state[NAME + "/score"] = tuple(t for t in pod.tolerations if t[3] in ("", PREFER_NO_SCHEDULE))
        return None

    def score(self, state, pod, node) -> int:
        tolerations = state[NAME + "/score"]
        return sum(1 for taint in node.prefer_taints if not any(tolerates(t, taint) for t in tolerations))

    def normalize_score(self, state, scores: list[int]) -> None:
        default_normalize_score(scores, reverse=True)
