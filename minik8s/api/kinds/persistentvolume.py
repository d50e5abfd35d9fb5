"""The PersistentVolume kind (core/v1, cluster-scoped, `pv`): reclaim policy and volumeMode defaults,
the `Pending` phase on create, and validation after upstream's ValidatePersistentVolume (capacity,
access modes, exactly one volume source, node affinity, the reclaim policy a source allows)."""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo, Strategy
from minik8s.api.kinds.persistentvolumeclaim import ACCESS_MODES
from minik8s.api.pb import storage_pb2
from minik8s.api.podspec_defaults import _canonicalise_map
from minik8s.api.podspec_validation import _node_selector_term
from minik8s.api.quantity import Quantity
from minik8s.api.validation_common import _c, _ix, Errors, _Errors, _name_subdomain, _object_meta, _quantity

RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
PV_PROTECTION = "kubernetes.io/pv-protection"
_SOURCES = ("hostPath", "local")


# ---------------------------------------------------------------- defaults
def _default_pv(pv) -> None:
    if not pv.status.phase:
        pv.status.phase = "Pending"
    if not pv.spec.persistentVolumeReclaimPolicy:
        pv.spec.persistentVolumeReclaimPolicy = "Retain"
    if not pv.spec.HasField("volumeMode"):
        pv.spec.volumeMode = "Filesystem"
    _canonicalise_map(pv.spec.capacity)


# ---------------------------------------------------------------- validation
def validate_persistent_volume(pv, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, pv.metadata)
    spec = pv.spec
    if not spec.accessModes:
        errs.required("spec.accessModes")
    for mode in spec.accessModes:
        if mode not in ACCESS_MODES:
            errs.not_supported("spec.accessModes", mode, ACCESS_MODES)
    if "ReadWriteOncePod" in spec.accessModes and len(spec.accessModes) > 1:
        errs.forbidden("spec.accessModes", "may not use ReadWriteOncePod with other access modes")
    if not spec.capacity:
        errs.required("spec.capacity")
    elif set(spec.capacity) != {"storage"}:
        errs.not_supported("spec.capacity", sorted(set(spec.capacity) - {"storage"})[0], ["storage"])
    else:
        q = _quantity(errs, "spec.capacity.storage", spec.capacity["storage"])
        if q is not None and q <= Quantity(0):
            errs.invalid("spec.capacity.storage", str(q), "must be greater than zero")
    if spec.persistentVolumeReclaimPolicy not in RECLAIM_POLICIES:
        errs.not_supported("spec.persistentVolumeReclaimPolicy", spec.persistentVolumeReclaimPolicy,
                           RECLAIM_POLICIES)
    if spec.storageClassName:
        for msg in _name_subdomain(spec.storageClassName):
            errs.invalid("spec.storageClassName", spec.storageClassName, msg)
    if spec.HasField("volumeMode") and spec.volumeMode not in ("Block", "Filesystem"):
        errs.not_supported("spec.volumeMode", spec.volumeMode, ("Block", "Filesystem"))
    _volume_source(errs, spec)
    if spec.HasField("nodeAffinity"):
        _node_affinity(errs, spec.nodeAffinity)
    if old is not None:
        _pv_update(errs, pv, old)
    return errs


def _volume_source(errs: _Errors, spec) -> None:
    given = [s for s in _SOURCES if spec.HasField(s)]
    if not given:
        errs.required("spec", "must specify a volume type")
    elif len(given) > 1:
        errs.forbidden(_c("spec", given[1]), "may not specify more than 1 volume type")
    if spec.HasField("hostPath"):
        if not spec.hostPath.path:
            errs.required("spec.hostPath.path")
        elif ".." in spec.hostPath.path.split("/"):
            errs.invalid("spec.hostPath.path", spec.hostPath.path, "must not contain '..'")
    if spec.HasField("local"):
        if not spec.local.path:
            errs.required("spec.local.path")
        if not spec.HasField("nodeAffinity"):
            errs.required("spec.nodeAffinity", "Local volume requires node affinity")


def _node_affinity(errs: _Errors, affinity) -> None:
    if not affinity.HasField("required"):
        errs.required("spec.nodeAffinity.required")
        return
    path = "spec.nodeAffinity.required.nodeSelectorTerms"
    if not affinity.required.nodeSelectorTerms:
        errs.required(path, "must have at least one node selector term")
    for i, term in enumerate(affinity.required.nodeSelectorTerms):
        _node_selector_term(errs, term, _ix(path, i), check_values=True)


def _pv_update(errs: _Errors, pv, old) -> None:
    if pv.spec.volumeMode != old.spec.volumeMode:
        errs.immutable("spec.volumeMode", pv.spec.volumeMode, old.spec.volumeMode)
    if pv.spec.storageClassName != old.spec.storageClassName:
        errs.immutable("spec.storageClassName", pv.spec.storageClassName, old.spec.storageClassName)
    if old.spec.HasField("nodeAffinity") and pv.spec.nodeAffinity != old.spec.nodeAffinity:
        errs.invalid("spec.nodeAffinity", "", "field is immutable")
    for source in _SOURCES:
        if getattr(pv.spec, source) != getattr(old.spec, source):
            errs.forbidden(_c("spec", "persistentvolumesource"), "spec.persistentvolumesource is immutable after creation")
            break


def _protect(pv) -> None:
    """upstream's StorageObjectInUseProtection admission: a new volume is not removed while bound."""
    if PV_PROTECTION not in pv.metadata.finalizers:
        pv.metadata.finalizers.append(PV_PROTECTION)


def _phase(pv) -> str:
    return pv.status.phase


PERSISTENT_VOLUME = KindInfo(
    "PersistentVolume", "", "v1", "persistentvolumes", ("pv",), False, storage_pb2.PersistentVolume,
    defaults=_default_pv, validate=validate_persistent_volume,
    strategy=Strategy(initial_phase="Pending", field_selectors={"status.phase": _phase},
                      after_create_defaults=_protect))
