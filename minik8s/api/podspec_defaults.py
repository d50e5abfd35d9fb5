"""Defaulting shared by Pod and every pod template (upstream SetDefaults_PodSpec, _Container, _Probe,
_Volume), and the quantity canonicalisation every kind's defaults use.

Every quantity (container resources, pod overhead, node capacity/allocatable, PVC resources, emptyDir
sizeLimit, HPA metric targets) is rounded up to milli precision and rewritten in upstream's canonical
form when it parses; an unparsable quantity is left as written for validation to report. Pod and
container securityContext are deliberately not defaulted (upstream adds an empty pod securityContext;
we leave it absent).
"""
from __future__ import annotations

import functools
import re

from minik8s.api.quantity import parse_quantity, Quantity, QuantityError


DEFAULT_SCHEDULER_NAME = "default-scheduler"
DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_FILE_MODE = 0o644                    # secret / configMap / downwardAPI defaultMode
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)


@functools.lru_cache(maxsize=4096)
def canonical_quantity(text: str) -> str:
    """`text` rounded up to milli precision, in canonical form; unchanged when it does not parse."""
    try:
        q = parse_quantity(text)
        milli = q.milli_value()
    except QuantityError:
        return text
    rounded = Quantity(milli, -3, q.format)
    if rounded != q:                                   # upstream SetDefaults_ResourceList: RoundUp(-3)
        q = rounded
    return str(q)


def _canonicalise_map(m) -> None:
    for key in list(m):           # the map's own iterator: keys() is the slower Mapping mixin
        value = m[key]
        canon = canonical_quantity(value)
        if canon != value:
            m[key] = canon


def _canonicalise_field(msg, name: str) -> None:
    value = getattr(msg, name)
    if value:
        canon = canonical_quantity(value)
        if canon != value:
            setattr(msg, name, canon)


def _unset(v) -> bool:
    return v.WhichOneof("kind") is None


def _set_str(v, s: str) -> None:
    v.string_value = s


def _set_int(v, n: int) -> None:
    v.number_value = n


@functools.lru_cache(maxsize=4096)
def _remembered_image_tag(image: str) -> str:
    return _image_tag(image)


def _pull_policy(image: str) -> str:
    """SetDefaults_Container's imagePullPolicy: Always for a `latest` tag, IfNotPresent otherwise."""
    tag = _remembered_image_tag(image) if len(image) <= 512 else _image_tag(image)
    return "Always" if tag == "latest" else "IfNotPresent"


def _image_tag(image: str) -> str:
    """The tag kubelet would pull: "" for a digest or an unparsable reference, "latest" if none.

    Follows parsers.ParseImageName: a reference with neither tag nor digest means `latest`."""
    if not image or image != image.strip():
        return ""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        tag = last.rpartition(":")[2]
        if not _TAG_RE.fullmatch(tag):
            return ""                                   # "nginx:" or "nginx:-x": not a reference
        name = name[: len(name) - len(tag) - 1]
    if not name or any(c.isupper() for c in name):
        return ""                                       # repositories must be lower case
    if not tag and not digest:
        return "latest"
    return tag


def _default_http_get(action) -> None:
    if not action.path:
        action.path = "/"
    if not action.scheme:
        action.scheme = "HTTP"


def _default_probe(probe) -> None:
    if probe.timeoutSeconds == 0:
        probe.timeoutSeconds = 1
    if probe.periodSeconds == 0:
        probe.periodSeconds = 10
    if probe.successThreshold == 0:
        probe.successThreshold = 1
    if probe.failureThreshold == 0:
        probe.failureThreshold = 3
    if probe.HasField("httpGet"):
        _default_http_get(probe.httpGet)


def _default_container(c) -> None:
    if not c.imagePullPolicy:
        c.imagePullPolicy = _pull_policy(c.image)
    if not c.terminationMessagePath:
        c.terminationMessagePath = DEFAULT_TERMINATION_MESSAGE_PATH
    if not c.terminationMessagePolicy:
        c.terminationMessagePolicy = "File"
    for port in c.ports:
        if not port.protocol:
            port.protocol = "TCP"
    for name in _PROBES:
        if c.HasField(name):
            _default_probe(getattr(c, name))
    if c.HasField("lifecycle"):
        for name in ("postStart", "preStop"):
            handler = getattr(c.lifecycle, name)
            if c.lifecycle.HasField(name) and handler.HasField("httpGet"):
                _default_http_get(handler.httpGet)
    for env in c.env:
        if env.HasField("valueFrom"):
            source = env.valueFrom
            if source.HasField("fieldRef") and not source.fieldRef.apiVersion:
                source.fieldRef.apiVersion = "v1"
    if c.HasField("resources"):
        resources = c.resources
        if resources.limits:
            _canonicalise_map(resources.limits)
        if resources.requests:
            _canonicalise_map(resources.requests)


_VOLUME_SOURCES = frozenset(("emptyDir", "hostPath", "configMap", "secret", "persistentVolumeClaim", "downwardAPI",
                             "projected"))


def _default_volume(v) -> None:
    present = {f.name for f, _ in v.ListFields()}
    if present.isdisjoint(_VOLUME_SOURCES):
        v.emptyDir.SetInParent()                       # SetDefaults_Volume
        present.add("emptyDir")
    if "emptyDir" in present:
        _canonicalise_field(v.emptyDir, "sizeLimit")
    if "hostPath" in present and not v.hostPath.HasField("type"):
        v.hostPath.type = ""                           # HostPathUnset
    if "secret" in present and not v.secret.HasField("defaultMode"):
        v.secret.defaultMode = DEFAULT_FILE_MODE
    if "configMap" in present and not v.configMap.HasField("defaultMode"):
        v.configMap.defaultMode = DEFAULT_FILE_MODE
    if "downwardAPI" in present:
        if not v.downwardAPI.HasField("defaultMode"):
            v.downwardAPI.defaultMode = DEFAULT_FILE_MODE
        for item in v.downwardAPI.items:
            if item.HasField("fieldRef") and not item.fieldRef.apiVersion:
                item.fieldRef.apiVersion = "v1"
    if "projected" in present:
        if not v.projected.HasField("defaultMode"):
            v.projected.defaultMode = DEFAULT_FILE_MODE
        for source in v.projected.sources:
            if source.HasField("serviceAccountToken") and not source.serviceAccountToken.HasField("expirationSeconds"):
                source.serviceAccountToken.expirationSeconds = 3600
            for item in source.downwardAPI.items:
                if item.HasField("fieldRef") and not item.fieldRef.apiVersion:
                    item.fieldRef.apiVersion = "v1"


def _default_pod_spec(spec) -> None:
    """SetDefaults_PodSpec and everything nested in it: shared by pods and pod templates."""
    if not spec.dnsPolicy:
        spec.dnsPolicy = "ClusterFirst"
    if not spec.restartPolicy:
        spec.restartPolicy = "Always"
    if not spec.HasField("terminationGracePeriodSeconds"):
        spec.terminationGracePeriodSeconds = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    if not spec.schedulerName:
        spec.schedulerName = DEFAULT_SCHEDULER_NAME
    for v in spec.volumes:
        _default_volume(v)
    for c in spec.initContainers:
        _default_container(c)
    for c in spec.containers:
        _default_container(c)
    if spec.overhead:
        _canonicalise_map(spec.overhead)


def _default_pod_template(template) -> None:
    _default_pod_spec(template.spec)
