"""The Deployment kind (apps/v1): its defaults (replicas, RollingUpdate 25%/25%, history limit,
progress deadline) and validation (strategy, selector, template, immutable selector).
"""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo
from minik8s.api.pb import apps_pb2
from minik8s.api.podspec_defaults import _default_pod_template, _set_str, _unset
from minik8s.api.podspec_validation import _selector_and_template, _selector_immutable
from minik8s.api.validation_common import (_c, Errors, _Errors, _int_or_percent, _int_or_percent_value,
                                           _int_or_string, _object_meta, _opt)


# ---------------------------------------------------------------- defaults
def _default_deployment(d) -> None:
    spec = d.spec
    if not spec.HasField("replicas"):
        spec.replicas = 1
    strategy = spec.strategy
    if not strategy.type:
        strategy.type = "RollingUpdate"
    if strategy.type == "RollingUpdate":
        ru = strategy.rollingUpdate
        ru.SetInParent()
        if _unset(ru.maxUnavailable):
            _set_str(ru.maxUnavailable, "25%")
        if _unset(ru.maxSurge):
            _set_str(ru.maxSurge, "25%")
    if not spec.HasField("revisionHistoryLimit"):
        spec.revisionHistoryLimit = 10
    if not spec.HasField("progressDeadlineSeconds"):
        spec.progressDeadlineSeconds = 600
    _default_pod_template(spec.template)


# ---------------------------------------------------------------- validation
def validate_deployment(d, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, d.metadata)
    spec = d.spec
    errs.nonnegative("spec.replicas", spec.replicas)
    _selector_and_template(errs, spec, "Deployment")
    strategy = spec.strategy
    if strategy.type == "Recreate":
        if strategy.HasField("rollingUpdate"):
            errs.forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")
    elif strategy.type == "RollingUpdate":
        if not strategy.HasField("rollingUpdate"):
            errs.required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil")
        else:
            ru = strategy.rollingUpdate
            max_unavailable, max_surge = _int_or_string(ru.maxUnavailable), _int_or_string(ru.maxSurge)
            p = "spec.strategy.rollingUpdate"
            _int_or_percent(errs, _c(p, "maxUnavailable"), max_unavailable)
            _int_or_percent(errs, _c(p, "maxSurge"), max_surge)
            if _int_or_percent_value(max_unavailable) == 0 and _int_or_percent_value(max_surge) == 0:
                errs.invalid(_c(p, "maxUnavailable"), max_unavailable, "may not be 0 when `maxSurge` is 0")
    else:
        errs.not_supported("spec.strategy", strategy.type, ("Recreate", "RollingUpdate"))
    errs.nonnegative("spec.minReadySeconds", spec.minReadySeconds)
    history = _opt(spec, "revisionHistoryLimit")
    if history is not None:
        errs.nonnegative("spec.revisionHistoryLimit", history)
    deadline = _opt(spec, "progressDeadlineSeconds")
    if deadline is not None:
        errs.nonnegative("spec.progressDeadlineSeconds", deadline)
        if deadline <= spec.minReadySeconds:
            errs.invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds")
    if old is not None:
        _selector_immutable(errs, spec, old.spec)
    return errs


DEPLOYMENT = KindInfo("Deployment", "apps", "v1", "deployments", ("deploy",), True, apps_pb2.Deployment,
                      defaults=_default_deployment, validate=validate_deployment)
