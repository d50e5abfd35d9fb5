"""The HorizontalPodAutoscaler kind (autoscaling/v2; served at v1 too, see minik8s/api/conversion.py):
its defaults (minReplicas, the 80% CPU metric, scaling behavior rules when behavior is set) and
validation (target reference to a kind with a scale subresource, metrics, behavior).
"""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo
from minik8s.api.pb import autoscaling_pb2
from minik8s.api.podspec_defaults import _canonicalise_field
from minik8s.api.quantity import Quantity
from minik8s.api.validation_common import (_c, _container_resource_name, _dns_label, Errors, _Errors, _ix,
                                           _label_selector, _object_meta, _opt, _path_segment_msgs, _quantity)


# ---------------------------------------------------------------- defaults
DEFAULT_HPA_CPU_UTILIZATION = 80


def _default_hpa(hpa) -> None:
    spec = hpa.spec
    if not spec.HasField("minReplicas"):
        spec.minReplicas = 1
    if not spec.metrics:
        m = spec.metrics.add()
        m.type = "Resource"
        m.resource.name = "cpu"
        m.resource.target.type = "Utilization"
        m.resource.target.averageUtilization = DEFAULT_HPA_CPU_UTILIZATION
    for m in spec.metrics:
        for name in ("object", "pods", "resource", "containerResource", "external"):
            if m.HasField(name):
                target = getattr(m, name).target
                _canonicalise_field(target, "value")
                _canonicalise_field(target, "averageValue")
    if spec.HasField("behavior"):                      # filled in only when the user set behavior
        _default_scaling_rules(spec.behavior, "scaleUp", window=0,
                               policies=[("Pods", 4, 15), ("Percent", 100, 15)])
        _default_scaling_rules(spec.behavior, "scaleDown", window=None,
                               policies=[("Percent", 100, 15)])


def _default_scaling_rules(behavior, name: str, window: int | None, policies) -> None:
    rules = getattr(behavior, name)
    rules.SetInParent()
    if not rules.HasField("stabilizationWindowSeconds") and window is not None:
        rules.stabilizationWindowSeconds = window
    if not rules.HasField("selectPolicy"):
        rules.selectPolicy = "Max"
    if not rules.policies:
        for typ, value, period in policies:
            p = rules.policies.add()
            p.type, p.value, p.periodSeconds = typ, value, period


# ---------------------------------------------------------------- validation
_METRIC_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
_METRIC_FIELDS = {"Object": "object", "Pods": "pods", "Resource": "resource",
                  "External": "external", "ContainerResource": "containerResource"}


def validate_horizontal_pod_autoscaler(hpa, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, hpa.metadata)
    spec = hpa.spec
    lower = 0 if old is not None and old.spec.HasField("minReplicas") and old.spec.minReplicas == 0 else 1
    min_replicas = _opt(spec, "minReplicas")
    if min_replicas is not None and min_replicas < lower:
        errs.invalid("spec.minReplicas", min_replicas, f"must be greater than or equal to {lower}")
    if spec.maxReplicas < 1:
        errs.invalid("spec.maxReplicas", spec.maxReplicas, "must be greater than 0")
    if min_replicas is not None and spec.maxReplicas < min_replicas:
        errs.invalid("spec.maxReplicas", spec.maxReplicas, "must be greater than or equal to `minReplicas`")
    _cross_version_ref(errs, spec.scaleTargetRef, "spec.scaleTargetRef")
    _scale_target(errs, spec.scaleTargetRef, "spec.scaleTargetRef")
    has_object_or_external = False
    for i, metric in enumerate(spec.metrics):
        _metric_spec(errs, metric, _ix("spec.metrics", i))
        has_object_or_external |= metric.type in ("Object", "External")
    if min_replicas == 0 and not has_object_or_external:
        errs.forbidden("spec.metrics", "must specify at least one Object or External metric to support "
                                       "scaling to zero replicas")
    if spec.HasField("behavior"):
        for name in ("scaleUp", "scaleDown"):
            if spec.behavior.HasField(name):
                _scaling_rules(errs, getattr(spec.behavior, name), _c("spec.behavior", name))
    return errs


def _cross_version_ref(errs: _Errors, ref, path: str) -> None:
    for name in ("kind", "name"):
        value = getattr(ref, name)
        if not value:
            errs.required(_c(path, name))
        else:
            for msg in _path_segment_msgs(value):
                errs.invalid(_c(path, name), value, msg)


def _scale_target(errs: _Errors, ref, path: str) -> None:
    """The target must be a kind this server serves with a scale subresource (there are no custom
    resources whose scale could be declared later), in the group its apiVersion names, if any."""
    from minik8s.api import kinds            # the kinds package imports this module
    if not ref.kind:
        return
    scalable = sorted(k.kind for k in kinds.KINDS.values() if k.has_scale)
    info = kinds.KINDS.get(ref.kind)
    if info is None or not info.has_scale:
        errs.not_supported(_c(path, "kind"), ref.kind, scalable)
    elif ref.apiVersion and ref.apiVersion.rpartition("/")[0] != info.group:
        errs.invalid(_c(path, "apiVersion"), ref.apiVersion, f"{ref.kind} is served as {info.api_version}")


