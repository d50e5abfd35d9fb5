"""Kinds served at more than one version. Each kind is stored at one version, its record's; a kind
listed here is also served at others, converted in JSON form on the way in (to the stored version)
and on the way out (to the version the client asked for). Manifests (`minictl apply`) and the REST
API both convert through `to_stored` / `from_stored`; gRPC speaks only the stored version.

autoscaling/v1 HorizontalPodAutoscaler, after upstream's pkg/apis/autoscaling/v1/conversion.go:
`spec.targetCPUUtilizationPercentage` is the Resource cpu Utilization metric and
`status.currentCPUUtilizationPercentage` its current utilization; what v1 cannot hold (other metrics
and their status, behavior, conditions) rides in `autoscaling.alpha.kubernetes.io/*` annotations on
a v1 read and is restored from them on a v1 write, so a v1 round trip loses nothing. The annotations
hold the v2 JSON shapes (upstream writes v2beta1-style metric keys there)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from minik8s.api import kinds
from minik8s.api.codec import FieldError
from minik8s.api.kinds import KindInfo, UnknownKind


@dataclass(frozen=True)
class ServedVersion:
    info: KindInfo                             # the kind's record (its stored version)
    version: str                               # the other version it is served at
    to_stored: Callable[[dict], dict]          # JSON at `version` -> JSON at the stored version
    from_stored: Callable[[dict], dict]        # JSON at the stored version -> JSON at `version`

    @property
    def api_version(self) -> str:
        return f"{self.info.group}/{self.version}" if self.info.group else self.version


# ---------------------------------------------------------------- autoscaling/v1 HorizontalPodAutoscaler
_ANN = "autoscaling.alpha.kubernetes.io/"
METRICS_ANNOTATION = _ANN + "metrics"
CURRENT_METRICS_ANNOTATION = _ANN + "current-metrics"
CONDITIONS_ANNOTATION = _ANN + "conditions"
BEHAVIOR_ANNOTATION = _ANN + "behavior"
_V1_ANNOTATIONS = (METRICS_ANNOTATION, CURRENT_METRICS_ANNOTATION, CONDITIONS_ANNOTATION, BEHAVIOR_ANNOTATION)


def _is_cpu_utilization(metric: dict) -> bool:
    res = metric.get("resource") or {}
    return (metric.get("type") == "Resource" and res.get("name") == "cpu"
            and (res.get("target") or {}).get("type") == "Utilization")


def _annotation_json(annotations: dict, key: str, want: type):
    text = annotations.pop(key, None)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        value = None
    if not isinstance(value, want):
        raise FieldError([(f"metadata.annotations[{key}]", f"invalid JSON {want.__name__}")])
    return value


def _v1_percentage(obj: dict, part: str, name: str):
    value = obj.pop(name, None)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        got = {bool: "boolean", str: "string", float: "number", list: "array", dict: "object"}.get(
            type(value), type(value).__name__)
        raise FieldError([(f"{part}.{name}", f"expected integer, got {got}")])
    return value


def _hpa_v1_to_v2(data: dict) -> dict:
    out = json.loads(json.dumps(data))
    meta = out.get("metadata")
    annotations = dict(meta.get("annotations") or {}) if isinstance(meta, dict) else {}
    spec = out.get("spec")
    if isinstance(spec, dict):
        target = _v1_percentage(spec, "spec", "targetCPUUtilizationPercentage")
        metrics = [] if target is None else [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                      "averageUtilization": target}}}]
        metrics += [m for m in _annotation_json(annotations, METRICS_ANNOTATION, list) or []
                    if not (isinstance(m, dict) and _is_cpu_utilization(m))]
        if metrics:
            spec["metrics"] = metrics
        behavior = _annotation_json(annotations, BEHAVIOR_ANNOTATION, dict)
        if behavior is not None:
            spec["behavior"] = behavior
    status = out.get("status")
    if isinstance(status, dict):
        current = _v1_percentage(status, "status", "currentCPUUtilizationPercentage")
        metrics = [] if current is None else [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}]
        metrics += _annotation_json(annotations, CURRENT_METRICS_ANNOTATION, list) or []
        if metrics:
            status["currentMetrics"] = metrics
        conditions = _annotation_json(annotations, CONDITIONS_ANNOTATION, list)
        if conditions is not None:
            status["conditions"] = conditions
    for key in _V1_ANNOTATIONS:
        annotations.pop(key, None)
    if isinstance(meta, dict):
        if annotations:
            meta["annotations"] = annotations
        else:
            meta.pop("annotations", None)
    return out


def _hpa_v2_to_v1(data: dict) -> dict:
    out = json.loads(json.dumps(data))
    annotations = dict(out.setdefault("metadata", {}).get("annotations") or {})
    spec = out.get("spec") or {}
    metrics = spec.pop("metrics", [])
    cpu = next((m for m in metrics if _is_cpu_utilization(m)), None)
    if cpu is not None:
        spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"].get("averageUtilization", 0)
    others = [m for m in metrics if m is not cpu]
    if others:
        annotations[METRICS_ANNOTATION] = json.dumps(others, separators=(",", ":"))
    behavior = spec.pop("behavior", None)
    if behavior:
        annotations[BEHAVIOR_ANNOTATION] = json.dumps(behavior, separators=(",", ":"))
    status = out.get("status")
    if isinstance(status, dict):
        current = status.pop("currentMetrics", [])
        cpu_now = next((m for m in current if m.get("type") == "Resource"
                        and (m.get("resource") or {}).get("name") == "cpu"
                        and "averageUtilization" in (m["resource"].get("current") or {})), None)
        if cpu_now is not None:
            status["currentCPUUtilizationPercentage"] = cpu_now["resource"]["current"]["averageUtilization"]
        rest = [m for m in current if m is not cpu_now]
        if rest:
            annotations[CURRENT_METRICS_ANNOTATION] = json.dumps(rest, separators=(",", ":"))
        conditions = status.pop("conditions", None)
        if conditions:
            annotations[CONDITIONS_ANNOTATION] = json.dumps(conditions, separators=(",", ":"))
    if annotations:
        out["metadata"]["annotations"] = annotations
    return out


# ---------------------------------------------------------------- the served versions
_SERVED = [ServedVersion(kinds.HORIZONTAL_POD_AUTOSCALER, "v1", _hpa_v1_to_v2, _hpa_v2_to_v1)]
_BY_API_VERSION = {(s.api_version, s.info.kind): s for s in _SERVED}


def other_versions() -> list[ServedVersion]:
    """Every (kind, version) served besides the kinds' stored versions."""
    return list(_SERVED)


