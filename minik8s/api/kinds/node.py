"""The Node kind (core/v1): capacity/allocatable defaults, validation of taints, pod CIDRs and
addresses; a Node keeps the status its kubelet registers with, and `spec.unschedulable` is selectable.
"""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo, Strategy
from minik8s.api.pb import core_pb2
from minik8s.api.podspec_defaults import _canonicalise_map
from minik8s.api.podspec_validation import _TAINT_EFFECTS
from minik8s.api.selectors import validate_label_value
from minik8s.api.validation_common import (_c, _enum, Errors, _Errors, _ix, _object_meta, _qualified_name,
                                           _quote, _Raw, _resource_list, _valid_cidr)


# ---------------------------------------------------------------- defaults
def _default_node(node) -> None:
    status = node.status
    _canonicalise_map(status.capacity)
    _canonicalise_map(status.allocatable)
    if status.capacity and not status.allocatable:
        status.allocatable.update(status.capacity)


# ---------------------------------------------------------------- validation
def validate_node(node, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, node.metadata)
    seen: dict = {}
    for i, taint in enumerate(node.spec.taints):
        p = _ix("spec.taints", i)
        _qualified_name(errs, _c(p, "key"), taint.key)
        msgs = validate_label_value(taint.value)
        if msgs:
            errs.invalid(_c(p, "value"), taint.value, ";".join(msgs))
        _enum(errs, _c(p, "effect"), taint.effect, _TAINT_EFFECTS)
        if taint.key in seen.setdefault(taint.effect, set()):
            errs.duplicate(p, _Raw(f"core.Taint{{Key:{_quote(taint.key)}, Value:{_quote(taint.value)}, "
                                   f"Effect:{_quote(taint.effect)}, TimeAdded:<nil>}}"),
                           "taints must be unique by key and effect pair")
            continue
        seen[taint.effect].add(taint.key)
    _resource_list(errs, "status.capacity", node.status.capacity)
    _resource_list(errs, "status.allocatable", node.status.allocatable)
    for i, cidr in enumerate(node.spec.podCIDRs):
        _valid_cidr(errs, _ix("spec.podCIDRs", i), cidr)
    if old is not None:
        if old.spec.podCIDRs and list(old.spec.podCIDRs) != list(node.spec.podCIDRs):
            errs.forbidden("spec.podCIDRs", "node updates may not change podCIDR except from \"\" to valid")
        if old.spec.providerID and old.spec.providerID != node.spec.providerID:
            errs.forbidden("spec.providerID", "node updates may not change providerID except from \"\" to valid")
        seen_addresses = set()
        for i, addr in enumerate(node.status.addresses):
            key = (addr.type, addr.address)
            if key in seen_addresses:
                errs.duplicate(_ix("status.addresses", i), _Raw(
                    f"core.NodeAddress{{Type:{_quote(addr.type)}, Address:{_quote(addr.address)}}}"))
            seen_addresses.add(key)
    return errs


NODE = KindInfo(
    "Node", "", "v1", "nodes", ("no",), False, core_pb2.Node,
    defaults=_default_node, validate=validate_node,
    strategy=Strategy(reset_status_on_create=False,
                      field_selectors={"spec.unschedulable": lambda o: "true" if o.spec.unschedulable else "false"}))
