"""minik8s.api.validation: paths and wording of every kind's field errors, create and update.

Each case starts from a valid manifest of its kind, changes it (a dict mutation before decoding and
defaulting, and optionally a protobuf mutation after), and expects exactly the listed error paths,
each with the key part of upstream's message."""
from __future__ import annotations

import copy

import pytest

from minik8s.api.codec import from_dict, to_dict
from minik8s.api.defaults import apply_defaults, default_job_selector
from minik8s.api.kinds import KINDS, UnknownKind
from minik8s.api.validation import format_value, validate, validate_pod_spec

UID = "0b5f3c9e-uid"

_TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.25",
                             "ports": [{"name": "http", "containerPort": 80}]}]},
}

BASE = {
    "Pod": {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25",
                                     "ports": [{"name": "http", "containerPort": 80}]}]}},
    "Deployment": {"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web", "namespace": "default"},
                   "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                            "template": _TEMPLATE}},
    "ReplicaSet": {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": "web-abc", "namespace": "default"},
                   "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                            "template": _TEMPLATE}},
    "Job": {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "default"},
            "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34",
                                                           "command": ["perl", "-e", "print 1"]}],
                                           "restartPolicy": "Never"}}}},
    "Service": {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
    "Endpoints": {"apiVersion": "v1", "kind": "Endpoints",
                  "metadata": {"name": "web", "namespace": "default"},
                  "subsets": [{"addresses": [{"ip": "10.244.1.5"}], "ports": [{"port": 8080}]}]},
    "Node": {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
             "spec": {"taints": [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]},
             "status": {"capacity": {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "1"}}},
    "Namespace": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}},
    "PersistentVolumeClaim": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                              "metadata": {"name": "data", "namespace": "default"},
                              "spec": {"accessModes": ["ReadWriteOnce"],
                                       "resources": {"requests": {"storage": "1Gi"}}}},
    "Event": {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.17a", "namespace": "default"},
              "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
              "reason": "Started", "message": "Started container web", "type": "Normal"},
    "HorizontalPodAutoscaler": {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "maxReplicas": 5,
                 "metrics": [{"type": "Resource", "resource": {
                     "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}},
    "PodDisruptionBudget": {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                            "metadata": {"name": "web", "namespace": "default"},
                            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}},
    "Lease": {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
              "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
              "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}},
}


def build(kind: str, manifest: dict):
    """Decode, default and (for a Job) generate the selector, as the server does on create."""
    obj = from_dict(KINDS[kind].message, manifest)
    apply_defaults(obj)
    if kind == "Job":
        obj.metadata.uid = UID
        default_job_selector(obj)
    return obj


def _walk(d, path: str):
    """The container and final key of a dotted path with [i] indexes, creating dicts on the way."""
    parts = path.replace("]", "").replace("[", ".").split(".")
    for p in parts[:-1]:
        d = d[int(p)] if isinstance(d, list) else d.setdefault(p, {})
    last = parts[-1]
    return d, int(last) if isinstance(d, list) else last


def put(path: str, value):
    def mutate(m):
        d, k = _walk(m, path)
        d[k] = value
    return mutate


def drop(path: str):
    def mutate(m):
        d, k = _walk(m, path)
        del d[k]
    return mutate


def append(path: str, value):
    def mutate(m):
        d, k = _walk(m, path)
        d.setdefault(k, []).append(value)
    return mutate


def both(*mutations):
    def mutate(m):
        for fn in mutations:
            fn(m)
    return mutate


C0 = "spec.containers[0]"
TC0 = "spec.template.spec.containers[0]"
NEVER_SUPPORTED = 'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'

# (id, kind, dict mutation, expected {path: message fragment} -- one fragment per error)
CASES = [
    # ---------------------------------------------------------------- metadata
    ("name-not-subdomain", "Deployment", put("metadata.name", "Web_1"),
     [("metadata.name", 'Invalid value: "Web_1": a lowercase RFC 1123 subdomain must consist of lower '
                        "case alphanumeric characters, '-' or '.', and must start and end with an "
                        "alphanumeric character (e.g. 'example.com', regex used for validation is "
                        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")]),
    ("name-missing", "Pod", drop("metadata.name"),
     [("metadata.name", "Required value: name or generateName is required")]),
    ("generate-name-bad", "Pod", both(drop("metadata.name"), put("metadata.generateName", "Web-")),
     [("metadata.generateName", "a lowercase RFC 1123 subdomain")]),
    ("label-value-bad", "Pod", put("metadata.labels", {"app": "a b"}),
     [("metadata.labels", 'Invalid value: "a b": a valid label must be an empty string')]),
    ("label-key-bad", "Pod", put("metadata.labels", {"-app": "web"}),
     [("metadata.labels", 'Invalid value: "-app": name part must consist of alphanumeric characters')]),
    ("annotation-key-bad", "Pod", put("metadata.annotations", {"a/b/c": "x"}),
     [("metadata.annotations", 'Invalid value: "a/b/c": a qualified name must consist of')]),
    ("annotations-too-big", "Pod", put("metadata.annotations", {"big": "x" * (256 * 1024)}),
     [("metadata.annotations", "Too long: may not be more than 262144 bytes")]),
    ("owner-reference-uid", "Pod",
     put("metadata.ownerReferences", [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc"}]),
     [("metadata.ownerReferences.uid", 'Invalid value: "": must not be empty')]),
    ("finalizer-not-qualified", "Pod", put("metadata.finalizers", ["bogus"]),
     [("metadata.finalizers[0]", "name is neither a standard finalizer name nor is it fully qualified")]),
    # ---------------------------------------------------------------- pod spec
    ("no-containers", "Pod", put("spec.containers", []), [("spec.containers", "Required value")]),
    ("container-name-bad", "Pod", put(f"{C0}.name", "Web_1"),
     [(f"{C0}.name", 'Invalid value: "Web_1": a lowercase RFC 1123 label must consist of')]),
    ("container-name-dup-init", "Pod", put("spec.initContainers", [{"name": "web", "image": "busybox"}]),
     [("spec.initContainers[0].name", 'Duplicate value: "web"')]),
    ("container-name-dup", "Pod", append("spec.containers", {"name": "web", "image": "busybox"}),
     [("spec.containers[1].name", 'Duplicate value: "web"')]),
    ("image-missing", "Pod", drop(f"{C0}.image"), [(f"{C0}.image", "Required value")]),
    ("image-whitespace", "Pod", put(f"{C0}.image", " nginx"),
     [(f"{C0}.image", "must not have leading or trailing whitespace")]),
    ("container-port-zero", "Pod", put(f"{C0}.ports[0].containerPort", 0),
     [(f"{C0}.ports[0].containerPort", "Required value")]),
    ("container-port-range", "Pod", put(f"{C0}.ports[0].containerPort", 70000),
     [(f"{C0}.ports[0].containerPort", "Invalid value: 70000: must be between 1 and 65535, inclusive")]),
    ("host-port-range", "Pod", put(f"{C0}.ports[0].hostPort", 65536),
     [(f"{C0}.ports[0].hostPort", "Invalid value: 65536: must be between 1 and 65535, inclusive")]),
    ("port-protocol", "Pod", put(f"{C0}.ports[0].protocol", "HTTP"),
     [(f"{C0}.ports[0].protocol", 'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"')]),
    ("port-name-dup", "Pod", append(f"{C0}.ports", {"name": "http", "containerPort": 81}),
     [(f"{C0}.ports[1].name", 'Duplicate value: "http"')]),
    ("port-name-iana", "Pod", put(f"{C0}.ports[0].name", "HTTP_PORT"),
     [(f"{C0}.ports[0].name", "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"),
      (f"{C0}.ports[0].name", "must contain at least one letter (a-z)")]),
    ("host-port-conflict", "Pod",
     both(put(f"{C0}.ports[0].hostPort", 8080),
          append("spec.containers", {"name": "b", "image": "b",
                                     "ports": [{"containerPort": 81, "hostPort": 8080}]})),
     [("spec.containers[1].ports[0].hostPort", 'Duplicate value: "TCP//8080"')]),
    ("restart-policy", "Pod", put("spec.restartPolicy", "Sometimes"),
     [("spec.restartPolicy", NEVER_SUPPORTED)]),
    ("pull-policy", "Pod", put(f"{C0}.imagePullPolicy", "Maybe"),
     [(f"{C0}.imagePullPolicy",
       'Unsupported value: "Maybe": supported values: "Always", "IfNotPresent", "Never"')]),
    ("dns-policy", "Pod", put("spec.dnsPolicy", "Google"),
     [("spec.dnsPolicy", 'Unsupported value: "Google"')]),
    ("grace-negative", "Pod", put("spec.terminationGracePeriodSeconds", -1),
     [("spec.terminationGracePeriodSeconds", "Invalid value: -1: must be greater than or equal to 0")]),
    ("active-deadline-zero", "Pod", put("spec.activeDeadlineSeconds", 0),
     [("spec.activeDeadlineSeconds", "Invalid value: 0: must be between 1 and 2147483647, inclusive")]),
    ("node-name-bad", "Pod", put("spec.nodeName", "Node_1"), [("spec.nodeName", "RFC 1123 subdomain")]),
    ("host-network-port", "Pod",
     both(put("spec.hostNetwork", True), put(f"{C0}.ports[0].hostPort", 8080)),
     [(f"{C0}.ports[0].hostPort", "Invalid value: 8080: must match `containerPort` when `hostNetwork` is true")]),
    # resources
    ("quantity-unparsable", "Pod", put(f"{C0}.resources", {"requests": {"cpu": "abc"}}),
     [(f"{C0}.resources.requests.cpu", 'Invalid value: "abc": quantities must match the regular expression '
                                       "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]),
    ("quantity-unparsable-dotted-key", "Pod",
     put(f"{C0}.resources", {"limits": {"example.com/foo": "1x"}, "requests": {"example.com/foo": "1x"}}),
     [(f"{C0}.resources.limits[example.com/foo]", "quantities must match the regular expression"),
      (f"{C0}.resources.requests[example.com/foo]", "quantities must match the regular expression")]),
    ("requests-over-limits", "Pod", put(f"{C0}.resources", {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}),
     [(f"{C0}.resources.requests", 'Invalid value: "2": must be less than or equal to cpu limit of 1')]),
    ("memory-negative", "Pod", put(f"{C0}.resources", {"requests": {"memory": "-1Gi"}}),
     [(f"{C0}.resources.requests.memory", 'Invalid value: "-1Gi": must be greater than or equal to 0')]),
    ("gpu-fractional", "Pod", put(f"{C0}.resources", {"limits": {"nvidia.com/gpu": "0.5"}}),
     [(f"{C0}.resources.limits[nvidia.com/gpu]", 'Invalid value: "500m": must be an integer'),
      (f"{C0}.resources.requests[nvidia.com/gpu]", 'Invalid value: "500m": must be an integer')]),
    ("gpu-requests-not-limits", "Pod",
     put(f"{C0}.resources", {"limits": {"nvidia.com/gpu": "2"}, "requests": {"nvidia.com/gpu": "1"}}),
     [(f"{C0}.resources.requests", 'Invalid value: "1": must be equal to nvidia.com/gpu limit of 2')]),
    ("gpu-requests-without-limits", "Pod", put(f"{C0}.resources", {"requests": {"nvidia.com/gpu": "1"}}),
     [(f"{C0}.resources.limits", "Required value: Limit must be set for non overcommitable resources")]),
    ("resource-name-not-standard", "Pod", put(f"{C0}.resources", {"requests": {"gpu": "1"}}),
     [(f"{C0}.resources.requests.gpu", "must be a standard resource type or fully qualified"),
      (f"{C0}.resources.requests.gpu", "must be a standard resource for containers")]),
    # env
    ("env-name", "Pod", put(f"{C0}.env", [{"name": "1BAD", "value": "x"}]),
     [(f"{C0}.env[0].name", 'Invalid value: "1BAD": a valid environment variable name must consist of '
                            "alphabetic characters, digits, '_', '-', or '.', and must not start with a "
                            "digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used "
                            "for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')")]),
    ("env-value-from-empty", "Pod", put(f"{C0}.env", [{"name": "X", "valueFrom": {}}]),
     [(f"{C0}.env[0].valueFrom", 'Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, '
                                 "`configMapKeyRef` or `secretKeyRef`")]),
    ("env-value-from-two", "Pod", put(f"{C0}.env", [{"name": "X", "valueFrom": {
        "fieldRef": {"fieldPath": "metadata.name"}, "secretKeyRef": {"name": "s", "key": "k"}}}]),
     [(f"{C0}.env[0].valueFrom", "may not have more than one field specified at a time")]),
    ("env-value-and-value-from", "Pod", put(f"{C0}.env", [{"name": "X", "value": "v", "valueFrom": {
        "fieldRef": {"fieldPath": "metadata.name"}}}]),
     [(f"{C0}.env[0].valueFrom", "may not be specified when `value` is not empty")]),
    ("env-field-path-unsupported", "Pod", put(f"{C0}.env", [{"name": "X", "valueFrom": {
        "fieldRef": {"fieldPath": "spec.restartPolicy"}}}]),
     [(f"{C0}.env[0].valueFrom.fieldRef.fieldPath",
       'Unsupported value: "spec.restartPolicy": supported values: "metadata.name", "metadata.namespace", '
       '"metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", '
       '"status.podIP", "status.podIPs"')]),
    ("env-field-path-unknown", "Pod", put(f"{C0}.env", [{"name": "X", "valueFrom": {
        "fieldRef": {"fieldPath": "status.bogus"}}}]),
     [(f"{C0}.env[0].valueFrom.fieldRef.fieldPath",
       'Invalid value: "status.bogus": error converting fieldPath: field label not supported: status.bogus')]),
    ("env-secret-key-missing", "Pod", put(f"{C0}.env", [{"name": "X", "valueFrom": {
        "secretKeyRef": {"name": "s"}}}]),
     [(f"{C0}.env[0].valueFrom.secretKeyRef.key", "Required value")]),
    # volumes and mounts
    ("volume-name-dup", "Pod", put("spec.volumes", [{"name": "data", "emptyDir": {}},
                                                    {"name": "data", "emptyDir": {}}]),
     [("spec.volumes[1].name", 'Duplicate value: "data"')]),
    ("volume-name-bad", "Pod", put("spec.volumes", [{"name": "Data", "emptyDir": {}}]),
     [("spec.volumes[0].name", "a lowercase RFC 1123 label")]),
    ("volume-two-sources", "Pod",
     put("spec.volumes", [{"name": "data", "emptyDir": {}, "hostPath": {"path": "/data"}}]),
     [("spec.volumes[0].hostPath", "Forbidden: may not specify more than 1 volume type")]),
    ("volume-secret-name", "Pod", put("spec.volumes", [{"name": "s", "secret": {}}]),
     [("spec.volumes[0].secret.secretName", "Required value")]),
    ("volume-secret-mode", "Pod", put("spec.volumes", [{"name": "s", "secret": {"secretName": "s",
                                                                                "defaultMode": 1000}}]),
     [("spec.volumes[0].secret.defaultMode", "must be a number between 0 and 0777 (octal), both inclusive")]),
    ("volume-host-path-backsteps", "Pod", put("spec.volumes", [{"name": "h", "hostPath": {"path": "/a/../b"}}]),
     [("spec.volumes[0].hostPath.path", "must not contain '..'")]),
    ("mount-unknown-volume", "Pod", put(f"{C0}.volumeMounts", [{"name": "data", "mountPath": "/data"}]),
     [(f"{C0}.volumeMounts[0].name", 'Not found: "data"')]),
    ("mount-path-missing", "Pod", both(put("spec.volumes", [{"name": "data", "emptyDir": {}}]),
                                       put(f"{C0}.volumeMounts", [{"name": "data"}])),
     [(f"{C0}.volumeMounts[0].mountPath", "Required value")]),
    ("mount-path-dup", "Pod", both(put("spec.volumes", [{"name": "data", "emptyDir": {}}]),
                                   put(f"{C0}.volumeMounts", [{"name": "data", "mountPath": "/d"},
                                                              {"name": "data", "mountPath": "/d"}])),
     [(f"{C0}.volumeMounts[1].mountPath", 'Invalid value: "/d": must be unique')]),
    # probes
    ("probe-no-handler", "Pod", put(f"{C0}.livenessProbe", {"periodSeconds": 5}),
     [(f"{C0}.livenessProbe", "Required value: must specify a handler type")]),
    ("probe-two-handlers", "Pod", put(f"{C0}.readinessProbe", {"exec": {"command": ["true"]},
                                                               "tcpSocket": {"port": 80}}),
     [(f"{C0}.readinessProbe.tcpSocket", "Forbidden: may not specify more than 1 handler type")]),
    ("probe-liveness-success-threshold", "Pod",
     put(f"{C0}.livenessProbe", {"tcpSocket": {"port": 80}, "successThreshold": 2}),
     [(f"{C0}.livenessProbe.successThreshold", "Invalid value: 2: must be 1")]),
    ("probe-startup-success-threshold", "Pod",
     put(f"{C0}.startupProbe", {"tcpSocket": {"port": 80}, "successThreshold": 3}),
     [(f"{C0}.startupProbe.successThreshold", "Invalid value: 3: must be 1")]),
    ("probe-negative-period", "Pod", put(f"{C0}.readinessProbe", {"tcpSocket": {"port": 80}, "periodSeconds": -1}),
     [(f"{C0}.readinessProbe.periodSeconds", "Invalid value: -1: must be greater than or equal to 0")]),
    ("probe-port-name", "Pod", put(f"{C0}.readinessProbe", {"httpGet": {"port": "no_such"}}),
     [(f"{C0}.readinessProbe.httpGet.port", 'Invalid value: "no_such": must contain only alpha-numeric')]),
    ("probe-http-scheme", "Pod", put(f"{C0}.readinessProbe", {"httpGet": {"port": 80, "scheme": "FTP"}}),
     [(f"{C0}.readinessProbe.httpGet.scheme", 'Unsupported value: "FTP": supported values: "HTTP", "HTTPS"')]),
    ("init-container-probe", "Pod", put("spec.initContainers", [
        {"name": "init", "image": "busybox", "livenessProbe": {"exec": {"command": ["true"]}}}]),
     [("spec.initContainers[0].livenessProbe",
       "Forbidden: may not be set for init containers without restartPolicy=Always")]),
    # scheduling
    ("node-selector-key", "Pod", put("spec.nodeSelector", {"bad key": "x"}),
     [("spec.nodeSelector", 'Invalid value: "bad key": name part must consist of')]),
    ("toleration-exists-with-value", "Pod",
     put("spec.tolerations", [{"key": "gpu", "operator": "Exists", "value": "x"}]),
     [("spec.tolerations[0].operator", 'Invalid value: "x": value must be empty when `operator` is \'Exists\'')]),
    ("toleration-effect", "Pod", put("spec.tolerations", [{"key": "gpu", "operator": "Exists", "effect": "NoWay"}]),
     [("spec.tolerations[0].effect",
       'Unsupported value: "NoWay": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"')]),
    ("toleration-operator", "Pod", put("spec.tolerations", [{"key": "gpu", "operator": "Maybe"}]),
     [("spec.tolerations[0].operator", 'Unsupported value: "Maybe": supported values: "Equal", "Exists"')]),
    ("toleration-seconds-needs-no-execute", "Pod",
     put("spec.tolerations", [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule",
                               "tolerationSeconds": 10}]),
     [("spec.tolerations[0].effect", "effect must be 'NoExecute' when `tolerationSeconds` is set")]),
    ("affinity-operator", "Pod", put("spec.affinity", {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "Near", "values": ["a"]}]}]}}}),
     [("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
       ".matchExpressions[0].operator", 'Invalid value: "Near": not a valid selector operator')]),
    ("affinity-in-without-values", "Pod", put("spec.affinity", {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In"}]}]}}}),
     [("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
       ".matchExpressions[0].values", "Required value: must be specified when `operator` is 'In' or 'NotIn'")]),
    ("affinity-gt-two-values", "Pod", put("spec.affinity", {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["1", "2"]}]}]}}}),
     [("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
       ".matchExpressions[0].values", "must be specified single value when `operator` is 'Lt' or 'Gt'")]),
    ("affinity-exists-with-values", "Pod", put("spec.affinity", {"nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10, "preference": {
            "matchExpressions": [{"key": "ssd", "operator": "Exists", "values": ["x"]}]}}]}}),
     [("spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference"
       ".matchExpressions[0].values", "Forbidden: may not be specified when `operator` is 'Exists'")]),
    ("affinity-no-terms", "Pod", put("spec.affinity", {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}),
     [("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
       "Required value: must have at least one node selector term")]),
    ("pod-anti-affinity-topology-key", "Pod", put("spec.affinity", {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "web"}}}]}}),
     [("spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
       "Required value: can not be empty"),
      ("spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
       "name part must be non-empty"),
      ("spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
       "name part must consist of alphanumeric characters")]),
    # ---------------------------------------------------------------- apps/v1
    ("deployment-replicas", "Deployment", put("spec.replicas", -1),
     [("spec.replicas", "Invalid value: -1: must be greater than or equal to 0")]),
    ("deployment-duplicate-container", "Deployment",
     append("spec.template.spec.containers", {"name": "web", "image": "x"}),
     [("spec.template.spec.containers[1].name", 'Duplicate value: "web"')]),
    ("deployment-selector-missing", "Deployment", drop("spec.selector"),
     [("spec.selector", "Required value"),
      ("spec.template.metadata.labels", "`selector` does not match template `labels`")]),
    ("deployment-selector-mismatch", "Deployment", put("spec.selector", {"matchLabels": {"app": "api"}}),
     [("spec.template.metadata.labels",
       'Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`')]),
    ("deployment-selector-empty", "Deployment", put("spec.selector", {}),
     [("spec.selector", "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
                        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid")]),
    ("deployment-selector-bad-operator", "Deployment",
     put("spec.selector", {"matchExpressions": [{"key": "app", "operator": "Like", "values": ["web"]}]}),
     [("spec.selector.matchExpressions[0].operator", 'Invalid value: "Like": not a valid selector operator'),
      ("spec.selector", "invalid label selector")]),
    ("deployment-restart-policy", "Deployment", put("spec.template.spec.restartPolicy", "Never"),
     [("spec.template.spec.restartPolicy", 'Unsupported value: "Never": supported values: "Always"')]),
    ("deployment-strategy-type", "Deployment", put("spec.strategy", {"type": "BlueGreen"}),
     [("spec.strategy", 'Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"')]),
    ("deployment-recreate-with-rolling", "Deployment",
     put("spec.strategy", {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}),
     [("spec.strategy.rollingUpdate", "Forbidden: may not be specified when strategy `type` is 'Recreate'")]),
    ("deployment-both-zero", "Deployment",
     put("spec.strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}),
     [("spec.strategy.rollingUpdate.maxUnavailable", 'Invalid value: "0%": may not be 0 when `maxSurge` is 0')]),
    ("deployment-max-surge-not-percent", "Deployment",
     put("spec.strategy", {"rollingUpdate": {"maxSurge": "lots"}}),
     [("spec.strategy.rollingUpdate.maxSurge",
       "a valid percent string must be a numeric string followed by an ending '%'")]),
    ("deployment-max-unavailable-over-100", "Deployment",
     put("spec.strategy", {"rollingUpdate": {"maxUnavailable": "150%"}}),
     [("spec.strategy.rollingUpdate.maxUnavailable", 'Invalid value: "150%": must not be greater than 100%')]),
    ("deployment-max-surge-negative", "Deployment", put("spec.strategy", {"rollingUpdate": {"maxSurge": -1}}),
     [("spec.strategy.rollingUpdate.maxSurge", "Invalid value: -1: must be greater than or equal to 0")]),
    ("deployment-history-limit", "Deployment", put("spec.revisionHistoryLimit", -1),
     [("spec.revisionHistoryLimit", "must be greater than or equal to 0")]),
    ("deployment-progress-deadline", "Deployment",
     both(put("spec.minReadySeconds", 30), put("spec.progressDeadlineSeconds", 30)),
     [("spec.progressDeadlineSeconds", "Invalid value: 30: must be greater than minReadySeconds")]),
    ("deployment-min-ready", "Deployment", put("spec.minReadySeconds", -5),
     [("spec.minReadySeconds", "Invalid value: -5: must be greater than or equal to 0")]),
    ("deployment-template-quantity", "Deployment",
     put("spec.template.spec.containers[0].resources", {"limits": {"memory": "5iG"}}),
     [(f"{TC0}.resources.limits.memory", "unable to parse quantity's suffix")]),
    ("replicaset-replicas", "ReplicaSet", put("spec.replicas", -3),
     [("spec.replicas", "Invalid value: -3: must be greater than or equal to 0")]),
    ("replicaset-restart-policy", "ReplicaSet", put("spec.template.spec.restartPolicy", "OnFailure"),
     [("spec.template.spec.restartPolicy", 'Unsupported value: "OnFailure": supported values: "Always"')]),
    ("replicaset-selector-mismatch", "ReplicaSet", put("spec.template.metadata.labels", {"app": "other"}),
     [("spec.template.metadata.labels", "`selector` does not match template `labels`")]),
    # ---------------------------------------------------------------- batch/v1
    ("job-restart-always", "Job", drop("spec.template.spec.restartPolicy"),
     [("spec.template.spec.restartPolicy", 'Required value: valid values: "OnFailure", "Never"')]),
    ("job-restart-unknown", "Job", put("spec.template.spec.restartPolicy", "Sometimes"),
     [("spec.template.spec.restartPolicy", NEVER_SUPPORTED),
      ("spec.template.spec.restartPolicy",
       'Unsupported value: "Sometimes": supported values: "OnFailure", "Never"')]),
    ("job-negatives", "Job",
     both(put("spec.parallelism", -1), put("spec.completions", -2), put("spec.backoffLimit", -3),
          put("spec.ttlSecondsAfterFinished", -4), put("spec.activeDeadlineSeconds", -5)),
     [("spec.parallelism", "Invalid value: -1: must be greater than or equal to 0"),
      ("spec.completions", "Invalid value: -2: must be greater than or equal to 0"),
      ("spec.backoffLimit", "Invalid value: -3: must be greater than or equal to 0"),
      ("spec.ttlSecondsAfterFinished", "Invalid value: -4: must be greater than or equal to 0"),
      ("spec.activeDeadlineSeconds", "Invalid value: -5: must be greater than or equal to 0")]),
    ("job-completion-mode", "Job", put("spec.completionMode", "Sequential"),
     [("spec.completionMode", 'Unsupported value: "Sequential": supported values: "NonIndexed", "Indexed"')]),
    ("job-indexed-needs-completions", "Job", both(put("spec.completionMode", "Indexed"), put("spec.parallelism", 2)),
     [("spec.completions", "Required value: when completion mode is Indexed")]),
    ("job-pod-failure-policy-restart", "Job",
     both(put("spec.template.spec.restartPolicy", "OnFailure"),
          put("spec.podFailurePolicy", {"rules": [{"action": "FailJob",
                                                   "onExitCodes": {"operator": "In", "values": [42]}}]})),
     [("spec.template.spec.restartPolicy",
       'Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified')]),
    ("job-pfp-action", "Job", put("spec.podFailurePolicy", {"rules": [
        {"action": "Retry", "onExitCodes": {"operator": "In", "values": [1]}}]}),
     [("spec.podFailurePolicy.rules[0].action",
       'Unsupported value: "Retry": supported values: "Count", "FailIndex", "FailJob", "Ignore"')]),
    ("job-pfp-fail-index-needs-per-index", "Job", put("spec.podFailurePolicy", {"rules": [
        {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [1]}}]}),
     [("spec.podFailurePolicy.rules[0].action",
       'Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set')]),
    ("job-pfp-both", "Job", put("spec.podFailurePolicy", {"rules": [
        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [1]},
         "onPodConditions": [{"type": "DisruptionTarget"}]}]}),
     [("spec.podFailurePolicy.rules[0]",
       "Invalid value: specifying both OnExitCodes and OnPodConditions is not supported")]),
    ("job-pfp-neither", "Job", put("spec.podFailurePolicy", {"rules": [{"action": "Ignore"}]}),
     [("spec.podFailurePolicy.rules[0]", "specifying one of OnExitCodes and OnPodConditions is required")]),
    ("job-pfp-zero-in", "Job", put("spec.podFailurePolicy", {"rules": [
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0, 1]}}]}),
     [("spec.podFailurePolicy.rules[0].onExitCodes.values[0]", "Invalid value: 0: must not be 0 for the In operator")]),
    ("job-pfp-duplicate-and-order", "Job", put("spec.podFailurePolicy", {"rules": [
        {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [3, 3, 1]}}]}),
     [("spec.podFailurePolicy.rules[0].onExitCodes.values[1]", "Duplicate value: 3"),
      ("spec.podFailurePolicy.rules[0].onExitCodes.values", "Invalid value: []int32{3, 3, 1}: must be ordered")]),
    ("job-pfp-operator", "Job", put("spec.podFailurePolicy", {"rules": [
        {"action": "FailJob", "onExitCodes": {"operator": "Between", "values": [1]}}]}),
     [("spec.podFailurePolicy.rules[0].onExitCodes.operator",
       'Unsupported value: "Between": supported values: "In", "NotIn"')]),
    ("job-pfp-container-name", "Job", put("spec.podFailurePolicy", {"rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": "nope", "operator": "In", "values": [1]}}]}),
     [("spec.podFailurePolicy.rules[0].onExitCodes.containerName",
       "must be one of the container or initContainer names in the pod template")]),
    ("job-replacement-policy-with-pfp", "Job",
     both(put("spec.podReplacementPolicy", "TerminatingOrFailed"),
          put("spec.podFailurePolicy", {"rules": [{"action": "Ignore",
                                                   "onPodConditions": [{"type": "DisruptionTarget"}]}]})),
     [("spec.podReplacementPolicy", 'Unsupported value: "TerminatingOrFailed": supported values: "Failed"')]),
    ("job-manual-selector-mismatch", "Job",
     both(put("spec.manualSelector", True), put("spec.selector", {"matchLabels": {"app": "other"}}),
          put("spec.template.metadata", {"labels": {"app": "pi"}})),
     [("spec.template.metadata.labels",
       'Invalid value: map[string]string{"app":"pi"}: `selector` does not match template `labels`')]),
    ("job-selector-not-generated", "Job",
     both(put("spec.selector", {"matchLabels": {"app": "pi"}}),
          put("spec.template.metadata", {"labels": {"app": "pi"}})),
     [("spec.selector", "`selector` not auto-generated")]),
    ("job-wrong-controller-uid-label", "Job",
     put("spec.template.metadata", {"labels": {"controller-uid": "someone-else"}}),
     [("spec.template.metadata.labels.controller-uid", f"must be '{UID}'")]),
    # ---------------------------------------------------------------- core/v1 Service
    ("service-name-dns1035", "Service", put("metadata.name", "1web"),
     [("metadata.name", "a DNS-1035 label must consist of lower case alphanumeric characters")]),
    ("service-no-ports", "Service", put("spec.ports", []), [("spec.ports", "Required value")]),
    ("service-port-range", "Service", put("spec.ports[0].port", 0),
     [("spec.ports[0].port", "Invalid value: 0: must be between 1 and 65535, inclusive")]),
    ("service-port-names-required", "Service",
     put("spec.ports", [{"port": 80}, {"port": 443}]),
     [("spec.ports[0].name", "Required value"), ("spec.ports[1].name", "Required value")]),
    ("service-port-names-dup", "Service",
     put("spec.ports", [{"name": "web", "port": 80}, {"name": "web", "port": 443}]),
     [("spec.ports[1].name", 'Duplicate value: "web"')]),
    ("service-type", "Service", put("spec.type", "Internal"),
     [("spec.type",
       'Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"')]),
    ("service-node-port-range", "Service", both(put("spec.type", "NodePort"), put("spec.ports[0].nodePort", 80)),
     [("spec.ports[0].nodePort", "Invalid value: 80: provided port is not in the valid range. "
                                 "The range of valid ports is 30000-32767")]),
    ("service-node-port-on-cluster-ip", "Service", put("spec.ports[0].nodePort", 30080),
     [("spec.ports[0].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'")]),
    ("service-target-port-name", "Service", put("spec.ports[0].targetPort", "Web_Port"),
     [("spec.ports[0].targetPort", 'Invalid value: "Web_Port": must contain only alpha-numeric characters')]),
    ("service-target-port-range", "Service", put("spec.ports[0].targetPort", 70000),
     [("spec.ports[0].targetPort", "Invalid value: 70000: must be between 1 and 65535, inclusive")]),
    ("service-cluster-ip", "Service", put("spec.clusterIP", "10.0.0.300"),
     [("spec.clusterIPs[0]", 'Invalid value: "10.0.0.300": must be a valid IP address')]),
    ("service-protocol", "Service", put("spec.ports[0].protocol", "ICMP"),
     [("spec.ports[0].protocol", 'Unsupported value: "ICMP"')]),
    ("service-external-name-missing", "Service", both(put("spec.type", "ExternalName"), put("spec.ports", [])),
     [("spec.externalName", "Required value")]),
    ("service-session-affinity", "Service", put("spec.sessionAffinity", "Sticky"),
     [("spec.sessionAffinity", 'Unsupported value: "Sticky": supported values: "ClientIP", "None"')]),
    ("service-selector-label", "Service", put("spec.selector", {"app": "we b"}),
     [("spec.selector", 'Invalid value: "we b": a valid label must be')]),
    # ---------------------------------------------------------------- Endpoints, Node, Namespace
    ("endpoints-ip", "Endpoints", put("subsets[0].addresses[0].ip", "10.0.0"),
     [("subsets[0].addresses[0].ip", 'Invalid value: "10.0.0": must be a valid IP address, (e.g. '),
      ("subsets[0].addresses[0].ip", 'Invalid value: "10.0.0": must be a valid IP address')]),
    ("endpoints-loopback", "Endpoints", put("subsets[0].addresses[0].ip", "127.0.0.1"),
     [("subsets[0].addresses[0].ip", "may not be in the loopback range (127.0.0.0/8, ::1/128)")]),
    ("endpoints-port", "Endpoints", put("subsets[0].ports[0].port", 0),
     [("subsets[0].ports[0].port", "Invalid value: 0: must be between 1 and 65535, inclusive")]),
    ("endpoints-no-addresses", "Endpoints", put("subsets[0].addresses", []),
     [("subsets[0]", "Required value: must specify `addresses` or `notReadyAddresses`")]),
    ("node-taint-effect", "Node", put("spec.taints[0].effect", "NoWay"),
     [("spec.taints[0].effect", 'Unsupported value: "NoWay"')]),
    ("node-taint-effect-missing", "Node", drop("spec.taints[0].effect"),
     [("spec.taints[0].effect", "Required value")]),
    ("node-taint-key", "Node", put("spec.taints[0].key", "bad key"),
     [("spec.taints[0].key", 'Invalid value: "bad key"')]),
    ("node-taint-duplicate", "Node", append("spec.taints", {"key": "gpu", "value": "false", "effect": "NoSchedule"}),
     [("spec.taints[1]", "taints must be unique by key and effect pair")]),
    ("node-capacity-quantity", "Node", put("status.capacity", {"cpu": "lots", "nvidia.com/gpu": "1.5"}),
     [("status.capacity.cpu", "quantities must match the regular expression"),
      ("status.capacity[nvidia.com/gpu]", 'Invalid value: "1500m": must be an integer'),
      ("status.allocatable.cpu", "quantities must match the regular expression"),
      ("status.allocatable[nvidia.com/gpu]", "must be an integer")]),
    ("namespace-name-dots", "Namespace", put("metadata.name", "team.a"),
     [("metadata.name", 'Invalid value: "team.a": must not contain dots')]),
    ("namespace-name-upper", "Namespace", put("metadata.name", "Team"),
     [("metadata.name", "a lowercase RFC 1123 label must consist of")]),
    ("namespace-finalizer", "Namespace", put("spec.finalizers", ["bogus"]),
     [("spec.finalizers", 'Invalid value: "bogus": name is neither a standard finalizer name')]),
    # ---------------------------------------------------------------- PVC
    ("pvc-access-modes-missing", "PersistentVolumeClaim", put("spec.accessModes", []),
     [("spec.accessModes", "Required value: at least 1 access mode is required")]),
    ("pvc-access-mode-unknown", "PersistentVolumeClaim", put("spec.accessModes", ["ReadWriteSometimes"]),
     [("spec.accessModes", 'Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", '
                           '"ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"')]),
    ("pvc-rwop-with-others", "PersistentVolumeClaim", put("spec.accessModes", ["ReadWriteOncePod", "ReadWriteOnce"]),
     [("spec.accessModes", "Forbidden: may not use ReadWriteOncePod with other access modes")]),
    ("pvc-storage-missing", "PersistentVolumeClaim", put("spec.resources", {"requests": {}}),
     [("spec.resources.requests.storage", "Required value")]),
    ("pvc-storage-zero", "PersistentVolumeClaim", put("spec.resources.requests.storage", "0"),
     [("spec.resources.requests.storage", 'Invalid value: "0": must be greater than zero')]),
    ("pvc-storage-unparsable", "PersistentVolumeClaim", put("spec.resources.requests.storage", "big"),
     [("spec.resources.requests.storage", 'Invalid value: "big": quantities must match')]),
    ("pvc-volume-mode", "PersistentVolumeClaim", put("spec.volumeMode", "Raw"),
     [("spec.volumeMode", 'Unsupported value: "Raw": supported values: "Block", "Filesystem"')]),
    # ---------------------------------------------------------------- HPA
    ("hpa-max-zero", "HorizontalPodAutoscaler", put("spec.maxReplicas", 0),
     [("spec.maxReplicas", "Invalid value: 0: must be greater than 0"),
      ("spec.maxReplicas", "Invalid value: 0: must be greater than or equal to `minReplicas`")]),
    ("hpa-min-zero", "HorizontalPodAutoscaler", put("spec.minReplicas", 0),
     [("spec.minReplicas", "Invalid value: 0: must be greater than or equal to 1"),
      ("spec.metrics", "Forbidden: must specify at least one Object or External metric to support scaling "
                       "to zero replicas")]),
    ("hpa-max-below-min", "HorizontalPodAutoscaler", put("spec.minReplicas", 7),
     [("spec.maxReplicas", "Invalid value: 5: must be greater than or equal to `minReplicas`")]),
    ("hpa-target-ref", "HorizontalPodAutoscaler", put("spec.scaleTargetRef", {"apiVersion": "apps/v1"}),
     [("spec.scaleTargetRef.kind", "Required value"), ("spec.scaleTargetRef.name", "Required value")]),
    ("hpa-metric-type", "HorizontalPodAutoscaler", put("spec.metrics[0].type", "Magic"),
     [("spec.metrics[0].type", 'Unsupported value: "Magic": supported values: "ContainerResource", '
                               '"External", "Object", "Pods", "Resource"')]),
    ("hpa-two-metric-sources", "HorizontalPodAutoscaler", put("spec.metrics[0].pods", {
        "metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}),
     [("spec.metrics[0].pods", "Forbidden: must populate the given metric source only")]),
    ("hpa-metric-source-missing", "HorizontalPodAutoscaler", put("spec.metrics", [{"type": "Pods"}]),
     [("spec.metrics[0].pods", "Required value: must populate information for the given metric source")]),
    ("hpa-target-type", "HorizontalPodAutoscaler", put("spec.metrics[0].resource.target.type", "Percent"),
     [("spec.metrics[0].resource.target.type",
       'Invalid value: "Percent": must be either Utilization, Value, or AverageValue')]),
    ("hpa-utilization-zero", "HorizontalPodAutoscaler",
     put("spec.metrics[0].resource.target.averageUtilization", 0),
     [("spec.metrics[0].resource.target.averageUtilization", "Invalid value: 0: must be greater than 0")]),
    ("hpa-utilization-and-value", "HorizontalPodAutoscaler",
     put("spec.metrics[0].resource.target.averageValue", "100m"),
     [("spec.metrics[0].resource.target.averageValue",
       "Forbidden: may not set both a target raw value and a target utilization")]),
    ("hpa-pods-needs-average-value", "HorizontalPodAutoscaler", put("spec.metrics", [{"type": "Pods", "pods": {
        "metric": {"name": "qps"}, "target": {"type": "AverageValue"}}}]),
     [("spec.metrics[0].pods.target.averageValue", "Required value: must specify a positive target averageValue")]),
    ("hpa-behavior-period", "HorizontalPodAutoscaler", put("spec.behavior", {"scaleUp": {"policies": [
        {"type": "Pods", "value": 1, "periodSeconds": 0}]}}),
     [("spec.behavior.scaleUp.policies[0].periodSeconds", "Invalid value: 0: must be greater than zero")]),
    # ---------------------------------------------------------------- PDB, Lease, Event
    ("pdb-both", "PodDisruptionBudget", put("spec.maxUnavailable", 1),
     [("spec", "minAvailable and maxUnavailable cannot be both set")]),
    ("pdb-percent-over", "PodDisruptionBudget", put("spec.minAvailable", "150%"),
     [("spec.minAvailable", 'Invalid value: "150%": must not be greater than 100%')]),
    ("pdb-negative", "PodDisruptionBudget", both(drop("spec.minAvailable"), put("spec.maxUnavailable", -1)),
     [("spec.maxUnavailable", "Invalid value: -1: must be greater than or equal to 0")]),
    ("pdb-not-percent", "PodDisruptionBudget", put("spec.minAvailable", "half"),
     [("spec.minAvailable", 'Invalid value: "half": a valid percent string')]),
    ("lease-duration", "Lease", put("spec.leaseDurationSeconds", 0),
     [("spec.leaseDurationSeconds", "Invalid value: 0: must be greater than 0")]),
    ("lease-transitions", "Lease", put("spec.leaseTransitions", -1),
     [("spec.leaseTransitions", "Invalid value: -1: must be greater than or equal to 0")]),
    ("event-no-involved-object", "Event", drop("involvedObject"), [("involvedObject", "Required value")]),
    ("event-reason-long", "Event", put("reason", "R" * 129),
     [("reason", 'Invalid value: "": can have at most 128 characters')]),
    ("event-message-long", "Event", put("message", "m" * 1025),
     [("message", "can have at most 1024 characters")]),
    ("event-namespace-mismatch", "Event", put("involvedObject.namespace", "other"),
     [("involvedObject.namespace", 'Invalid value: "other": does not match event.namespace')]),
    ("event-new-style-fields", "Event", put("eventTime", "2026-01-01T00:00:00.000000Z"),
     [("reportingComponent", "Required value"), ("reportingInstance", "Required value"),
      ("action", "Required value")]),
    ("event-type", "Event", put("type", "Fatal"),
     [("type", 'Unsupported value: "Fatal": supported values: "Normal", "Warning"')]),
]


def _check(errors, expected):
    assert sorted({p for p, _ in errors}) == sorted({p for p, _ in expected}), errors
    for path, fragment in expected:
        messages = [m for p, m in errors if p == path]
        assert any(fragment in m for m in messages), (path, fragment, messages)
    assert len(errors) == len(expected), errors


@pytest.mark.parametrize("kind,mutate,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid(kind, mutate, expected):
    manifest = copy.deepcopy(BASE[kind])
    mutate(manifest)
    _check(validate(build(kind, manifest)), expected)


@pytest.mark.parametrize("kind", sorted(BASE))
def test_valid_base_objects_have_no_errors(kind):
    assert validate(build(kind, copy.deepcopy(BASE[kind]))) == []


VALID_VARIANTS = [
    ("generate-name-only", "Pod", both(drop("metadata.name"), put("metadata.generateName", "web-"))),
    ("env-label-subscript", "Pod", put(f"{C0}.env", [{"name": "APP", "valueFrom": {
        "fieldRef": {"fieldPath": "metadata.labels['app']"}}}])),
    ("downward-volume-labels", "Pod", put("spec.volumes", [{"name": "info", "downwardAPI": {
        "items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}])),
    ("gpu-whole", "Pod", put(f"{C0}.resources", {"limits": {"nvidia.com/gpu": "1", "cpu": "500m"}})),
    ("probes", "Pod", put(f"{C0}.readinessProbe", {"httpGet": {"port": "http"}, "initialDelaySeconds": 3})),
    ("toleration-exists-all", "Pod", put("spec.tolerations", [{"operator": "Exists"}])),
    ("headless-service-no-ports", "Service", both(put("spec.clusterIP", "None"), put("spec.ports", []))),
    ("node-port-service", "Service", both(put("spec.type", "NodePort"), put("spec.ports[0].nodePort", 30080))),
    ("load-balancer-service", "Service", put("spec.type", "LoadBalancer")),
    ("external-name-service", "Service",
     both(put("spec.type", "ExternalName"), put("spec.externalName", "db.example.com."), put("spec.ports", []))),
    ("recreate-deployment", "Deployment", put("spec.strategy", {"type": "Recreate"})),
    ("zero-replicas", "Deployment", put("spec.replicas", 0)),
    ("indexed-job", "Job", both(put("spec.completionMode", "Indexed"), put("spec.completions", 3),
                                put("spec.parallelism", 3))),
    ("manual-selector-job", "Job", both(put("spec.manualSelector", True),
                                        put("spec.selector", {"matchLabels": {"app": "pi"}}),
                                        put("spec.template.metadata", {"labels": {"app": "pi"}}))),
    ("pod-failure-policy-job", "Job", put("spec.podFailurePolicy", {"rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": "pi", "operator": "In", "values": [1, 42]}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]})),
    ("pdb-percent", "PodDisruptionBudget", put("spec.minAvailable", "50%")),
    ("hpa-behavior", "HorizontalPodAutoscaler", put("spec.behavior", {"scaleDown": {
        "stabilizationWindowSeconds": 60}})),
    ("namespace-no-finalizer", "Namespace", put("spec", {"finalizers": ["example.com/cleanup"]})),
    ("node-event", "Event", both(put("involvedObject", {"kind": "Node", "name": "node-1"}))),
]


@pytest.mark.parametrize("kind,mutate", [c[1:] for c in VALID_VARIANTS], ids=[c[0] for c in VALID_VARIANTS])
def test_valid_variants(kind, mutate):
    manifest = copy.deepcopy(BASE[kind])
    mutate(manifest)
    assert validate(build(kind, manifest)) == []


def test_three_distinct_problems_are_all_reported():
    manifest = copy.deepcopy(BASE["Deployment"])
    manifest["metadata"]["name"] = "Web_1"
    manifest["spec"]["replicas"] = -1
    manifest["spec"]["template"]["spec"]["containers"].append({"name": "web", "image": "busybox"})
    errors = validate(build("Deployment", manifest))
    assert [p for p, _ in errors] == ["metadata.name", "spec.replicas", "spec.template.spec.containers[1].name"]
    assert errors[1] == ("spec.replicas", "Invalid value: -1: must be greater than or equal to 0")
    assert errors[2] == ("spec.template.spec.containers[1].name", 'Duplicate value: "web"')


def _job_before_uid(manifest):
    job = from_dict(KINDS["Job"].message, manifest)
    apply_defaults(job)
    return job


def test_job_validated_before_uid_assignment_as_it_will_be_stored():
    job = _job_before_uid(copy.deepcopy(BASE["Job"]))
    assert validate(job) == []
    assert not job.spec.HasField("selector") and not job.metadata.uid   # the argument is not changed
    job.metadata.uid = UID
    default_job_selector(job)
    assert validate(job) == []


@pytest.mark.parametrize("mutate,expected", [
    (both(put("spec.selector", {"matchLabels": {"app": "pi"}}),
          put("spec.template.metadata", {"labels": {"app": "pi"}})),
     [("spec.selector", "`selector` not auto-generated")]),
    (put("spec.template.spec.restartPolicy", "Always"),
     [("spec.template.spec.restartPolicy", 'Required value: valid values: "OnFailure", "Never"')]),
    (both(put("spec.manualSelector", True), put("spec.template.metadata", {"labels": {"app": "pi"}})),
     [("spec.selector", "Required value"),
      ("spec.template.metadata.labels", "`selector` does not match template `labels`")]),
], ids=["user-selector", "restart-always", "manual-without-selector"])
def test_job_before_uid_assignment_errors(mutate, expected):
    manifest = copy.deepcopy(BASE["Job"])
    mutate(manifest)
    _check(validate(_job_before_uid(manifest)), expected)


def test_volume_without_source_after_defaulting_is_cleared():
    manifest = copy.deepcopy(BASE["Pod"])
    manifest["spec"]["volumes"] = [{"name": "data"}]
    pod = build("Pod", manifest)
    assert pod.spec.volumes[0].HasField("emptyDir")          # SetDefaults_Volume
    pod.spec.volumes[0].ClearField("emptyDir")
    assert validate(pod) == [("spec.volumes[0]", "Required value: must specify a volume type")]


def test_undefaulted_pod_reports_required_defaults():
    pod = from_dict(KINDS["Pod"].message, copy.deepcopy(BASE["Pod"]))
    paths = {p for p, _ in validate(pod)}
    assert paths == {"spec.terminationGracePeriodSeconds", "spec.restartPolicy", "spec.dnsPolicy",
                     f"{C0}.terminationMessagePolicy", f"{C0}.imagePullPolicy", f"{C0}.ports[0].protocol"}


def test_pod_spec_validator_is_usable_alone():
    pod = build("Pod", copy.deepcopy(BASE["Pod"]))
    pod.spec.containers[0].image = ""
    assert validate_pod_spec(pod.spec, "spec.template.spec") == [
        ("spec.template.spec.containers[0].image", "Required value")]


def test_unknown_kind_is_refused():
    with pytest.raises(UnknownKind):
        validate(object())


# ==================================================================== updates
def _updated(kind: str, change=None, post=None, base_change=None):
    """(new, old): old as stored after create; new = old read back as JSON, changed, re-defaulted."""
    base = copy.deepcopy(BASE[kind])
    if base_change:
        base_change(base)
    old = build(kind, base)
    old.metadata.resourceVersion = "7"
    new_manifest = to_dict(old)
    if change:
        change(new_manifest)
    new = from_dict(KINDS[kind].message, new_manifest)
    apply_defaults(new)
    if post:
        post(new, old)
    return new, old


UPDATE_CASES = [
    ("deployment-selector-immutable", "Deployment",
     both(put("spec.selector", {"matchLabels": {"app": "web2"}}),
          put("spec.template.metadata.labels", {"app": "web2"})), None, None,
     [("spec.selector", 'Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web2"}, '
                        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable")]),
    ("deployment-scale-and-image", "Deployment",
     both(put("spec.replicas", 5), put(f"{TC0}.image", "nginx:1.26")), None, None, []),
    ("replicaset-selector-immutable", "ReplicaSet",
     both(put("spec.selector", {"matchLabels": {"app": "web", "tier": "x"}}),
          put("spec.template.metadata.labels", {"app": "web", "tier": "x"})), None, None,
     [("spec.selector", "field is immutable")]),
    ("pod-image-change", "Pod", put(f"{C0}.image", "nginx:1.26"), None, None, []),
    ("pod-port-change", "Pod", put(f"{C0}.ports[0].containerPort", 8080), None, None,
     [("spec", "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
               "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
               "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
               "set to 1 if it was previously negative)")]),
    ("pod-add-container", "Pod", append("spec.containers", {"name": "side", "image": "busybox"}), None, None,
     [("spec.containers", "Forbidden: pod updates may not add or remove containers")]),
    ("pod-deadline-increase", "Pod", put("spec.activeDeadlineSeconds", 100), None,
     put("spec.activeDeadlineSeconds", 50),
     [("spec.activeDeadlineSeconds", "Invalid value: 100: must be less than or equal to previous value")]),
    ("pod-deadline-decrease", "Pod", put("spec.activeDeadlineSeconds", 20), None,
     put("spec.activeDeadlineSeconds", 50), []),
    ("pod-add-toleration", "Pod", put("spec.tolerations", [{"key": "a", "operator": "Exists"},
                                                          {"key": "b", "operator": "Exists"}]), None,
     put("spec.tolerations", [{"key": "a", "operator": "Exists"}]), []),
    ("pod-remove-toleration", "Pod", put("spec.tolerations", []), None,
     put("spec.tolerations", [{"key": "a", "operator": "Exists"}]),
     [("spec.tolerations", "Forbidden: existing toleration can not be modified except its tolerationSeconds")]),
    ("service-cluster-ip-change", "Service",
     both(put("spec.clusterIP", "10.96.0.20"), put("spec.clusterIPs", ["10.96.0.20"])), None,
     put("spec.clusterIP", "10.96.0.10"),
     [("spec.clusterIPs[0]", 'Invalid value: []string{"10.96.0.20"}: may not change once set')]),
    ("service-cluster-ip-only-changed", "Service", put("spec.clusterIP", "10.96.0.20"), None,
     put("spec.clusterIP", "10.96.0.10"),
     [("spec.clusterIPs", 'Invalid value: []string{"10.96.0.10"}: first value must match `clusterIP`')]),
    ("service-cluster-ip-omitted", "Service", both(drop("spec.clusterIP"), drop("spec.clusterIPs")), None,
     put("spec.clusterIP", "10.96.0.10"), []),
    ("service-to-external-name", "Service",
     both(put("spec.type", "ExternalName"), put("spec.externalName", "db.example.com"),
          drop("spec.clusterIP"), drop("spec.clusterIPs"), drop("spec.internalTrafficPolicy")), None,
     put("spec.clusterIP", "10.96.0.10"), []),
    ("job-template-immutable", "Job", put("spec.template.spec.containers[0].image", "perl:5.36"), None, None,
     [("spec.template", "field is immutable")]),
    ("job-completions-immutable", "Job", put("spec.completions", 5), None, None,
     [("spec.completions", "Invalid value: 5: field is immutable")]),
    ("job-parallelism-mutable", "Job", put("spec.parallelism", 4), None, None, []),
    ("job-suspended-scheduling-mutable", "Job",
     both(put("spec.suspend", True), put("spec.template.spec.nodeSelector", {"zone": "a"})), None,
     put("spec.suspend", True), []),
    ("job-selector-immutable", "Job", put("spec.selector", {"matchLabels": {"job-name": "pi"}}), None, None,
     [("spec.selector", "field is immutable")]),
    ("pvc-spec-immutable", "PersistentVolumeClaim", put("spec.accessModes", ["ReadWriteMany"]), None, None,
     [("spec", "Forbidden: spec is immutable after creation except resources.requests")]),
    ("pvc-shrink", "PersistentVolumeClaim", put("spec.resources.requests.storage", "500Mi"),
     lambda new, old: setattr(new.status, "phase", "Bound"), None,
     [("spec.resources.requests.storage", "Forbidden: field can not be less than previous value")]),
    ("node-pod-cidr", "Node", put("spec.podCIDRs", ["10.244.2.0/24"]), None,
     put("spec.podCIDRs", ["10.244.1.0/24"]),
     [("spec.podCIDRs", 'Forbidden: node updates may not change podCIDR except from "" to valid')]),
]


@pytest.mark.parametrize("kind,change,post,base_change,expected", [c[1:] for c in UPDATE_CASES],
                         ids=[c[0] for c in UPDATE_CASES])
def test_update(kind, change, post, base_change, expected):
    new, old = _updated(kind, change, post, base_change)
    _check(validate(new, old), expected)


# ==================================================================== value printing
@pytest.mark.parametrize("value,text", [
    ("web", '"web"'), ('a"b\n', '"a\\"b\\n"'), (-1, "-1"), (True, "true"), (None, "null"),
    ({"b": "2", "a": "1"}, 'map[string]string{"a":"1", "b":"2"}'), ({}, "map[string]string(nil)"),
    (["x", "y"], '[]string{"x", "y"}'), ([1, 2], "[]int32{1, 2}"), (2.0, "2"),
])
def test_format_value(value, text):
    assert format_value(value) == text
