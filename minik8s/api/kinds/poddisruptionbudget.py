"""The PodDisruptionBudget kind (policy/v1): validation of minAvailable/maxUnavailable and the
selector. Upstream defines no defaults for it.
"""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo
from minik8s.api.pb import policy_pb2
from minik8s.api.validation_common import (Errors, _Errors, _int_or_percent, _int_or_string, _label_selector,
                                           _object_meta, _Raw)


# ---------------------------------------------------------------- validation
def validate_pod_disruption_budget(pdb, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, pdb.metadata)
    spec = pdb.spec
    has_min, has_max = spec.HasField("minAvailable"), spec.HasField("maxUnavailable")
    if has_min and has_max:
        errs.invalid("spec", _Raw("policy.PodDisruptionBudgetSpec{...}"),
                     "minAvailable and maxUnavailable cannot be both set")
    if has_min:
        _int_or_percent(errs, "spec.minAvailable", _int_or_string(spec.minAvailable))
    if has_max:
        _int_or_percent(errs, "spec.maxUnavailable", _int_or_string(spec.maxUnavailable))
    if spec.HasField("selector"):
        _label_selector(errs, "spec.selector", spec.selector)
    if spec.HasField("unhealthyPodEvictionPolicy") and \
            spec.unhealthyPodEvictionPolicy not in ("AlwaysAllow", "IfHealthyBudget"):
        errs.not_supported("spec.unhealthyPodEvictionPolicy", spec.unhealthyPodEvictionPolicy,
                           ("AlwaysAllow", "IfHealthyBudget"))
    return errs


POD_DISRUPTION_BUDGET = KindInfo(
    "PodDisruptionBudget", "policy", "v1", "poddisruptionbudgets", ("pdb",), True,
    policy_pb2.PodDisruptionBudget, validate=validate_pod_disruption_budget)
