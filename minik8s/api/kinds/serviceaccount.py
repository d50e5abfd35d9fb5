"""The ServiceAccount kind (core/v1): an identity for the processes of pods. Its tokens are signed by
the API server (apiserver/serviceaccount_token.py) and name the user `system:serviceaccount:NS:NAME`;
what that user may do is RBAC's to say. No defaults, no status; upstream keeps no generation."""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo, Strategy
from minik8s.api.pb import core_pb2
from minik8s.api.validation_common import Errors, _Errors, _object_meta

USER_PREFIX = "system:serviceaccount:"
ALL_GROUP = "system:serviceaccounts"
DEFAULT_NAME = "default"


def username(namespace: str, name: str) -> str:
    return f"{USER_PREFIX}{namespace}:{name}"


def groups(namespace: str) -> tuple[str, str]:
    """The groups upstream puts every ServiceAccount of `namespace` in."""
    return ALL_GROUP, f"{ALL_GROUP}:{namespace}"


def validate_service_account(sa, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, sa.metadata)
    for i, ref in enumerate(sa.imagePullSecrets):
        if not ref.name:
            errs.required(f"imagePullSecrets[{i}].name", "")
    return errs


def _no_generation(obj) -> bytes:
    return b""


SERVICE_ACCOUNT = KindInfo("ServiceAccount", "", "v1", "serviceaccounts", ("sa",), True, core_pb2.ServiceAccount,
                           has_status=False, validate=validate_service_account,
                           strategy=Strategy(generation_from=_no_generation))
