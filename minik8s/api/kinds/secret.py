"""The Secret kind (core/v1): `stringData` merged into `data` on every write and never stored (upstream
does it when converting the request), `type` defaulted to Opaque, and validation as upstream's
ValidateSecret/ValidateSecretUpdate -- key names and size as a ConfigMap's, the keys each built-in type
requires, `type` and an `immutable` Secret's data unchangeable. Values never appear in an error message.
"""
from __future__ import annotations

import json

from minik8s.api.kinds.configmap import MAX_SIZE, immutable_unchanged, key_path, validate_keys
from minik8s.api.kinds.info import KindInfo, Strategy
from minik8s.api.pb import core_pb2
from minik8s.api.validation_common import Errors, _Errors, _key, _object_meta

OPAQUE = "Opaque"
SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
SERVICE_ACCOUNT_NAME_KEY = "kubernetes.io/service-account.name"
DOCKERCFG = "kubernetes.io/dockercfg"
DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
BASIC_AUTH = "kubernetes.io/basic-auth"
SSH_AUTH = "kubernetes.io/ssh-auth"
TLS = "kubernetes.io/tls"
_REDACTED = "<secret contents redacted>"

# ---------------------------------------------------------------- defaults
def _default_secret(secret) -> None:
    for key, value in secret.stringData.items():
        secret.data[key] = value.encode()
    secret.ClearField("stringData")
    if not secret.type:
        secret.type = OPAQUE


# ---------------------------------------------------------------- validation
def _json_object(errs: _Errors, secret, key: str) -> None:
    if key not in secret.data:
        errs.required(key_path("data", key))
        return
    try:
        doc = json.loads(secret.data[key])
    except ValueError as e:
        errs.invalid(key_path("data", key), _REDACTED, str(e))
        return
    if not isinstance(doc, dict):
        errs.invalid(key_path("data", key), _REDACTED, "must be a JSON object")


def _type_keys(errs: _Errors, secret) -> None:
    """The keys each built-in Secret type requires."""
    data = secret.data
    t = secret.type
    if t == SERVICE_ACCOUNT_TOKEN:
        if not secret.metadata.annotations.get(SERVICE_ACCOUNT_NAME_KEY):
            errs.required(_key("metadata.annotations", SERVICE_ACCOUNT_NAME_KEY))
    elif t == DOCKERCFG:
        _json_object(errs, secret, ".dockercfg")
    elif t == DOCKER_CONFIG_JSON:
        _json_object(errs, secret, ".dockerconfigjson")
    elif t == BASIC_AUTH:
        if "username" not in data and "password" not in data:       # either may be empty, not both absent
            errs.required(key_path("data", "username"))
            errs.required(key_path("data", "password"))
    elif t == SSH_AUTH:
        if not data.get("ssh-privatekey"):
            errs.required(key_path("data", "ssh-privatekey"))
    elif t == TLS:
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                errs.required(key_path("data", key))


def validate_secret(secret, old=None) -> Errors:
    errs = _Errors()
    if old is not None:
        errs.immutable("type", secret.type, old.type)
        immutable_unchanged(errs, secret, old, ("data",))
    _object_meta(errs, secret.metadata)
    validate_keys(errs, "data", secret.data)
    if sum(len(v) for v in secret.data.values()) > MAX_SIZE:
        errs.too_long("data", MAX_SIZE)
    _type_keys(errs, secret)
    return errs


def _no_generation(obj) -> bytes:
    return b""          # upstream keeps no metadata.generation for Secrets


SECRET = KindInfo("Secret", "", "v1", "secrets", (), True, core_pb2.Secret, has_status=False,
                  defaults=_default_secret, validate=validate_secret,
                  strategy=Strategy(generation_from=_no_generation))
