"""The helpers every kind's validation shares, worded as the real API server words its errors.

Owns the error list (`_Errors`: (field path, message) pairs with field.ErrorType's constructors), Go-style
value printing (`format_value`, as %#v prints), field paths (`[i]` for list items; `.key` or `[key]` for
map keys, as the codec writes them), names, labels, annotations, finalizers and ObjectMeta, label
selectors, quantities and resource lists, ports, IPs and CIDRs, paths and int-or-percent values: what
upstream keeps in apimachinery's validation and the shared parts of pkg/apis/core/validation.
"""
from __future__ import annotations

from collections.abc import Mapping
import functools
import ipaddress
import re

from minik8s.api.quantity import parse_quantity, Quantity, QuantityError
from minik8s.api.selectors import (from_label_selector_obj, validate_dns1123_label,
                                   validate_dns1123_subdomain, validate_label_key, validate_label_value)


Errors = list[tuple[str, str]]
_INT32_MAX = 2**31 - 1
_TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


class _Raw(str):
    """A value printed verbatim (already in Go %#v form)."""


def _quote(s: str) -> str:
    """Go strconv.Quote."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x80 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "\v": "\\v"}


LONGEST_ECHOED_VALUE = 1024


def format_value(v) -> str:
    """A value as upstream's field errors print it (Go %#v for maps and slices, %q for strings)."""
    if isinstance(v, _Raw):
        return str(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, str):
        if len(v) > LONGEST_ECHOED_VALUE:
            # an error names the field and the limit; echoing a huge value back would only bloat
            # the answer past what a client's headers hold
            return f"{_quote(v[:32])[:-1]}...\" ({len(v)} characters)"
        return _quote(v)
    if isinstance(v, Quantity):
        return _quote(str(v))
    if isinstance(v, Mapping):
        if not v:
            return "map[string]string(nil)"
        return "map[string]string{" + ", ".join(
            f"{_quote(k)}:{_quote(v[k])}" for k in sorted(v)) + "}"
    if isinstance(v, (list, tuple)) or hasattr(v, "__len__") and hasattr(v, "__iter__"):
        items = list(v)
        typ = "[]int32" if items and all(isinstance(i, int) for i in items) else "[]string"
        if not items:
            return f"{typ}(nil)"
        return typ + "{" + ", ".join(format_value(i) for i in items) + "}"
    return str(v)


def _with_detail(head: str, detail: str) -> str:
    return f"{head}: {detail}" if detail else head


class _Errors(list):
    """A field.ErrorList: (path, message) pairs with upstream's constructors."""

    def required(self, path: str, detail: str = "") -> None:
        self.append((path, _with_detail("Required value", detail)))

    def invalid(self, path: str, value, detail: str = "") -> None:
        self.append((path, _with_detail(f"Invalid value: {format_value(value)}", detail)))

    def not_supported(self, path: str, value, supported) -> None:
        detail = ("supported values: " + ", ".join(_quote(str(s)) for s in supported)) if supported else ""
        self.append((path, _with_detail(f"Unsupported value: {format_value(value)}", detail)))

    def duplicate(self, path: str, value, detail: str = "") -> None:
        self.append((path, _with_detail(f"Duplicate value: {format_value(value)}", detail)))

    def forbidden(self, path: str, detail: str) -> None:
        self.append((path, _with_detail("Forbidden", detail)))

    def not_found(self, path: str, value, detail: str = "") -> None:
        self.append((path, _with_detail(f"Not found: {format_value(value)}", detail)))

    def too_long(self, path: str, limit: int) -> None:
        self.append((path, f"Too long: may not be more than {limit} bytes"))

    def too_many(self, path: str, actual: int, limit: int) -> None:
        self.append((path, f"Too many: {actual}: must have at most {limit} items"))

    def nonnegative(self, path: str, value: int) -> None:
        """apimachinery ValidateNonnegativeField."""
        if value < 0:
            self.invalid(path, value, "must be greater than or equal to 0")

    def immutable(self, path: str, new, old, shown=None) -> None:
        """apimachinery ValidateImmutableField."""
        if new != old:
            self.invalid(path, new if shown is None else shown, "field is immutable")


def _c(path: str, *names: str) -> str:
    return ".".join((path, *names)) if path else ".".join(names)


