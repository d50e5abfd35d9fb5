"""Defaulting: the values the API server fills in before it validates and stores an object.

This module owns what upstream spreads over pkg/apis/*/v1/defaults.go (SetDefaults_Pod, _PodSpec,
_Container, _Probe, _Service, _Deployment, _Job, HPA v2, ...), plus the few defaults upstream applies
in a registry strategy rather than in defaults.go (a Namespace's `kubernetes` finalizer, the Service
clusterIP/clusterIPs pairing, a Job's generated selector). `apply_defaults(obj)` mutates a message in
place and is idempotent, so the server may call it on every create and update.

Every quantity (container resources, pod overhead, node capacity/allocatable, PVC resources, emptyDir
sizeLimit, HPA metric targets) is rounded up to milli precision and rewritten in upstream's canonical
form, when it parses; an unparsable quantity is left as written for validation to report.

Not defaulted here, deliberately: pod and container securityContext (upstream adds an empty pod
securityContext; we leave it absent), Service ipFamilies/ipFamilyPolicy and clusterIP allocation
(the server's allocator owns those), a Job's manualSelector (upstream 1.30+ defaults it to false; we
leave it unset), and anything behind alpha feature gates.
"""
from __future__ import annotations

import functools

import re

from minik8s.api.quantity import Quantity, QuantityError, parse_quantity

__all__ = ["apply_defaults", "default_job_selector", "canonical_quantity",
           "CONTROLLER_UID_LABEL", "JOB_NAME_LABEL", "LEGACY_CONTROLLER_UID_LABEL",
           "LEGACY_JOB_NAME_LABEL"]

DEFAULT_SCHEDULER_NAME = "default-scheduler"
DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_CLIENT_IP_AFFINITY_SECONDS = 10800   # 3 hours
DEFAULT_FILE_MODE = 0o644                    # secret / configMap / downwardAPI defaultMode
DEFAULT_HPA_CPU_UTILIZATION = 80
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"

_INT32_MAX = 2**31 - 1
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)


def apply_defaults(obj) -> None:
    """Fill in upstream's defaults for `obj` (any API kind), in place."""
    fn = _BY_KIND.get(type(obj).__name__)
    if fn is not None:
        fn(obj)


# ---------------------------------------------------------------- quantities
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
    for key in list(m.keys()):
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


# ---------------------------------------------------------------- int-or-string helpers
def _unset(v) -> bool:
    return v.WhichOneof("kind") is None


def _set_str(v, s: str) -> None:
    v.string_value = s


def _set_int(v, n: int) -> None:
    v.number_value = n


# ---------------------------------------------------------------- pod spec
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
        c.imagePullPolicy = "Always" if _image_tag(c.image) == "latest" else "IfNotPresent"
    if not c.terminationMessagePath:
        c.terminationMessagePath = DEFAULT_TERMINATION_MESSAGE_PATH
    if not c.terminationMessagePolicy:
        c.terminationMessagePolicy = "File"
    for port in c.ports:
        if not port.protocol:
            port.protocol = "TCP"
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        if c.HasField(name):
            _default_probe(getattr(c, name))
    if c.HasField("lifecycle"):
        for name in ("postStart", "preStop"):
            handler = getattr(c.lifecycle, name)
            if c.lifecycle.HasField(name) and handler.HasField("httpGet"):
                _default_http_get(handler.httpGet)
    for env in c.env:
        if env.HasField("valueFrom") and env.valueFrom.HasField("fieldRef") \
                and not env.valueFrom.fieldRef.apiVersion:
            env.valueFrom.fieldRef.apiVersion = "v1"
    if c.HasField("resources"):
        _canonicalise_map(c.resources.limits)
        _canonicalise_map(c.resources.requests)


def _default_volume(v) -> None:
    sources = ("emptyDir", "hostPath", "configMap", "secret", "persistentVolumeClaim", "downwardAPI")
    if not any(v.HasField(s) for s in sources):
        v.emptyDir.SetInParent()                       # SetDefaults_Volume
    if v.HasField("emptyDir"):
        _canonicalise_field(v.emptyDir, "sizeLimit")
    if v.HasField("hostPath") and not v.hostPath.HasField("type"):
        v.hostPath.type = ""                           # HostPathUnset
    if v.HasField("secret") and not v.secret.HasField("defaultMode"):
        v.secret.defaultMode = DEFAULT_FILE_MODE
    if v.HasField("configMap") and not v.configMap.HasField("defaultMode"):
        v.configMap.defaultMode = DEFAULT_FILE_MODE
    if v.HasField("downwardAPI"):
        if not v.downwardAPI.HasField("defaultMode"):
            v.downwardAPI.defaultMode = DEFAULT_FILE_MODE
        for item in v.downwardAPI.items:
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
    _canonicalise_map(spec.overhead)


