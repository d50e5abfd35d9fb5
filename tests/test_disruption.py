"""The eviction rules of minik8s/api/disruption.py, table-driven: which budgets cover a pod, when an
eviction is allowed (and what it charges to the budget), refused for now (429) or refused (403, 500)."""
from __future__ import annotations

import pytest

from minik8s.api import disruption as rules
from minik8s.api.clock import rfc3339
from minik8s.api.pb import core_pb2, policy_pb2

NOW = 1_700_000_000.0


def pod(name="web-1", phase="Running", ready=True, deleting=False, **labels) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, "default"
    p.metadata.labels.update(labels or {"app": "web"})
    p.status.phase = phase
    p.status.conditions.add(type="Ready", status="True" if ready else "False")
    if deleting:
        p.metadata.deletionTimestamp = rfc3339(NOW)
    return p


def budget(name="web", allowed=1, current=3, desired=2, generation=1, observed=1, selector=True,
           policy=None, disrupted=0, namespace="default", **match) -> policy_pb2.PodDisruptionBudget:
    b = policy_pb2.PodDisruptionBudget()
    b.metadata.name, b.metadata.namespace, b.metadata.generation = name, namespace, generation
    if selector:
        b.spec.selector.matchLabels.update(match or {"app": "web"})
    b.spec.minAvailable.number_value = desired
    if policy:
        b.spec.unhealthyPodEvictionPolicy = policy
    st = b.status
    st.disruptionsAllowed, st.currentHealthy, st.desiredHealthy, st.observedGeneration = allowed, current, desired, observed
    for i in range(disrupted):
        st.disruptedPods[f"gone-{i}"] = rfc3339(NOW)
    return b


CASES = [
    # (what, pod, budgets, allowed, code, message or cause fragment, charged)
    ("no budget covers the pod", pod(), [budget(app="db")], True, 200, "", False),
    ("a budget in another namespace does not count", pod(), [budget(namespace="other")], True, 200, "", False),
    ("a null selector selects nothing", pod(), [budget(selector=False)], True, 200, "", False),
    ("budget with room: allowed and charged", pod(), [budget()], True, 200, "", True),
    ("budget spent: 429", pod(), [budget(allowed=0, current=2)], False, 429,
     "The disruption budget web needs 2 healthy pods and has 2 currently", False),
    ("budget not yet processed: 429", pod(), [budget(generation=2, observed=1)], False, 429,
     "The disruption budget web is still being processed by the server.", False),
    ("two budgets: 500", pod(), [budget(), budget(name="web2")], False, 500,
     "more than one PodDisruptionBudget", False),
    ("negative disruptionsAllowed: 403", pod(), [budget(allowed=-1)], False, 403, "negative", False),
    ("too many unconfirmed evictions: 403", pod(), [budget(disrupted=rules.MAX_DISRUPTED_POD_SIZE + 1)],
     False, 403, "DisruptedPods map too big", False),
    ("pending pods ignore budgets", pod(phase="Pending"), [budget(allowed=0)], True, 200, "", False),
    ("finished pods ignore budgets", pod(phase="Succeeded"), [budget(allowed=0)], True, 200, "", False),
    ("failed pods ignore budgets", pod(phase="Failed"), [budget(allowed=0)], True, 200, "", False),
    ("terminating pods ignore budgets", pod(deleting=True), [budget(allowed=0)], True, 200, "", False),
    ("unready pod, healthy budget: allowed free", pod(ready=False), [budget(allowed=0, current=2)],
     True, 200, "", False),
    ("unready pod, unhealthy budget: 429", pod(ready=False), [budget(allowed=0, current=1)], False, 429,
     "needs 2 healthy pods and has 1 currently", False),
    ("unready pod, AlwaysAllow: allowed free", pod(ready=False),
     [budget(allowed=0, current=0, policy="AlwaysAllow")], True, 200, "", False),
    ("ready pod, AlwaysAllow still guarded", pod(), [budget(allowed=0, current=2, policy="AlwaysAllow")],
     False, 429, "needs 2", False),
]


@pytest.mark.parametrize("what,p,pdbs,allowed,code,text,charged", CASES, ids=[c[0] for c in CASES])
def test_eviction_decision(what, p, pdbs, allowed, code, text, charged):
    d = rules.decide_eviction(p, pdbs, NOW)
    assert (d.allowed, d.code) == (allowed, code)
    if code == 429:
        assert d.message == "Cannot evict pod as it would violate the pod's disruption budget."
    if text:
        assert text in d.message + d.cause
    assert (d.budget is not None) == charged


def test_an_allowed_eviction_is_charged_to_a_copy_of_the_budget():
    pdb = budget(allowed=1)
    pdb.status.conditions.add(type="DisruptionAllowed", status="True", reason="SufficientPods", observedGeneration=1)
    d = rules.decide_eviction(pod("web-7"), [pdb], NOW)
    charged = d.budget
    assert charged.status.disruptionsAllowed == 0
    assert dict(charged.status.disruptedPods) == {"web-7": rfc3339(NOW)}
    cond = charged.status.conditions[0]
    assert (cond.type, cond.status, cond.reason) == ("DisruptionAllowed", "False", "InsufficientPods")
    assert pdb.status.disruptionsAllowed == 1 and not pdb.status.disruptedPods     # the input is untouched


def test_empty_selector_covers_every_pod_of_its_namespace():
    pdb = budget()
    pdb.spec.selector.Clear()
    pdb.spec.selector.SetInParent()
    assert rules.budgets_for(pod(app="anything"), [pdb]) == [pdb]


@pytest.mark.parametrize("allowed,status,reason", [(2, "True", "SufficientPods"), (0, "False", "InsufficientPods")])
def test_disruption_allowed_condition(allowed, status, reason):
    st = policy_pb2.PodDisruptionBudgetStatus(disruptionsAllowed=allowed, observedGeneration=3)
    rules.update_disruption_allowed_condition(st, NOW)
    c = st.conditions[0]
    assert (c.type, c.status, c.reason, c.observedGeneration, c.lastTransitionTime) == (
        "DisruptionAllowed", status, reason, 3, rfc3339(NOW))
    # the transition time stays while the status does
    rules.update_disruption_allowed_condition(st, NOW + 60)
    assert st.conditions[0].lastTransitionTime == rfc3339(NOW)
