"""DefaultPreemption's choice: which node and which victims (the fewest and least important that
make room), and the messages when preemption cannot help."""
from __future__ import annotations

import pytest

from minik8s.scheduler.framework import Failure
from schedtest import cache_with, framework, make_node, make_pod, pod_info

TAINT = {"key": "dedicated", "value": "infra", "effect": "NoSchedule"}


def on(node: str, name: str, cpu: str, priority: int, **kw):
    return make_pod(name, cpu=cpu, priority=priority, node_name=node, **kw)


def preempt(nodes, pods, preemptor):
    cache = cache_with(nodes, pods)
    fwk = framework()
    pi = pod_info(preemptor)
    failure = fwk.schedule(pi, cache)
    assert isinstance(failure, Failure)
    return fwk.post_filter(pi, failure, cache), failure, cache


@pytest.mark.parametrize("pods, preemptor, node, victims", [
    # one victim beats two of the same priority
    ([on("a", "a1", "3", 1), on("b", "b1", "2", 1), on("b", "b2", "2", 1)], make_pod("p", cpu="3", priority=10),
     "a", ["a1"]),
    # the lower-priority victim is preferred, however many pods
    ([on("a", "a1", "4", 5), on("b", "b1", "2", 1), on("b", "b2", "2", 1)], make_pod("p", cpu="3", priority=10),
     "b", ["b1", "b2"]),
    # reprieve the most important first: keeping b3 (prio 3) and b1 (prio 1) still leaves room
    ([on("a", "a1", "4", 9), on("b", "b1", "1", 1), on("b", "b2", "2", 2), on("b", "b3", "1", 3)],
     make_pod("p", cpu="2", priority=10), "b", ["b2"]),
    # pods of the preemptor's priority or above are never victims
    ([on("a", "a1", "4", 10), on("b", "b1", "2", 11), on("b", "b2", "2", 1)], make_pod("p", cpu="2", priority=10),
     "b", ["b2"]),
    # the same victims' priorities: fewer victims win
    ([on("a", "a1", "1", 1), on("a", "a2", "1", 1), on("a", "a3", "2", 1), on("b", "b1", "2", 1), on("b", "b2", "2", 1)],
     make_pod("p", cpu="2", priority=10), "a", ["a3"]),
])
def test_victims(pods, preemptor, node, victims):
    nodes = [make_node("a"), make_node("b")]
    result, _, _ = preempt(nodes, pods, preemptor)
    assert result.nominated_node == node
    assert sorted(v.name for v in result.victims) == victims


def test_equal_priority_finds_no_victims():
    result, failure, _ = preempt([make_node("a"), make_node("b", taints=[TAINT])], [on("a", "a1", "4", 0)],
                                 make_pod("p", cpu="1"))
    assert not result.nominated_node
    assert result.message == ("preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
                              "1 Preemption is not helpful for scheduling.")


def test_removing_every_lower_pod_is_not_enough():
    result, _, _ = preempt([make_node("a")], [on("a", "a1", "2", 0), on("a", "a2", "2", 100)],
                           make_pod("p", cpu="3", priority=50))
    assert result.message == "preemption: 0/1 nodes are available: 1 Insufficient cpu."


def test_preemption_policy_never():
    pod = make_pod("p", cpu="1", priority=10, preemptionPolicy="Never")
    result, _, _ = preempt([make_node("a")], [on("a", "a1", "4", 0)], pod)
    assert result.message == "preemption: not eligible due to preemptionPolicy=Never."


def test_nominated_pods_hold_room_against_lower_priority_pods():
    result, _, cache = preempt([make_node("a")], [on("a", "a1", "4", 0)], make_pod("p", cpu="3", priority=10))
    fwk = framework()
    cache.nominate(pod_info(make_pod("p", cpu="3", priority=10)), result.nominated_node)
    cache.remove_pod("a1")          # the victim is gone; the room is the preemptor's
    low = fwk.schedule(pod_info(make_pod("low", cpu="2", priority=5)), cache)
    assert isinstance(low, Failure) and "1 Insufficient cpu" in low.message
    high = fwk.schedule(pod_info(make_pod("high", cpu="2", priority=20)), cache)
    assert high.node == "a"