def _ix(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _key(path: str, key: str) -> str:
    """A map key in a path, as the codec writes it: `limits.cpu`, `limits[nvidia.com/gpu]`."""
    return f"{path}[{key}]" if ("." in key or "/" in key) else _c(path, key)


def _fmt_selector(sel) -> _Raw:
    """A *metav1.LabelSelector as %#v prints it (nil when unset)."""
    if sel is None:
        return _Raw("null")
    exprs = "[]v1.LabelSelectorRequirement(nil)"
    if len(sel.matchExpressions):
        exprs = "[]v1.LabelSelectorRequirement{" + ", ".join(
            f"v1.LabelSelectorRequirement{{Key:{_quote(e.key)}, Operator:{_quote(e.operator)}, "
            f"Values:{format_value(list(e.values))}}}" for e in sel.matchExpressions) + "}"
    return _Raw(f"v1.LabelSelector{{MatchLabels:{format_value(dict(sel.matchLabels))}, "
                f"MatchExpressions:{exprs}}}")


def _int_or_string(v):
    """A google.protobuf.Value int-or-string as Python: int, str, or 0 when unset (Go's zero)."""
    kind = v.WhichOneof("kind")
    if kind == "string_value":
        return v.string_value
    if kind == "number_value":
        n = v.number_value
        return int(n) if float(n).is_integer() else n
    return 0


def _opt(msg, name: str):
    return getattr(msg, name) if msg.HasField(name) else None


def _mask_trailing_dash(name: str) -> str:
    # apimachinery maskTrailingDash (it really drops two characters).
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def _name_subdomain(name: str, prefix: bool = False) -> list[str]:
    return validate_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def _name_dns_label(name: str, prefix: bool = False) -> list[str]:
    return validate_dns1123_label(_mask_trailing_dash(name) if prefix else name)


_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_RE = re.compile(_DNS1035_FMT)
_DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
                "with an alphabetic character, and end with an alphanumeric character")


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _name_dns1035(name: str, prefix: bool = False) -> list[str]:
    if prefix:
        name = _mask_trailing_dash(name)
    errs = []
    if len(name) > 63:
        errs.append("must be no more than 63 characters")
    if not _DNS1035_RE.fullmatch(name):
        errs.append(_regex_error(_DNS1035_MSG, _DNS1035_FMT, "my-name", "abc-123"))
    return errs


def _dns_label(errs: _Errors, path: str, value: str) -> None:
    for msg in validate_dns1123_label(value):
        errs.invalid(path, value, msg)


def _dns_subdomain(errs: _Errors, path: str, value: str) -> None:
    for msg in validate_dns1123_subdomain(value):
        errs.invalid(path, value, msg)


# The longest string whose check is remembered: past a valid qualified name (253 + "/" + 63), so
# every valid key and value fits, and a huge invalid one cannot fill the memory with copies of itself.
_REMEMBERED_LENGTH = 320


@functools.lru_cache(maxsize=8192)
def _remembered_label_key_msgs(key: str) -> tuple[str, ...]:
    return tuple(validate_label_key(key))


@functools.lru_cache(maxsize=8192)
def _remembered_label_value_msgs(value: str) -> tuple[str, ...]:
    return tuple(validate_label_value(value))


def _label_key_msgs(key: str):
    """validate_label_key, remembered for the few thousand keys a cluster uses all day (label and
    annotation keys, resource names, topology keys)."""
    return _remembered_label_key_msgs(key) if len(key) <= _REMEMBERED_LENGTH else validate_label_key(key)


def _label_value_msgs(value: str):
    """validate_label_value, remembered as _label_key_msgs is."""
    return _remembered_label_value_msgs(value) if len(value) <= _REMEMBERED_LENGTH else validate_label_value(value)


def _qualified_name(errs: _Errors, path: str, value: str) -> None:
    for msg in _label_key_msgs(value):
        errs.invalid(path, value, msg)


def _labels(errs: _Errors, path: str, labels) -> None:
    """meta/v1 ValidateLabels: errors are reported on the map's path, keyed by value."""
    if not labels:
        return
    for k in sorted(labels):
        v = labels[k]
        for msg in _label_key_msgs(k):
            errs.invalid(path, k, msg)
        for msg in _label_value_msgs(v):
            errs.invalid(path, v, msg)


def _annotations(errs: _Errors, path: str, annotations) -> None:
    if not annotations:
        return
    total = 0
    for k in sorted(annotations):
        v = annotations[k]
        for msg in _label_key_msgs(k.lower()):
            errs.invalid(path, k, msg)
        total += (len(k) if k.isascii() else len(k.encode())) + (len(v) if v.isascii() else len(v.encode()))
    if total > _TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.too_long(path, _TOTAL_ANNOTATION_SIZE_LIMIT)


_STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}


def _finalizer_name(errs: _Errors, path: str, value: str, index_path: str) -> None:
    _qualified_name(errs, path, value)
    if "/" not in value and value not in _STANDARD_FINALIZERS:
        errs.invalid(index_path, value, "name is neither a standard finalizer name nor is it fully qualified")


def _object_meta(errs: _Errors, meta, name_fn=_name_subdomain, path: str = "metadata") -> None:
    """apimachinery ValidateObjectMeta, less the namespace checks (the server makes those).

    The name may still be empty when generateName is set: the server generates it afterwards."""
    if meta.generateName:
        for msg in name_fn(meta.generateName, True):
            errs.invalid(_c(path, "generateName"), meta.generateName, msg)
    if not meta.name:
        if not meta.generateName:
            errs.required(_c(path, "name"), "name or generateName is required")
    else:
        for msg in name_fn(meta.name, False):
            errs.invalid(_c(path, "name"), meta.name, msg)
    if meta.generation < 0:
        errs.nonnegative(_c(path, "generation"), meta.generation)
    if meta.labels:
        _labels(errs, _c(path, "labels"), meta.labels)
    if meta.annotations:
        _annotations(errs, _c(path, "annotations"), meta.annotations)
    if meta.ownerReferences:
        _owner_references(errs, meta.ownerReferences, _c(path, "ownerReferences"))
    if meta.finalizers:
        _finalizers(errs, meta.finalizers, _c(path, "finalizers"))


def _owner_references(errs: _Errors, refs, refs_path: str) -> None:
    controller = ""
    for ref in refs:
        if "/" in ref.apiVersion:
            version = ref.apiVersion.split("/", 1)[1]
        else:
            version = ref.apiVersion
        if not version:
            errs.invalid(_c(refs_path, "apiVersion"), ref.apiVersion, "version must not be empty")
        if not ref.kind:
            errs.invalid(_c(refs_path, "kind"), ref.kind, "must not be empty")
        if not ref.name:
            errs.invalid(_c(refs_path, "name"), ref.name, "must not be empty")
        if not ref.uid:
            errs.invalid(_c(refs_path, "uid"), ref.uid, "must not be empty")
        if ref.HasField("controller") and ref.controller:
            current = f"{ref.kind}/{ref.name}"
            if controller:
                errs.invalid(refs_path, _Raw("[]v1.OwnerReference{...}"),
                             "Only one reference can have Controller set to true. Found \"true\" in "
                             f"references for {controller} and {current}")
            else:
                controller = current


def _finalizers(errs: _Errors, finalizers, fin_path: str) -> None:
    for i, f in enumerate(finalizers):
        _finalizer_name(errs, fin_path, f, _ix(fin_path, i))
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.invalid(fin_path, list(finalizers),
                     "finalizer orphan and foregroundDeletion cannot be both set")