def _default_pod_template(template) -> None:
    _default_pod_spec(template.spec)


def _requests_from_limits(c) -> None:
    if not c.HasField("resources"):
        return
    for key, value in c.resources.limits.items():
        if key not in c.resources.requests:
            c.resources.requests[key] = value


def _default_pod(pod) -> None:
    spec = pod.spec
    _default_pod_spec(spec)
    # SetDefaults_Pod: only on a Pod, never on a template.
    for c in list(spec.containers) + list(spec.initContainers):
        _requests_from_limits(c)
    if not spec.HasField("enableServiceLinks"):
        spec.enableServiceLinks = True
    if spec.hostNetwork:
        for c in list(spec.containers) + list(spec.initContainers):
            for port in c.ports:
                if port.hostPort == 0:
                    port.hostPort = port.containerPort
    if not spec.HasField("priority"):
        spec.priority = 0                              # the Priority admission plugin, no classes


# ---------------------------------------------------------------- apps/v1
def _default_replica_set(rs) -> None:
    if not rs.spec.HasField("replicas"):
        rs.spec.replicas = 1
    _default_pod_template(rs.spec.template)


def _default_deployment(d) -> None:
    spec = d.spec
    if not spec.HasField("replicas"):
        spec.replicas = 1
    strategy = spec.strategy
    if not strategy.type:
        strategy.type = "RollingUpdate"
    if strategy.type == "RollingUpdate":
        ru = strategy.rollingUpdate
        ru.SetInParent()
        if _unset(ru.maxUnavailable):
            _set_str(ru.maxUnavailable, "25%")
        if _unset(ru.maxSurge):
            _set_str(ru.maxSurge, "25%")
    if not spec.HasField("revisionHistoryLimit"):
        spec.revisionHistoryLimit = 10
    if not spec.HasField("progressDeadlineSeconds"):
        spec.progressDeadlineSeconds = 600
    _default_pod_template(spec.template)


# ---------------------------------------------------------------- batch/v1
def _default_job(job) -> None:
    spec = job.spec
    if not spec.HasField("completions") and not spec.HasField("parallelism"):
        spec.completions = 1
        spec.parallelism = 1
    if not spec.HasField("parallelism"):
        spec.parallelism = 1
    if not spec.HasField("backoffLimit"):
        spec.backoffLimit = _INT32_MAX if spec.HasField("backoffLimitPerIndex") else 6
    if spec.template.metadata.labels and not job.metadata.labels:
        job.metadata.labels.update(spec.template.metadata.labels)
    if not spec.HasField("completionMode"):
        spec.completionMode = "NonIndexed"
    if not spec.HasField("suspend"):
        spec.suspend = False
    if spec.HasField("podFailurePolicy"):
        for rule in spec.podFailurePolicy.rules:
            for pattern in rule.onPodConditions:
                if not pattern.status:
                    pattern.status = "True"
    if not spec.HasField("podReplacementPolicy"):
        spec.podReplacementPolicy = "Failed" if spec.HasField("podFailurePolicy") else "TerminatingOrFailed"
    _default_pod_template(spec.template)


def default_job_selector(job) -> None:
    """Generate a Job's selector and pod-template labels from its uid (upstream generateSelector).

    The server calls this on create, after assigning metadata.uid and before validating. Nothing is
    done when spec.manualSelector is true. Labels the user already set are kept; validation then
    rejects them if they disagree with the uid or name."""
    spec = job.spec
    if spec.HasField("manualSelector") and spec.manualSelector:
        return
    labels = spec.template.metadata.labels
    for key in (LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL):
        if key not in labels:
            labels[key] = job.metadata.name
    for key in (LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL):
        if key not in labels:
            labels[key] = job.metadata.uid
    spec.selector.SetInParent()
    if CONTROLLER_UID_LABEL not in spec.selector.matchLabels:
        spec.selector.matchLabels[CONTROLLER_UID_LABEL] = job.metadata.uid


# ---------------------------------------------------------------- core/v1, other kinds
def _externally_accessible(svc) -> bool:
    return svc.spec.type in ("LoadBalancer", "NodePort") or \
        (svc.spec.type == "ClusterIP" and len(svc.spec.externalIPs) > 0)


