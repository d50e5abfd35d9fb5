"""Pod spec validation, shared by Pod and every workload's pod template (upstream ValidatePodSpec
and ValidatePodTemplateSpec): volumes and their sources, containers and init containers, ports, env,
mounts, probes and lifecycle handlers, security contexts, tolerations, affinity, topology spread, DNS
config; and the selector-and-template rules ReplicaSet and Deployment share.

It expects a defaulted spec, as upstream validates after defaulting: fields defaulting always fills
(restartPolicy, imagePullPolicy, port protocols, ...) are "Required" when empty.
"""
from __future__ import annotations

import re

from minik8s.api.quantity import Quantity
from minik8s.api.selectors import SelectorError, validate_label_value
from minik8s.api.validation_common import (_annotations, _as_selector, _c, _dns_label, _dns_subdomain, _enum,
                                           Errors, _Errors, _fmt_selector, _INT32_MAX, _int_or_string, _ix,
                                           _label_selector, _labels, _label_key_msgs, _label_value_msgs,
                                           _local_descending_path,
                                           _local_non_reserved_path, _name_dns_label, _name_subdomain,
                                           _no_backsteps, _opt, _port_name_msgs, _port_num_msgs,
                                           _port_num_or_name, _PROTOCOLS, _qualified_name, _quantity, _Raw,
                                           _regex_error, _resource_list, _resource_requirements, _valid_ip)


_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")          # sorted, as sets.List prints them
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
_ENV_NAME_RE = re.compile(_ENV_NAME_FMT)
_ENV_NAME_MSG = ("a valid environment variable name must consist of alphabetic characters, digits, "
                 "'_', '-', or '.', and must not start with a digit")
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_TOLERATION_OPERATORS = ("Equal", "Exists")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_HEADER_NAME_RE = re.compile(r"[-A-Za-z0-9]+")
_FILE_MODE_MSG = "must be a number between 0 and 0777 (octal), both inclusive"
_VOLUME_SOURCES = ("emptyDir", "hostPath", "secret", "persistentVolumeClaim", "downwardAPI", "configMap", "projected")


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
    if not _ENV_NAME_RE.fullmatch(name):
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
    # Paths are built only where an error is reported: most specs have none, and building them
    # would be most of the work.
    grace = _opt(spec, "terminationGracePeriodSeconds")
    if grace is None:
        errs.required(_c(path, "terminationGracePeriodSeconds"))
    elif grace < 0:
        errs.nonnegative(_c(path, "terminationGracePeriodSeconds"), grace)
    volumes = _volumes(errs, spec.volumes, _c(path, "volumes")) if spec.volumes else {}
    _containers(errs, spec, volumes, grace, _c(path, "containers"))
    if spec.initContainers:
        _init_containers(errs, spec, volumes, grace, _c(path, "initContainers"))
    if spec.hostNetwork:
        for i, c in enumerate(spec.containers):
            for j, port in enumerate(c.ports):
                if (is_pod or port.hostPort != 0) and port.hostPort != port.containerPort:
                    errs.invalid(f"{path}.containers[{i}].ports[{j}].hostPort", port.hostPort,
                                 "must match `containerPort` when `hostNetwork` is true")
    if spec.restartPolicy not in _RESTART_POLICIES:
        _enum(errs, _c(path, "restartPolicy"), spec.restartPolicy, _RESTART_POLICIES)
    if spec.dnsPolicy not in _DNS_POLICIES:
        _enum(errs, _c(path, "dnsPolicy"), spec.dnsPolicy, _DNS_POLICIES)
    if spec.nodeSelector:
        _labels(errs, _c(path, "nodeSelector"), spec.nodeSelector)
    if spec.HasField("securityContext"):
        _pod_security_context(errs, spec, _c(path, "securityContext"))
    if spec.HasField("affinity"):
        _affinity(errs, spec.affinity, _c(path, "affinity"))
    if spec.dnsPolicy == "None" or spec.HasField("dnsConfig"):
        _dns_config(errs, spec, _c(path, "dnsConfig"))
    for i, gate in enumerate(spec.readinessGates):
        _qualified_name(errs, _c(_ix(_c(path, "readinessGates"), i), "conditionType"), gate.conditionType)
    if spec.topologySpreadConstraints:
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
    if spec.tolerations:
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
    if spec.overhead:
        _resource_list(errs, _c(path, "overhead"), spec.overhead)
    if is_pod:
        for field_name in ("containers", "initContainers"):
            for i, c in enumerate(getattr(spec, field_name)):
                if c.image != c.image.strip():
                    errs.invalid(_c(_ix(_c(path, field_name), i), "image"), c.image,
                                 "must not have leading or trailing whitespace")


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
    present = {f.name for f, _ in vol.ListFields()}
    for source in _VOLUME_SOURCES:
        if source not in present:
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
        elif source == "projected":
            _projected(errs, src, sp)
    if not count:
        errs.required(path, "must specify a volume type")


