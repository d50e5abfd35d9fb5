"""PodDisruptionBudget rules shared by the disruption controller and the eviction path, after upstream's
pkg/registry/core/pod/storage/eviction.go and pkg/apis/policy/helper: which budgets cover a pod, whether
a pod may be evicted under them, what an allowed eviction charges to the budget's status, and the
`DisruptionAllowed` condition. Pure functions over protobuf objects: the caller reads the budgets,
writes back the charged one and deletes the pod."""
from __future__ import annotations

from dataclasses import dataclass

from minik8s.api import selectors
from minik8s.api.clock import rfc3339
from minik8s.api.pb import policy_pb2

DISRUPTION_ALLOWED = "DisruptionAllowed"
SUFFICIENT_PODS = "SufficientPods"
INSUFFICIENT_PODS = "InsufficientPods"
SYNC_FAILED = "SyncFailed"
DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"
ALWAYS_ALLOW = "AlwaysAllow"

VIOLATION_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE_BUDGETS_MESSAGE = ("This pod has more than one PodDisruptionBudget, which the eviction subresource "
                            "does not support.")
MAX_DISRUPTED_POD_SIZE = 2000     # upstream MaxDisruptedPodSize: evictions the controller has yet to confirm


@dataclass(frozen=True)
class EvictionDecision:
    """`code` as the API answers: 200 evict, 429 not now (retry), 403 refused, 500 misconfigured.
    `budget`, when set, is the covering budget with the eviction charged: the caller writes its status
    (with the resourceVersion it was read at) before deleting the pod."""
    allowed: bool
    code: int
    message: str = ""
    cause: str = ""
    budget: policy_pb2.PodDisruptionBudget | None = None


def budget_selector(pdb) -> selectors.LabelSelector:
    """policy/v1: a null selector selects no pod, an empty one every pod of the namespace."""
    try:
        return selectors.from_label_selector_obj(pdb.spec.selector if pdb.spec.HasField("selector") else None)
    except selectors.SelectorError:
        return selectors.LabelSelector.nothing()


def selects(pdb, pod) -> bool:
    return pdb.metadata.namespace == pod.metadata.namespace and budget_selector(pdb).matches(pod.metadata.labels)


def budgets_for(pod, pdbs) -> list:
    return [p for p in pdbs if selects(p, pod)]


def is_pod_ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def can_ignore_budget(pod) -> bool:
    """upstream canIgnorePDB: finished, pending and terminating pods are evicted without a budget check."""
    return pod.status.phase in ("Succeeded", "Failed", "Pending") or bool(pod.metadata.deletionTimestamp)


def decide_eviction(pod, pdbs, now: float) -> EvictionDecision:
    """May `pod` be evicted, given the budgets of its namespace (`pdbs`), at time `now`?"""
    if can_ignore_budget(pod):
        return EvictionDecision(True, 200)
    covering = budgets_for(pod, pdbs)
    if len(covering) > 1:
        return EvictionDecision(False, 500, MULTIPLE_BUDGETS_MESSAGE)
    if not covering:
        return EvictionDecision(True, 200)
    pdb = covering[0]
    if not is_pod_ready(pod):
        # an unready pod does not count as healthy: evicting it spends nothing from the budget
        if pdb.spec.HasField("unhealthyPodEvictionPolicy") and pdb.spec.unhealthyPodEvictionPolicy == ALWAYS_ALLOW:
            return EvictionDecision(True, 200)
        st = pdb.status
        if st.currentHealthy >= st.desiredHealthy and st.desiredHealthy > 0:
            return EvictionDecision(True, 200)
    return check_and_decrement(pdb, pod.metadata.name, now)


def check_and_decrement(pdb, pod_name: str, now: float) -> EvictionDecision:
    """upstream checkAndDecrement: refuse, or allow with one disruption charged to a copy of `pdb`."""
    st = pdb.status
    if st.observedGeneration < pdb.metadata.generation:
        return EvictionDecision(False, 429, VIOLATION_MESSAGE,
                                f"The disruption budget {pdb.metadata.name} is still being processed by the server.")
    if st.disruptionsAllowed < 0:
        return EvictionDecision(False, 403, "pdb disruptions allowed is negative")
    if len(st.disruptedPods) > MAX_DISRUPTED_POD_SIZE:
        return EvictionDecision(False, 403, "DisruptedPods map too big - too many evictions not confirmed by "
                                            "PDB controller")
    if st.disruptionsAllowed == 0:
        return EvictionDecision(False, 429, VIOLATION_MESSAGE,
                                f"The disruption budget {pdb.metadata.name} needs {st.desiredHealthy} healthy "
                                f"pods and has {st.currentHealthy} currently")
    charged = policy_pb2.PodDisruptionBudget()
    charged.CopyFrom(pdb)
    charged.status.disruptionsAllowed -= 1
    if charged.status.disruptionsAllowed == 0:
        update_disruption_allowed_condition(charged.status, now)
    charged.status.disruptedPods[pod_name] = rfc3339(now)
    return EvictionDecision(True, 200, budget=charged)


def update_disruption_allowed_condition(status, now: float) -> None:
    """Set `DisruptionAllowed` from `status.disruptionsAllowed` (upstream UpdateDisruptionAllowedCondition);
    the transition time moves only when the condition's status does."""
    allowed = status.disruptionsAllowed > 0
    want = ("True", SUFFICIENT_PODS) if allowed else ("False", INSUFFICIENT_PODS)
    set_condition(status, want[0], want[1], "", now)


def set_condition(status, value: str, reason: str, message: str, now: float) -> None:
    cond = next((c for c in status.conditions if c.type == DISRUPTION_ALLOWED), None)
    if cond is None:
        cond = status.conditions.add(type=DISRUPTION_ALLOWED)
    if cond.status != value or not cond.lastTransitionTime:
        cond.lastTransitionTime = rfc3339(now)
    cond.status, cond.reason, cond.message = value, reason, message
    cond.observedGeneration = status.observedGeneration


def conditions_up_to_date(pdb) -> bool:
    """upstream ConditionsAreUpToDate: the condition exists, saw this generation, and agrees with
    disruptionsAllowed."""
    cond = next((c for c in pdb.status.conditions if c.type == DISRUPTION_ALLOWED), None)
    if cond is None or cond.observedGeneration != pdb.status.observedGeneration:
        return False
    return (cond.status == "True") == (pdb.status.disruptionsAllowed > 0)
