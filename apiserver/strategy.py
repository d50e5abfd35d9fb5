"""Per-kind rules the registry applies around a write, after upstream's registry strategies: what the
server resets on create, which part of an object an update or a status update may change, when
generation moves, which fields a field selector may name, and how a kind is deleted gracefully."""
from __future__ import annotations

from typing import Callable

from minik8s.api.kinds import KindInfo

# kind -> {field selector name: getter(obj) -> str}. metadata.name/namespace hold for every kind.
_FIELDS: dict[str, dict[str, Callable]] = {
    "Pod": {
        "spec.nodeName": lambda o: o.spec.nodeName,
        "spec.restartPolicy": lambda o: o.spec.restartPolicy,
        "spec.schedulerName": lambda o: o.spec.schedulerName,
        "spec.serviceAccountName": lambda o: o.spec.serviceAccountName,
        "status.phase": lambda o: o.status.phase,
        "status.podIP": lambda o: o.status.podIP,
        "status.nominatedNodeName": lambda o: o.status.nominatedNodeName,
    },
    "Node": {"spec.unschedulable": lambda o: "true" if o.spec.unschedulable else "false"},
    "Namespace": {"status.phase": lambda o: o.status.phase},
    "Event": {
        "involvedObject.kind": lambda o: o.involvedObject.kind,
        "involvedObject.namespace": lambda o: o.involvedObject.namespace,
        "involvedObject.name": lambda o: o.involvedObject.name,
        "involvedObject.uid": lambda o: o.involvedObject.uid,
        "involvedObject.apiVersion": lambda o: o.involvedObject.apiVersion,
        "involvedObject.resourceVersion": lambda o: o.involvedObject.resourceVersion,
        "involvedObject.fieldPath": lambda o: o.involvedObject.fieldPath,
        "reason": lambda o: o.reason,
        "reportingComponent": lambda o: o.reportingComponent,
        "source": lambda o: o.source.component,
        "type": lambda o: o.type,
    },
    "Job": {"status.successful": lambda o: str(o.status.succeeded)},
}


def selectable_fields(kind: str, obj) -> dict[str, str]:
    out = {"metadata.name": obj.metadata.name, "metadata.namespace": obj.metadata.namespace}
    for name, get in _FIELDS.get(kind, {}).items():
        out[name] = get(obj)
    return out


def supported_fields(kind: str) -> set[str]:
    return {"metadata.name", "metadata.namespace", *_FIELDS.get(kind, {})}


def prepare_for_create(info: KindInfo, obj) -> None:
    """Reset what a client may not set on create (upstream PrepareForCreate)."""
    if info.kind == "Pod":
        obj.ClearField("status")
        obj.status.phase = "Pending"
    elif info.kind == "Namespace":
        obj.ClearField("status")
        obj.status.phase = "Active"
    elif info.kind == "PersistentVolumeClaim":
        obj.ClearField("status")
        obj.status.phase = "Pending"
    elif info.has_status and info.kind != "Node":
        obj.ClearField("status")
    if info.has_status:
        obj.metadata.generation = 1


def spec_of(info: KindInfo, obj) -> bytes:
    """The bytes whose change bumps metadata.generation: spec, or everything but metadata and
    status for kinds without a spec field."""
    if "spec" in obj.DESCRIPTOR.fields_by_name:
        return obj.spec.SerializeToString(deterministic=True)
    copy = type(obj)()
    copy.CopyFrom(obj)
    copy.ClearField("metadata")
    return copy.SerializeToString(deterministic=True)


def _quantity(s: str):
    from minik8s.api.quantity import QuantityError, parse_quantity
    try:
        return parse_quantity(s)
    except QuantityError:
        return s


def qos_class(spec) -> str:
    """Upstream's QoS rule: Guaranteed when every container sets equal cpu and memory requests and
    limits, BestEffort when none sets any, Burstable otherwise."""
    containers = list(spec.containers) + list(spec.initContainers)
    any_set = False
    guaranteed = True
    for c in containers:
        req, lim = c.resources.requests, c.resources.limits
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or _quantity(req.get(r, lim[r])) != _quantity(lim[r]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
