"""NodeAffinity: nodeSelector and required terms (ORed terms, ANDed expressions, every operator) as a
Filter; preferred terms' weights as a Score normalized to 0..100."""
from __future__ import annotations

import pytest

from minik8s.scheduler.framework import SKIP, Code, CycleState
from minik8s.scheduler.plugins.node_affinity import NodeAffinity
from schedtest import make_node, make_pod, node_info, pod_info

LABELS = {"zone": "a", "gpu": "a100", "cores": "16"}


def required(*terms) -> dict:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def expr(key, op, *values) -> dict:
    return {"key": key, "operator": op, "values": list(values)}


def term(*exprs, fields=()) -> dict:
    return {"matchExpressions": list(exprs), "matchFields": list(fields)}


@pytest.mark.parametrize("selector, affinity, fits", [
    (None, None, True),
    ({"zone": "a"}, None, True),
    ({"zone": "b"}, None, False),
    ({"zone": "a", "gpu": "h100"}, None, False),
    (None, required(term(expr("zone", "In", "a", "b"))), True),
    (None, required(term(expr("zone", "In", "b", "c"))), False),
    (None, required(term(expr("zone", "NotIn", "b"))), True),
    (None, required(term(expr("rack", "NotIn", "r1"))), True),        # absent label: NotIn holds
    (None, required(term(expr("gpu", "Exists"))), True),
    (None, required(term(expr("rack", "Exists"))), False),
    (None, required(term(expr("rack", "DoesNotExist"))), True),
    (None, required(term(expr("gpu", "DoesNotExist"))), False),
    (None, required(term(expr("cores", "Gt", "8"))), True),
    (None, required(term(expr("cores", "Gt", "16"))), False),
    (None, required(term(expr("cores", "Lt", "32"))), True),
    (None, required(term(expr("zone", "Gt", "1"))), False),           # not an integer: no match
    (None, required(term(expr("rack", "Lt", "1"))), False),
    # expressions ANDed
    (None, required(term(expr("zone", "In", "a"), expr("gpu", "In", "h100"))), False),
    (None, required(term(expr("zone", "In", "a"), expr("gpu", "In", "a100"))), True),
    # terms ORed
    (None, required(term(expr("zone", "In", "b")), term(expr("gpu", "In", "a100"))), True),
    (None, required(term(expr("zone", "In", "b")), term(expr("gpu", "In", "h100"))), False),
    (None, required(term()), False),                                   # an empty term matches nothing
    (None, required(term(fields=[expr("metadata.name", "In", "n")])), True),
    (None, required(term(fields=[expr("metadata.name", "NotIn", "n")])), False),
    # nodeSelector and affinity both must hold
    ({"zone": "b"}, required(term(expr("gpu", "Exists"))), False),
])
def test_filter(selector, affinity, fits):
    plugin = NodeAffinity({})
    state, pi = CycleState(), pod_info(make_pod("p", node_selector=selector, affinity=affinity))
    if plugin.pre_filter(state, pi, None) is SKIP:
        assert fits
        return
    st = plugin.filter(state, pi, node_info(make_node("n", labels=LABELS)))
    assert (st is None) is fits
    if st:
        assert st.message == "node(s) didn't match Pod's node affinity/selector" and st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def preferred(*weighted) -> dict:
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": w, "preference": t} for w, t in weighted]}}


@pytest.mark.parametrize("affinity, expected", [
    # nodes: zone a/gpu, zone b/gpu, zone b/no gpu
    (preferred((10, term(expr("zone", "In", "a")))), [100, 0, 0]),
    (preferred((10, term(expr("zone", "In", "a"))), (30, term(expr("gpu", "Exists")))), [100, 75, 0]),
    (preferred((1, term(expr("zone", "In", "c")))), [0, 0, 0]),
    (preferred((100, term(expr("zone", "In", "b"))), (50, term(expr("gpu", "DoesNotExist")))), [0, 66, 100]),
])
def test_score(affinity, expected):
    nodes = [make_node("n1", labels={"zone": "a", "gpu": "x"}), make_node("n2", labels={"zone": "b", "gpu": "x"}),
             make_node("n3", labels={"zone": "b"})]
    plugin = NodeAffinity({})
    state, pi = CycleState(), pod_info(make_pod("p", affinity=affinity))
    assert plugin.pre_score(state, pi, None) is None
    scores = [plugin.score(state, pi, node_info(n)) for n in nodes]
    plugin.normalize_score(state, scores)
    assert scores == expected


def test_score_sits_out_without_preferences():
    assert NodeAffinity({}).pre_score(CycleState(), pod_info(make_pod("p")), None) is SKIP
