"""Conversion between protobuf objects and their Kubernetes JSON form (plain dicts).

Strict on the way in, as the real API server is: an unknown field, a wrong type or an out-of-range
number is an error naming its field path (`spec.template.spec.containers[0].imagePull`), and every such
error in a document is reported, not just the first. On the way out, fields left at their zero value are
omitted (Kubernetes' omitempty) and int-or-string values print as ints or strings. Bytes fields (a
Secret's `data`, a ConfigMap's `binaryData`) are base64 strings both ways, as Go's []byte in JSON.
"""
from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from google.protobuf.descriptor import FieldDescriptor as FD

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INT_TYPES = {FD.TYPE_INT32: _INT32, FD.TYPE_SINT32: _INT32, FD.TYPE_SFIXED32: _INT32,
              FD.TYPE_INT64: _INT64, FD.TYPE_SINT64: _INT64, FD.TYPE_SFIXED64: _INT64,
              FD.TYPE_UINT32: (0, 2**32 - 1), FD.TYPE_UINT64: (0, 2**64 - 1)}
_VALUE = "google.protobuf.Value"

# Quantity-valued fields: YAML may write them as numbers (`cpu: 1`), which Kubernetes accepts.
_QUANTITY_MAPS = {"limits", "requests", "capacity", "allocatable", "overhead", "hard", "used",
                  "allocatedResources"}
_QUANTITY_FIELDS = {"minik8s.api.EmptyDirVolumeSource.sizeLimit", "minik8s.api.MetricTarget.value",
                    "minik8s.api.MetricTarget.averageValue", "minik8s.api.MetricValueStatus.value",
                    "minik8s.api.MetricValueStatus.averageValue", "minik8s.api.ResourceFieldSelector.divisor",
                    "minik8s.api.HPAScalingRules.tolerance"}


