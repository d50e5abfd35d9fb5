"""kubectl's sources for `create configmap` and `create secret generic`: `--from-literal=key=value`,
`--from-file=[key=]path` (a directory: each regular file in it whose name is a valid key) and
`--from-env-file=path` (KEY=VALUE lines, `#` comments, a bare KEY taken from the environment), turned
into a ConfigMap (text in `data`, anything not UTF-8 in `binaryData`) or a Secret. Errors are kubectl's,
as ValueError."""
from __future__ import annotations

import os

from minik8s.api.pb import core_pb2
from minik8s.api.podspec_validation import _config_key_msgs, _env_name_msgs


def _valid_key(key: str, kind: str) -> None:
    msgs = _config_key_msgs(key)
    if msgs:
        raise ValueError(f'"{key}" is not a valid key name for a {kind}: {"; ".join(msgs)}')


def _literal(source: str) -> tuple[str, bytes]:
    key, sep, value = source.partition("=")
    if not sep or not key:
        raise ValueError(f"invalid literal source {source}, expected key=value")
    return key, value.encode()


def _files(source: str, kind: str) -> list[tuple[str, bytes]]:
    key, sep, path = source.partition("=")
    if not sep:
        key, path = "", source
    elif not key:
        raise ValueError(f"key names or file paths cannot be empty: {source}")
    if os.path.isdir(path):
        if key:
            raise ValueError("cannot give a key name for a directory path")
        out = []
        for name in sorted(os.listdir(path)):
            full = os.path.join(path, name)
            if os.path.isfile(full) and not _config_key_msgs(name):
                with open(full, "rb") as f:
                    out.append((name, f.read()))
        return out
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(f"error reading {path}: {e.strerror.lower() if e.strerror else e}") from None
    return [(key or os.path.basename(path), data)]


def _env_file(path: str) -> list[tuple[str, bytes]]:
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8-sig")
    except OSError as e:
        raise ValueError(f"error reading {path}: {e.strerror.lower() if e.strerror else e}") from None
    except UnicodeDecodeError:
        raise ValueError(f"env file {path} contains invalid utf8 bytes") from None
    out = []
    for raw in text.splitlines():
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        msgs = _env_name_msgs(key)
        if msgs:
            raise ValueError(f'"{key}" is not a valid key name: {"; ".join(msgs)}')
        if not sep:
            if key not in os.environ:
                continue        # a bare KEY takes the environment's value, and is skipped when unset
            value = os.environ[key]
        out.append((key, value.encode()))
    return out


def collect(kind: str, name: str, literals=(), files=(), env_files=()) -> list[tuple[str, bytes]]:
    """Every (key, bytes) pair the flags name, in order; a key given twice is an error."""
    if env_files and (files or literals):
        raise ValueError("from-env-file cannot be combined with from-file or from-literal")
    pairs = [p for s in files for p in _files(s, kind)] + [_literal(s) for s in literals] + \
            [p for s in env_files for p in _env_file(s)]
    seen: set[str] = set()
    for key, _ in pairs:
        _valid_key(key, kind)
        if key in seen:
            raise ValueError(f'cannot add key "{key}", another key by that name already exists in Data for '
                             f'{kind} "{name}"')
        seen.add(key)
    return pairs


def config_map(name: str, namespace: str, pairs: list[tuple[str, bytes]]) -> core_pb2.ConfigMap:
    cm = core_pb2.ConfigMap(apiVersion="v1", kind="ConfigMap")
    cm.metadata.name = name
    if namespace:
        cm.metadata.namespace = namespace
    for key, value in pairs:
        try:
            cm.data[key] = value.decode("utf-8")
        except UnicodeDecodeError:
            cm.binaryData[key] = value
    return cm


def secret(name: str, namespace: str, pairs: list[tuple[str, bytes]], type_: str = "") -> core_pb2.Secret:
    s = core_pb2.Secret(apiVersion="v1", kind="Secret", type=type_)
    s.metadata.name = name
    if namespace:
        s.metadata.namespace = namespace
    for key, value in pairs:
        s.data[key] = value
    return s
