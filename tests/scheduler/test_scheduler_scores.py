"""The plain scores: NodeResourcesBalancedAllocation and NodeBusyness."""
from __future__ import annotations

import pytest

from minik8s.scheduler.framework import SKIP, CycleState
from minik8s.scheduler.plugins.balanced_allocation import BalancedAllocation
from minik8s.scheduler.plugins.node_busyness import NodeBusyness
from schedtest import make_node, make_pod, node_info, pod_info


@pytest.mark.parametrize("existing, pod, score", [
    ([], make_pod("p", cpu="1", memory="2Gi"), 100),               # 25% and 25%
    ([], make_pod("p", cpu="2", memory="1Gi"), 81),                # 50% and 12.5%: 1 - 0.375/2
    ([make_pod("a", cpu="3")], make_pod("p", cpu="1", memory="8Gi"), 100),   # both full
    ([make_pod("a", cpu="4")], make_pod("p", cpu="1"), 50),        # cpu capped at 100%, memory 0%
])
def test_balanced_allocation(existing, pod, score):
    plugin, pi = BalancedAllocation({}), pod_info(pod)
    assert plugin.pre_score(CycleState(), pi, None) is None
    assert plugin.score(CycleState(), pi, node_info(make_node("n"), *existing)) == score


def test_balanced_allocation_sits_out_for_best_effort_pods():
    assert BalancedAllocation({}).pre_score(CycleState(), pod_info(make_pod("p")), None) is SKIP


class _Metrics:
    usage_nodes = 1


@pytest.mark.parametrize("usage, score", [
    ((0, 0), 100),
    ((2000, 4 * 2**30), 50),          # half the cpu, half the memory
    ((4000, 0), 50),
    ((8000, 16 * 2**30), 0),          # over allocatable counts as full
    (None, 50),                       # no metrics: neither preferred nor avoided
])
def test_node_busyness(usage, score):
    ni = node_info(make_node("n"))
    ni.usage = usage
    plugin, pi = NodeBusyness({}), pod_info(make_pod("p"))
    assert plugin.pre_score(CycleState(), pi, _Metrics()) is None
    assert plugin.score(CycleState(), pi, ni) == score


def test_node_busyness_sits_out_without_metrics():
    class NoMetrics:
        usage_nodes = 0
    assert NodeBusyness({}).pre_score(CycleState(), pod_info(make_pod("p")), NoMetrics()) is SKIP
