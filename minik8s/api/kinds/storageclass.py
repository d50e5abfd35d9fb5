"""The StorageClass kind (storage.k8s.io/v1, cluster-scoped, `sc`): reclaimPolicy Delete and
volumeBindingMode Immediate by default, validation after upstream's ValidateStorageClass (provisioner
a qualified name, the supported policies and modes, provisioner/parameters/reclaimPolicy/
volumeBindingMode immutable), and the default-class annotation read by the volume controller."""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo
from minik8s.api.pb import storage_pb2
from minik8s.api.validation_common import Errors, _Errors, _object_meta, _qualified_name

IS_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
RECLAIM_POLICIES = ("Delete", "Retain")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")


def _default_storage_class(sc) -> None:
    if not sc.HasField("reclaimPolicy"):
        sc.reclaimPolicy = "Delete"
    if not sc.HasField("volumeBindingMode"):
        sc.volumeBindingMode = "Immediate"


def validate_storage_class(sc, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, sc.metadata)
    if not sc.provisioner:
        errs.required("provisioner")
    else:
        _qualified_name(errs, "provisioner", sc.provisioner)
    if sc.reclaimPolicy not in RECLAIM_POLICIES:
        errs.not_supported("reclaimPolicy", sc.reclaimPolicy, RECLAIM_POLICIES)
    if sc.volumeBindingMode not in BINDING_MODES:
        errs.not_supported("volumeBindingMode", sc.volumeBindingMode, BINDING_MODES)
    if old is not None:
        if dict(sc.parameters) != dict(old.parameters):
            errs.forbidden("parameters", "updates to parameters are forbidden.")
        if sc.provisioner != old.provisioner:
            errs.forbidden("provisioner", "updates to provisioner are forbidden.")
        errs.immutable("reclaimPolicy", sc.reclaimPolicy, old.reclaimPolicy)
        errs.immutable("volumeBindingMode", sc.volumeBindingMode, old.volumeBindingMode)
    return errs


def is_default_class(sc) -> bool:
    return sc.metadata.annotations.get(IS_DEFAULT_CLASS) == "true"


STORAGE_CLASS = KindInfo("StorageClass", "storage.k8s.io", "v1", "storageclasses", ("sc",), False,
                         storage_pb2.StorageClass, has_status=False,
                         defaults=_default_storage_class, validate=validate_storage_class)
