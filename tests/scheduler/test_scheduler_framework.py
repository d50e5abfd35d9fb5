"""The framework: the FailedScheduling message in upstream's words, the decision record, ties, and
the per-kind evaluation, which must always decide exactly as examining every node afresh would."""
from __future__ import annotations

import random

import pytest

from minik8s.scheduler.config import Profile
from minik8s.scheduler.framework import Decision, Failure, FitError
from minik8s.scheduler.framework.evaluation import Evaluation
from schedtest import cache_with, framework, make_node, make_pod, pod_info

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


@pytest.mark.parametrize("fit, message", [
    (FitError(3, {"Insufficient cpu": 1, "node(s) had untolerated taint {nvidia.com/gpu: present}": 2}),
     "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {nvidia.com/gpu: present}."),
    # sorted as strings, count first, as upstream does
    (FitError(12, {"b": 10, "a": 2}), "0/12 nodes are available: 10 b, 2 a."),
    (FitError(2, {"Insufficient cpu": 2, "Insufficient memory": 1}),
     "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu."),
    (FitError(3, {"Insufficient cpu": 3}, post_filter_msg="preemption: 0/3 nodes are available: 3 No preemption "
                                                          "victims found for incoming pod."),
     "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims "
     "found for incoming pod."),
    (FitError(1, pre_filter_msg="no volume"), "0/1 nodes are available: no volume."),
])
def test_fit_error_message(fit, message):
    assert str(fit) == message


def test_the_issue_example():
    cache = cache_with([make_node("node-1", cpu="1"),
                        make_node("gpu-1", taints=[GPU_TAINT], extra={"nvidia.com/gpu": "4"}),
                        make_node("gpu-2", taints=[GPU_TAINT], extra={"nvidia.com/gpu": "4"})])
    fwk = framework()
    pod = pod_info(make_pod("web-1", cpu="2"))
    failure = fwk.schedule(pod, cache)
    assert isinstance(failure, Failure)
    result = fwk.post_filter(pod, failure, cache)
    failure.fit_error.post_filter_msg = result.message
    assert failure.message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {nvidia.com/gpu: present}. "
        "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling.")
    assert failure.unschedulable_plugins == {"NodeResourcesFit", "TaintToleration"}


def test_no_nodes():
    failure = framework().schedule(pod_info(make_pod("p")), cache_with([]))
    assert failure.message == "no nodes available to schedule pods"


def test_ties_go_to_the_first_name():
    cache = cache_with([make_node(n) for n in ("node-c", "node-a", "node-b")])
    assert framework().schedule(pod_info(make_pod("p", cpu="1")), cache).node == "node-a"


def test_record_lists_every_node_of_a_small_cluster():
    cache = cache_with([make_node("node-1"), make_node("node-2", cpu="8"), make_node("node-3", cpu="1")],
                       [make_pod("a", cpu="2", memory="2Gi", node_name="node-1")])
    fwk = framework()
    decision = fwk.schedule(pod_info(make_pod("p", cpu="2", memory="2Gi")), cache)
    assert isinstance(decision, Decision)
    assert fwk.record(decision) == {
        "node": "node-1", "nodes": 3,
        "plugins": ["NodeResourcesFit", "NodeResourcesBalancedAllocation"], "weights": [1, 1],
        # node-1: cpu 4/4, memory 4/8 -> (100 + 50) / 2 = 75; balanced 1 - 0.5/2 = 75
        "rows": [["node-1", 150, [75, 75]], ["node-2", 125, [25, 100]], ["node-3", "Insufficient cpu"]]}


def test_record_of_a_large_cluster_counts_the_rest():
    nodes = [make_node(f"node-{i:02d}", cpu="4" if i % 2 else "1") for i in range(30)]
    cache = cache_with(nodes)
    fwk = framework()
    decision = fwk.schedule(pod_info(make_pod("p", cpu="2")), cache)
    rec = fwk.record(decision, limit=5)
    assert len(rec["rows"]) == 5 and rec["rows"][0][0] == decision.node
    assert rec["more"] == {"feasible": 10, "filtered": 15, "reasons": "15 Insufficient cpu"}


# ------------------------------------------------------------------------ incremental == fresh
KINDS = [dict(cpu="500m", memory="1Gi"), dict(cpu="2", memory="512Mi"), dict(cpu="1"), dict(memory="3Gi"),
         dict(cpu="1", gpu="1", tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}]),
         dict(cpu="250m", node_selector={"zone": "b"}),
         dict(cpu="1", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
             {"weight": 5, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}}]}})]


def random_node(rnd: random.Random, i: int):
    gpu = rnd.random() < 0.3
    return make_node(f"n{i:02d}", cpu=rnd.choice(["2", "4", "8"]), memory=rnd.choice(["4Gi", "8Gi"]),
                     labels={"zone": rnd.choice("ab")}, taints=[GPU_TAINT] if gpu else [],
                     extra={"nvidia.com/gpu": "2"} if gpu else None,
                     unschedulable=rnd.random() < 0.1)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("strategy", ["MostAllocated", "LeastAllocated"])
@pytest.mark.parametrize("nodes", [12, 40])     # 40: more than the ranked nodes kept between pods
def test_incremental_decisions_equal_fresh_ones(seed, strategy, nodes):
    """Interleave pods of a few kinds with node changes and pod deletions; after each change the kept
    evaluations must choose the node (and give the message and record) a fresh pass over every node
    gives."""
    rnd = random.Random(seed)
    profile = Profile()
    profile.plugin_args["NodeResourcesFit"] = {"scoringStrategy": {"type": strategy}}
    kept, fresh = framework(profile), framework(profile)
    cache = cache_with([random_node(rnd, i) for i in range(nodes)])
    placed = []
    for step in range(150):
        roll = rnd.random()
        if roll < 0.08:
            cache.set_node(random_node(rnd, rnd.randrange(nodes + 2)))
        elif roll < 0.12 and cache.nodes:
            cache.remove_node(rnd.choice(sorted(cache.nodes)))
        elif roll < 0.2 and placed:
            cache.remove_pod(placed.pop(rnd.randrange(len(placed))).uid)
        else:
            pod = pod_info(make_pod(f"p{step}", **rnd.choice(KINDS)))
            got = kept.schedule(pod, cache)
            fresh._evaluations.clear()
            want = fresh.schedule(pod, cache)
            assert type(got) is type(want), step
            if isinstance(got, Decision):
                assert got.node == want.node, step
                assert kept.record(got) == fresh.record(want), step
                cache.assume(pod, got.node)
                placed.append(pod)
            else:
                assert got.message == want.message, step
    assert any(ev.evaluated < len(cache.nodes) for ev in kept._evaluations.values())


def test_evaluation_reexamines_only_changed_nodes():
    cache = cache_with([make_node(f"n{i}") for i in range(50)])
    fwk = framework()
    first = fwk.schedule(pod_info(make_pod("p0", cpu="1")), cache)
    assert first.evaluation.evaluated == 50
    cache.assume(pod_info(make_pod("p0", cpu="1")), first.node)
    second = fwk.schedule(pod_info(make_pod("p1", cpu="1")), cache)
    assert second.evaluation is first.evaluation and isinstance(second.evaluation, Evaluation)
    assert second.evaluation.evaluated == 1 and second.node == first.node      # packed on the same node