def resolve(api_version: str, kind: str) -> KindInfo:
    """The record of a kind named by an apiVersion it is served at (stored or converted)."""
    served = _BY_API_VERSION.get((api_version, kind))
    return served.info if served is not None else kinds.for_api_version(api_version, kind)


def to_stored(data: dict) -> tuple[KindInfo, dict]:
    """A JSON object at any served apiVersion as (its record, the JSON at the stored version).
    Raises UnknownKind for a version not served, FieldError for a field that cannot convert."""
    api_version, kind = data.get("apiVersion"), data.get("kind")
    served = _BY_API_VERSION.get((api_version, kind))
    if served is None:
        return kinds.for_api_version(api_version, kind), data
    out = served.to_stored(data)
    out["apiVersion"] = served.info.api_version
    return served.info, out


def convert_in(info: KindInfo, version: str, data: dict) -> dict:
    """A request body sent to `version` of the kind as JSON at the stored version."""
    if version == info.version or not isinstance(data, dict):
        return data
    out = _served(info, version).to_stored(data)
    out["apiVersion"] = info.api_version
    return out


def from_stored(info: KindInfo, version: str, data: dict) -> dict:
    """The stored JSON of a kind as `version` shows it (apiVersion and kind set)."""
    if version == info.version:
        data["apiVersion"], data["kind"] = info.api_version, info.kind
        return data
    served = _served(info, version)
    out = served.from_stored(data)
    out["apiVersion"], out["kind"] = served.api_version, info.kind
    return out


def _served(info: KindInfo, version: str) -> ServedVersion:
    served = _BY_API_VERSION.get((f"{info.group}/{version}" if info.group else version, info.kind))
    if served is None:
        raise UnknownKind(f'no matches for kind "{info.kind}" in version "{version}"')
    return served
