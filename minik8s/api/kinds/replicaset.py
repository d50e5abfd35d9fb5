"""The ReplicaSet kind (apps/v1): replicas default, validation (selector, template, immutable
selector).
"""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo
from minik8s.api.pb import apps_pb2
from minik8s.api.podspec_defaults import _default_pod_template
from minik8s.api.podspec_validation import _selector_and_template, _selector_immutable
from minik8s.api.validation_common import Errors, _Errors, _object_meta


# ---------------------------------------------------------------- defaults
def _default_replica_set(rs) -> None:
    if not rs.spec.HasField("replicas"):
        rs.spec.replicas = 1
    _default_pod_template(rs.spec.template)


# ---------------------------------------------------------------- validation
def validate_replica_set(rs, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, rs.metadata)
    spec = rs.spec
    errs.nonnegative("spec.replicas", spec.replicas)
    errs.nonnegative("spec.minReadySeconds", spec.minReadySeconds)
    _selector_and_template(errs, spec, "ReplicaSet")
    if old is not None:
        _selector_immutable(errs, spec, old.spec)
    return errs


REPLICA_SET = KindInfo("ReplicaSet", "apps", "v1", "replicasets", ("rs",), True, apps_pb2.ReplicaSet,
                       defaults=_default_replica_set, validate=validate_replica_set)
