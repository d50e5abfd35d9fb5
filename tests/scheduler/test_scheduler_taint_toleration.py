"""TaintToleration and NodeUnschedulable: which taints keep which pods off, and how PreferNoSchedule
taints score. A node that is not Ready carries the not-ready (or unreachable) taint."""
from __future__ import annotations

import pytest

from minik8s.scheduler.framework import SKIP, Code, CycleState
from minik8s.scheduler.plugins.node_unschedulable import NodeUnschedulable
from minik8s.scheduler.plugins.taint_toleration import TaintToleration, tolerates
from schedtest import make_node, make_pod, node_info, pod_info

GPU = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


class _Snapshot:
    prefer_taint_nodes = 1


@pytest.mark.parametrize("toleration, taint, expected", [
    (("k", "Equal", "v", "NoSchedule"), ("k", "v", "NoSchedule"), True),
    (("k", "Equal", "v", "NoSchedule"), ("k", "w", "NoSchedule"), False),
    (("k", "Equal", "v", ""), ("k", "v", "NoExecute"), True),          # no effect: every effect
    (("k", "Equal", "v", "NoExecute"), ("k", "v", "NoSchedule"), False),
    (("k", "Exists", "", "NoSchedule"), ("k", "anything", "NoSchedule"), True),
    (("", "Exists", "", ""), ("any", "thing", "NoExecute"), True),      # tolerates everything
    (("j", "Exists", "", ""), ("k", "", "NoSchedule"), False),
    (("k", "Equal", "", "NoSchedule"), ("k", "", "NoSchedule"), True),
])
def test_tolerates(toleration, taint, expected):
    assert tolerates(toleration, taint) is expected


@pytest.mark.parametrize("node, tolerations, reason", [
    (make_node("n"), None, None),
    (make_node("n", taints=[GPU]), None, "node(s) had untolerated taint {nvidia.com/gpu: present}"),
    (make_node("n", taints=[GPU]), [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}], None),
    (make_node("n", taints=[GPU]), [{"key": "nvidia.com/gpu", "value": "absent"}],
     "node(s) had untolerated taint {nvidia.com/gpu: present}"),
    (make_node("n", taints=[{"key": "k", "effect": "NoExecute"}]), None, "node(s) had untolerated taint {k: }"),
    (make_node("n", taints=[{"key": "k", "effect": "PreferNoSchedule"}]), None, None),     # only scores
    (make_node("n", ready="False"), None, "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"),
    (make_node("n", ready=None), None, "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"),
    (make_node("n", ready="Unknown"), None, "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"),
    (make_node("n", ready="False"), [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}], None),
    # the lifecycle controller's own taint is not doubled
    (make_node("n", ready="False", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]),
     [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}], None),
])
def test_filter(node, tolerations, reason):
    plugin = TaintToleration({})
    state, pi = CycleState(), pod_info(make_pod("p", tolerations=tolerations))
    plugin.pre_filter(state, pi, None)
    st = plugin.filter(state, pi, node_info(node))
    assert (st.message if st else None) == reason
    if st:
        assert st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE      # no preemption clears a taint


PREFER = {"key": "spot", "value": "true", "effect": "PreferNoSchedule"}
PREFER2 = {"key": "old", "value": "true", "effect": "PreferNoSchedule"}


@pytest.mark.parametrize("taints, tolerations, expected", [
    # raw score: untolerated PreferNoSchedule taints; normalized in reverse against the worst node
    ([[], [PREFER], [PREFER, PREFER2]], None, [100, 50, 0]),
    ([[], [PREFER], [PREFER, PREFER2]], [{"key": "spot", "operator": "Exists", "effect": "PreferNoSchedule"}],
     [100, 100, 0]),
    ([[], [PREFER]], [{"key": "spot", "operator": "Exists"}], [100, 100]),
    ([[PREFER], [PREFER]], None, [0, 0]),                  # equally bad
])
def test_score(taints, tolerations, expected):
    plugin = TaintToleration({})
    state, pi = CycleState(), pod_info(make_pod("p", tolerations=tolerations))
    assert plugin.pre_score(state, pi, _Snapshot()) is None
    scores = [plugin.score(state, pi, node_info(make_node(f"n{i}", taints=t))) for i, t in enumerate(taints)]
    plugin.normalize_score(state, scores)
    assert scores == expected


def test_score_sits_out_without_prefer_taints():
    class NoPrefer:
        prefer_taint_nodes = 0
    assert TaintToleration({}).pre_score(CycleState(), pod_info(make_pod("p")), NoPrefer()) is SKIP


@pytest.mark.parametrize("unschedulable, tolerations, rejected", [
    (False, None, False),
    (True, None, True),
    (True, [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}], False),
    (True, [{"operator": "Exists"}], False),
])
def test_node_unschedulable(unschedulable, tolerations, rejected):
    plugin = NodeUnschedulable({})
    state, pi = CycleState(), pod_info(make_pod("p", tolerations=tolerations))
    if plugin.pre_filter(state, pi, None) is SKIP:
        assert not rejected
        return
    st = plugin.filter(state, pi, node_info(make_node("n", unschedulable=unschedulable)))
    assert (st is not None) is rejected
    if st:
        assert st.message == "node(s) were unschedulable"