def _projected(errs: _Errors, src, path: str) -> None:
    """Upstream's validateProjectedVolumeSource: one source per entry, names and paths as the plain
    volumes have them, a token living at least 10 minutes."""
    if src.HasField("defaultMode"):
        _file_mode(errs, _c(path, "defaultMode"), src.defaultMode)
    for i, source in enumerate(src.sources):
        sp = f"{path}.sources[{i}]"
        kinds_set = [f.name for f, _ in source.ListFields()]
        if len(kinds_set) != 1:
            errs.forbidden(sp, "may not specify more than 1 volume type per source" if kinds_set
                           else "must specify exactly 1 volume type")
            continue
        name = kinds_set[0]
        if name in ("secret", "configMap"):
            ref = getattr(source, name)
            if not ref.name:
                errs.required(_c(_c(sp, name), "name"))
            if ref.items:
                _key_to_paths(errs, ref.items, _c(_c(sp, name), "items"))
        elif name == "downwardAPI":
            for item in source.downwardAPI.items:
                _downward_api_file(errs, item, _c(sp, "downwardAPI"))
        else:
            token = source.serviceAccountToken
            tp = _c(sp, "serviceAccountToken")
            if _opt(token, "expirationSeconds") is not None and token.expirationSeconds < 600:
                errs.invalid(_c(tp, "expirationSeconds"), token.expirationSeconds,
                             "may not specify a duration less than 10 minutes")
            if not token.path:
                errs.required(_c(tp, "path"))
            _local_non_reserved_path(errs, _c(tp, "path"), token.path)


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


def _containers(errs: _Errors, spec, volumes: dict, grace, path: str) -> None:
    if not spec.containers:
        errs.required(path)
        return
    names: set = set()
    any_host_port = False
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
        any_host_port = any_host_port or any(port.hostPort for port in c.ports)
    if any_host_port:
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
    if c.terminationMessagePolicy not in _TERMINATION_MESSAGE_POLICIES:
        _enum(errs, _c(path, "terminationMessagePolicy"), c.terminationMessagePolicy,
              _TERMINATION_MESSAGE_POLICIES)
    if c.ports:
        _container_ports(errs, c.ports, _c(path, "ports"))
    if c.env:
        _env(errs, c.env, _c(path, "env"))
    if c.envFrom:
        _env_from(errs, c.envFrom, _c(path, "envFrom"))
    if c.volumeMounts:
        _volume_mounts(errs, c, volumes, _c(path, "volumeMounts"))
    if c.imagePullPolicy not in _PULL_POLICIES:
        _enum(errs, _c(path, "imagePullPolicy"), c.imagePullPolicy, _PULL_POLICIES)
    if c.HasField("resources"):
        _resource_requirements(errs, _c(path, "resources"), c.resources)
    if c.resizePolicy:
        _resize_policy(errs, c.resizePolicy, _c(path, "resizePolicy"), pod_restart_policy)
    if c.HasField("securityContext"):
        _security_context(errs, c.securityContext, _c(path, "securityContext"))


