"""Validation: every field error in an API object, worded as the real API server words it.

This module owns the semantic checks upstream keeps in pkg/apis/{core,apps,batch,autoscaling,policy,
coordination}/validation and in apimachinery's ObjectMeta/label-selector validation, for the kinds
minik8s serves. `validate(obj, old=None)` returns every error as a (field path, message) pair --
("spec.replicas", "Invalid value: -1: must be greater than or equal to 0") -- never just the first.
Paths use the Kubernetes JSON names, `[i]` for list items, and for map keys the rule the codec uses:
`.key` for a plain key, `[key]` for one holding '.' or '/'. Messages follow field.ErrorType: "Required
value", "Invalid value: <v>: <detail>", "Unsupported value: ...", "Duplicate value: ...",
"Forbidden: ...", "Not found: ...", with values printed the way Go's %#v prints them.

It expects an object that has been through defaults.apply_defaults, exactly as upstream validates
after defaulting: fields defaulting always fills (restartPolicy, imagePullPolicy, port protocols, ...)
are "Required" when empty. A Job may come with or without its uid and generated selector
(defaults.default_job_selector); without, it is checked as the selector generation will leave it.
With `old`, the update rules apply too: immutable selectors, the narrow set of mutable pod fields, a
Service's clusterIP, a Job's template. Checks the server owns are not made here: metadata
namespace presence, and the immutability of name/namespace/uid/creationTimestamp/resourceVersion.

Organisation, top to bottom: `validate` and its dispatch table; small shared helpers (the error list
and Go-style value printing, paths, names and labels, ObjectMeta, quantities and resources, ports and
IPs); the pod spec validators (volumes, containers, probes, scheduling); then one `validate_<kind>`
per kind, each with its update rules next to it.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from minik8s.api.defaults import default_job_selector
from minik8s.api.quantity import Quantity, QuantityError, parse_quantity
from minik8s.api.selectors import (SelectorError, from_label_selector_obj, validate_dns1123_label,
                                   validate_dns1123_subdomain, validate_label_key,
                                   validate_label_value)

__all__ = [
    "validate", "validate_pod", "validate_replica_set", "validate_deployment", "validate_job",
    "validate_service", "validate_endpoints", "validate_node", "validate_namespace",
    "validate_persistent_volume_claim", "validate_event", "validate_horizontal_pod_autoscaler",
    "validate_pod_disruption_budget", "validate_lease", "validate_pod_spec", "format_value",
]

Errors = list[tuple[str, str]]

_INT32_MAX = 2**31 - 1
_TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
_NODE_PORT_RANGE = (30000, 32767)


def validate(obj, old=None) -> Errors:
    """All field errors of `obj` (an API message of any served kind); with `old`, as an update.

    A kind without rules (or a non-API object) has no errors."""
    fn = _BY_KIND.get(type(obj).__name__)
    if fn is None:
        return []
    return list(fn(obj, old))


# ==================================================================== errors and value printing
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


# ---------------------------------------------------------------- paths
def _c(path: str, *names: str) -> str:
    return ".".join((path, *names)) if path else ".".join(names)


def _ix(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _key(path: str, key: str) -> str:
    """A map key in a path, as the codec writes it: `limits.cpu`, `limits[nvidia.com/gpu]`."""
    return f"{path}[{key}]" if ("." in key or "/" in key) else _c(path, key)


# ---------------------------------------------------------------- Go struct renderings
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


# ==================================================================== names, labels, metadata
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


def _qualified_name(errs: _Errors, path: str, value: str) -> None:
    for msg in validate_label_key(value):
        errs.invalid(path, value, msg)


def _labels(errs: _Errors, path: str, labels) -> None:
    """meta/v1 ValidateLabels: errors are reported on the map's path, keyed by value."""
    for k in sorted(labels):
        for msg in validate_label_key(k):
            errs.invalid(path, k, msg)
        for msg in validate_label_value(labels[k]):
            errs.invalid(path, labels[k], msg)


