"""InterPodAffinity, required terms: a pod with anti-affinity stays out of every topology domain (the
nodes sharing the term's `topologyKey` label value; `kubernetes.io/hostname`: one node) that holds a pod
its term selects; no pod goes where a pod already there has anti-affinity against it; a pod with
affinity goes only to domains holding a pod each term selects (or anywhere in a domain, if no pod
matches yet and the pod matches its own terms: the first of a group).

Not node-local: a pod on one node can close a whole zone, so verdicts are not reused across pods.
Preferred (weighted) pod affinity is not scored."""
from __future__ import annotations

from minik8s.scheduler.framework import SKIP, unschedulable

NAME = "InterPodAffinity"
AFFINITY_REJECTED = unschedulable(NAME, "node(s) didn't match pod affinity rules", resolvable=False)
ANTI_AFFINITY_REJECTED = unschedulable(NAME, "node(s) didn't match pod anti-affinity rules")
EXISTING_REJECTED = unschedulable(NAME, "node(s) didn't satisfy existing pods anti-affinity rules")


def _add(domains: dict[str, set[str]], key: str, labels: dict[str, str]) -> None:
    value = labels.get(key)
    if value is not None:
        domains.setdefault(key, set()).add(value)


def _in(domains: dict[str, set[str]], labels: dict[str, str]) -> bool:
    return any(labels.get(k) in values for k, values in domains.items())


class InterPodAffinity:
    name = NAME
    node_local = False
    events = frozenset({"NodeAdd", "NodeUpdate", "PodAdd", "PodDelete", "PodUpdate"})

    def __init__(self, args: dict, handle=None):
        pass

    def pre_filter(self, state, pod, snapshot):
        existing: dict[str, set[str]] = {}      # domains closed by pods already placed
        for ni, other in snapshot.affinity_pods():
            if other.uid != pod.uid:
                for term in other.anti_affinity_terms:
                    if term.matches(pod):
                        _add(existing, term.topology_key, ni.labels)
        if not existing and not pod.anti_affinity_terms and not pod.affinity_terms:
            return SKIP
        own_anti: dict[str, set[str]] = {}
        affinity = [dict() for _ in pod.affinity_terms]     # per term: topology key -> domains with a match
        if pod.anti_affinity_terms or pod.affinity_terms:
            for ni in snapshot.node_infos():
                for other in ni.pods.values():
                    if other.uid == pod.uid:
                        continue
                    for term in pod.anti_affinity_terms:
                        if term.matches(other):
                            _add(own_anti, term.topology_key, ni.labels)
                    for i, term in enumerate(pod.affinity_terms):
                        if term.matches(other):
                            _add(affinity[i], term.topology_key, ni.labels)
        first_of_group = (not any(affinity) and all(t.matches(pod) for t in pod.affinity_terms))
        state[NAME] = (existing, own_anti, affinity, first_of_group)
        return None

    def filter(self, state, pod, node):
        existing, own_anti, affinity, first_of_group = state[NAME]
        labels = node.labels
        if pod.affinity_terms:
            if first_of_group:
                if not all(t.topology_key in labels for t in pod.affinity_terms):
                    return AFFINITY_REJECTED
            elif not all(_in(domains, labels) for domains in affinity):
                return AFFINITY_REJECTED
        if own_anti and _in(own_anti, labels):
            return ANTI_AFFINITY_REJECTED
        if existing and _in(existing, labels):
            return EXISTING_REJECTED
        return None