def _container_ports(errs: _Errors, ports, path: str) -> None:
    names: set = set()
    for i, port in enumerate(ports):
        if port.name:
            msgs = _port_name_msgs(port.name)
            for msg in msgs:
                errs.invalid(_c(_ix(path, i), "name"), port.name, msg)
            if not msgs:
                if port.name in names:
                    errs.duplicate(_c(_ix(path, i), "name"), port.name)
                else:
                    names.add(port.name)
        if port.containerPort == 0:
            errs.required(_c(_ix(path, i), "containerPort"))
        else:
            for msg in _port_num_msgs(port.containerPort):
                errs.invalid(_c(_ix(path, i), "containerPort"), port.containerPort, msg)
        if port.hostPort != 0:
            for msg in _port_num_msgs(port.hostPort):
                errs.invalid(_c(_ix(path, i), "hostPort"), port.hostPort, msg)
        if port.protocol not in _PROTOCOLS:
            _enum(errs, _c(_ix(path, i), "protocol"), port.protocol, _PROTOCOLS)


def _env(errs: _Errors, env, path: str) -> None:
    for i, ev in enumerate(env):
        if not ev.name:
            errs.required(_c(_ix(path, i), "name"))
        else:
            for msg in _env_name_msgs(ev.name):
                errs.invalid(_c(_ix(path, i), "name"), ev.name, msg)
        if not ev.HasField("valueFrom"):
            continue
        p = _ix(path, i)
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


_PROBE_COUNTS = ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold")


def _probes(errs: _Errors, c, grace, path: str) -> None:
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        if not c.HasField(name):
            continue
        probe, p = getattr(c, name), _c(path, name)
        _handler(errs, probe, ("exec", "httpGet", "tcpSocket", "grpc"), grace, p)
        if (probe.initialDelaySeconds < 0 or probe.timeoutSeconds < 0 or probe.periodSeconds < 0
                or probe.successThreshold < 0 or probe.failureThreshold < 0):
            for f in _PROBE_COUNTS:
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
                if not _HEADER_NAME_RE.fullmatch(header.name):
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


def _tolerations(errs: _Errors, tolerations, path: str) -> None:
    for i, t in enumerate(tolerations):
        if t.key and _label_key_msgs(t.key):
            _qualified_name(errs, _c(_ix(path, i), "key"), t.key)
        if not t.key and t.operator != "Exists":
            errs.invalid(_c(_ix(path, i), "operator"), t.operator,
                         "operator must be Exists when `key` is empty, which means \"match all values and all keys\"")
        if t.HasField("tolerationSeconds") and t.effect != "NoExecute":
            errs.invalid(_c(_ix(path, i), "effect"), t.effect,
                         "effect must be 'NoExecute' when `tolerationSeconds` is set")
        if t.operator in ("Equal", ""):
            msgs = _label_value_msgs(t.value)
            if msgs:
                errs.invalid(_c(_ix(path, i), "operator"), t.value, ";".join(msgs))
        elif t.operator == "Exists":
            if t.value:
                errs.invalid(_c(_ix(path, i), "operator"), t.value, "value must be empty when `operator` is 'Exists'")
        else:
            errs.not_supported(_c(_ix(path, i), "operator"), t.operator, _TOLERATION_OPERATORS)
        if t.effect and t.effect not in _TAINT_EFFECTS:
            errs.not_supported(_c(_ix(path, i), "effect"), t.effect, _TAINT_EFFECTS)


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


def workload_selector(errs: _Errors, spec, empty_word: str) -> bool:
    """A workload's `spec.selector`: required, valid, not empty ("empty selector is invalid for
    <empty_word>", upstream's wording per kind), and matching the template's labels. False when the
    template need not be checked further."""
    selector = spec.selector if spec.HasField("selector") else None
    if selector is None:
        errs.required("spec.selector")
    else:
        _label_selector(errs, "spec.selector", selector)
        if not selector.matchLabels and not selector.matchExpressions:
            errs.invalid("spec.selector", _fmt_selector(selector), f"empty selector is invalid for {empty_word}")
    return _selector_matches_template(errs, selector, spec.template, "spec")


def _selector_and_template(errs: _Errors, spec, kind: str) -> None:
    """The part of ValidateReplicaSetSpec / ValidateDeploymentSpec they share."""
    if not workload_selector(errs, spec, "deployment"):
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