def _default_service(svc) -> None:
    spec = svc.spec
    if not spec.sessionAffinity:
        spec.sessionAffinity = "None"
    if spec.sessionAffinity == "None":
        spec.ClearField("sessionAffinityConfig")
    if spec.sessionAffinity == "ClientIP":
        cfg = spec.sessionAffinityConfig
        if not (spec.HasField("sessionAffinityConfig") and cfg.HasField("clientIP")
                and cfg.clientIP.HasField("timeoutSeconds")):
            cfg.clientIP.timeoutSeconds = DEFAULT_CLIENT_IP_AFFINITY_SECONDS
    if not spec.type:
        spec.type = "ClusterIP"
    for port in spec.ports:
        if not port.protocol:
            port.protocol = "TCP"
        tp = port.targetPort
        kind = tp.WhichOneof("kind")
        if kind is None or (kind == "number_value" and tp.number_value == 0) \
                or (kind == "string_value" and tp.string_value == ""):
            _set_int(tp, port.port)
    if _externally_accessible(svc) and not spec.externalTrafficPolicy:
        spec.externalTrafficPolicy = "Cluster"
    if not spec.HasField("internalTrafficPolicy") and spec.type in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec.internalTrafficPolicy = "Cluster"
    if spec.type == "LoadBalancer" and not spec.HasField("allocateLoadBalancerNodePorts"):
        spec.allocateLoadBalancerNodePorts = True
    # The registry strategy keeps clusterIP and clusterIPs[0] in step (NormalizeClusterIPs).
    if spec.type != "ExternalName":
        if spec.clusterIP and not spec.clusterIPs:
            spec.clusterIPs.append(spec.clusterIP)
        elif spec.clusterIPs and not spec.clusterIP:
            spec.clusterIP = spec.clusterIPs[0]


def _default_endpoints(ep) -> None:
    for subset in ep.subsets:
        for port in subset.ports:
            if not port.protocol:
                port.protocol = "TCP"


def _default_pvc(pvc) -> None:
    if not pvc.status.phase:
        pvc.status.phase = "Pending"
    if not pvc.spec.HasField("volumeMode"):
        pvc.spec.volumeMode = "Filesystem"
    _canonicalise_map(pvc.spec.resources.requests)
    _canonicalise_map(pvc.spec.resources.limits)
    _canonicalise_map(pvc.status.capacity)
    _canonicalise_map(pvc.status.allocatedResources)


def _default_namespace(ns) -> None:
    if ns.metadata.name:
        ns.metadata.labels[NAMESPACE_NAME_LABEL] = ns.metadata.name
    if not ns.status.phase:
        ns.status.phase = "Active"
    # The registry adds the `kubernetes` finalizer on create only: the namespace controller removes
    # it later with an update, which must not put it back. Only a namespace never stored lacks a uid
    # (the server assigns it after defaulting a create, and carries it over before defaulting an update).
    if not ns.metadata.uid and not ns.metadata.deletionTimestamp \
            and "kubernetes" not in ns.spec.finalizers:
        ns.spec.finalizers.append("kubernetes")


def _default_node(node) -> None:
    status = node.status
    _canonicalise_map(status.capacity)
    _canonicalise_map(status.allocatable)
    if status.capacity and not status.allocatable:
        status.allocatable.update(status.capacity)


def _default_hpa(hpa) -> None:
    spec = hpa.spec
    if not spec.HasField("minReplicas"):
        spec.minReplicas = 1
    if not spec.metrics:
        m = spec.metrics.add()
        m.type = "Resource"
        m.resource.name = "cpu"
        m.resource.target.type = "Utilization"
        m.resource.target.averageUtilization = DEFAULT_HPA_CPU_UTILIZATION
    for m in spec.metrics:
        for name in ("object", "pods", "resource", "containerResource", "external"):
            if m.HasField(name):
                target = getattr(m, name).target
                _canonicalise_field(target, "value")
                _canonicalise_field(target, "averageValue")
    if spec.HasField("behavior"):                      # filled in only when the user set behavior
        _default_scaling_rules(spec.behavior, "scaleUp", window=0,
                               policies=[("Pods", 4, 15), ("Percent", 100, 15)])
        _default_scaling_rules(spec.behavior, "scaleDown", window=None,
                               policies=[("Percent", 100, 15)])


def _default_scaling_rules(behavior, name: str, window: int | None, policies) -> None:
    rules = getattr(behavior, name)
    rules.SetInParent()
    if not rules.HasField("stabilizationWindowSeconds") and window is not None:
        rules.stabilizationWindowSeconds = window
    if not rules.HasField("selectPolicy"):
        rules.selectPolicy = "Max"
    if not rules.policies:
        for typ, value, period in policies:
            p = rules.policies.add()
            p.type, p.value, p.periodSeconds = typ, value, period


_BY_KIND = {
    "Pod": _default_pod,
    "ReplicaSet": _default_replica_set,
    "Deployment": _default_deployment,
    "Job": _default_job,
    "Service": _default_service,
    "Endpoints": _default_endpoints,
    "PersistentVolumeClaim": _default_pvc,
    "Namespace": _default_namespace,
    "Node": _default_node,
    "HorizontalPodAutoscaler": _default_hpa,
}
