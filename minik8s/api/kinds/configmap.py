"""The ConfigMap kind (core/v1): validation as upstream's ValidateConfigMap/ValidateConfigMapUpdate --
config key names, no key in both `data` and `binaryData`, 1 MiB of payload at most, and nothing of an
`immutable` ConfigMap may change. The key and size rules are shared with Secret. No defaults, no status.
"""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo, Strategy
from minik8s.api.pb import core_pb2
from minik8s.api.podspec_validation import _config_key_msgs
from minik8s.api.validation_common import Errors, _Errors, _object_meta

MAX_SIZE = 1024 * 1024                  # upstream core.MaxSecretSize, for ConfigMaps too
IMMUTABLE_MSG = "field is immutable when `immutable` is set"


def key_path(field: str, key: str) -> str:
    """A payload key in a field path, as upstream writes it: `data[game.properties]`."""
    return f"{field}[{key}]"


def validate_keys(errs: _Errors, field: str, payload) -> None:
    for key in sorted(payload):
        for msg in _config_key_msgs(key):       # apimachinery IsConfigMapKey
            errs.invalid(key_path(field, key), key, msg)


def immutable_unchanged(errs: _Errors, new, old, fields: tuple[str, ...]) -> None:
    """Once `immutable` is true, it stays true and the payload fields stay as they are."""
    if not (old.HasField("immutable") and old.immutable):
        return
    if not (new.HasField("immutable") and new.immutable):
        errs.forbidden("immutable", IMMUTABLE_MSG)
    for name in fields:
        if dict(getattr(new, name)) != dict(getattr(old, name)):
            errs.forbidden(name, IMMUTABLE_MSG)


def validate_config_map(cm, old=None) -> Errors:
    errs = _Errors()
    if old is not None:
        immutable_unchanged(errs, cm, old, ("data", "binaryData"))
    _object_meta(errs, cm.metadata)
    validate_keys(errs, "data", cm.data)
    for key in sorted(cm.data):
        if key in cm.binaryData:
            errs.invalid(key_path("data", key), key, "duplicate of key present in binaryData")
    validate_keys(errs, "binaryData", cm.binaryData)
    size = sum(len(v.encode()) for v in cm.data.values()) + sum(len(v) for v in cm.binaryData.values())
    if size > MAX_SIZE:
        errs.too_long("", MAX_SIZE)
    return errs


def _no_generation(obj) -> bytes:
    return b""          # upstream keeps no metadata.generation for ConfigMaps


CONFIG_MAP = KindInfo("ConfigMap", "", "v1", "configmaps", ("cm",), True, core_pb2.ConfigMap,
                      has_status=False, validate=validate_config_map,
                      strategy=Strategy(generation_from=_no_generation))
