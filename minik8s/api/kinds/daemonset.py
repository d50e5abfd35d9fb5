"""The DaemonSet kind (apps/v1, `ds`): upstream's defaults (RollingUpdate with maxUnavailable 1 and
maxSurge 0, history limit 10) and validation after ValidateDaemonSet (selector and template, restart
policy Always, the update strategy with exactly one of maxUnavailable and maxSurge non-zero, an
immutable selector)."""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo
from minik8s.api.pb import apps_pb2
from minik8s.api.podspec_defaults import _default_pod_template, _set_int, _unset
from minik8s.api.podspec_validation import _pod_template, _selector_immutable, workload_selector
from minik8s.api.validation_common import (_c, Errors, _Errors, _int_or_percent,
                                           _int_or_percent_value, _int_or_string,
                                           _object_meta, _opt)

UPDATE_STRATEGIES = ("OnDelete", "RollingUpdate")


# ---------------------------------------------------------------- defaults
def _default_daemon_set(ds) -> None:
    spec = ds.spec
    strategy = spec.updateStrategy
    if not strategy.type:
        strategy.type = "RollingUpdate"
    if strategy.type == "RollingUpdate":
        ru = strategy.rollingUpdate
        ru.SetInParent()
        if _unset(ru.maxUnavailable):
            _set_int(ru.maxUnavailable, 1)
        if _unset(ru.maxSurge):
            _set_int(ru.maxSurge, 0)
    if not spec.HasField("revisionHistoryLimit"):
        spec.revisionHistoryLimit = 10
    _default_pod_template(spec.template)


# ---------------------------------------------------------------- validation
def validate_daemon_set(ds, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, ds.metadata)
    spec = ds.spec
    _selector_and_template(errs, spec)
    errs.nonnegative("spec.minReadySeconds", spec.minReadySeconds)
    history = _opt(spec, "revisionHistoryLimit")
    if history is not None:
        errs.nonnegative("spec.revisionHistoryLimit", history)
    _update_strategy(errs, spec.updateStrategy)
    if old is not None:
        _selector_immutable(errs, spec, old.spec)
    return errs


def _selector_and_template(errs: _Errors, spec) -> None:
    if not workload_selector(errs, spec, "daemonset"):
        return
    _pod_template(errs, spec.template, "spec.template")
    if spec.template.spec.restartPolicy != "Always":
        errs.not_supported("spec.template.spec.restartPolicy", spec.template.spec.restartPolicy, ["Always"])
    if spec.template.spec.HasField("activeDeadlineSeconds"):
        errs.invalid("spec.template.spec.activeDeadlineSeconds", spec.template.spec.activeDeadlineSeconds,
                     "activeDeadlineSeconds must be nil for daemonset")


def _update_strategy(errs: _Errors, strategy) -> None:
    """upstream ValidateDaemonSetUpdateStrategy and ValidateRollingUpdateDaemonSet."""
    if strategy.type == "OnDelete":
        return
    if strategy.type != "RollingUpdate":
        errs.not_supported("spec.updateStrategy.type", strategy.type, UPDATE_STRATEGIES)
        return
    if not strategy.HasField("rollingUpdate"):
        errs.required("spec.updateStrategy.rollingUpdate")
        return
    p = "spec.updateStrategy.rollingUpdate"
    max_unavailable = _int_or_string(strategy.rollingUpdate.maxUnavailable)
    max_surge = _int_or_string(strategy.rollingUpdate.maxSurge)
    _int_or_percent(errs, _c(p, "maxUnavailable"), max_unavailable)
    _int_or_percent(errs, _c(p, "maxSurge"), max_surge)
    has_unavailable = _int_or_percent_value(max_unavailable) != 0
    has_surge = _int_or_percent_value(max_surge) != 0
    if has_unavailable and has_surge:
        errs.invalid(_c(p, "maxSurge"), max_surge, "may not be set when maxUnavailable is non-zero")
    elif not has_unavailable and not has_surge:
        errs.required(_c(p, "maxUnavailable"), "cannot be 0 when maxSurge is 0")


DAEMON_SET = KindInfo("DaemonSet", "apps", "v1", "daemonsets", ("ds",), True, apps_pb2.DaemonSet,
                      defaults=_default_daemon_set, validate=validate_daemon_set)
