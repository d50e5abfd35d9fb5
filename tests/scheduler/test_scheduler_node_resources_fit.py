"""NodeResourcesFit: the Filter against allocatable minus bound and assumed requests (init containers,
sidecars and overhead counted as upstream counts them), and the three scoring strategies."""
from __future__ import annotations

import pytest

from minik8s.scheduler.framework import Code, CycleState
from minik8s.scheduler.nodeinfo import pod_requests
from minik8s.scheduler.plugins.node_resources_fit import NodeResourcesFit
from schedtest import make_node, make_pod, node_info, pod_info

GPU_NODE = dict(extra={"nvidia.com/gpu": "2"})


@pytest.mark.parametrize("node, existing, pod, reasons", [
    (make_node("n", cpu="4"), [], make_pod("p", cpu="4"), None),
    (make_node("n", cpu="4"), [make_pod("a", cpu="3500m")], make_pod("p", cpu="500m"), None),
    (make_node("n", cpu="4"), [make_pod("a", cpu="3500m")], make_pod("p", cpu="501m"), ("Insufficient cpu",)),
    (make_node("n", memory="1Gi"), [], make_pod("p", memory="1025Mi"), ("Insufficient memory",)),
    (make_node("n", cpu="1", memory="1Gi"), [], make_pod("p", cpu="2", memory="2Gi"),
     ("Insufficient cpu", "Insufficient memory")),
    (make_node("n", pods="1"), [make_pod("a")], make_pod("p"), ("Too many pods",)),
    (make_node("n", pods="0"), [], make_pod("p"), ("Too many pods",)),
    (make_node("n", pods="1", cpu="1"), [make_pod("a")], make_pod("p", cpu="2"), ("Too many pods", "Insufficient cpu")),
    # extended resources: a node that does not have one has none of it
    (make_node("n"), [], make_pod("p", gpu="1"), ("Insufficient nvidia.com/gpu",)),
    (make_node("n", **GPU_NODE), [make_pod("a", gpu="1")], make_pod("p", gpu="1"), None),
    (make_node("n", **GPU_NODE), [make_pod("a", gpu="1")], make_pod("p", gpu="2"), ("Insufficient nvidia.com/gpu",)),
    # a pod that requests nothing fits any node with room for one more pod
    (make_node("n", cpu="1"), [make_pod("a", cpu="1")], make_pod("p"), None),
    # an init container runs alone: the larger of it and the app containers counts
    (make_node("n", cpu="2"), [], make_pod("p", cpu="1", init_containers=[
        {"name": "i", "image": "x", "resources": {"requests": {"cpu": "2"}}}]), None),
    (make_node("n", cpu="2"), [], make_pod("p", cpu="1", init_containers=[
        {"name": "i", "image": "x", "resources": {"requests": {"cpu": "3"}}}]), ("Insufficient cpu",)),
    # a sidecar (restartable init container) runs beside the app containers: they add up
    (make_node("n", cpu="2"), [], make_pod("p", cpu="1500m", init_containers=[
        {"name": "s", "image": "x", "restartPolicy": "Always", "resources": {"requests": {"cpu": "1"}}}]),
     ("Insufficient cpu",)),
    (make_node("n", cpu="2"), [], make_pod("p", cpu="1", overhead={"cpu": "1500m"}), ("Insufficient cpu",)),
])
def test_filter(node, existing, pod, reasons):
    plugin = NodeResourcesFit({})
    st = plugin.filter(CycleState(), pod_info(pod), node_info(node, *existing))
    assert (st.reasons if st else None) == reasons
    if st:
        assert st.plugin == "NodeResourcesFit" and st.code == Code.UNSCHEDULABLE      # preemption may help