def _label_selector(errs: _Errors, path: str, sel) -> None:
    """meta/v1 ValidateLabelSelector (values strictly checked)."""
    if sel is None:
        return
    _labels(errs, _c(path, "matchLabels"), sel.matchLabels)
    for i, expr in enumerate(sel.matchExpressions):
        p = _ix(_c(path, "matchExpressions"), i)
        if expr.operator in ("In", "NotIn"):
            if not expr.values:
                errs.required(_c(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'")
        elif expr.operator in ("Exists", "DoesNotExist"):
            if expr.values:
                errs.forbidden(_c(p, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
        else:
            errs.invalid(_c(p, "operator"), expr.operator, "not a valid selector operator")
        for msg in validate_label_key(expr.key):
            errs.invalid(_c(p, "key"), expr.key, msg)
        for j, value in enumerate(expr.values):
            for msg in validate_label_value(value):
                errs.invalid(_ix(_c(p, "values"), j), value, msg)


def _as_selector(sel):
    """LabelSelectorAsSelector: None for an unset selector selects nothing; raises SelectorError."""
    return from_label_selector_obj(sel)


def _quantity(errs: _Errors, path: str, text: str) -> Quantity | None:
    try:
        return parse_quantity(text)
    except QuantityError as e:
        errs.invalid(path, text, str(e))
        return None


_ZERO = Quantity(0)
_STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
_STANDARD_RESOURCES = _STANDARD_CONTAINER_RESOURCES | {
    "requests.cpu", "requests.memory", "requests.ephemeral-storage", "limits.cpu", "limits.memory",
    "limits.ephemeral-storage", "pods", "services", "replicationcontrollers", "resourcequotas",
    "secrets", "persistentvolumeclaims", "configmaps", "storage", "requests.storage",
    "services.nodeports", "services.loadbalancers"}
_HUGEPAGES_PREFIX = "hugepages-"


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_hugepages(name: str) -> bool:
    return name.startswith(_HUGEPAGES_PREFIX)


def _is_extended(name: str) -> bool:
    if _is_native(name) or name.startswith("requests."):
        return False
    return not _label_key_msgs("requests." + name)


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not _is_hugepages(name)


def _container_resource_name(errs: _Errors, path: str, name: str) -> None:
    """validateContainerResourceName (through validateResourceName)."""
    msgs = _label_key_msgs(name)
    for msg in msgs:
        errs.invalid(path, name, msg)
    if not msgs and "/" not in name and name not in _STANDARD_RESOURCES and not _is_hugepages(name):
        errs.invalid(path, name, "must be a standard resource type or fully qualified")
    if "/" not in name:
        if name not in _STANDARD_CONTAINER_RESOURCES and not _is_hugepages(name):
            errs.invalid(path, name, "must be a standard resource for containers")
    elif not _is_native(name) and not _is_extended(name):
        errs.invalid(path, name, "doesn't follow extended resource name standard")


def _resource_quantity_value(errs: _Errors, path: str, name: str, q: Quantity) -> None:
    """ValidateResourceQuantityValue: non-negative, whole for integer (extended) resources."""
    if q < _ZERO:
        errs.invalid(path, str(q), "must be greater than or equal to 0")
    if _is_extended(name):
        try:
            whole = q.milli_value() % 1000 == 0
        except QuantityError:                          # beyond int64: not a count of devices either
            whole = False
        if not whole:
            errs.invalid(path, str(q), "must be an integer")


def _resource_entry(errs: _Errors, path: str, name: str, text: str) -> Quantity | None:
    """One entry of a container's limits or requests: its name, its quantity and the quantity's value."""
    _container_resource_name(errs, path, name)
    q = _quantity(errs, path, text)
    if q is not None:
        _resource_quantity_value(errs, path, name, q)
    return q


@functools.lru_cache(maxsize=4096)
def _remembered_resource_entry(name: str, text: str) -> Quantity | None:
    """The entry's quantity when nothing is wrong with it (whatever its path), else None."""
    found = _Errors()
    q = _resource_entry(found, "", name, text)
    return None if found else q


def _checked_resource_entry(errs: _Errors, path: str, key: str, name: str, text: str) -> Quantity | None:
    """_resource_entry at `path`.`key`; a sound entry a cluster has seen before costs one lookup."""
    if len(name) + len(text) <= _REMEMBERED_LENGTH:
        q = _remembered_resource_entry(name, text)
        if q is not None:
            return q
    return _resource_entry(errs, _key(_c(path, key), name), name, text)


def _resource_requirements(errs: _Errors, path: str, res) -> None:
    """validateResourceRequirements for a container: names, quantities, requests vs limits."""
    limits: dict[str, Quantity] = {}
    has_cpu_mem, has_hugepages = False, False
    res_limits, res_requests = res.limits, res.requests
    for name in sorted(res_limits):
        q = _checked_resource_entry(errs, path, "limits", name, res_limits[name])
        if q is not None:
            limits[name] = q
        has_cpu_mem |= name in ("cpu", "memory")
        has_hugepages |= _is_hugepages(name)
    for name in sorted(res_requests):
        q = _checked_resource_entry(errs, path, "requests", name, res_requests[name])
        if name in res_limits:
            lim = limits.get(name)
            if q is not None and lim is not None:
                if q != lim and not _overcommit_allowed(name):
                    errs.invalid(_c(path, "requests"), str(q), f"must be equal to {name} limit of {lim}")
                elif q > lim:
                    errs.invalid(_c(path, "requests"), str(q), f"must be less than or equal to {name} limit of {lim}")
        elif not _overcommit_allowed(name):
            errs.required(_c(path, "limits"), "Limit must be set for non overcommitable resources")
        has_cpu_mem |= name in ("cpu", "memory")
        has_hugepages |= _is_hugepages(name)
    if has_hugepages and not has_cpu_mem:
        errs.forbidden(path, "HugePages require cpu or memory")
    names = set()
    for i, claim in enumerate(res.claims):
        if not claim.name:
            errs.required(_ix(_c(path, "claims"), i))
        elif claim.name in names:
            errs.duplicate(_ix(_c(path, "claims"), i), claim.name)
        names.add(claim.name)


def _resource_list(errs: _Errors, path: str, resources) -> None:
    """Quantities of a node's capacity/allocatable or a pod's overhead."""
    for name in sorted(resources):
        p = _key(path, name)
        q = _quantity(errs, p, resources[name])
        if q is not None:
            _resource_quantity_value(errs, p, name, q)


def _port_num_msgs(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else ["must be between 1 and 65535, inclusive"]


_PORT_NAME_CHARS_RE = re.compile(r"[-a-z0-9]+")
_PORT_NAME_LETTER_RE = re.compile(r"[a-z]")


def _port_name_msgs(name: str) -> list[str]:
    """IsValidPortName (IANA_SVC_NAME)."""
    errs = []
    if len(name) > 15:
        errs.append("must be no more than 15 characters")
    if not _PORT_NAME_CHARS_RE.fullmatch(name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER_RE.search(name):
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def _port_num_or_name(errs: _Errors, path: str, port) -> None:
    if isinstance(port, str):
        for msg in _port_name_msgs(port):
            errs.invalid(path, port, msg)
    else:
        for msg in _port_num_msgs(int(port)):
            errs.invalid(path, port, msg)


def _parse_ip(value: str):
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _valid_ip(errs: _Errors, path: str, value: str) -> bool:
    if _parse_ip(value) is None:
        errs.invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")
        return False
    return True


def _non_special_ip(errs: _Errors, path: str, value: str) -> None:
    ip = _parse_ip(value)
    if ip is None:
        errs.invalid(path, value, "must be a valid IP address")
        return
    if ip.is_unspecified:
        errs.invalid(path, value, f"may not be unspecified ({value})")
    if ip.is_loopback:
        errs.invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)")
    if ip.is_link_local and not ip.is_multicast:
        errs.invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")
    if ip.is_multicast and (ip in ipaddress.ip_network("224.0.0.0/24") if ip.version == 4
                            else ip in ipaddress.ip_network("ff02::/16")):
        errs.invalid(path, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")


def _valid_cidr(errs: _Errors, path: str, value: str) -> None:
    try:
        ipaddress.ip_network(value, strict=False)
        if "/" not in value:
            raise ValueError
    except ValueError:
        errs.invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")


def _path_segment_msgs(name: str) -> list[str]:
    """apimachinery path.IsValidPathSegmentName."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _int_or_percent(errs: _Errors, path: str, value) -> None:
    """ValidatePositiveIntOrPercent plus IsNotMoreThan100Percent."""
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]+%", value):
            errs.invalid(path, value, _regex_error(
                "a valid percent string must be a numeric string followed by an ending '%'",
                "[0-9]+%", "1%", "93%"))
        elif int(value[:-1]) > 100:
            errs.invalid(path, value, "must not be greater than 100%")
    else:
        errs.nonnegative(path, int(value))


def _int_or_percent_value(value) -> int:
    if isinstance(value, str):
        return int(value[:-1]) if re.fullmatch(r"[0-9]+%", value) else 0
    return int(value)


def _local_descending_path(errs: _Errors, path: str, target: str) -> None:
    if target.startswith("/"):
        errs.invalid(path, target, "must be a relative path")
    _no_backsteps(errs, path, target)


def _no_backsteps(errs: _Errors, path: str, target: str) -> None:
    if ".." in target.split("/"):
        errs.invalid(path, target, "must not contain '..'")


def _local_non_reserved_path(errs: _Errors, path: str, target: str) -> None:
    _local_descending_path(errs, path, target)
    if target.startswith("..") and not target.startswith("../"):
        errs.invalid(path, target, "must not start with '..'")


_PROTOCOLS = ("SCTP", "TCP", "UDP")


def _enum(errs: _Errors, path: str, value: str, supported) -> None:
    """The switch upstream writes for enums: Required when empty, NotSupported when unknown."""
    if not value:
        errs.required(path)
    elif value not in supported:
        errs.not_supported(path, value, supported)
