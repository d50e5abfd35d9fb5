"""The pods/eviction subresource (policy/v1 Eviction), after upstream's
pkg/registry/core/pod/storage/eviction.go: a delete that respects PodDisruptionBudgets.

Upstream reads the budget, writes its charged status (guarded by its resourceVersion), adds the pod's
DisruptionTarget condition and deletes the pod, retrying on conflicts. Here the registry's single writer
makes the three one transaction: the covering budget's status charged (disruptionsAllowed decremented,
disruptedPods[pod] = now), the pod's `DisruptionTarget` condition (`EvictionByEvictionAPI`) and its
graceful delete are committed together, or nothing is. Whether the budget allows it is
`minik8s.api.disruption.decide_eviction`'s answer: 429 TooManyRequests with upstream's message while it
does not, 500 when several budgets cover the pod, 403 for a budget in a state no eviction may spend."""
from __future__ import annotations

from minik8s.api.clock import rfc3339
from minik8s.api.disruption import DISRUPTION_BUDGET_CAUSE, EvictionDecision, decide_eviction
from minik8s.api.errors import ApiError, Forbidden, TooManyRequests
from minik8s.api.kinds import POD, POD_DISRUPTION_BUDGET as PDB

from apiserver.registry import Registry

DISRUPTION_TARGET = "DisruptionTarget"
REASON = "EvictionByEvictionAPI"
MESSAGE = "Eviction API: evicting"


class EvictionRefused(ApiError):
    """500: the budgets are misconfigured (more than one covers the pod)."""


def refusal(decision: EvictionDecision) -> ApiError:
    """The error an eviction the budgets refuse answers with; the cause names the budget."""
    causes = [(DISRUPTION_BUDGET_CAUSE, decision.cause)] if decision.cause else []
    if decision.code == 429:
        return TooManyRequests(decision.message, causes)
    if decision.code == 403:
        return Forbidden(decision.message, causes)
    return EvictionRefused(decision.message, causes)


def _mark_disruption_target(pod, now: str) -> None:
    cond = next((c for c in pod.status.conditions if c.type == DISRUPTION_TARGET), None)
    if cond is None:
        cond = pod.status.conditions.add(type=DISRUPTION_TARGET)
    if cond.status != "True" or not cond.lastTransitionTime:
        cond.lastTransitionTime = now
    cond.status, cond.reason, cond.message = "True", REASON, MESSAGE


async def evict(registry: Registry, namespace: str, name: str, grace: int | None = None,
                preconditions=None, check=None) -> bytes:
    """Evict pod `namespace/name`; returns the pod as written (or as it was when removed at once).
    `grace` is the Eviction's deleteOptions.gracePeriodSeconds (None: the pod's own); `check` is the
    caller's authorization check on the stored pod."""

    def admit(tx, pod, _new):
        if check is not None:
            check(tx, pod, None)
        now = registry.clock.now()
        budgets = [rec.decode() for rec in tx.list(PDB.kind, pod.metadata.namespace)]
        decision = decide_eviction(pod, budgets, now)
        if not decision.allowed:
            raise refusal(decision)
        if decision.budget is not None:
            charged = decision.budget
            tx.put(PDB.kind, charged, tx.get(PDB.kind, charged.metadata.namespace, charged.metadata.name))
        # the registry deletes this very object next, so the condition lands in the same write
        _mark_disruption_target(pod, rfc3339(now))

    return await registry.delete(POD, namespace, name, grace=grace, preconditions=preconditions, check=admit)
