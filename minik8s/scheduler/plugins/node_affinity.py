"""NodeAffinity: `nodeSelector` and required node affinity keep a pod to matching nodes (Filter);
preferred node affinity adds each matching term's weight (Score, normalized to 0..100).

A term's expressions are ANDed, the terms ORed. In and NotIn compare the label's value with a list,
Exists and DoesNotExist test the key, Gt and Lt compare it as an integer; NotIn and DoesNotExist hold
on a node without the label. `matchFields` may name `metadata.name`. An empty term matches nothing."""
from __future__ import annotations

from minik8s.api.nodefit import NODE_AFFINITY_MISMATCH, compile_term, required_node_terms
from minik8s.scheduler.framework import SKIP, default_normalize_score, unschedulable

NAME = "NodeAffinity"
REJECTED = unschedulable(NAME, NODE_AFFINITY_MISMATCH, resolvable=False)


class NodeAffinity:
    name = NAME
    node_local = True
    events = frozenset({"NodeAdd", "NodeUpdate"})

    def __init__(self, args: dict, handle=None):
        pass

    def pre_filter(self, state, pod, snapshot):
        spec = pod.pod.spec
        selector = tuple(spec.nodeSelector.items())
        terms = required_node_terms(spec)
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
