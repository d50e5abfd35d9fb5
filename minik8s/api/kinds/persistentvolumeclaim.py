"""The PersistentVolumeClaim kind (core/v1): volumeMode and quantity defaults, validation with the
update rules (a bound claim's spec is immutable but for its requests; an unset storageClassName may be
set once, as the volume controller does with the default class), the `Pending` phase and the
`kubernetes.io/pvc-protection` finalizer on create (upstream's StorageObjectInUseProtection).
"""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo, Strategy
from minik8s.api.pb import core_pb2
from minik8s.api.podspec_defaults import _canonicalise_map
from minik8s.api.quantity import parse_quantity, Quantity, QuantityError
from minik8s.api.validation_common import (_c, Errors, _Errors, _key, _label_selector, _name_subdomain,
                                           _object_meta, _quantity, _resource_quantity_value)


# ---------------------------------------------------------------- defaults
def _default_pvc(pvc) -> None:
    if not pvc.status.phase:
        pvc.status.phase = "Pending"
    if not pvc.spec.HasField("volumeMode"):
        pvc.spec.volumeMode = "Filesystem"
    _canonicalise_map(pvc.spec.resources.requests)
    _canonicalise_map(pvc.spec.resources.limits)
    _canonicalise_map(pvc.status.capacity)
    _canonicalise_map(pvc.status.allocatedResources)


# ---------------------------------------------------------------- validation
ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")


def validate_persistent_volume_claim(pvc, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, pvc.metadata)
    spec = pvc.spec
    if not spec.accessModes:
        errs.required("spec.accessModes", "at least 1 access mode is required")
    if spec.HasField("selector"):
        _label_selector(errs, "spec.selector", spec.selector)
    rwop, other = False, False
    for mode in spec.accessModes:
        if mode not in ACCESS_MODES:
            errs.not_supported("spec.accessModes", mode, ACCESS_MODES)
        elif mode == "ReadWriteOncePod":
            rwop = True
        else:
            other = True
    if rwop and other:
        errs.forbidden("spec.accessModes", "may not use ReadWriteOncePod with other access modes")
    storage_path = "spec.resources.requests.storage"
    storage = spec.resources.requests.get("storage")
    if storage is None:
        errs.required(storage_path)
    else:
        q = _quantity(errs, storage_path, storage)
        if q is not None:
            if q <= Quantity(0):
                errs.invalid(storage_path, str(q), "must be greater than zero")
    for name in ("requests", "limits"):
        for key in sorted(getattr(spec.resources, name)):
            if name == "requests" and key == "storage":
                continue
            p = _key(_c("spec.resources", name), key)
            q = _quantity(errs, p, getattr(spec.resources, name)[key])
            if q is not None:
                _resource_quantity_value(errs, p, key, q)
    if spec.HasField("storageClassName") and spec.storageClassName:
        for msg in _name_subdomain(spec.storageClassName):
            errs.invalid("spec.storageClassName", spec.storageClassName, msg)
    if spec.HasField("volumeMode") and spec.volumeMode not in ("Block", "Filesystem"):
        errs.not_supported("spec.volumeMode", spec.volumeMode, ("Block", "Filesystem"))
    if spec.HasField("dataSource"):
        if not spec.dataSource.name:
            errs.required("spec.dataSource.name")
        if not spec.dataSource.kind:
            errs.required("spec.dataSource.kind")
    if old is not None:
        _pvc_update(errs, pvc, old)
    return errs


def _pvc_update(errs: _Errors, pvc, old) -> None:
    new_spec = type(pvc.spec)()
    new_spec.CopyFrom(pvc.spec)
    if not old.spec.volumeName:
        new_spec.volumeName = old.spec.volumeName     # binding sets volumeName once
    if not old.spec.HasField("storageClassName"):
        # retroactive default class assignment: nil may become a class name, once
        new_spec.ClearField("storageClassName")
    if pvc.status.phase == "Bound" and "storage" in old.spec.resources.requests:
        new_spec.resources.requests["storage"] = old.spec.resources.requests["storage"]
    if new_spec != old.spec:
        errs.forbidden("spec", "spec is immutable after creation except resources.requests and "
                               "volumeAttributesClassName for bound claims")
    try:
        new_size = parse_quantity(pvc.spec.resources.requests.get("storage", "0"))
        old_size = parse_quantity(old.spec.resources.requests.get("storage", "0"))
    except QuantityError:
        return
    if new_size < old_size:
        errs.forbidden("spec.resources.requests.storage", "field can not be less than previous value")


PVC_PROTECTION = "kubernetes.io/pvc-protection"


def _protect(pvc) -> None:
    if PVC_PROTECTION not in pvc.metadata.finalizers:
        pvc.metadata.finalizers.append(PVC_PROTECTION)


PERSISTENT_VOLUME_CLAIM = KindInfo(
    "PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", ("pvc",), True, core_pb2.PersistentVolumeClaim,
    defaults=_default_pvc, validate=validate_persistent_volume_claim,
    strategy=Strategy(initial_phase="Pending", after_create_defaults=_protect))