def _metric_spec(errs: _Errors, metric, path: str) -> None:
    if not metric.type:
        errs.required(_c(path, "type"), "must specify a metric source type")
    if metric.type not in _METRIC_TYPES:
        errs.not_supported(_c(path, "type"), metric.type, _METRIC_TYPES)
    present = [f for f in ("object", "external", "pods", "resource", "containerResource") if metric.HasField(f)]
    if present:
        first = present[0]
        src, sp = getattr(metric, first), _c(path, first)
        if first == "object":
            _cross_version_ref(errs, src.describedObject, _c(sp, "describedObject"))
            _metric_identifier(errs, src.metric, _c(sp, "metric"))
            _metric_target(errs, src.target, _c(sp, "target"))
            if not src.target.value and not src.target.averageValue:
                errs.required(_c(sp, "target", "averageValue"), "must set either a target value or averageValue")
        elif first == "external":
            _metric_identifier(errs, src.metric, _c(sp, "metric"))
            _metric_target(errs, src.target, _c(sp, "target"))
            if not src.target.value and not src.target.averageValue:
                errs.required(_c(sp, "target", "averageValue"),
                              "must set either a target value for metric or a per-pod target")
            if src.target.value and src.target.averageValue:
                errs.forbidden(_c(sp, "target", "value"),
                               "may not set both a target value for metric and a per-pod target")
        elif first == "pods":
            _metric_identifier(errs, src.metric, _c(sp, "metric"))
            _metric_target(errs, src.target, _c(sp, "target"))
            if not src.target.averageValue:
                errs.required(_c(sp, "target", "averageValue"), "must specify a positive target averageValue")
        else:                                            # resource, containerResource
            if not src.name:
                errs.required(_c(sp, "name"), "must specify a resource name")
            else:
                _container_resource_name(errs, _c(sp, "name"), src.name)
            if first == "containerResource":
                if not src.container:
                    errs.required(_c(sp, "container"), "must specify a container")
                else:
                    _dns_label(errs, _c(sp, "container"), src.container)
            _metric_target(errs, src.target, _c(sp, "target"))
            has_util = src.target.HasField("averageUtilization")
            if not has_util and not src.target.averageValue:
                errs.required(_c(sp, "target", "averageUtilization"),
                              "must set either a target raw value or a target utilization")
            if has_util and src.target.averageValue:
                errs.forbidden(_c(sp, "target", "averageValue"),
                               "may not set both a target raw value and a target utilization")
    expected = _METRIC_FIELDS.get(metric.type)
    if expected is not None and not metric.HasField(expected):
        errs.required(_c(path, expected), "must populate information for the given metric source")
    if len(present) != 1:
        for f in sorted(set(present) - {expected}):
            errs.forbidden(_c(path, f), "must populate the given metric source only")


def _metric_identifier(errs: _Errors, ident, path: str) -> None:
    if not ident.name:
        errs.required(_c(path, "name"), "must specify a metric name")
    else:
        for msg in _path_segment_msgs(ident.name):
            errs.invalid(_c(path, "name"), ident.name, msg)
    if ident.HasField("selector"):
        _label_selector(errs, _c(path, "selector"), ident.selector)


def _metric_target(errs: _Errors, target, path: str) -> None:
    if not target.type:
        errs.required(_c(path, "type"), "must specify a metric target type")
    if target.type not in ("Utilization", "Value", "AverageValue"):
        errs.invalid(_c(path, "type"), target.type, "must be either Utilization, Value, or AverageValue")
    for name in ("value", "averageValue"):
        text = getattr(target, name)
        if text:
            q = _quantity(errs, _c(path, name), text)
            if q is not None and q <= Quantity(0):
                errs.invalid(_c(path, name), str(q), "must be positive")
    util = _opt(target, "averageUtilization")
    if util is not None and util < 1:
        errs.invalid(_c(path, "averageUtilization"), util, "must be greater than 0")


def _scaling_rules(errs: _Errors, rules, path: str) -> None:
    window = _opt(rules, "stabilizationWindowSeconds")
    if window is not None and window < 0:
        errs.invalid(_c(path, "stabilizationWindowSeconds"), window, "must be greater than or equal to zero")
    if window is not None and window > 3600:
        errs.invalid(_c(path, "stabilizationWindowSeconds"), window, "must be less than or equal to 3600")
    policy = _opt(rules, "selectPolicy")
    if policy is not None and policy not in ("Disabled", "Max", "Min"):
        errs.not_supported(_c(path, "selectPolicy"), policy, ("Disabled", "Max", "Min"))
    if not rules.policies:
        errs.required(_c(path, "policies"), "must specify at least one Policy")
    for i, pol in enumerate(rules.policies):
        p = _ix(_c(path, "policies"), i)
        if pol.type not in ("Pods", "Percent"):
            errs.not_supported(_c(p, "type"), pol.type, ("Percent", "Pods"))
        if pol.value <= 0:
            errs.invalid(_c(p, "value"), pol.value, "must be greater than zero")
        if pol.periodSeconds <= 0:
            errs.invalid(_c(p, "periodSeconds"), pol.periodSeconds, "must be greater than zero")
        if pol.periodSeconds > 1800:
            errs.invalid(_c(p, "periodSeconds"), pol.periodSeconds, "must be less than or equal to 1800")
    if rules.HasField("tolerance"):
        q = _quantity(errs, _c(path, "tolerance"), rules.tolerance)
        if q is not None and q < Quantity(0):
            errs.invalid(_c(path, "tolerance"), str(q), "must be greater than or equal to 0")


HORIZONTAL_POD_AUTOSCALER = KindInfo(
    "HorizontalPodAutoscaler", "autoscaling", "v2", "horizontalpodautoscalers", ("hpa",), True,
    autoscaling_pb2.HorizontalPodAutoscaler, defaults=_default_hpa, validate=validate_horizontal_pod_autoscaler)