def _annotations(errs: _Errors, path: str, annotations) -> None:
    total = 0
    for k in sorted(annotations):
        for msg in validate_label_key(k.lower()):
            errs.invalid(path, k, msg)
        total += len(k.encode()) + len(annotations[k].encode())
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
    errs.nonnegative(_c(path, "generation"), meta.generation)
    _labels(errs, _c(path, "labels"), meta.labels)
    _annotations(errs, _c(path, "annotations"), meta.annotations)
    refs_path = _c(path, "ownerReferences")
    controller = ""
    for ref in meta.ownerReferences:
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
    fin_path = _c(path, "finalizers")
    for i, f in enumerate(meta.finalizers):
        _finalizer_name(errs, fin_path, f, _ix(fin_path, i))
    if "orphan" in meta.finalizers and "foregroundDeletion" in meta.finalizers:
        errs.invalid(fin_path, list(meta.finalizers),
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


# ==================================================================== quantities and resources
def _quantity(errs: _Errors, path: str, text: str) -> Quantity | None:
    try:
        return parse_quantity(text)
    except QuantityError as e:
        errs.invalid(path, text, str(e))
        return None


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
    return not validate_label_key("requests." + name)


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not _is_hugepages(name)


def _container_resource_name(errs: _Errors, path: str, name: str) -> None:
    """validateContainerResourceName (through validateResourceName)."""
    msgs = validate_label_key(name)
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
    if q < Quantity(0):
        errs.invalid(path, str(q), "must be greater than or equal to 0")
    if _is_extended(name):
        try:
            whole = q.milli_value() % 1000 == 0
        except QuantityError:                          # beyond int64: not a count of devices either
            whole = False
        if not whole:
            errs.invalid(path, str(q), "must be an integer")


def _resource_requirements(errs: _Errors, path: str, res) -> None:
    """validateResourceRequirements for a container: names, quantities, requests vs limits."""
    lim_path, req_path = _c(path, "limits"), _c(path, "requests")
    limits: dict[str, Quantity] = {}
    has_cpu_mem, has_hugepages = False, False
    for name in sorted(res.limits):
        p = _key(lim_path, name)
        _container_resource_name(errs, p, name)
        q = _quantity(errs, p, res.limits[name])
        if q is not None:
            _resource_quantity_value(errs, p, name, q)
            limits[name] = q
        has_cpu_mem |= name in ("cpu", "memory")
        has_hugepages |= _is_hugepages(name)
    for name in sorted(res.requests):
        p = _key(req_path, name)
        _container_resource_name(errs, p, name)
        q = _quantity(errs, p, res.requests[name])
        if q is not None:
            _resource_quantity_value(errs, p, name, q)
        if name in res.limits:
            lim = limits.get(name)
            if q is not None and lim is not None:
                if q != lim and not _overcommit_allowed(name):
                    errs.invalid(req_path, str(q), f"must be equal to {name} limit of {lim}")
                elif q > lim:
                    errs.invalid(req_path, str(q), f"must be less than or equal to {name} limit of {lim}")
        elif not _overcommit_allowed(name):
            errs.required(lim_path, "Limit must be set for non overcommitable resources")
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


# ==================================================================== ports, IPs, misc formats
def _port_num_msgs(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else ["must be between 1 and 65535, inclusive"]


def _port_name_msgs(name: str) -> list[str]:
    """IsValidPortName (IANA_SVC_NAME)."""
    errs = []
    if len(name) > 15:
        errs.append("must be no more than 15 characters")
    if not re.fullmatch(r"[-a-z0-9]+", name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", name):
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


# ==================================================================== pod spec
_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")          # sorted, as sets.List prints them
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File",
                    "FileOrCreate", "Socket")
_ENV_FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                    "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP",
                    "status.podIPs")
_VOLUME_FIELD_PATHS = ("metadata.annotations", "metadata.labels", "metadata.name",
                       "metadata.namespace", "metadata.uid")
_DOWNWARD_API_LABELS = {"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
                        "metadata.uid", "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName",
                        "spec.schedulerName", "status.phase", "status.hostIP", "status.hostIPs",
                        "status.podIP", "status.podIPs"}
_RESOURCE_FIELD_PATHS = ("limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu",
                         "requests.ephemeral-storage", "requests.memory")
_ENV_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_ENV_NAME_MSG = ("a valid environment variable name must consist of alphabetic characters, digits, "
                 "'_', '-', or '.', and must not start with a digit")
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_TOLERATION_OPERATORS = ("Equal", "Exists")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_FILE_MODE_MSG = "must be a number between 0 and 0777 (octal), both inclusive"
_VOLUME_SOURCES = ("emptyDir", "hostPath", "secret", "persistentVolumeClaim", "downwardAPI", "configMap")


def _chdir_prefix_msgs(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def _env_name_msgs(name: str) -> list[str]:
    msgs = []
    if not re.fullmatch(_ENV_NAME_FMT, name):
        msgs.append(_regex_error(_ENV_NAME_MSG, _ENV_NAME_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1"))
    return msgs + _chdir_prefix_msgs(name)


def _config_key_msgs(key: str) -> list[str]:
    msgs = []
    if len(key) > 253:
        msgs.append("must be no more than 253 characters")
    if not re.fullmatch(_CONFIG_KEY_FMT, key):
        msgs.append(_regex_error(_CONFIG_KEY_MSG, _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    return msgs + _chdir_prefix_msgs(key)


def validate_pod_spec(spec, path: str = "spec", *, is_pod: bool = False) -> Errors:
    """ValidatePodSpec: everything in a pod spec (a Pod's, or a template's with is_pod=False)."""
    errs = _Errors()
    _pod_spec(errs, spec, path, is_pod)
    return errs


def _pod_spec(errs: _Errors, spec, path: str, is_pod: bool) -> None:
    grace = _opt(spec, "terminationGracePeriodSeconds")
    if grace is None:
        errs.required(_c(path, "terminationGracePeriodSeconds"))
    else:
        errs.nonnegative(_c(path, "terminationGracePeriodSeconds"), grace)
    volumes = _volumes(errs, spec.volumes, _c(path, "volumes"))
    _containers(errs, spec, volumes, grace, _c(path, "containers"))
    _init_containers(errs, spec, volumes, grace, _c(path, "initContainers"))
    if spec.hostNetwork:
        for i, c in enumerate(spec.containers):
            for j, port in enumerate(c.ports):
                if (is_pod or port.hostPort != 0) and port.hostPort != port.containerPort:
                    errs.invalid(f"{path}.containers[{i}].ports[{j}].hostPort", port.hostPort,
                                 "must match `containerPort` when `hostNetwork` is true")
    _enum(errs, _c(path, "restartPolicy"), spec.restartPolicy, _RESTART_POLICIES)
    _enum(errs, _c(path, "dnsPolicy"), spec.dnsPolicy, _DNS_POLICIES)
    _labels(errs, _c(path, "nodeSelector"), spec.nodeSelector)
    _pod_security_context(errs, spec, _c(path, "securityContext"))
    if spec.HasField("affinity"):
        _affinity(errs, spec.affinity, _c(path, "affinity"))
    _dns_config(errs, spec, _c(path, "dnsConfig"))
    for i, gate in enumerate(spec.readinessGates):
        _qualified_name(errs, _c(_ix(_c(path, "readinessGates"), i), "conditionType"), gate.conditionType)
    _topology_spread(errs, spec.topologySpreadConstraints, _c(path, "topologySpreadConstraints"))
    if spec.serviceAccountName:
        for msg in _name_subdomain(spec.serviceAccountName):
            errs.invalid(_c(path, "serviceAccountName"), spec.serviceAccountName, msg)
    if spec.nodeName:
        for msg in _name_subdomain(spec.nodeName):
            errs.invalid(_c(path, "nodeName"), spec.nodeName, msg)
    deadline = _opt(spec, "activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= _INT32_MAX:
        errs.invalid(_c(path, "activeDeadlineSeconds"), deadline,
                     f"must be between 1 and {_INT32_MAX}, inclusive")
    if spec.hostname:
        _dns_label(errs, _c(path, "hostname"), spec.hostname)
    if spec.subdomain:
        _dns_label(errs, _c(path, "subdomain"), spec.subdomain)
    _tolerations(errs, spec.tolerations, _c(path, "tolerations"))
    for i, alias in enumerate(spec.hostAliases):
        p = _ix(_c(path, "hostAliases"), i)
        _valid_ip(errs, _c(p, "ip"), alias.ip)
        for j, hostname in enumerate(alias.hostnames):
            _dns_subdomain(errs, _ix(_c(p, "hostnames"), j), hostname)
    if spec.priorityClassName:
        for msg in _name_subdomain(spec.priorityClassName):
            errs.invalid(_c(path, "priorityClassName"), spec.priorityClassName, msg)
    if spec.HasField("runtimeClassName"):
        for msg in _name_subdomain(spec.runtimeClassName):
            errs.invalid(_c(path, "runtimeClassName"), spec.runtimeClassName, msg)
    if spec.HasField("preemptionPolicy"):
        _enum(errs, _c(path, "preemptionPolicy"), spec.preemptionPolicy, ("PreemptLowerPriority", "Never"))
    _resource_list(errs, _c(path, "overhead"), spec.overhead)
    if is_pod:
        for field_name in ("containers", "initContainers"):
            for i, c in enumerate(getattr(spec, field_name)):
                if c.image != c.image.strip():
                    errs.invalid(_c(_ix(_c(path, field_name), i), "image"), c.image,
                                 "must not have leading or trailing whitespace")


def _enum(errs: _Errors, path: str, value: str, supported) -> None:
    """The switch upstream writes for enums: Required when empty, NotSupported when unknown."""
    if not value:
        errs.required(path)
    elif value not in supported:
        errs.not_supported(path, value, supported)


# ---------------------------------------------------------------- volumes
def _volumes(errs: _Errors, volumes, path: str) -> dict:
    names: dict = {}
    for i, vol in enumerate(volumes):
        p = _ix(path, i)
        el = _Errors()
        _volume_source(el, vol, p)
        if not vol.name:
            el.required(_c(p, "name"))
        else:
            _dns_label(el, _c(p, "name"), vol.name)
        if vol.name in names:
            el.duplicate(_c(p, "name"), vol.name)
        if not el:
            names[vol.name] = vol
        errs.extend(el)
    return names


def _volume_source(errs: _Errors, vol, path: str) -> None:
    count = 0
    for source in _VOLUME_SOURCES:
        if not vol.HasField(source):
            continue
        if count:
            errs.forbidden(_c(path, source), "may not specify more than 1 volume type")
            continue
        count += 1
        sp = _c(path, source)
        src = getattr(vol, source)
        if source == "emptyDir":
            if src.sizeLimit:
                q = _quantity(errs, _c(sp, "sizeLimit"), src.sizeLimit)
                if q is not None and q < Quantity(0):
                    errs.forbidden(_c(sp, "sizeLimit"), "SizeLimit field must be a valid resource quantity")
        elif source == "hostPath":
            if not src.path:
                errs.required(_c(sp, "path"))
            else:
                _no_backsteps(errs, _c(sp, "path"), src.path)
                if src.HasField("type") and src.type not in _HOST_PATH_TYPES:
                    errs.not_supported(_c(sp, "type"), src.type, _HOST_PATH_TYPES)
        elif source == "secret":
            if not src.secretName:
                errs.required(_c(sp, "secretName"))
            _file_mode(errs, _c(sp, "defaultMode"), _opt(src, "defaultMode"))
            _key_to_paths(errs, src.items, _c(sp, "items"))
        elif source == "configMap":
            if not src.name:
                errs.required(_c(sp, "name"))
            _file_mode(errs, _c(sp, "defaultMode"), _opt(src, "defaultMode"))
            _key_to_paths(errs, src.items, _c(sp, "items"))
        elif source == "persistentVolumeClaim":
            if not src.claimName:
                errs.required(_c(sp, "claimName"))
        elif source == "downwardAPI":
            _file_mode(errs, _c(sp, "defaultMode"), _opt(src, "defaultMode"))
            for item in src.items:
                _downward_api_file(errs, item, sp)
    if not count:
        errs.required(path, "must specify a volume type")


def _file_mode(errs: _Errors, path: str, mode) -> None:
    if mode is not None and not 0 <= mode <= 0o777:
        errs.invalid(path, mode, _FILE_MODE_MSG)


def _key_to_paths(errs: _Errors, items, path: str) -> None:
    for i, kp in enumerate(items):
        p = _ix(path, i)
        if not kp.key:
            errs.required(_c(p, "key"))
        if not kp.path:
            errs.required(_c(p, "path"))
        _local_non_reserved_path(errs, _c(p, "path"), kp.path)
        _file_mode(errs, _c(p, "mode"), _opt(kp, "mode"))


def _downward_api_file(errs: _Errors, item, path: str) -> None:
    # Upstream reports these on the downwardAPI source's path, not the item's.
    if not item.path:
        errs.required(_c(path, "path"))
    _local_non_reserved_path(errs, _c(path, "path"), item.path)
    if item.HasField("fieldRef"):
        _object_field_selector(errs, item.fieldRef, _VOLUME_FIELD_PATHS, _c(path, "fieldRef"))
        if item.HasField("resourceFieldRef"):
            errs.invalid(path, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously")
    elif item.HasField("resourceFieldRef"):
        _resource_field_selector(errs, item.resourceFieldRef, _c(path, "resourceFieldRef"), volume=True)
    else:
        errs.required(path, "one of fieldRef and resourceFieldRef is required")
    _file_mode(errs, _c(path, "mode"), _opt(item, "mode"))


def _split_subscript(field_path: str):
    """fieldpath.SplitMaybeSubscriptedPath: "metadata.labels['app']" -> ("metadata.labels", "app")."""
    if not field_path.endswith("']"):
        return None
    head, sep, sub = field_path[:-2].partition("['")
    if not sep or not head:
        return None
    return head, sub


def _object_field_selector(errs: _Errors, ref, expressions, path: str) -> None:
    if not ref.apiVersion:
        errs.required(_c(path, "apiVersion"))
        return
    if not ref.fieldPath:
        errs.required(_c(path, "fieldPath"))
        return
    fp = ref.fieldPath
    split = _split_subscript(fp)
    if ref.apiVersion != "v1":
        conv_err = f"unsupported pod version: {ref.apiVersion}"
    elif split is not None and split[0] not in ("metadata.annotations", "metadata.labels"):
        conv_err = f"field label does not support subscript: {fp}"
    elif split is None and fp not in _DOWNWARD_API_LABELS and fp != "spec.host":
        conv_err = f"field label not supported: {fp}"
    else:
        conv_err = ""
    if conv_err:
        errs.invalid(_c(path, "fieldPath"), fp, f"error converting fieldPath: {conv_err}")
        return
    if fp == "spec.host":
        fp = "spec.nodeName"
    if split is not None:
        head, sub = split
        _qualified_name(errs, path, sub.lower() if head == "metadata.annotations" else sub)
    elif fp not in expressions:
        errs.not_supported(_c(path, "fieldPath"), fp, sorted(expressions))


def _resource_field_selector(errs: _Errors, ref, path: str, volume: bool) -> None:
    if volume and not ref.containerName:
        errs.required(_c(path, "containerName"))
    elif not ref.resource:
        errs.required(_c(path, "resource"))
    elif ref.resource not in _RESOURCE_FIELD_PATHS and not ref.resource.startswith(
            ("requests.hugepages-", "limits.hugepages-")):
        errs.not_supported(_c(path, "resource"), ref.resource, _RESOURCE_FIELD_PATHS)
    if ref.divisor:
        q = _quantity(errs, _c(path, "divisor"), ref.divisor)
        if q is None or q == Quantity(0):
            return
        d = str(q)
        memory_like = ("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei")
        if ref.resource in ("limits.cpu", "requests.cpu") and d not in ("1m", "1"):
            errs.invalid(_c(path, "divisor"), ref.resource,
                         "only divisor's values 1m and 1 are supported with the cpu resource")
        elif ref.resource in ("limits.memory", "requests.memory") and d not in memory_like:
            errs.invalid(_c(path, "divisor"), ref.resource, "only divisor's values 1, 1k, 1M, 1G, 1T, "
                         "1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource")
        elif ref.resource in ("limits.ephemeral-storage", "requests.ephemeral-storage") \
                and d not in memory_like:
            errs.invalid(_c(path, "divisor"), ref.resource, "only divisor's values 1, 1k, 1M, 1G, 1T, "
                         "1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral "
                         "storage resource")


# ---------------------------------------------------------------- containers
def _containers(errs: _Errors, spec, volumes: dict, grace, path: str) -> None:
    if not spec.containers:
        errs.required(path)
        return
    names: set = set()
    for i, c in enumerate(spec.containers):
        p = _ix(path, i)
        _container_common(errs, c, volumes, p, spec.restartPolicy)
        if c.name in names:
            errs.duplicate(_c(p, "name"), c.name)
        else:
            names.add(c.name)
        if c.HasField("lifecycle"):
            _lifecycle(errs, c.lifecycle, grace, _c(p, "lifecycle"))
        _probes(errs, c, grace, p)
        if c.HasField("restartPolicy"):
            errs.forbidden(_c(p, "restartPolicy"), "may not be set for non-init containers")
    _host_port_conflicts(errs, list(spec.containers), path, start=0)


def _init_containers(errs: _Errors, spec, volumes: dict, grace, path: str) -> None:
    names = {c.name for c in spec.containers}
    for i, c in enumerate(spec.initContainers):
        p = _ix(path, i)
        _container_common(errs, c, volumes, p, spec.restartPolicy)
        restart_always = False
        if c.HasField("restartPolicy"):
            if c.restartPolicy != "Always":
                errs.not_supported(_c(p, "restartPolicy"), c.restartPolicy, ["Always"])
            restart_always = c.restartPolicy == "Always"
        if c.name in names:
            errs.duplicate(_c(p, "name"), c.name)
        elif c.name:
            names.add(c.name)
        _host_port_conflicts(errs, [c], path, start=i)
        if restart_always:
            if c.HasField("lifecycle"):
                _lifecycle(errs, c.lifecycle, grace, _c(p, "lifecycle"))
            _probes(errs, c, grace, p)
        else:
            for name in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if c.HasField(name):
                    errs.forbidden(_c(p, name), "may not be set for init containers without restartPolicy=Always")
        if c.resizePolicy:
            errs.invalid(_c(p, "resizePolicy"), _Raw("[]core.ContainerResizePolicy{...}"),
                         "must not be set for init containers")


def _host_port_conflicts(errs: _Errors, containers, path: str, start: int) -> None:
    seen = set()
    for ci, c in enumerate(containers, start):
        for pi, port in enumerate(c.ports):
            if port.hostPort == 0:
                continue
            key = f"{port.protocol}/{port.hostIP}/{port.hostPort}"
            if key in seen:
                errs.duplicate(f"{_ix(path, ci)}.ports[{pi}].hostPort", key)
            seen.add(key)


def _container_common(errs: _Errors, c, volumes: dict, path: str, pod_restart_policy: str) -> None:
    if not c.name:
        errs.required(_c(path, "name"))
    else:
        _dns_label(errs, _c(path, "name"), c.name)
    if not c.image:
        errs.required(_c(path, "image"))
    _enum(errs, _c(path, "terminationMessagePolicy"), c.terminationMessagePolicy,
          _TERMINATION_MESSAGE_POLICIES)
    _container_ports(errs, c.ports, _c(path, "ports"))
    _env(errs, c.env, _c(path, "env"))
    _env_from(errs, c.envFrom, _c(path, "envFrom"))
    _volume_mounts(errs, c, volumes, _c(path, "volumeMounts"))
    _enum(errs, _c(path, "imagePullPolicy"), c.imagePullPolicy, _PULL_POLICIES)
    if c.HasField("resources"):
        _resource_requirements(errs, _c(path, "resources"), c.resources)
    _resize_policy(errs, c.resizePolicy, _c(path, "resizePolicy"), pod_restart_policy)
    if c.HasField("securityContext"):
        _security_context(errs, c.securityContext, _c(path, "securityContext"))


def _container_ports(errs: _Errors, ports, path: str) -> None:
    names: set = set()
    for i, port in enumerate(ports):
        p = _ix(path, i)
        if port.name:
            msgs = _port_name_msgs(port.name)
            for msg in msgs:
                errs.invalid(_c(p, "name"), port.name, msg)
            if not msgs:
                if port.name in names:
                    errs.duplicate(_c(p, "name"), port.name)
                else:
                    names.add(port.name)
        if port.containerPort == 0:
            errs.required(_c(p, "containerPort"))
        else:
            for msg in _port_num_msgs(port.containerPort):
                errs.invalid(_c(p, "containerPort"), port.containerPort, msg)
        if port.hostPort != 0:
            for msg in _port_num_msgs(port.hostPort):
                errs.invalid(_c(p, "hostPort"), port.hostPort, msg)
        _enum(errs, _c(p, "protocol"), port.protocol, _PROTOCOLS)


def _env(errs: _Errors, env, path: str) -> None:
    for i, ev in enumerate(env):
        p = _ix(path, i)
        if not ev.name:
            errs.required(_c(p, "name"))
        else:
            for msg in _env_name_msgs(ev.name):
                errs.invalid(_c(p, "name"), ev.name, msg)
        if not ev.HasField("valueFrom"):
            continue
        vp = _c(p, "valueFrom")
        src = ev.valueFrom
        count = 0
        if src.HasField("fieldRef"):
            count += 1
            _object_field_selector(errs, src.fieldRef, _ENV_FIELD_PATHS, _c(vp, "fieldRef"))
        if src.HasField("resourceFieldRef"):
            count += 1
            _resource_field_selector(errs, src.resourceFieldRef, _c(vp, "resourceFieldRef"), volume=False)
        for name in ("configMapKeyRef", "secretKeyRef"):
            if src.HasField(name):
                count += 1
                ref = getattr(src, name)
                for msg in _name_subdomain(ref.name):
                    errs.invalid(_c(vp, name, "name"), ref.name, msg)
                if not ref.key:
                    errs.required(_c(vp, name, "key"))
                else:
                    for msg in _config_key_msgs(ref.key):
                        errs.invalid(_c(vp, name, "key"), ref.key, msg)
        if count == 0:
            errs.invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` "
                         "or `secretKeyRef`")
        elif ev.value:
            errs.invalid(vp, "", "may not be specified when `value` is not empty")
        elif count > 1:
            errs.invalid(vp, "", "may not have more than one field specified at a time")


def _env_from(errs: _Errors, env_from, path: str) -> None:
    for i, ev in enumerate(env_from):
        p = _ix(path, i)
        if ev.prefix:
            for msg in _env_name_msgs(ev.prefix):
                errs.invalid(_c(p, "prefix"), ev.prefix, msg)
        count = 0
        for name in ("configMapRef", "secretRef"):
            if ev.HasField(name):
                count += 1
                ref = getattr(ev, name)
                if not ref.name:
                    errs.required(_c(p, name, "name"))
                else:
                    for msg in _name_subdomain(ref.name, True):
                        errs.invalid(_c(p, name, "name"), ref.name, msg)
        if count == 0:
            errs.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`")
        elif count > 1:
            errs.invalid(path, "", "may not have more than one field specified at a time")


def _volume_mounts(errs: _Errors, c, volumes: dict, path: str) -> None:
    mount_points: set = set()
    for i, m in enumerate(c.volumeMounts):
        p = _ix(path, i)
        if not m.name:
            errs.required(_c(p, "name"))
        if m.name not in volumes:
            errs.not_found(_c(p, "name"), m.name)
        if not m.mountPath:
            errs.required(_c(p, "mountPath"))
        if m.mountPath in mount_points:
            errs.invalid(_c(p, "mountPath"), m.mountPath, "must be unique")
        mount_points.add(m.mountPath)
        if m.subPath:
            _local_descending_path(errs, _c(p, "subPath"), m.subPath)
        if m.subPathExpr:
            if m.subPath:
                errs.invalid(_c(p, "subPathExpr"), m.subPathExpr, "subPathExpr and subPath are mutually exclusive")
            _local_descending_path(errs, _c(p, "subPathExpr"), m.subPathExpr)
        if m.mountPropagation:
            supported = ("Bidirectional", "HostToContainer", "None")
            if m.mountPropagation not in supported:
                errs.not_supported(_c(p, "mountPropagation"), m.mountPropagation, supported)
            privileged = c.HasField("securityContext") and c.securityContext.HasField("privileged") \
                and c.securityContext.privileged
            if m.mountPropagation == "Bidirectional" and not privileged:
                errs.forbidden(_c(p, "mountPropagation"),
                               "Bidirectional mount propagation is available only to privileged containers")


def _resize_policy(errs: _Errors, policies, path: str, pod_restart_policy: str) -> None:
    seen = set()
    for i, pol in enumerate(policies):
        if pol.resourceName in seen:
            errs.duplicate(_ix(path, i), pol.resourceName)
        seen.add(pol.resourceName)
        if not pol.resourceName:
            errs.required(path)
        elif pol.resourceName not in ("cpu", "memory"):
            errs.not_supported(path, pol.resourceName, ["cpu", "memory"])
        if not pol.restartPolicy:
            errs.required(path)
        elif pol.restartPolicy not in ("NotRequired", "RestartContainer"):
            errs.not_supported(path, pol.restartPolicy, ["NotRequired", "RestartContainer"])
        if pod_restart_policy == "Never" and pol.restartPolicy != "NotRequired":
            errs.invalid(path, pol.restartPolicy, "must be 'NotRequired' when `restartPolicy` is 'Never'")


def _security_context(errs: _Errors, sc, path: str) -> None:
    for name in ("runAsUser", "runAsGroup"):
        v = _opt(sc, name)
        if v is not None and not 0 <= v <= 0xFFFFFFFF:
            errs.invalid(_c(path, name), v, "must be between 0 and 4294967295, inclusive")
    if sc.HasField("allowPrivilegeEscalation") and not sc.allowPrivilegeEscalation:
        if sc.HasField("privileged") and sc.privileged:
            errs.invalid(path, _Raw("&core.SecurityContext{...}"),
                         "cannot set `allowPrivilegeEscalation` to false and `privileged` to true")
        if sc.HasField("capabilities") and "CAP_SYS_ADMIN" in sc.capabilities.add:
            errs.invalid(path, _Raw("&core.SecurityContext{...}"),
                         "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN")


def _pod_security_context(errs: _Errors, spec, path: str) -> None:
    if not spec.HasField("securityContext"):
        return
    sc = spec.securityContext
    for name in ("runAsUser", "runAsGroup", "fsGroup"):
        v = _opt(sc, name)
        if v is not None and not 0 <= v <= 0xFFFFFFFF:
            errs.invalid(_c(path, name), v, "must be between 0 and 4294967295, inclusive")
    for i, gid in enumerate(sc.supplementalGroups):
        if not 0 <= gid <= 0xFFFFFFFF:
            errs.invalid(_ix(_c(path, "supplementalGroups"), i), gid, "must be between 0 and 4294967295, inclusive")


# ---------------------------------------------------------------- probes and handlers
def _probes(errs: _Errors, c, grace, path: str) -> None:
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        if not c.HasField(name):
            continue
        probe, p = getattr(c, name), _c(path, name)
        _handler(errs, probe, ("exec", "httpGet", "tcpSocket", "grpc"), grace, p)
        for f in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                  "failureThreshold"):
            errs.nonnegative(_c(p, f), getattr(probe, f))
        tgps = _opt(probe, "terminationGracePeriodSeconds")
        if tgps is not None and tgps <= 0:
            errs.invalid(_c(p, "terminationGracePeriodSeconds"), tgps, "must be greater than 0")
        if name == "readinessProbe":
            if tgps is not None:
                errs.invalid(_c(p, "terminationGracePeriodSeconds"), tgps, "must not be set for readinessProbes")
        elif probe.successThreshold != 1:
            errs.invalid(_c(p, "successThreshold"), probe.successThreshold, "must be 1")


def _lifecycle(errs: _Errors, lifecycle, grace, path: str) -> None:
    for name in ("postStart", "preStop"):
        if lifecycle.HasField(name):
            _handler(errs, getattr(lifecycle, name), ("exec", "httpGet", "tcpSocket", "sleep"), grace,
                     _c(path, name))


def _handler(errs: _Errors, handler, kinds, grace, path: str) -> None:
    count = 0
    for kind in kinds:
        if not handler.HasField(kind):
            continue
        p = _c(path, kind)
        if count:
            errs.forbidden(p, "may not specify more than 1 handler type")
            continue
        count += 1
        action = getattr(handler, kind)
        if kind == "exec":
            if not action.command:
                errs.required(_c(p, "command"))
        elif kind == "httpGet":
            if not action.path:
                errs.required(_c(p, "path"))
            _port_num_or_name(errs, _c(p, "port"), _int_or_string(action.port))
            if action.scheme not in ("HTTP", "HTTPS"):
                errs.not_supported(_c(p, "scheme"), action.scheme, ("HTTP", "HTTPS"))
            for header in action.httpHeaders:
                if not re.fullmatch(r"[-A-Za-z0-9]+", header.name):
                    errs.invalid(_c(p, "httpHeaders"), header.name, _regex_error(
                        "a valid HTTP header must consist of alphanumeric characters or '-'",
                        "[-A-Za-z0-9]+", "X-Header-Name"))
        elif kind == "tcpSocket":
            _port_num_or_name(errs, _c(p, "port"), _int_or_string(action.port))
        elif kind == "grpc":
            _port_num_or_name(errs, _c(p, "port"), action.port)
        elif kind == "sleep":
            if grace is not None and not 0 <= action.seconds <= grace:
                errs.invalid(p, action.seconds,
                             f"must be non-negative and less than terminationGracePeriodSeconds ({grace})")
    if not count:
        errs.required(path, "must specify a handler type")


# ---------------------------------------------------------------- scheduling
def _tolerations(errs: _Errors, tolerations, path: str) -> None:
    for i, t in enumerate(tolerations):
        p = _ix(path, i)
        if t.key:
            _qualified_name(errs, _c(p, "key"), t.key)
        if not t.key and t.operator != "Exists":
            errs.invalid(_c(p, "operator"), t.operator,
                         "operator must be Exists when `key` is empty, which means \"match all values and all keys\"")
        if t.HasField("tolerationSeconds") and t.effect != "NoExecute":
            errs.invalid(_c(p, "effect"), t.effect, "effect must be 'NoExecute' when `tolerationSeconds` is set")
        if t.operator in ("Equal", ""):
            msgs = validate_label_value(t.value)
            if msgs:
                errs.invalid(_c(p, "operator"), t.value, ";".join(msgs))
        elif t.operator == "Exists":
            if t.value:
                errs.invalid(_c(p, "operator"), t.value, "value must be empty when `operator` is 'Exists'")
        else:
            errs.not_supported(_c(p, "operator"), t.operator, _TOLERATION_OPERATORS)
        if t.effect and t.effect not in _TAINT_EFFECTS:
            errs.not_supported(_c(p, "effect"), t.effect, _TAINT_EFFECTS)


def _node_selector_requirement(errs: _Errors, req, path: str, check_values: bool) -> None:
    op = req.operator
    if op in ("In", "NotIn"):
        if not req.values:
            errs.required(_c(path, "values"), "must be specified when `operator` is 'In' or 'NotIn'")
    elif op in ("Exists", "DoesNotExist"):
        if req.values:
            errs.forbidden(_c(path, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
    elif op in ("Gt", "Lt"):
        if len(req.values) != 1:
            errs.required(_c(path, "values"), "must be specified single value when `operator` is 'Lt' or 'Gt'")
    else:
        errs.invalid(_c(path, "operator"), op, "not a valid selector operator")
    _qualified_name(errs, _c(path, "key"), req.key)
    if check_values:
        for j, value in enumerate(req.values):
            for msg in validate_label_value(value):
                errs.invalid(_ix(_c(path, "values"), j), value, msg)


def _node_selector_term(errs: _Errors, term, path: str, check_values: bool) -> None:
    for j, req in enumerate(term.matchExpressions):
        _node_selector_requirement(errs, req, _ix(_c(path, "matchExpressions"), j), check_values)
    for j, req in enumerate(term.matchFields):
        p = _ix(_c(path, "matchFields"), j)
        if req.operator in ("In", "NotIn"):
            if len(req.values) != 1:
                errs.required(_c(p, "values"),
                              "must be only one value when `operator` is 'In' or 'NotIn' for node field selector")
        else:
            errs.invalid(_c(p, "operator"), req.operator, "not a valid selector operator")
        if req.key != "metadata.name":
            errs.invalid(_c(p, "key"), req.key, "not a valid field selector key")
        else:
            for k, v in enumerate(req.values):
                for msg in _name_subdomain(v):
                    errs.invalid(_ix(_c(p, "values"), k), v, msg)


def _affinity(errs: _Errors, affinity, path: str) -> None:
    if affinity.HasField("nodeAffinity"):
        na, p = affinity.nodeAffinity, _c(path, "nodeAffinity")
        if na.HasField("requiredDuringSchedulingIgnoredDuringExecution"):
            rp = _c(p, "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
            terms = na.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms
            if not terms:
                errs.required(rp, "must have at least one node selector term")
            for i, term in enumerate(terms):
                _node_selector_term(errs, term, _ix(rp, i), check_values=True)
        for i, pref in enumerate(na.preferredDuringSchedulingIgnoredDuringExecution):
            pp = _ix(_c(p, "preferredDuringSchedulingIgnoredDuringExecution"), i)
            if not 1 <= pref.weight <= 100:
                errs.invalid(_c(pp, "weight"), pref.weight, "must be in the range 1-100")
            _node_selector_term(errs, pref.preference, _c(pp, "preference"), check_values=False)
    for name in ("podAffinity", "podAntiAffinity"):
        if not affinity.HasField(name):
            continue
        pa, p = getattr(affinity, name), _c(path, name)
        for i, term in enumerate(pa.requiredDuringSchedulingIgnoredDuringExecution):
            _pod_affinity_term(errs, term, _ix(_c(p, "requiredDuringSchedulingIgnoredDuringExecution"), i))
        for i, wt in enumerate(pa.preferredDuringSchedulingIgnoredDuringExecution):
            wp = _ix(_c(p, "preferredDuringSchedulingIgnoredDuringExecution"), i)
            if not 1 <= wt.weight <= 100:
                errs.invalid(_c(wp, "weight"), wt.weight, "must be in the range 1-100")
            _pod_affinity_term(errs, wt.podAffinityTerm, _c(wp, "podAffinityTerm"))


def _pod_affinity_term(errs: _Errors, term, path: str) -> None:
    if term.HasField("labelSelector"):
        _label_selector(errs, _c(path, "labelSelector"), term.labelSelector)
    if term.HasField("namespaceSelector"):
        _label_selector(errs, _c(path, "namespaceSelector"), term.namespaceSelector)
    for ns in term.namespaces:
        for msg in _name_dns_label(ns):
            errs.invalid(_c(path, "namespace"), ns, msg)
    for name in ("matchLabelKeys", "mismatchLabelKeys"):
        keys = getattr(term, name)
        if keys and not term.HasField("labelSelector"):
            errs.forbidden(_c(path, name), "must not be specified when labelSelector is not set")
        else:
            for i, k in enumerate(keys):
                _qualified_name(errs, _ix(_c(path, name), i), k)
    if not term.topologyKey:
        errs.required(_c(path, "topologyKey"), "can not be empty")
    _qualified_name(errs, _c(path, "topologyKey"), term.topologyKey)


def _topology_spread(errs: _Errors, constraints, path: str) -> None:
    for i, tsc in enumerate(constraints):
        p = _ix(path, i)
        if tsc.maxSkew <= 0:
            errs.invalid(_c(p, "maxSkew"), tsc.maxSkew, "must be greater than zero")
        if not tsc.topologyKey:
            errs.required(_c(p, "topologyKey"), "can not be empty")
        else:
            _qualified_name(errs, _c(p, "topologyKey"), tsc.topologyKey)
        if tsc.whenUnsatisfiable not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.not_supported(_c(p, "whenUnsatisfiable"), tsc.whenUnsatisfiable,
                               ("DoNotSchedule", "ScheduleAnyway"))
        for other in constraints[i + 1:]:
            if (other.topologyKey, other.whenUnsatisfiable) == (tsc.topologyKey, tsc.whenUnsatisfiable):
                errs.duplicate(_c(p, "{topologyKey, whenUnsatisfiable}"),
                               _Raw(f"{{{tsc.topologyKey}, {tsc.whenUnsatisfiable}}}"))
                break
        min_domains = _opt(tsc, "minDomains")
        if min_domains is not None:
            if min_domains <= 0:
                errs.invalid(_c(p, "minDomains"), min_domains, "must be greater than 0")
            elif tsc.whenUnsatisfiable != "DoNotSchedule":
                errs.invalid(_c(p, "minDomains"), min_domains, "can only use minDomains if "
                             f"whenUnsatisfiable=DoNotSchedule, not {tsc.whenUnsatisfiable}")
        if tsc.HasField("labelSelector"):
            _label_selector(errs, _c(p, "labelSelector"), tsc.labelSelector)


def _dns_config(errs: _Errors, spec, path: str) -> None:
    if spec.dnsPolicy == "None":
        if not spec.HasField("dnsConfig"):
            errs.required(path, "must provide `dnsConfig` when `dnsPolicy` is None")
            return
        if not spec.dnsConfig.nameservers:
            errs.required(_c(path, "nameservers"),
                          "must provide at least one DNS nameserver when `dnsPolicy` is None")
            return
    if not spec.HasField("dnsConfig"):
        return
    cfg = spec.dnsConfig
    if len(cfg.nameservers) > 3:
        errs.invalid(_c(path, "nameservers"), list(cfg.nameservers), "must not have more than 3 nameservers")
    for i, ns in enumerate(cfg.nameservers):
        _valid_ip(errs, _ix(_c(path, "nameservers"), i), ns)
    if len(cfg.searches) > 32:
        errs.invalid(_c(path, "searches"), list(cfg.searches), "must not have more than 32 search paths")
    for i, search in enumerate(cfg.searches):
        if search != ".":
            _dns_subdomain(errs, _ix(_c(path, "searches"), i), search.removesuffix("."))
    for i, opt in enumerate(cfg.options):
        if not opt.name:
            errs.required(_ix(_c(path, "options"), i), "must not be empty")


# ---------------------------------------------------------------- pod templates
def _pod_template(errs: _Errors, template, path: str) -> None:
    """ValidatePodTemplateSpec."""
    _labels(errs, _c(path, "metadata", "labels"), template.metadata.labels)
    _annotations(errs, _c(path, "metadata", "annotations"), template.metadata.annotations)
    _pod_spec(errs, template.spec, _c(path, "spec"), is_pod=False)


def _selector_matches_template(errs: _Errors, selector, template, path: str) -> bool:
    """Reports a selector that does not select the template's labels; False if it cannot be parsed."""
    try:
        sel = _as_selector(selector)
    except SelectorError:
        errs.invalid(_c(path, "selector"), _fmt_selector(selector), "invalid label selector")
        return False
    if not sel.empty and not sel.matches(dict(template.metadata.labels)):
        errs.invalid(_c(path, "template", "metadata", "labels"), dict(template.metadata.labels),
                     "`selector` does not match template `labels`")
    return True


# ==================================================================== kinds: core/v1
def validate_pod(pod, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, pod.metadata)
    if pod.metadata.annotations.get("kubernetes.io/config.mirror") is not None and not pod.spec.nodeName:
        errs.invalid(_key("metadata.annotations", "kubernetes.io/config.mirror"),
                     pod.metadata.annotations["kubernetes.io/config.mirror"],
                     "must set spec.nodeName if mirror pod annotation is set")
    _pod_spec(errs, pod.spec, "spec", is_pod=True)
    if old is not None:
        _pod_update(errs, pod, old)
    return errs


_UPDATABLE_POD_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)


def _pod_update(errs: _Errors, pod, old) -> None:
    new_spec, old_spec = pod.spec, old.spec
    for name in ("containers", "initContainers"):
        new_c, old_c = getattr(new_spec, name), getattr(old_spec, name)
        if len(new_c) != len(old_c):
            errs.forbidden(_c("spec", name), "pod updates may not add or remove containers")
            return
        for i, c in enumerate(new_c):
            if not c.image:
                errs.required(_c(_ix(_c("spec", name), i), "image"))
            if c.image != c.image.strip():
                errs.invalid(_c(_ix(_c("spec", name), i), "image"), c.image,
                             "must not have leading or trailing whitespace")
    new_deadline, old_deadline = _opt(new_spec, "activeDeadlineSeconds"), _opt(old_spec, "activeDeadlineSeconds")
    if new_deadline is not None:
        if not 0 <= new_deadline <= _INT32_MAX:
            errs.invalid("spec.activeDeadlineSeconds", new_deadline, f"must be between 0 and {_INT32_MAX}, inclusive")
            return
        if old_deadline is not None and old_deadline < new_deadline:
            errs.invalid("spec.activeDeadlineSeconds", new_deadline, "must be less than or equal to previous value")
            return
    elif old_deadline is not None:
        errs.invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value")
    # Tolerations may only be added (an existing one may change only its tolerationSeconds).
    for old_t in old_spec.tolerations:
        if not any(_same_toleration(old_t, t) for t in new_spec.tolerations):
            errs.forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds")
            break
    if new_spec == old_spec:
        return
    munged = type(new_spec)()
    munged.CopyFrom(new_spec)
    for name in ("containers", "initContainers"):
        for c, o in zip(getattr(munged, name), getattr(old_spec, name)):
            c.image = o.image
    if old_deadline is None:
        munged.ClearField("activeDeadlineSeconds")
    else:
        munged.activeDeadlineSeconds = old_deadline
    del munged.tolerations[:]
    munged.tolerations.extend(old_spec.tolerations)
    old_grace = _opt(old_spec, "terminationGracePeriodSeconds")
    if old_grace is not None and old_grace < 0 and _opt(munged, "terminationGracePeriodSeconds") == 1:
        munged.terminationGracePeriodSeconds = old_grace
    if munged != old_spec:
        errs.forbidden("spec", "pod updates may not change fields other than " + ",".join(_UPDATABLE_POD_FIELDS))


def _same_toleration(old_t, new_t) -> bool:
    a, b = type(old_t)(), type(new_t)()
    a.CopyFrom(old_t)
    b.CopyFrom(new_t)
    a.ClearField("tolerationSeconds")
    b.ClearField("tolerationSeconds")
    return a == b


def _service_cluster_ips(spec) -> list[str]:
    """ClusterIPs as the registry normalises them: clusterIPs, or [clusterIP] when only that is set."""
    if spec.clusterIPs:
        return list(spec.clusterIPs)
    return [spec.clusterIP] if spec.clusterIP else []


def _is_headless(spec) -> bool:
    return _service_cluster_ips(spec) == ["None"]


_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")


def validate_service(svc, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, svc.metadata, _name_dns1035)
    spec = svc.spec
    headless = _is_headless(spec)
    ips = _service_cluster_ips(spec)
    if not spec.ports and not headless and spec.type != "ExternalName":
        errs.required("spec.ports")
    if spec.type == "LoadBalancer" and headless:
        errs.invalid("spec.clusterIPs[0]", ips[0], "may not be set to 'None' for LoadBalancer services")
    elif spec.type == "NodePort" and headless:
        errs.invalid("spec.clusterIPs[0]", ips[0], "may not be set to 'None' for NodePort services")
    elif spec.type == "ExternalName":
        if ips:
            errs.forbidden("spec.clusterIPs", "may not be set for ExternalName services")
        if spec.ipFamilies:
            errs.forbidden("spec.ipFamilies", "may not be set for ExternalName services")
        if spec.HasField("ipFamilyPolicy"):
            errs.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services")
        cname = spec.externalName.removesuffix(".")
        if cname:
            _dns_subdomain(errs, "spec.externalName", cname)
        else:
            errs.required("spec.externalName")
    names: set = set()
    for i, port in enumerate(spec.ports):
        p = _ix("spec.ports", i)
        if len(spec.ports) > 1 and not port.name:
            errs.required(_c(p, "name"))
        elif port.name:
            _dns_label(errs, _c(p, "name"), port.name)
            if port.name in names:
                errs.duplicate(_c(p, "name"), port.name)
            else:
                names.add(port.name)
        for msg in _port_num_msgs(port.port):
            errs.invalid(_c(p, "port"), port.port, msg)
        _enum(errs, _c(p, "protocol"), port.protocol, _PROTOCOLS)
        _port_num_or_name(errs, _c(p, "targetPort"), _int_or_string(port.targetPort))
        if port.HasField("appProtocol"):
            _qualified_name(errs, _c(p, "appProtocol"), port.appProtocol)
        if port.nodePort and spec.type in ("NodePort", "LoadBalancer") \
                and not _NODE_PORT_RANGE[0] <= port.nodePort <= _NODE_PORT_RANGE[1]:
            errs.invalid(_c(p, "nodePort"), port.nodePort, "provided port is not in the valid range. The "
                         f"range of valid ports is {_NODE_PORT_RANGE[0]}-{_NODE_PORT_RANGE[1]}")
    _labels(errs, "spec.selector", spec.selector)
    _enum(errs, "spec.sessionAffinity", spec.sessionAffinity, ("ClientIP", "None"))
    if spec.sessionAffinity == "ClientIP":
        cfg = spec.sessionAffinityConfig
        detail = "when session affinity type is ClientIP"
        if not spec.HasField("sessionAffinityConfig"):
            errs.required("spec.sessionAffinityConfig", detail)
        elif not cfg.HasField("clientIP"):
            errs.required("spec.sessionAffinityConfig.clientIP", detail)
        elif not cfg.clientIP.HasField("timeoutSeconds"):
            errs.required("spec.sessionAffinityConfig.clientIP.timeoutSeconds", detail)
        elif not 0 < cfg.clientIP.timeoutSeconds <= 86400:
            errs.invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", cfg.clientIP.timeoutSeconds,
                         "must be greater than 0 and less than 86400")
    elif spec.sessionAffinity == "None" and spec.HasField("sessionAffinityConfig"):
        errs.forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None")
    if spec.type != "ExternalName":
        _service_cluster_ip_fields(errs, spec)
    for i, ip in enumerate(spec.externalIPs):
        p = _ix("spec.externalIPs", i)
        if _valid_ip(errs, p, ip):
            _non_special_ip(errs, p, ip)
    if not spec.type:
        errs.required("spec.type")
    elif spec.type not in _SERVICE_TYPES:
        errs.not_supported("spec.type", spec.type, _SERVICE_TYPES)
    if spec.type == "ClusterIP":
        for i, port in enumerate(spec.ports):
            if port.nodePort:
                errs.forbidden(_c(_ix("spec.ports", i), "nodePort"), "may not be used when `type` is 'ClusterIP'")
    seen_node_ports, seen_ports = set(), set()
    for i, port in enumerate(spec.ports):
        if port.nodePort:
            if (port.protocol, port.nodePort) in seen_node_ports:
                errs.duplicate(_c(_ix("spec.ports", i), "nodePort"), port.nodePort)
            seen_node_ports.add((port.protocol, port.nodePort))
        if (port.protocol, port.port) in seen_ports:
            errs.duplicate(_ix("spec.ports", i), _Raw(
                f"core.ServicePort{{Name:\"\", Protocol:{_quote(port.protocol)}, AppProtocol:(*string)(nil), "
                f"Port:{port.port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}"))
        seen_ports.add((port.protocol, port.port))
    if spec.loadBalancerSourceRanges:
        if spec.type != "LoadBalancer":
            errs.forbidden("spec.LoadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'")
        for i, cidr in enumerate(spec.loadBalancerSourceRanges):
            _valid_cidr(errs, _ix("spec.LoadBalancerSourceRanges", i), cidr.strip())
    if spec.HasField("allocateLoadBalancerNodePorts") and spec.type != "LoadBalancer":
        errs.forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'")
    if spec.type == "LoadBalancer" and not spec.HasField("allocateLoadBalancerNodePorts"):
        errs.required("spec.allocateLoadBalancerNodePorts")
    external = spec.type in ("LoadBalancer", "NodePort") or (spec.type == "ClusterIP" and len(spec.externalIPs))
    if not external:
        if spec.externalTrafficPolicy:
            errs.invalid("spec.externalTrafficPolicy", spec.externalTrafficPolicy,
                         "may only be set for externally-accessible services")
    else:
        _enum(errs, "spec.externalTrafficPolicy", spec.externalTrafficPolicy, ("Cluster", "Local"))
    needs_health_check = spec.type == "LoadBalancer" and spec.externalTrafficPolicy == "Local"
    if not needs_health_check and spec.healthCheckNodePort:
        errs.invalid("spec.healthCheckNodePort", spec.healthCheckNodePort,
                     "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'")
    if not spec.HasField("internalTrafficPolicy"):
        if spec.type in ("NodePort", "LoadBalancer", "ClusterIP"):
            errs.required("spec.internalTrafficPolicy")
    elif spec.internalTrafficPolicy not in ("Cluster", "Local"):
        errs.not_supported("spec.internalTrafficPolicy", spec.internalTrafficPolicy, ("Cluster", "Local"))
    if old is not None:
        _service_update(errs, svc, old)
    return errs


def _service_cluster_ip_fields(errs: _Errors, spec) -> None:
    """ValidateServiceClusterIPsRelatedFields, on the normalised clusterIPs."""
    ips = _service_cluster_ips(spec)
    if spec.clusterIP:
        if spec.clusterIPs and spec.clusterIPs[0] != spec.clusterIP:
            errs.invalid("spec.clusterIPs", list(spec.clusterIPs), "first value must match `clusterIP`")
    elif spec.clusterIPs:
        errs.invalid("spec.clusterIPs", list(spec.clusterIPs), "must be empty when `clusterIP` is not specified")
    seen = set()
    for i, family in enumerate(spec.ipFamilies):
        if family not in ("IPv4", "IPv6"):
            errs.not_supported(_ix("spec.ipFamilies", i), family, ("IPv4", "IPv6"))
        if family in seen:
            errs.duplicate(_ix("spec.ipFamilies", i), family)
        seen.add(family)
    if spec.HasField("ipFamilyPolicy") and spec.ipFamilyPolicy not in (
            "PreferDualStack", "RequireDualStack", "SingleStack"):
        errs.not_supported("spec.ipFamilyPolicy", spec.ipFamilyPolicy,
                           ("PreferDualStack", "RequireDualStack", "SingleStack"))
    invalid = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                invalid = True
                errs.invalid("spec.clusterIPs", ips, "'None' must be the first and only value")
            continue
        invalid |= not _valid_ip(errs, _ix("spec.clusterIPs", i), ip)
    if len(ips) > 2:
        errs.invalid("spec.clusterIPs", ips, "may only hold up to 2 values")
    if invalid:
        return
    if len(ips) == 2 and _parse_ip(ips[0]).version == _parse_ip(ips[1]).version:
        errs.invalid("spec.clusterIPs", ips, "may specify no more than one IP for each IP family")


def _service_update(errs: _Errors, svc, old) -> None:
    if "ExternalName" in (svc.spec.type, old.spec.type):
        return
    new_ips, old_ips = _service_cluster_ips(svc.spec), _service_cluster_ips(old.spec)
    if new_ips == ["None"] and old_ips == ["None"]:
        return
    if not new_ips:
        return      # left empty by the client: the server keeps the allocated clusterIP
    for i, ip in enumerate(old_ips[: len(new_ips)]):
        if new_ips[i] != ip:
            errs.invalid(_ix("spec.clusterIPs", i), new_ips, "may not change once set")


def validate_endpoints(ep, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, ep.metadata)
    for i, subset in enumerate(ep.subsets):
        p = _ix("subsets", i)
        if not subset.addresses and not subset.notReadyAddresses:
            errs.required(p, "must specify `addresses` or `notReadyAddresses`")
        for name in ("addresses", "notReadyAddresses"):
            for j, addr in enumerate(getattr(subset, name)):
                ap = _ix(_c(p, name), j)
                _valid_ip(errs, _c(ap, "ip"), addr.ip)
                if addr.hostname:
                    _dns_label(errs, _c(ap, "hostname"), addr.hostname)
                if addr.HasField("nodeName"):
                    for msg in _name_subdomain(addr.nodeName):
                        errs.invalid(_c(ap, "nodeName"), addr.nodeName, msg)
                _non_special_ip(errs, _c(ap, "ip"), addr.ip)
        for j, port in enumerate(subset.ports):
            pp = _ix(_c(p, "ports"), j)
            if len(subset.ports) > 1 and not port.name:
                errs.required(_c(pp, "name"))
            elif port.name:
                _dns_label(errs, _c(pp, "name"), port.name)
            for msg in _port_num_msgs(port.port):
                errs.invalid(_c(pp, "port"), port.port, msg)
            _enum(errs, _c(pp, "protocol"), port.protocol, _PROTOCOLS)
            if port.HasField("appProtocol"):
                _qualified_name(errs, _c(pp, "appProtocol"), port.appProtocol)
    return errs


def validate_node(node, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, node.metadata)
    seen: dict = {}
    for i, taint in enumerate(node.spec.taints):
        p = _ix("spec.taints", i)
        _qualified_name(errs, _c(p, "key"), taint.key)
        msgs = validate_label_value(taint.value)
        if msgs:
            errs.invalid(_c(p, "value"), taint.value, ";".join(msgs))
        _enum(errs, _c(p, "effect"), taint.effect, _TAINT_EFFECTS)
        if taint.key in seen.setdefault(taint.effect, set()):
            errs.duplicate(p, _Raw(f"core.Taint{{Key:{_quote(taint.key)}, Value:{_quote(taint.value)}, "
                                   f"Effect:{_quote(taint.effect)}, TimeAdded:<nil>}}"),
                           "taints must be unique by key and effect pair")
            continue
        seen[taint.effect].add(taint.key)
    _resource_list(errs, "status.capacity", node.status.capacity)
    _resource_list(errs, "status.allocatable", node.status.allocatable)
    for i, cidr in enumerate(node.spec.podCIDRs):
        _valid_cidr(errs, _ix("spec.podCIDRs", i), cidr)
    if old is not None:
        if old.spec.podCIDRs and list(old.spec.podCIDRs) != list(node.spec.podCIDRs):
            errs.forbidden("spec.podCIDRs", "node updates may not change podCIDR except from \"\" to valid")
        if old.spec.providerID and old.spec.providerID != node.spec.providerID:
            errs.forbidden("spec.providerID", "node updates may not change providerID except from \"\" to valid")
        seen_addresses = set()
        for i, addr in enumerate(node.status.addresses):
            key = (addr.type, addr.address)
            if key in seen_addresses:
                errs.duplicate(_ix("status.addresses", i), _Raw(
                    f"core.NodeAddress{{Type:{_quote(addr.type)}, Address:{_quote(addr.address)}}}"))
            seen_addresses.add(key)
    return errs


def validate_namespace(ns, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, ns.metadata, _name_dns_label)
    for f in ns.spec.finalizers:
        _finalizer_name(errs, "spec.finalizers", f, "spec.finalizers")
    if old is not None and ns.status.phase and ns.status.phase not in ("Active", "Terminating"):
        errs.not_supported("status.phase", ns.status.phase, ("Active", "Terminating"))
    return errs


_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")


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
        if mode not in _ACCESS_MODES:
            errs.not_supported("spec.accessModes", mode, _ACCESS_MODES)
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


_EVENT_REASON_LIMIT = 128
_EVENT_MESSAGE_LIMIT = 1024


def validate_event(ev, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, ev.metadata)
    obj = ev.involvedObject
    if not ev.HasField("involvedObject") or not (obj.kind or obj.name):
        errs.required("involvedObject")
    elif obj.namespace:
        if ev.metadata.namespace and ev.metadata.namespace != obj.namespace:
            errs.invalid("involvedObject.namespace", obj.namespace, "does not match event.namespace")
    elif ev.metadata.namespace not in (("", "default", "kube-system") if ev.eventTime else ("", "default")):
        errs.invalid("involvedObject.namespace", obj.namespace, "does not match event.namespace")
    if len(ev.reason) > _EVENT_REASON_LIMIT:
        errs.invalid("reason", "", f"can have at most {_EVENT_REASON_LIMIT} characters")
    if len(ev.message) > _EVENT_MESSAGE_LIMIT:
        errs.invalid("message", "", f"can have at most {_EVENT_MESSAGE_LIMIT} characters")
    if ev.eventTime:              # a "new" (events.k8s.io-shaped) event: upstream's stricter rules
        if not ev.reportingComponent:
            errs.required("reportingComponent")
        else:
            _qualified_name(errs, "reportingComponent", ev.reportingComponent)
        if not ev.reportingInstance:
            errs.required("reportingInstance")
        elif len(ev.reportingInstance) > 128:
            errs.invalid("reportingInstance", "", "can have at most 128 characters")
        if not ev.action:
            errs.required("action")
        elif len(ev.action) > 128:
            errs.invalid("action", "", "can have at most 128 characters")
        if not ev.reason:
            errs.required("reason")
    if ev.type and ev.type not in ("Normal", "Warning"):
        errs.not_supported("type", ev.type, ("Normal", "Warning"))
    return errs


# ==================================================================== kinds: apps/v1
def _selector_and_template(errs: _Errors, spec, kind: str) -> None:
    """The part of ValidateReplicaSetSpec / ValidateDeploymentSpec they share."""
    selector = spec.selector if spec.HasField("selector") else None
    if selector is None:
        errs.required("spec.selector")
    else:
        _label_selector(errs, "spec.selector", selector)
        if not selector.matchLabels and not selector.matchExpressions:
            errs.invalid("spec.selector", _fmt_selector(selector), "empty selector is invalid for deployment")
    if not _selector_matches_template(errs, selector, spec.template, "spec"):
        return
    _pod_template(errs, spec.template, "spec.template")
    if spec.template.spec.restartPolicy != "Always":
        errs.not_supported("spec.template.spec.restartPolicy", spec.template.spec.restartPolicy, ["Always"])
    if spec.template.spec.HasField("activeDeadlineSeconds"):
        errs.forbidden("spec.template.spec.activeDeadlineSeconds",
                       f"activeDeadlineSeconds in {kind} is not Supported")


def _selector_immutable(errs: _Errors, new_spec, old_spec) -> None:
    new_sel = new_spec.selector if new_spec.HasField("selector") else None
    old_sel = old_spec.selector if old_spec.HasField("selector") else None
    if new_sel != old_sel:
        errs.invalid("spec.selector", _fmt_selector(new_sel), "field is immutable")


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


def validate_deployment(d, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, d.metadata)
    spec = d.spec
    errs.nonnegative("spec.replicas", spec.replicas)
    _selector_and_template(errs, spec, "Deployment")
    strategy = spec.strategy
    if strategy.type == "Recreate":
        if strategy.HasField("rollingUpdate"):
            errs.forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")
    elif strategy.type == "RollingUpdate":
        if not strategy.HasField("rollingUpdate"):
            errs.required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil")
        else:
            ru = strategy.rollingUpdate
            max_unavailable, max_surge = _int_or_string(ru.maxUnavailable), _int_or_string(ru.maxSurge)
            p = "spec.strategy.rollingUpdate"
            _int_or_percent(errs, _c(p, "maxUnavailable"), max_unavailable)
            _int_or_percent(errs, _c(p, "maxSurge"), max_surge)
            if _int_or_percent_value(max_unavailable) == 0 and _int_or_percent_value(max_surge) == 0:
                errs.invalid(_c(p, "maxUnavailable"), max_unavailable, "may not be 0 when `maxSurge` is 0")
    else:
        errs.not_supported("spec.strategy", strategy.type, ("Recreate", "RollingUpdate"))
    errs.nonnegative("spec.minReadySeconds", spec.minReadySeconds)
    history = _opt(spec, "revisionHistoryLimit")
    if history is not None:
        errs.nonnegative("spec.revisionHistoryLimit", history)
    deadline = _opt(spec, "progressDeadlineSeconds")
    if deadline is not None:
        errs.nonnegative("spec.progressDeadlineSeconds", deadline)
        if deadline <= spec.minReadySeconds:
            errs.invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds")
    if old is not None:
        _selector_immutable(errs, spec, old.spec)
    return errs


# ==================================================================== kinds: batch/v1
_JOB_LABELS = ("controller-uid", "job-name", "batch.kubernetes.io/controller-uid",
               "batch.kubernetes.io/job-name")
_POD_FAILURE_ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")


_PENDING_UID = "00000000-0000-0000-0000-000000000000"


def validate_job(job, old=None) -> Errors:
    """ValidateJob / ValidateJobUpdate.

    A Job created without a uid yet (the server may validate before assigning it) is checked as it will
    be stored: with defaults.default_job_selector applied for a stand-in uid."""
    if old is None and not job.metadata.uid and not (job.spec.HasField("manualSelector")
                                                     and job.spec.manualSelector):
        pending = type(job)()
        pending.CopyFrom(job)
        pending.metadata.uid = _PENDING_UID
        default_job_selector(pending)
        job = pending
    errs = _Errors()
    _object_meta(errs, job.metadata)
    spec = job.spec
    if old is None:
        _job_generated_selector(errs, job)
    _job_spec(errs, job)
    completions = _opt(spec, "completions")
    if old is None and spec.completionMode == "Indexed" and completions is not None and completions > 0:
        hostname = f"{job.metadata.name}-{spec.completions - 1}"
        if validate_dns1123_label(hostname):
            errs.invalid("metadata.name", job.metadata.name,
                         f"will not able to create pod with invalid DNS label: {hostname}")
    if old is not None:
        _job_update(errs, job, old)
    return errs


def _job_generated_selector(errs: _Errors, job) -> None:
    """validateGeneratedSelector: the uid-based selector and labels default_job_selector adds."""
    spec = job.spec
    if spec.HasField("manualSelector") and spec.manualSelector:
        return
    if not spec.HasField("selector"):
        return
    uid, name = job.metadata.uid, job.metadata.name
    if not uid:
        errs.required("metadata.uid")
    labels = spec.template.metadata.labels
    expected = {"controller-uid": uid, "job-name": name, "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": name}
    for key in _JOB_LABELS:
        path = _key("spec.template.metadata.labels", key)
        if key not in labels:
            errs.required(path, f"must be '{expected[key]}'")
        elif labels[key] != expected[key]:
            errs.invalid(path, dict(labels), f"must be '{expected[key]}'")
    try:
        if not _as_selector(spec.selector).matches(expected):
            errs.invalid("spec.selector", _fmt_selector(spec.selector), "`selector` not auto-generated")
    except SelectorError:
        pass


def _job_spec(errs: _Errors, job) -> None:
    spec = job.spec
    for name in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                 "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"):
        v = _opt(spec, name)
        if v is not None:
            errs.nonnegative(_c("spec", name), v)
    if spec.HasField("maxFailedIndexes") and not spec.HasField("backoffLimitPerIndex"):
        errs.required("spec.backoffLimitPerIndex", "when maxFailedIndexes is specified")
    if spec.HasField("managedBy"):
        _domain_prefixed_path(errs, "spec.managedBy", spec.managedBy)
        if len(spec.managedBy) > 63:
            errs.too_long("spec.managedBy", 63)
    mode = _opt(spec, "completionMode")
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            errs.not_supported("spec.completionMode", mode, ("NonIndexed", "Indexed"))
        if mode == "Indexed":
            if not spec.HasField("completions"):
                errs.required("spec.completions", "when completion mode is Indexed")
            if _opt(spec, "parallelism") is not None and spec.parallelism > 100000:
                errs.invalid("spec.parallelism", spec.parallelism,
                             "must be less than or equal to 100000 when completion mode is Indexed")
            if spec.HasField("completions") and spec.HasField("maxFailedIndexes") \
                    and spec.maxFailedIndexes > spec.completions:
                errs.invalid("spec.maxFailedIndexes", spec.maxFailedIndexes,
                             "must be less than or equal to completions")
    if mode is None or mode == "NonIndexed":
        for name in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.HasField(name):
                errs.invalid(_c("spec", name), getattr(spec, name), "requires indexed completion mode")
    if spec.HasField("podFailurePolicy"):
        _pod_failure_policy(errs, spec)
    if spec.HasField("successPolicy"):
        if mode != "Indexed":
            errs.invalid("spec.successPolicy", _Raw("batch.SuccessPolicy{...}"), "requires indexed completion mode")
        else:
            _success_policy(errs, spec)
    if spec.HasField("podReplacementPolicy"):
        if spec.HasField("podFailurePolicy"):
            if spec.podReplacementPolicy != "Failed":
                errs.not_supported("spec.podReplacementPolicy", spec.podReplacementPolicy, ["Failed"])
        elif spec.podReplacementPolicy not in ("Failed", "TerminatingOrFailed"):
            errs.not_supported("spec.podReplacementPolicy", spec.podReplacementPolicy,
                               ("Failed", "TerminatingOrFailed"))
    _pod_template(errs, spec.template, "spec.template")
    restart = spec.template.spec.restartPolicy
    rp_path = "spec.template.spec.restartPolicy"
    if restart in ("Always", ""):
        errs.required(rp_path, 'valid values: "OnFailure", "Never"')
    elif restart not in ("OnFailure", "Never"):
        errs.not_supported(rp_path, restart, ("OnFailure", "Never"))
    elif spec.HasField("podFailurePolicy") and restart != "Never":
        errs.invalid(rp_path, restart, 'only "Never" is supported when podFailurePolicy is specified')
    selector = spec.selector if spec.HasField("selector") else None
    if selector is None:
        errs.required("spec.selector")
    else:
        _label_selector(errs, "spec.selector", selector)
    try:
        sel = _as_selector(selector)
    except SelectorError:
        return
    if not sel.matches(dict(spec.template.metadata.labels)):
        errs.invalid("spec.template.metadata.labels", dict(spec.template.metadata.labels),
                     "`selector` does not match template `labels`")


def _domain_prefixed_path(errs: _Errors, path: str, value: str) -> None:
    if not value:
        errs.required(path)
        return
    host, sep, rest = value.partition("/")
    if not sep or not host or not rest:
        errs.invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')
        return
    _dns_subdomain(errs, path, host)
    fmt = r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+"
    if not re.fullmatch(fmt, rest):
        errs.invalid(path, rest, _regex_error("Invalid path", fmt))


def _pod_failure_policy(errs: _Errors, spec) -> None:
    rules_path = "spec.podFailurePolicy.rules"
    rules = spec.podFailurePolicy.rules
    if len(rules) > 20:
        errs.too_many(rules_path, len(rules), 20)
    containers = {c.name for c in spec.template.spec.containers} | \
                 {c.name for c in spec.template.spec.initContainers}
    for i, rule in enumerate(rules):
        p = _ix(rules_path, i)
        if not rule.action:
            errs.required(_c(p, "action"), "valid values: " + "[" + " ".join(
                _quote(a) for a in _POD_FAILURE_ACTIONS) + "]")
        elif rule.action == "FailIndex":
            if not spec.HasField("backoffLimitPerIndex"):
                errs.invalid(_c(p, "action"), rule.action, "requires the backoffLimitPerIndex to be set")
        elif rule.action not in _POD_FAILURE_ACTIONS:
            errs.not_supported(_c(p, "action"), rule.action, _POD_FAILURE_ACTIONS)
        has_codes = rule.HasField("onExitCodes")
        if has_codes:
            _on_exit_codes(errs, rule.onExitCodes, _c(p, "onExitCodes"), containers)
        if rule.onPodConditions:
            cp = _c(p, "onPodConditions")
            if len(rule.onPodConditions) > 20:
                errs.too_many(cp, len(rule.onPodConditions), 20)
            for j, pattern in enumerate(rule.onPodConditions):
                pp = _ix(cp, j)
                _qualified_name(errs, _c(pp, "type"), pattern.type)
                if not pattern.status:
                    errs.required(_c(pp, "status"), 'valid values: ["False" "True" "Unknown"]')
                elif pattern.status not in ("False", "True", "Unknown"):
                    errs.not_supported(_c(pp, "status"), pattern.status, ("False", "True", "Unknown"))
        if has_codes and rule.onPodConditions:
            errs.append((p, "Invalid value: specifying both OnExitCodes and OnPodConditions is not supported"))
        if not has_codes and not rule.onPodConditions:
            errs.append((p, "Invalid value: specifying one of OnExitCodes and OnPodConditions is required"))


def _on_exit_codes(errs: _Errors, req, path: str, containers: set) -> None:
    if not req.operator:
        errs.required(_c(path, "operator"), 'valid values: ["In" "NotIn"]')
    elif req.operator not in ("In", "NotIn"):
        errs.not_supported(_c(path, "operator"), req.operator, ("In", "NotIn"))
    if req.HasField("containerName") and req.containerName not in containers:
        errs.invalid(_c(path, "containerName"), req.containerName,
                     "must be one of the container or initContainer names in the pod template")
    vp = _c(path, "values")
    values = list(req.values)
    if not values:
        errs.invalid(vp, _Raw("[]int32(nil)"), "at least one value is required")
    elif len(values) > 255:
        errs.too_many(vp, len(values), 255)
    seen: set = set()
    for j, v in enumerate(values):
        if req.operator == "In" and v == 0:
            errs.invalid(_ix(vp, j), v, "must not be 0 for the In operator")
        if v in seen:
            errs.duplicate(_ix(vp, j), v)
        seen.add(v)
    if any(a > b for a, b in zip(values, values[1:])):
        errs.invalid(vp, values, "must be ordered")


def _success_policy(errs: _Errors, spec) -> None:
    rules_path = "spec.successPolicy.rules"
    rules = spec.successPolicy.rules
    if not rules:
        errs.required(rules_path, "at least one rules must be specified when the successPolicy is specified")
    if len(rules) > 20:
        errs.too_many(rules_path, len(rules), 20)
    completions = spec.completions
    for i, rule in enumerate(rules):
        p = _ix(rules_path, i)
        if not rule.HasField("succeededCount") and not rule.HasField("succeededIndexes"):
            errs.required(p, "at least one of succeededCount or succeededIndexes must be specified")
        total = None
        if rule.HasField("succeededIndexes"):
            total, err = _parse_indexes(rule.succeededIndexes, completions)
            if err:
                errs.invalid(_c(p, "succeededIndexes"), rule.succeededIndexes,
                             f"error parsing succeededIndexes: {err}")
        if rule.HasField("succeededCount"):
            cp = _c(p, "succeededCount")
            errs.nonnegative(cp, rule.succeededCount)
            if rule.succeededCount > completions:
                errs.invalid(cp, rule.succeededCount,
                             f"must be less than or equal to {completions} (the number of specified completions)")
            if total is not None and rule.succeededCount > total:
                errs.invalid(cp, rule.succeededCount, f"must be less than or equal to {total} (the number "
                             "of indexes in the specified succeededIndexes field)")


def _parse_indexes(text: str, completions: int):
    """validateIndexesFormat: "1,3-5,7" -> (count, error)."""
    total, prev = 0, -1
    for part in text.split(",") if text else []:
        lo_s, sep, hi_s = part.partition("-")
        try:
            lo = int(lo_s)
            hi = int(hi_s) if sep else lo
        except ValueError:
            return None, f"cannot convert string to integer for index: \"{part}\""
        if lo < 0 or hi >= completions:
            return None, f"too large index: \"{part}\""
        if lo > hi:
            return None, f"non-increasing order, previous: {lo}, current: {hi}"
        if lo <= prev:
            return None, f"non-increasing order, previous: {prev}, current: {lo}"
        total += hi - lo + 1
        prev = hi
    return total, None


def _job_update(errs: _Errors, job, old) -> None:
    spec, old_spec = job.spec, old.spec
    indexed = spec.completionMode == "Indexed"
    if not indexed:
        errs.immutable("spec.completions", _opt(spec, "completions"), _opt(old_spec, "completions"))
    elif _opt(spec, "completions") != _opt(old_spec, "completions") and spec.HasField("completions"):
        if spec.completions != _opt(spec, "parallelism"):
            errs.invalid("spec.completions", spec.completions, "can only be modified in tandem with spec.parallelism")
    _selector_immutable(errs, spec, old_spec)
    # A suspended Job that never started may change its scheduling directives (upstream
    # AllowMutableSchedulingDirectives); the rest of the template is immutable.
    new_t, old_t = type(spec.template)(), type(old_spec.template)()
    new_t.CopyFrom(spec.template)
    old_t.CopyFrom(old_spec.template)
    if old_spec.HasField("suspend") and old_spec.suspend and not old.status.startTime:
        for t in (new_t, old_t):
            t.metadata.ClearField("labels")
            t.metadata.ClearField("annotations")
            t.spec.ClearField("nodeSelector")
            t.spec.ClearField("tolerations")
            if t.spec.HasField("affinity"):
                t.spec.affinity.ClearField("nodeAffinity")
                if not t.spec.affinity.ListFields():
                    t.spec.ClearField("affinity")
    if new_t != old_t:
        errs.invalid("spec.template", _Raw("core.PodTemplateSpec{...}"), "field is immutable")
    for name, shown in (("completionMode", None), ("podFailurePolicy", _Raw("&batch.PodFailurePolicy{...}")),
                        ("backoffLimitPerIndex", None), ("managedBy", None),
                        ("successPolicy", _Raw("&batch.SuccessPolicy{...}"))):
        new_v, old_v = _opt(spec, name), _opt(old_spec, name)
        errs.immutable(_c("spec", name), new_v, old_v, shown)


# ==================================================================== kinds: autoscaling, policy, coordination
_METRIC_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
_METRIC_FIELDS = {"Object": "object", "Pods": "pods", "Resource": "resource",
                  "External": "external", "ContainerResource": "containerResource"}


def validate_horizontal_pod_autoscaler(hpa, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, hpa.metadata)
    spec = hpa.spec
    lower = 0 if old is not None and old.spec.HasField("minReplicas") and old.spec.minReplicas == 0 else 1
    min_replicas = _opt(spec, "minReplicas")
    if min_replicas is not None and min_replicas < lower:
        errs.invalid("spec.minReplicas", min_replicas, f"must be greater than or equal to {lower}")
    if spec.maxReplicas < 1:
        errs.invalid("spec.maxReplicas", spec.maxReplicas, "must be greater than 0")
    if min_replicas is not None and spec.maxReplicas < min_replicas:
        errs.invalid("spec.maxReplicas", spec.maxReplicas, "must be greater than or equal to `minReplicas`")
    _cross_version_ref(errs, spec.scaleTargetRef, "spec.scaleTargetRef")
    has_object_or_external = False
    for i, metric in enumerate(spec.metrics):
        _metric_spec(errs, metric, _ix("spec.metrics", i))
        has_object_or_external |= metric.type in ("Object", "External")
    if min_replicas == 0 and not has_object_or_external:
        errs.forbidden("spec.metrics", "must specify at least one Object or External metric to support "
                                       "scaling to zero replicas")
    if spec.HasField("behavior"):
        for name in ("scaleUp", "scaleDown"):
            if spec.behavior.HasField(name):
                _scaling_rules(errs, getattr(spec.behavior, name), _c("spec.behavior", name))
    return errs


def _cross_version_ref(errs: _Errors, ref, path: str) -> None:
    for name in ("kind", "name"):
        value = getattr(ref, name)
        if not value:
            errs.required(_c(path, name))
        else:
            for msg in _path_segment_msgs(value):
                errs.invalid(_c(path, name), value, msg)


def _metric_spec(errs: _Errors, metric, path: str) -> None:
    if not metric.type:
        errs.required(_c(path, "type"), "must specify a metric source type")
    if metric.type not in _METRIC_TYPES:
        errs.not_supported(_c(path, "type"), metric.type, _METRIC_TYPES)
    present = [f for f in ("object", "external", "pods", "resource", "containerResource") if metric.HasField(f)]
    if present:
        first = present[0]
        src, sp = getattr(metric, first), _c(path, first)
        if first == "object":
            _cross_version_ref(errs, src.describedObject, _c(sp, "describedObject"))
            _metric_identifier(errs, src.metric, _c(sp, "metric"))
            _metric_target(errs, src.target, _c(sp, "target"))
            if not src.target.value and not src.target.averageValue:
                errs.required(_c(sp, "target", "averageValue"), "must set either a target value or averageValue")
        elif first == "external":
            _metric_identifier(errs, src.metric, _c(sp, "metric"))
            _metric_target(errs, src.target, _c(sp, "target"))
            if not src.target.value and not src.target.averageValue:
                errs.required(_c(sp, "target", "averageValue"),
                              "must set either a target value for metric or a per-pod target")
            if src.target.value and src.target.averageValue:
                errs.forbidden(_c(sp, "target", "value"),
                               "may not set both a target value for metric and a per-pod target")
        elif first == "pods":
            _metric_identifier(errs, src.metric, _c(sp, "metric"))
            _metric_target(errs, src.target, _c(sp, "target"))
            if not src.target.averageValue:
                errs.required(_c(sp, "target", "averageValue"), "must specify a positive target averageValue")
        else:                                            # resource, containerResource
            if not src.name:
                errs.required(_c(sp, "name"), "must specify a resource name")
            elif first == "containerResource":
                _container_resource_name(errs, _c(sp, "name"), src.name)
            if first == "containerResource":
                if not src.container:
                    errs.required(_c(sp, "container"), "must specify a container")
                else:
                    _dns_label(errs, _c(sp, "container"), src.container)
            _metric_target(errs, src.target, _c(sp, "target"))
            has_util = src.target.HasField("averageUtilization")
            if not has_util and not src.target.averageValue:
                errs.required(_c(sp, "target", "averageUtilization"),
                              "must set either a target raw value or a target utilization")
            if has_util and src.target.averageValue:
                errs.forbidden(_c(sp, "target", "averageValue"),
                               "may not set both a target raw value and a target utilization")
    expected = _METRIC_FIELDS.get(metric.type)
    if expected is not None and not metric.HasField(expected):
        errs.required(_c(path, expected), "must populate information for the given metric source")
    if len(present) != 1:
        for f in sorted(set(present) - {expected}):
            errs.forbidden(_c(path, f), "must populate the given metric source only")


def _metric_identifier(errs: _Errors, ident, path: str) -> None:
    if not ident.name:
        errs.required(_c(path, "name"), "must specify a metric name")
    else:
        for msg in _path_segment_msgs(ident.name):
            errs.invalid(_c(path, "name"), ident.name, msg)
    if ident.HasField("selector"):
        _label_selector(errs, _c(path, "selector"), ident.selector)


def _metric_target(errs: _Errors, target, path: str) -> None:
    if not target.type:
        errs.required(_c(path, "type"), "must specify a metric target type")
    if target.type not in ("Utilization", "Value", "AverageValue"):
        errs.invalid(_c(path, "type"), target.type, "must be either Utilization, Value, or AverageValue")
    for name in ("value", "averageValue"):
        text = getattr(target, name)
        if text:
            q = _quantity(errs, _c(path, name), text)
            if q is not None and q <= Quantity(0):
                errs.invalid(_c(path, name), str(q), "must be positive")
    util = _opt(target, "averageUtilization")
    if util is not None and util < 1:
        errs.invalid(_c(path, "averageUtilization"), util, "must be greater than 0")


def _scaling_rules(errs: _Errors, rules, path: str) -> None:
    window = _opt(rules, "stabilizationWindowSeconds")
    if window is not None and window < 0:
        errs.invalid(_c(path, "stabilizationWindowSeconds"), window, "must be greater than or equal to zero")
    if window is not None and window > 3600:
        errs.invalid(_c(path, "stabilizationWindowSeconds"), window, "must be less than or equal to 3600")
    policy = _opt(rules, "selectPolicy")
    if policy is not None and policy not in ("Disabled", "Max", "Min"):
        errs.not_supported(_c(path, "selectPolicy"), policy, ("Disabled", "Max", "Min"))
    if not rules.policies:
        errs.required(_c(path, "policies"), "must specify at least one Policy")
    for i, pol in enumerate(rules.policies):
        p = _ix(_c(path, "policies"), i)
        if pol.type not in ("Pods", "Percent"):
            errs.not_supported(_c(p, "type"), pol.type, ("Percent", "Pods"))
        if pol.value <= 0:
            errs.invalid(_c(p, "value"), pol.value, "must be greater than zero")
        if pol.periodSeconds <= 0:
            errs.invalid(_c(p, "periodSeconds"), pol.periodSeconds, "must be greater than zero")
        if pol.periodSeconds > 1800:
            errs.invalid(_c(p, "periodSeconds"), pol.periodSeconds, "must be less than or equal to 1800")
    if rules.HasField("tolerance"):
        q = _quantity(errs, _c(path, "tolerance"), rules.tolerance)
        if q is not None and q < Quantity(0):
            errs.invalid(_c(path, "tolerance"), str(q), "must be greater than or equal to 0")


def validate_pod_disruption_budget(pdb, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, pdb.metadata)
    spec = pdb.spec
    has_min, has_max = spec.HasField("minAvailable"), spec.HasField("maxUnavailable")
    if has_min and has_max:
        errs.invalid("spec", _Raw("policy.PodDisruptionBudgetSpec{...}"),
                     "minAvailable and maxUnavailable cannot be both set")
    if has_min:
        _int_or_percent(errs, "spec.minAvailable", _int_or_string(spec.minAvailable))
    if has_max:
        _int_or_percent(errs, "spec.maxUnavailable", _int_or_string(spec.maxUnavailable))
    if spec.HasField("selector"):
        _label_selector(errs, "spec.selector", spec.selector)
    if spec.HasField("unhealthyPodEvictionPolicy") and \
            spec.unhealthyPodEvictionPolicy not in ("AlwaysAllow", "IfHealthyBudget"):
        errs.not_supported("spec.unhealthyPodEvictionPolicy", spec.unhealthyPodEvictionPolicy,
                           ("AlwaysAllow", "IfHealthyBudget"))
    return errs


def validate_lease(lease, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, lease.metadata)
    spec = lease.spec
    duration = _opt(spec, "leaseDurationSeconds")
    if duration is not None and duration <= 0:
        errs.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")
    transitions = _opt(spec, "leaseTransitions")
    if transitions is not None and transitions < 0:
        errs.invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0")
    strategy = _opt(spec, "strategy")
    if strategy is not None and strategy not in ("OldestEmulationVersion",):
        errs.not_supported("spec.strategy", strategy, ["OldestEmulationVersion"])
    if _opt(spec, "preferredHolder") and not strategy:
        errs.forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined")
    return errs


_BY_KIND = {
    "Pod": validate_pod,
    "ReplicaSet": validate_replica_set,
    "Deployment": validate_deployment,
    "Job": validate_job,
    "Service": validate_service,
    "Endpoints": validate_endpoints,
    "Node": validate_node,
    "Namespace": validate_namespace,
    "PersistentVolumeClaim": validate_persistent_volume_claim,
    "Event": validate_event,
    "HorizontalPodAutoscaler": validate_horizontal_pod_autoscaler,
    "PodDisruptionBudget": validate_pod_disruption_budget,
    "Lease": validate_lease,
}