@pytest.mark.parametrize("pod, expected", [
    (make_pod("p", cpu="1", memory="1Gi"), {"cpu": 1000, "memory": 2**30}),
    (make_pod("p"), {}),
    (make_pod("p", cpu="1", init_containers=[
        {"name": "i1", "image": "x", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}},
        {"name": "i2", "image": "x", "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}}}]),
     {"cpu": 2000, "memory": 2 * 2**30}),
    # sidecar s (1 cpu) keeps running while the later init container i (1 cpu) runs: 2 cpu at that time
    (make_pod("p", cpu="500m", init_containers=[
        {"name": "s", "image": "x", "restartPolicy": "Always", "resources": {"requests": {"cpu": "1"}}},
        {"name": "i", "image": "x", "resources": {"requests": {"cpu": "1"}}}]), {"cpu": 2000}),
    (make_pod("p", cpu="500m", overhead={"cpu": "250m", "memory": "120Mi"}), {"cpu": 750, "memory": 120 * 2**20}),
])
def test_pod_requests(pod, expected):
    assert pod_requests(pod.spec) == expected


def test_nonzero_requests_for_scores():
    # scores count a container that does not request cpu or memory as 100m and 200Mi
    pi = pod_info(make_pod("p", memory="1Gi"))
    assert (pi.nonzero_cpu, pi.nonzero_mem) == (100, 2**30)


def _strategy(kind: str, **extra) -> dict:
    return {"scoringStrategy": {"type": kind, **extra}}


RTCR_PACK = _strategy("RequestedToCapacityRatio",
                      requestedToCapacityRatio={"shape": [{"utilization": 0, "score": 0},
                                                          {"utilization": 100, "score": 10}]})
RTCR_SPREAD = _strategy("RequestedToCapacityRatio",
                        requestedToCapacityRatio={"shape": [{"utilization": 0, "score": 10},
                                                            {"utilization": 50, "score": 8},
                                                            {"utilization": 100, "score": 0}]})


@pytest.mark.parametrize("args, existing, pod, score", [
    # node 4 cpu / 8Gi; cpu (3+1)/4 = 100%, memory (2+2)/8 = 50%: (100 + 50) / 2
    (_strategy("MostAllocated"), [make_pod("a", cpu="3", memory="2Gi")], make_pod("p", cpu="1", memory="2Gi"), 75),
    (_strategy("LeastAllocated"), [make_pod("a", cpu="3", memory="2Gi")], make_pod("p", cpu="1", memory="2Gi"), 25),
    (_strategy("MostAllocated"), [], make_pod("p", cpu="1", memory="2Gi"), 25),     # (25 + 25) / 2
    (_strategy("LeastAllocated"), [], make_pod("p", cpu="1", memory="2Gi"), 75),
    # nothing requested: 100m and 200Mi count (2.5% and 2.4%, rounded down)
    (_strategy("MostAllocated"), [], make_pod("p"), 2),
    # weights: cpu x3 (50% used) and memory x1 (75% used) -> (150 + 75) / 4
    (_strategy("MostAllocated", resources=[{"name": "cpu", "weight": 3}, {"name": "memory", "weight": 1}]),
     [make_pod("a", cpu="1", memory="4Gi")], make_pod("p", cpu="1", memory="2Gi"), 56),
    # a resource the node lacks is left out of the average
    (_strategy("MostAllocated", resources=[{"name": "cpu", "weight": 1}, {"name": "nvidia.com/gpu", "weight": 5}]),
     [], make_pod("p", cpu="2"), 50),
    (RTCR_PACK, [make_pod("a", cpu="1", memory="4Gi")], make_pod("p", cpu="1", memory="2Gi"), 62),  # (50 + 75) / 2
    (RTCR_SPREAD, [], make_pod("p", cpu="1", memory="2Gi"), 90),    # 25%: halfway from 100 to 80
    (RTCR_SPREAD, [make_pod("a", cpu="2", memory="2Gi")], make_pod("p", cpu="1", memory="4Gi"), 40),  # 75%: 40
])
def test_score(args, existing, pod, score):
    plugin = NodeResourcesFit(args)
    assert plugin.score(CycleState(), pod_info(pod), node_info(make_node("n"), *existing)) == score


@pytest.mark.parametrize("args, message", [
    (_strategy("Packed"), 'scoringStrategy.type: Unsupported value: "Packed"'),
    (_strategy("MostAllocated", resources=[{"name": "cpu", "weight": 0}]), "must be in the range [1, 100]"),
    (_strategy("RequestedToCapacityRatio"), "requestedToCapacityRatio.shape: Required value"),
    (_strategy("RequestedToCapacityRatio", requestedToCapacityRatio={"shape": [
        {"utilization": 50, "score": 1}, {"utilization": 10, "score": 2}]}), "sorted in increasing order"),
    (_strategy("RequestedToCapacityRatio", requestedToCapacityRatio={"shape": [{"utilization": 0, "score": 11}]}),
     "must be in the range [0, 10]"),
])
def test_bad_args(args, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        NodeResourcesFit(args)
