"""minik8s.api.defaults: upstream's defaulting, kind by kind, checked on the JSON form."""
from __future__ import annotations

import copy

import pytest

from minik8s.api.codec import from_dict, to_dict
from minik8s.api.defaults import apply_defaults, canonical_quantity, default_job_selector
from minik8s.api.kinds import KINDS

CONTAINER = {"name": "web", "image": "nginx:1.25"}


def defaulted(kind: str, manifest: dict) -> dict:
    obj = from_dict(KINDS[kind].message, copy.deepcopy(manifest))
    apply_defaults(obj)
    return to_dict(obj)


def pod(**spec) -> dict:
    return {"metadata": {"name": "p"}, "spec": {"containers": [dict(CONTAINER)], **spec}}


def template(**spec) -> dict:
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [dict(CONTAINER)], **spec}}


def get(d, path: str):
    for part in path.replace("]", "").replace("[", ".").split("."):
        d = d[int(part)] if isinstance(d, list) else d.get(part) if isinstance(d, dict) else None
        if d is None:
            return None
    return d


# ---------------------------------------------------------------- table: (id, kind, manifest, {path: value})
def _deployment(**spec):
    return {"metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template(), **spec}}


def _job(**spec):
    return {"metadata": {"name": "pi"},
            "spec": {"template": {"metadata": {"labels": {"app": "pi"}},
                                  "spec": {"containers": [dict(CONTAINER)], "restartPolicy": "Never"}},
                     **spec}}


def _service(**spec):
    return {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}], **spec}}


C0 = "spec.containers[0]"
TC0 = "spec.template.spec.containers[0]"

