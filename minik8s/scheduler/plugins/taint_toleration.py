"""TaintToleration: a node's NoSchedule and NoExecute taints keep off every pod that does not tolerate
them (Filter); its PreferNoSchedule taints count against it (Score, fewest untolerated is best)."""
from __future__ import annotations

from minik8s.scheduler.framework import SKIP, Status, default_normalize_score, unschedulable
from minik8s.scheduler.nodeinfo import PREFER_NO_SCHEDULE

NAME = "TaintToleration"
EVENTS = frozenset({"NodeAdd", "NodeUpdate"})


def pod_tolerations(pod) -> tuple[tuple[str, str, str, str], ...]:
    """(key, operator, value, effect) of each of the pod's tolerations."""
    return tuple((t.key, t.operator or "Equal", t.value, t.effect) for t in pod.spec.tolerations)


def tolerates(toleration: tuple[str, str, str, str], taint: tuple[str, str, str]) -> bool:
    """Upstream's ToleratesTaint: an empty effect matches every effect, an empty key with Exists every
    key; Equal compares values, Exists does not."""
    key, op, value, effect = toleration
    if effect and effect != taint[2]:
        return False
    if key and key != taint[0]:
        return False
    if op == "Exists":
        return True
    return op == "Equal" and value == taint[1]


def untolerated(tolerations, taints) -> tuple[str, str, str] | None:
    for taint in taints:
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


class TaintToleration:
    name = NAME
    node_local = True
    events = EVENTS

    def __init__(self, args: dict, handle=None):
        self._statuses: dict[tuple[str, str], Status] = {}

    def pre_filter(self, state, pod, snapshot):
        state[NAME] = pod_tolerations(pod.pod)
        return None

    def filter(self, state, pod, node):
        if not node.taints:
            return None
        taint = untolerated(state[NAME], node.taints)
        if taint is None:
            return None
        st = self._statuses.get(taint[:2])
        if st is None:
            st = self._statuses[taint[:2]] = unschedulable(
                NAME, f"node(s) had untolerated taint {{{taint[0]}: {taint[1]}}}", resolvable=False)
        return st

    def pre_score(self, state, pod, snapshot):
        if not snapshot.prefer_taint_nodes:
            return SKIP         # no node has a PreferNoSchedule taint: every node would score 100
        state[NAME + "/score"] = tuple(t for t in pod_tolerations(pod.pod) if t[3] in ("", PREFER_NO_SCHEDULE))
        return None

    def score(self, state, pod, node) -> int:
        tolerations = state[NAME + "/score"]
        return sum(1 for taint in node.prefer_taints if not any(tolerates(t, taint) for t in tolerations))

    def normalize_score(self, state, scores: list[int]) -> None:
        default_normalize_score(scores, reverse=True)
