"""InterPodAffinity (required terms): anti-affinity keeps a pod out of topology domains holding pods it
selects, pods already placed keep out pods their anti-affinity selects, affinity draws a pod to domains
holding the pods it selects (the first of a group goes anywhere its own terms would allow)."""
from __future__ import annotations

import pytest

from minik8s.scheduler.framework import SKIP, CycleState
from minik8s.scheduler.plugins.inter_pod_affinity import InterPodAffinity
from schedtest import cache_with, make_node, make_pod, pod_info

HOST = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
NODES = [make_node("n1", labels={ZONE: "a"}), make_node("n2", labels={ZONE: "a"}), make_node("n3", labels={ZONE: "b"}),
         make_node("n4")]


def anti(key: str, **labels) -> dict:
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": labels}, "topologyKey": key}]}}


def aff(key: str, **labels) -> dict:
    return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": labels}, "topologyKey": key}]}}


def placed(name, node, **kw):
    return make_pod(name, node_name=node, **kw)


def verdicts(pod, existing) -> dict[str, str | None]:
    cache = cache_with(NODES, existing)
    plugin, state, pi = InterPodAffinity({}), CycleState(), pod_info(pod)
    if plugin.pre_filter(state, pi, cache) is SKIP:
        return {n.metadata.name: None for n in NODES}
    return {ni.name: (st.message if (st := plugin.filter(state, pi, ni)) else None) for ni in cache.node_infos()}


ANTI = "node(s) didn't match pod anti-affinity rules"
EXISTING = "node(s) didn't satisfy existing pods anti-affinity rules"
AFF = "node(s) didn't match pod affinity rules"


@pytest.mark.parametrize("pod, existing, expected", [
    # one web pod per node
    (make_pod("web-2", labels={"app": "web"}, affinity=anti(HOST, app="web")),
     [placed("web-1", "n1", labels={"app": "web"})], {"n1": ANTI, "n2": None, "n3": None, "n4": None}),
    # one per zone: n4 has no zone label, so no domain to conflict in
    (make_pod("web-2", labels={"app": "web"}, affinity=anti(ZONE, app="web")),
     [placed("web-1", "n1", labels={"app": "web"})], {"n1": ANTI, "n2": ANTI, "n3": None, "n4": None}),
    # other namespaces do not count unless the term names them
    (make_pod("web-2", labels={"app": "web"}, affinity=anti(HOST, app="web")),
     [placed("web-1", "n1", labels={"app": "web"}, namespace="other")], {"n1": None, "n2": None, "n3": None, "n4": None}),
    # the pod already there refuses company
    (make_pod("db-1", labels={"app": "db"}),
     [placed("loner", "n3", labels={"app": "x"}, affinity=anti(HOST, app="db"))],
     {"n1": None, "n2": None, "n3": EXISTING, "n4": None}),
    # affinity: go where a cache pod runs (its zone)
    (make_pod("web", affinity=aff(ZONE, app="cache")), [placed("cache", "n2", labels={"app": "cache"})],
     {"n1": None, "n2": None, "n3": AFF, "n4": AFF}),
    # the first of a group: nothing matches yet, the pod matches its own term: any node with the key
    (make_pod("web-1", labels={"app": "web"}, affinity=aff(ZONE, app="web")), [],
     {"n1": None, "n2": None, "n3": None, "n4": AFF}),
    # nothing matches and the pod is not its own match: nowhere
    (make_pod("web", affinity=aff(ZONE, app="cache")), [], {"n1": AFF, "n2": AFF, "n3": AFF, "n4": AFF}),
])
def test_filter(pod, existing, expected):
    assert verdicts(pod, existing) == expected


def test_skipped_without_any_terms():
    cache = cache_with(NODES, [placed("a", "n1", labels={"app": "web"})])
    assert InterPodAffinity({}).pre_filter(CycleState(), pod_info(make_pod("p")), cache) is SKIP