CASES = [
    ("pod-spec", "Pod", pod(), {
        "spec.restartPolicy": "Always", "spec.dnsPolicy": "ClusterFirst",
        "spec.schedulerName": "default-scheduler", "spec.terminationGracePeriodSeconds": 30,
        "spec.enableServiceLinks": True, "spec.priority": 0, "spec.securityContext": None}),
    ("pod-container", "Pod", pod(), {
        f"{C0}.imagePullPolicy": "IfNotPresent", f"{C0}.terminationMessagePath": "/dev/termination-log",
        f"{C0}.terminationMessagePolicy": "File"}),
    ("pod-explicit-values-kept", "Pod",
     pod(restartPolicy="Never", terminationGracePeriodSeconds=0, enableServiceLinks=False, priority=5,
         schedulerName="mine", dnsPolicy="Default"), {
        "spec.restartPolicy": "Never", "spec.terminationGracePeriodSeconds": 0,
        "spec.enableServiceLinks": False, "spec.priority": 5, "spec.schedulerName": "mine",
        "spec.dnsPolicy": "Default"}),
    ("port-protocol", "Pod", pod(containers=[{**CONTAINER, "ports": [{"containerPort": 80},
                                                                      {"containerPort": 53, "protocol": "UDP"}]}]),
     {f"{C0}.ports[0].protocol": "TCP", f"{C0}.ports[1].protocol": "UDP", f"{C0}.ports[0].hostPort": None}),
    ("host-network-host-port", "Pod", pod(hostNetwork=True, containers=[
        {**CONTAINER, "ports": [{"containerPort": 80}]}]), {f"{C0}.ports[0].hostPort": 80}),
    ("probe", "Pod", pod(containers=[{**CONTAINER, "livenessProbe": {"httpGet": {"port": 80}},
                                      "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 5}}]), {
        f"{C0}.livenessProbe.timeoutSeconds": 1, f"{C0}.livenessProbe.periodSeconds": 10,
        f"{C0}.livenessProbe.successThreshold": 1, f"{C0}.livenessProbe.failureThreshold": 3,
        f"{C0}.livenessProbe.httpGet.path": "/", f"{C0}.livenessProbe.httpGet.scheme": "HTTP",
        f"{C0}.readinessProbe.periodSeconds": 5, f"{C0}.livenessProbe.initialDelaySeconds": None}),
    ("lifecycle-http-get", "Pod", pod(containers=[{**CONTAINER, "lifecycle": {
        "preStop": {"httpGet": {"port": 80, "path": "/quit"}}}}]), {
        f"{C0}.lifecycle.preStop.httpGet.path": "/quit", f"{C0}.lifecycle.preStop.httpGet.scheme": "HTTP"}),
    ("requests-from-limits", "Pod", pod(containers=[{**CONTAINER, "resources": {
        "limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "250m"}}}]), {
        f"{C0}.resources.requests": {"cpu": "250m", "memory": "1Gi"}}),
    ("init-requests-from-limits", "Pod", pod(initContainers=[{"name": "init", "image": "busybox",
                                                              "resources": {"limits": {"cpu": "2"}}}]), {
        "spec.initContainers[0].resources.requests": {"cpu": "2"},
        "spec.initContainers[0].imagePullPolicy": "Always"}),
    ("quantities-canonical", "Pod", pod(containers=[{**CONTAINER, "resources": {
        "limits": {"cpu": "0.5", "memory": "1.5Gi", "nvidia.com/gpu": 1},
        "requests": {"cpu": "100u", "memory": "2048Mi"}}}]), {
        f"{C0}.resources.limits": {"cpu": "500m", "memory": "1536Mi", "nvidia.com/gpu": "1"},
        f"{C0}.resources.requests": {"cpu": "1m", "memory": "2Gi", "nvidia.com/gpu": "1"}}),
    ("quantity-unparsable-left-alone", "Pod", pod(containers=[{**CONTAINER, "resources": {
        "requests": {"cpu": "lots"}}}]), {f"{C0}.resources.requests": {"cpu": "lots"}}),
    ("overhead", "Pod", pod(overhead={"cpu": "0.25"}), {"spec.overhead": {"cpu": "250m"}}),
    ("env-field-ref-version", "Pod", pod(containers=[{**CONTAINER, "env": [
        {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]), {
        f"{C0}.env[0].valueFrom.fieldRef.apiVersion": "v1"}),
    ("volumes", "Pod", pod(volumes=[{"name": "a"}, {"name": "b", "secret": {"secretName": "s"}},
                                    {"name": "c", "configMap": {"name": "c", "defaultMode": 256}},
                                    {"name": "d", "hostPath": {"path": "/d"}},
                                    {"name": "e", "emptyDir": {"sizeLimit": "0.5Gi"}}]), {
        "spec.volumes[0].emptyDir": {}, "spec.volumes[1].secret.defaultMode": 420,
        "spec.volumes[2].configMap.defaultMode": 256, "spec.volumes[3].hostPath.type": "",
        "spec.volumes[4].emptyDir.sizeLimit": "512Mi"}),
    # apps/v1
    ("deployment", "Deployment", _deployment(), {
        "spec.replicas": 1, "spec.strategy": {"type": "RollingUpdate", "rollingUpdate": {
            "maxUnavailable": "25%", "maxSurge": "25%"}},
        "spec.revisionHistoryLimit": 10, "spec.progressDeadlineSeconds": 600,
        "spec.template.spec.restartPolicy": "Always", f"{TC0}.imagePullPolicy": "IfNotPresent",
        "spec.template.spec.enableServiceLinks": None, "spec.template.spec.priority": None,
        "spec.minReadySeconds": None}),
    ("deployment-explicit", "Deployment", _deployment(
        replicas=0, revisionHistoryLimit=0, progressDeadlineSeconds=60,
        strategy={"rollingUpdate": {"maxSurge": 1}}), {
        "spec.replicas": 0, "spec.revisionHistoryLimit": 0, "spec.progressDeadlineSeconds": 60,
        "spec.strategy.rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}}),
    ("deployment-recreate", "Deployment", _deployment(strategy={"type": "Recreate"}), {
        "spec.strategy": {"type": "Recreate"}}),
    ("deployment-no-selector-defaulting", "Deployment",
     {"metadata": {"name": "web"}, "spec": {"template": template()}}, {"spec.selector": None,
                                                                      "metadata.labels": None}),
    ("deployment-template-no-requests-from-limits", "Deployment", _deployment(template={
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{**CONTAINER, "resources": {"limits": {"cpu": "1.0"}}}]}}), {
        f"{TC0}.resources": {"limits": {"cpu": "1"}}}),
    ("replicaset", "ReplicaSet", {"metadata": {"name": "rs"}, "spec": {"template": template()}}, {
        "spec.replicas": 1, "spec.selector": None, "spec.template.spec.dnsPolicy": "ClusterFirst"}),
    # batch/v1
    ("job", "Job", _job(), {
        "spec.parallelism": 1, "spec.completions": 1, "spec.backoffLimit": 6,
        "spec.completionMode": "NonIndexed", "spec.suspend": False, "spec.manualSelector": None,
        "spec.podReplacementPolicy": "TerminatingOrFailed", "metadata.labels": {"app": "pi"},
        "spec.template.spec.terminationGracePeriodSeconds": 30, "spec.selector": None}),
    ("job-completions-only", "Job", _job(completions=5), {"spec.completions": 5, "spec.parallelism": 1}),
    ("job-parallelism-only", "Job", _job(parallelism=3), {"spec.completions": None, "spec.parallelism": 3}),
    ("job-backoff-limit-per-index", "Job", _job(completionMode="Indexed", completions=3, backoffLimitPerIndex=1), {
        "spec.backoffLimit": 2147483647, "spec.completionMode": "Indexed"}),
    ("job-pod-failure-policy", "Job", _job(podFailurePolicy={"rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}), {
        "spec.podReplacementPolicy": "Failed",
        "spec.podFailurePolicy.rules[0].onPodConditions[0].status": "True"}),
    ("job-own-labels-kept", "Job", {**_job(), "metadata": {"name": "pi", "labels": {"team": "a"}}}, {
        "metadata.labels": {"team": "a"}}),
    # core/v1 others
    ("service", "Service", _service(), {
        "spec.type": "ClusterIP", "spec.sessionAffinity": "None", "spec.ports[0].protocol": "TCP",
        "spec.ports[0].targetPort": 80, "spec.internalTrafficPolicy": "Cluster",
        "spec.externalTrafficPolicy": None, "spec.ipFamilies": None, "spec.clusterIPs": None}),
    ("service-target-port-kept", "Service", _service(ports=[{"port": 80, "targetPort": "http"},
                                                          {"port": 81, "targetPort": 0}]), {
        "spec.ports[0].targetPort": "http", "spec.ports[1].targetPort": 81}),
    ("service-node-port", "Service", _service(type="NodePort"), {
        "spec.externalTrafficPolicy": "Cluster", "spec.internalTrafficPolicy": "Cluster",
        "spec.allocateLoadBalancerNodePorts": None}),
    ("service-load-balancer", "Service", _service(type="LoadBalancer"), {
        "spec.externalTrafficPolicy": "Cluster", "spec.allocateLoadBalancerNodePorts": True}),
    ("service-external-name", "Service", {"metadata": {"name": "db"},
                                          "spec": {"type": "ExternalName", "externalName": "db.example.com"}}, {
        "spec.internalTrafficPolicy": None, "spec.sessionAffinity": "None"}),
    ("service-client-ip", "Service", _service(sessionAffinity="ClientIP"), {
        "spec.sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}}),
    ("service-affinity-config-dropped", "Service", _service(sessionAffinityConfig={"clientIP": {
        "timeoutSeconds": 5}}), {"spec.sessionAffinityConfig": None}),
    ("service-cluster-ips", "Service", _service(clusterIP="10.96.0.10"), {"spec.clusterIPs": ["10.96.0.10"]}),
    ("service-headless", "Service", _service(clusterIP="None"), {"spec.clusterIPs": ["None"]}),
    ("endpoints", "Endpoints", {"metadata": {"name": "web"}, "subsets": [
        {"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}, {"subsets[0].ports[0].protocol": "TCP"}),
    ("pvc", "PersistentVolumeClaim", {"metadata": {"name": "d"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1024Mi"}}}}, {
        "status.phase": "Pending", "spec.volumeMode": "Filesystem",
        "spec.resources.requests.storage": "1Gi"}),
    ("namespace", "Namespace", {"metadata": {"name": "team-a"}}, {
        "spec.finalizers": ["kubernetes"], "status.phase": "Active",
        "metadata.labels": {"kubernetes.io/metadata.name": "team-a"}}),
    ("namespace-stored-keeps-finalizers", "Namespace",
     {"metadata": {"name": "team-a", "uid": "u-1", "resourceVersion": "12"}, "spec": {},
      "status": {"phase": "Terminating"}}, {
         "spec.finalizers": None, "status.phase": "Terminating"}),
    ("node", "Node", {"metadata": {"name": "n1"}, "status": {"capacity": {"cpu": "4", "memory": "8192Mi"}}}, {
        "status.capacity": {"cpu": "4", "memory": "8Gi"}, "status.allocatable": {"cpu": "4", "memory": "8Gi"},
        "spec": None}),
    ("node-allocatable-kept", "Node", {"metadata": {"name": "n1"}, "status": {
        "capacity": {"cpu": "4"}, "allocatable": {"cpu": "3.5"}}}, {"status.allocatable": {"cpu": "3500m"}}),
    ("hpa", "HorizontalPodAutoscaler", {"metadata": {"name": "h"}, "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3}}, {
        "spec.minReplicas": 1, "spec.behavior": None,
        "spec.metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 80}}}]}),
    ("hpa-behavior-filled", "HorizontalPodAutoscaler", {"metadata": {"name": "h"}, "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3,
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}, {
        "spec.behavior.scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max",
                                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
        "spec.behavior.scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15}]}}),
    ("hpa-metric-quantity", "HorizontalPodAutoscaler", {"metadata": {"name": "h"}, "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3, "metrics": [
            {"type": "Pods", "pods": {"metric": {"name": "qps"},
                                      "target": {"type": "AverageValue", "averageValue": "1000m"}}}]}}, {
        "spec.metrics[0].pods.target.averageValue": "1"}),
    ("pdb-untouched", "PodDisruptionBudget", {"metadata": {"name": "p"}, "spec": {"minAvailable": 1}}, {
        "spec": {"minAvailable": 1}}),
    ("lease-untouched", "Lease", {"metadata": {"name": "l"}, "spec": {"holderIdentity": "x"}}, {
        "spec": {"holderIdentity": "x"}}),
]


@pytest.mark.parametrize("kind,manifest,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_defaults(kind, manifest, expected):
    out = defaulted(kind, manifest)
    for path, value in expected.items():
        assert get(out, path) == value, (path, get(out, path))


@pytest.mark.parametrize("image,policy", [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
    ("library/nginx", "Always"), ("localhost:5000/app", "Always"), ("localhost:5000/app:v1", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"), ("nginx:latest@sha256:" + "a" * 64, "Always"),
    ("registry.example.com/team/app:2.0", "IfNotPresent"), ("Nginx", "IfNotPresent"), ("nginx:", "IfNotPresent"),
])
def test_image_pull_policy(image, policy):
    out = defaulted("Pod", pod(containers=[{"name": "c", "image": image}]))
    assert get(out, f"{C0}.imagePullPolicy") == policy


def test_explicit_pull_policy_kept():
    out = defaulted("Pod", pod(containers=[{"name": "c", "image": "nginx", "imagePullPolicy": "Never"}]))
    assert get(out, f"{C0}.imagePullPolicy") == "Never"


@pytest.mark.parametrize("kind,manifest", [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_idempotent(kind, manifest):
    once = defaulted(kind, manifest)
    assert defaulted(kind, once) == once


@pytest.mark.parametrize("text,canonical", [
    ("0.5", "500m"), ("1000m", "1"), ("1.5Gi", "1536Mi"), ("100u", "1m"), ("2048Mi", "2Gi"),
    ("1e3", "1e3"), ("1Ki", "1Ki"), ("0", "0"), ("abc", "abc"), ("", ""),
])
def test_canonical_quantity(text, canonical):
    assert canonical_quantity(text) == canonical


def test_job_selector_generated_from_uid():
    job = from_dict(KINDS["Job"].message, _job())
    apply_defaults(job)
    job.metadata.uid = "u-1"
    default_job_selector(job)
    out = to_dict(job)
    assert out["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    assert out["spec"]["template"]["metadata"]["labels"] == {
        "app": "pi", "controller-uid": "u-1", "job-name": "pi",
        "batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "pi"}
    assert out["metadata"]["labels"] == {"app": "pi"}     # copied from the template before generation


def test_job_selector_keeps_user_labels_and_selector_terms():
    job = from_dict(KINDS["Job"].message, _job(selector={"matchLabels": {"app": "pi"}}))
    job.spec.template.metadata.labels["job-name"] = "custom"
    job.metadata.uid = "u-1"
    default_job_selector(job)
    assert dict(job.spec.selector.matchLabels) == {"app": "pi", "batch.kubernetes.io/controller-uid": "u-1"}
    assert job.spec.template.metadata.labels["job-name"] == "custom"


def test_manual_selector_job_untouched():
    job = from_dict(KINDS["Job"].message, _job(manualSelector=True, selector={"matchLabels": {"app": "pi"}}))
    job.metadata.uid = "u-1"
    before = to_dict(job)
    default_job_selector(job)
    assert to_dict(job) == before


def test_kinds_without_defaults_are_left_alone():
    ev = from_dict(KINDS["Event"].message, {"metadata": {"name": "e"}, "reason": "X"})
    apply_defaults(ev)
    assert to_dict(ev) == {"metadata": {"name": "e"}, "reason": "X"}