class FieldError(ValueError):
    """One or more field errors; `errors` is a list of (field path, message)."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in errors))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _type_name(v: Any) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(v), type(v).__name__)


# ---------------------------------------------------------------- decoding
def from_dict(cls, data: Any, path: str = ""):
    """Build a `cls` message from Kubernetes JSON; raise FieldError listing every bad field."""
    errors: list[tuple[str, str]] = []
    msg = cls()
    if not isinstance(data, dict):
        raise FieldError([(path, f"expected object, got {_type_name(data)}")])
    _fill(msg, data, path, errors)
    if errors:
        raise FieldError(errors)
    return msg


# ---------------------------------------------------------------- field plans
# What each field is, worked out once per field from its descriptor rather than on every value.
_MAP, _MESSAGE_MAP, _REPEATED, _REPEATED_MESSAGE, _VALUE_FIELD, _MESSAGE, _BYTES, _STRING, _SCALAR = range(9)
_KINDS: dict = {}


def _kind(field) -> int:
    kind = _KINDS.get(field)
    if kind is None:
        mt = field.message_type
        if mt is not None and mt.GetOptions().map_entry:
            kind = _MESSAGE_MAP if mt.fields_by_name["value"].message_type else _MAP
        elif field.is_repeated:
            kind = _REPEATED_MESSAGE if mt is not None else _REPEATED
        elif mt is not None:
            kind = _VALUE_FIELD if mt.full_name == _VALUE else _MESSAGE
        else:
            kind = {FD.TYPE_BYTES: _BYTES, FD.TYPE_STRING: _STRING}.get(field.type, _SCALAR)
        _KINDS[field] = kind
    return kind


def _fill(msg, data: dict, path: str, errors: list) -> None:
    fields = msg.DESCRIPTOR.fields_by_name
    for key, value in data.items():
        fpath = f"{path}.{key}" if path else str(key)
        field = fields.get(key) if isinstance(key, str) else None
        if field is None:
            errors.append((fpath, "unknown field"))
            continue
        if value is None:
            continue
        kind = _KINDS.get(field)
        if kind is None:
            kind = _kind(field)
        if kind == _STRING and type(value) is str:
            setattr(msg, key, value)        # the common case, which _scalar would accept as it is
        elif kind == _MAP or kind == _MESSAGE_MAP:
            _fill_map(msg, field, value, fpath, errors)
        elif kind == _REPEATED or kind == _REPEATED_MESSAGE:
            if not isinstance(value, list):
                errors.append((fpath, f"expected array, got {_type_name(value)}"))
                continue
            target = getattr(msg, key)
            for i, item in enumerate(value):
                ipath = f"{fpath}[{i}]"
                if field.message_type is not None:
                    if not isinstance(item, dict):
                        errors.append((ipath, f"expected object, got {_type_name(item)}"))
                        continue
                    _fill(target.add(), item, ipath, errors)
                else:
                    ok, conv = _scalar(field, item, ipath, errors)
                    if ok:
                        target.append(conv)
        elif kind == _VALUE_FIELD:
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                errors.append((fpath, f"expected integer or string, got {_type_name(value)}"))
            elif isinstance(value, str):
                getattr(msg, key).string_value = value
            else:
                getattr(msg, key).number_value = value
        elif kind == _MESSAGE:
            if not isinstance(value, dict):
                errors.append((fpath, f"expected object, got {_type_name(value)}"))
                continue
            sub = getattr(msg, key)
            sub.SetInParent()
            _fill(sub, value, fpath, errors)
        else:
            ok, conv = _scalar(field, value, fpath, errors)
            if ok:
                setattr(msg, key, conv)


def _fill_map(msg, field, value, fpath: str, errors: list) -> None:
    if not isinstance(value, dict):
        errors.append((fpath, f"expected object, got {_type_name(value)}"))
        return
    vfield = field.message_type.fields_by_name["value"]
    quantity = field.name in _QUANTITY_MAPS
    target = getattr(msg, field.name)
    for k, v in value.items():
        if not isinstance(k, str):
            k = str(k)
        # a bytes map holds file payloads keyed by file name: named `data[key]`, as upstream does
        kpath = f"{fpath}[{k}]" if ("." in k or "/" in k or vfield.type == FD.TYPE_BYTES) \
            else _join(fpath, k)
        if v is None:
            continue
        if quantity and isinstance(v, (int, float)) and not isinstance(v, bool):
            v = _number_to_quantity(v)
        ok, conv = _scalar(vfield, v, kpath, errors)
        if ok:
            target[k] = conv


_BASE64_CHARS = re.compile(r"[^A-Za-z0-9+/=]")


def decode_base64(text: str) -> bytes:
    """Go's base64.StdEncoding.DecodeString: padded standard alphabet, newlines skipped; a bad input is
    "illegal base64 data at input byte N"."""
    text = text.replace("\r", "").replace("\n", "")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        bad = _BASE64_CHARS.search(text)
        pad = text.find("=")
        if bad is not None:
            at = bad.start()
        elif 0 <= pad < len(text) - 2 or (pad >= 0 and text[pad:] not in ("=", "==")):
            at = pad
        else:
            at = len(text) - len(text) % 4
        raise ValueError(f"illegal base64 data at input byte {at}") from None


def _number_to_quantity(v: int | float) -> str:
    return str(v) if isinstance(v, int) or not v.is_integer() else str(int(v))


def _scalar(field, value, path: str, errors: list) -> tuple[bool, Any]:
    t = field.type
    if t == FD.TYPE_STRING:
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and field.full_name in _QUANTITY_FIELDS:
            return True, _number_to_quantity(value)
        if not isinstance(value, str):
            errors.append((path, f"expected string, got {_type_name(value)}"))
            return False, None
        return True, value
    if t == FD.TYPE_BOOL:
        if not isinstance(value, bool):
            errors.append((path, f"expected boolean, got {_type_name(value)}"))
            return False, None
        return True, value
    if t in _INT_TYPES:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append((path, f"expected integer, got {_type_name(value)}"))
            return False, None
        lo, hi = _INT_TYPES[t]
        if not lo <= value <= hi:
            errors.append((path, f"integer {value} out of range"))
            return False, None
        return True, value
    if t == FD.TYPE_BYTES:
        if not isinstance(value, str):
            errors.append((path, f"expected string, got {_type_name(value)}"))
            return False, None
        try:
            return True, decode_base64(value)
        except ValueError as e:
            errors.append((path, str(e)))
            return False, None
    if t in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.append((path, f"expected number, got {_type_name(value)}"))
            return False, None
        return True, float(value)
    errors.append((path, "unsupported field type"))
    return False, None


# ---------------------------------------------------------------- encoding
def to_dict(msg) -> dict:
    """The Kubernetes JSON form of a message (zero values omitted, as omitempty does)."""
    out: dict[str, Any] = {}
    for field, value in msg.ListFields():
        kind = _KINDS.get(field)
        if kind is None:
            kind = _kind(field)
        if kind == _STRING or kind == _SCALAR:
            out[field.name] = value
        elif kind == _MESSAGE:
            out[field.name] = to_dict(value)
        elif kind == _REPEATED_MESSAGE:
            out[field.name] = [to_dict(v) for v in value]
        elif kind == _MAP:
            out[field.name] = {k: _scalar_out(v) for k, v in value.items()}
        elif kind == _MESSAGE_MAP:
            out[field.name] = {k: to_dict(v) for k, v in value.items()}
        elif kind == _REPEATED:
            out[field.name] = [_scalar_out(v) for v in value]
        elif kind == _VALUE_FIELD:
            out[field.name] = _value_to_py(value)
        else:
            out[field.name] = _scalar_out(value)
    return out


def _scalar_out(value) -> Any:
    return base64.b64encode(value).decode() if isinstance(value, bytes) else value


def _value_to_py(v) -> Any:
    which = v.WhichOneof("kind")
    if which == "number_value":
        n = v.number_value
        return int(n) if n.is_integer() else n
    if which == "string_value":
        return v.string_value
    return None


def int_or_string(v) -> int | str | None:
    """Read an int-or-string field (google.protobuf.Value) as Python."""
    return _value_to_py(v)
