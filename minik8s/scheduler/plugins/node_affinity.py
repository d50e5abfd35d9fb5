"""NodeAffinity: `nodeSelector` and required node affinity keep a pod to matching nodes (Filter);
preferred node affinity adds each matching term's weight (Score, normalized to 0..100).

A term's expressions are ANDed, the terms ORed. In and NotIn compare the label's value with a list,
Exists and DoesNotExist test the key, Gt and Lt compare it as an integer; NotIn and DoesNotExist hold
on a node without the label. `matchFields` may name `metadata.name`. An empty term matches nothing."""
from __future__ import annotations

from minik8s.scheduler.framework import SKIP, default_normalize_score, unschedulable

NAME = "NodeAffinity"
REJECTED = unschedulable(NAME, "node(s) didn't match Pod's node affinity/selector", resolvable=False)


def _int(s: str) -> int | None:
    try:
        return int(s)
    except (TypeError, ValueError):
        return None


def _requirement(req, field: bool):
    """A predicate on (labels, node name) for one NodeSelectorRequirement; None if it is malformed."""
    key, op, values = req.key, req.operator, frozenset(req.values)
    if field:
        if key != "metadata.name" or op not in ("In", "NotIn") or len(values) != 1:
            return None
        return (lambda labels, name: name in values) if op == "In" else (lambda labels, name: name not in values)
    if op == "In":
        return lambda labels, name: labels.get(key) in values
    if op == "NotIn":
        return lambda labels, name: labels.get(key) not in values
    if op == "Exists":
        return lambda labels, name: key in labels
    if op == "DoesNotExist":
        return lambda labels, name: key not in labels
    if op in ("Gt", "Lt") and len(req.values) == 1 and _int(req.values[0]) is not None:
        bound = _int(req.values[0])
        if op == "Gt":
            return lambda labels, name: (v := _int(labels.get(key))) is not None and v > bound
        return lambda labels, name: (v := _int(labels.get(key))) is not None and v < bound
    return None


def compile_term(term):
    """A predicate for a NodeSelectorTerm: all its requirements hold. Empty or malformed: never."""
    preds = [_requirement(r, False) for r in term.matchExpressions] + \
            [_requirement(r, True) for r in term.matchFields]
    if not preds or any(p is None for p in preds):
        return lambda labels, name: False
    if len(preds) == 1:
        return preds[0]
    return lambda labels, name: all(p(labels, name) for p in preds)


class NodeAffinity:
    name = NAME
    node_local = True
    events = frozenset({"NodeAdd", "NodeUpdate"})

    def __init__(self, args: dict, handle=None):
        pass

    def pre_filter(self, state, pod, snapshot):
        spec = pod.pod.spec
        selector = tuple(spec.nodeSelector.items())
        terms = None
        aff = spec.affinity
        if aff.HasField("nodeAffinity") and aff.nodeAffinity.HasField("requiredDuringSchedulingIgnoredDuringExecution"):
            terms = [compile_term(t) for t in
                     aff.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms]
        if not selector and terms is None:
            return SKIP
        state[NAME] = (selector, terms)
        return None

    def filter(self, state, pod, node):
        selector, terms = state[NAME]
        labels = node.labels
        for k, v in selector:
            if labels.get(k) != v:
                return REJECTED
        if terms is not None and not any(t(labels, node.name) for t in terms):
            return REJECTED
        return None

    def pre_score(self, state, pod, snapshot):
        aff = pod.pod.spec.affinity
        preferred = aff.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution \
            if aff.HasField("nodeAffinity") else ()
        terms = [(p.weight, compile_term(p.preference)) for p in preferred if p.weight]
        if not terms:
            return SKIP
        state[NAME + "/score"] = terms
        return None

    def score(self, state, pod, node) -> int:
        labels = node.labels
        return sum(w for w, t in state[NAME + "/score"] if t(labels, node.name))

    def normalize_score(self, state, scores: list[int]) -> None:
        default_normalize_score(scores)
