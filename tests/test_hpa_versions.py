"""HorizontalPodAutoscalers served at autoscaling/v1 beside v2 (stored): the Kubernetes docs' v1
`hpa-rs.yaml` applied unchanged by `minictl apply`, the same manifest created, read, listed, updated
and patched over REST at v1 with targetCPUUtilizationPercentage <-> the cpu Utilization metric and
currentCPUUtilizationPercentage from the status; what v1 cannot hold (other metrics, behavior,
conditions) carried in annotations so a v1 round trip keeps it; discovery lists both versions."""
from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess

import aiohttp
import pytest

from minik8s.api.conversion import BEHAVIOR_ANNOTATION, CONDITIONS_ANNOTATION, METRICS_ANNOTATION
from minik8s.cli.main import main as minictl
from rest_support import rest_ca, rest_url, ssl_context

# https://k8s.io/examples/controllers/hpa-rs.yaml
HPA_RS = """\
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: frontend-scaler
spec:
  scaleTargetRef:
    kind: ReplicaSet
    name: frontend
  minReplicas: 3
  maxReplicas: 10
  targetCPUUtilizationPercentage: 50
"""
V1 = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"
V2 = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"


def ctl(srv, *args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = minictl(["--server", srv.address, "--token", srv.tokens["admin"], *args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
async def http(srv):
    headers = {"Authorization": f"Bearer {srv.tokens['admin']}"}
    async with aiohttp.ClientSession(rest_url(srv), headers=headers,
                                     connector=aiohttp.TCPConnector(ssl=ssl_context(srv))) as s:
        yield s


async def call(http, method, path, body=None, ct="application/json"):
    data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    async with http.request(method, path, data=data, headers={"Content-Type": ct}) as r:
        return r.status, await r.json(content_type=None)


def cpu_targets(hpa) -> list[tuple[str, str, int]]:
    return [(m.resource.name, m.resource.target.type, m.resource.target.averageUtilization)
            for m in hpa.spec.metrics]


async def test_minictl_applies_the_docs_v1_manifest_as_the_stored_v2(srv, admin, tmp_path):
    path = tmp_path / "hpa-rs.yaml"
    path.write_text(HPA_RS)
    assert ctl(srv, "apply", "-f", str(path)) == (
        0, "horizontalpodautoscaler.autoscaling/frontend-scaler created\n", "")
    hpa = await admin.get("HorizontalPodAutoscaler", "frontend-scaler", "default")
    assert (hpa.apiVersion, hpa.spec.minReplicas, hpa.spec.maxReplicas) == ("autoscaling/v2", 3, 10)
    assert cpu_targets(hpa) == [("cpu", "Utilization", 50)]
    assert ctl(srv, "apply", "-f", str(path))[1] == "horizontalpodautoscaler.autoscaling/frontend-scaler unchanged\n"
    path.write_text(HPA_RS.replace("Percentage: 50", "Percentage: 60"))
    assert ctl(srv, "apply", "-f", str(path))[1] == "horizontalpodautoscaler.autoscaling/frontend-scaler configured\n"
    hpa = await admin.get("HorizontalPodAutoscaler", "frontend-scaler", "default")
    assert cpu_targets(hpa) == [("cpu", "Utilization", 60)]


async def test_a_v1_field_of_the_wrong_type_is_named_and_nothing_stored(srv, admin, tmp_path):
    path = tmp_path / "hpa.yaml"
    path.write_text(HPA_RS.replace("50", '"fifty"'))
    code, out, err = ctl(srv, "apply", "-f", str(path))
    assert code == 1 and "spec.targetCPUUtilizationPercentage: expected integer, got string" in err
    assert (await admin.list("HorizontalPodAutoscaler", "default")).items == []


async def test_rest_serves_v1_converted_from_the_stored_v2(srv, admin, http):
    import yaml
    status, created = await call(http, "POST", V1, yaml.safe_load(HPA_RS))
    assert status == 201, created
    assert (created["apiVersion"], created["spec"]["targetCPUUtilizationPercentage"]) == ("autoscaling/v1", 50)
    assert "metrics" not in created["spec"]
    status, v2 = await call(http, "GET", f"{V2}/frontend-scaler")
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
    # the controller's status, as v1 shows it
    hpa = await admin.get("HorizontalPodAutoscaler", "frontend-scaler", "default")
    hpa.status.currentReplicas, hpa.status.desiredReplicas = 3, 3
    m = hpa.status.currentMetrics.add(type="Resource")
    m.resource.name, m.resource.current.averageUtilization = "cpu", 250
    hpa.status.conditions.add(type="AbleToScale", status="True", reason="SucceededGetScale")
    await admin.update_status(hpa)
    _, v1 = await call(http, "GET", f"{V1}/frontend-scaler")
    assert v1["status"]["currentCPUUtilizationPercentage"] == 250 and "currentMetrics" not in v1["status"]
    assert json.loads(v1["metadata"]["annotations"][CONDITIONS_ANNOTATION])[0]["reason"] == "SucceededGetScale"
    _, listed = await call(http, "GET", V1)
    assert (listed["apiVersion"], listed["items"][0]["apiVersion"]) == ("autoscaling/v1", "autoscaling/v1")
    # a merge patch at v1 speaks v1 fields
    status, patched = await call(http, "PATCH", f"{V1}/frontend-scaler",
                                 {"spec": {"targetCPUUtilizationPercentage": 70}}, "application/merge-patch+json")
    assert status == 200 and patched["spec"]["targetCPUUtilizationPercentage"] == 70
    hpa = await admin.get("HorizontalPodAutoscaler", "frontend-scaler", "default")
    assert cpu_targets(hpa) == [("cpu", "Utilization", 70)]
    assert CONDITIONS_ANNOTATION not in hpa.metadata.annotations


async def test_a_v1_round_trip_keeps_what_only_v2_holds(srv, admin, http):
    body = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "maxReplicas": 5,
                     "metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {
                                  "type": "AverageValue", "averageValue": "100Mi"}}},
                                 {"type": "Resource", "resource": {"name": "cpu", "target": {
                                  "type": "Utilization", "averageUtilization": 40}}}],
                     "behavior": {"scaleDown": {"stabilizationWindowSeconds": 30}}}}
    assert (await call(http, "POST", V2, body))[0] == 201
    _, v1 = await call(http, "GET", f"{V1}/web")
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 40
    anns = v1["metadata"]["annotations"]
    assert json.loads(anns[METRICS_ANNOTATION])[0]["resource"]["name"] == "memory"
    assert json.loads(anns[BEHAVIOR_ANNOTATION])["scaleDown"]["stabilizationWindowSeconds"] == 30
    v1["spec"]["maxReplicas"] = 6
    status, put = await call(http, "PUT", f"{V1}/web", v1)
    assert status == 200, put
    hpa = await admin.get("HorizontalPodAutoscaler", "web", "default")
    assert hpa.spec.maxReplicas == 6
    assert [m.resource.name for m in hpa.spec.metrics] == ["cpu", "memory"]
    assert hpa.spec.behavior.scaleDown.stabilizationWindowSeconds == 30
    assert not hpa.metadata.annotations


async def test_discovery_lists_both_versions_with_v2_preferred(http):
    _, group = await call(http, "GET", "/apis/autoscaling")
    assert [v["version"] for v in group["versions"]] == ["v2", "v1"]
    assert group["preferredVersion"]["version"] == "v2"
    _, resources = await call(http, "GET", "/apis/autoscaling/v1")
    assert "horizontalpodautoscalers" in [r["name"] for r in resources["resources"]]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
async def test_kubectl_applies_the_docs_v1_manifest(srv, admin, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "t",
        "clusters": [{"name": "t", "cluster": {"server": rest_url(srv), "certificate-authority": rest_ca(srv)}}],
        "users": [{"name": "t", "user": {"token": srv.tokens["admin"]}}],
        "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}]}))

    def kubectl(*args, input=None):
        out = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "--request-timeout=20s", *args],
                             input=input, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout
    assert kubectl("apply", "-f", "-", input=HPA_RS) == "horizontalpodautoscaler.autoscaling/frontend-scaler created\n"
    assert kubectl("apply", "-f", "-", input=HPA_RS).endswith("unchanged\n")
    assert kubectl("apply", "-f", "-", input=HPA_RS.replace("Percentage: 50", "Percentage: 65")).endswith(
        "configured\n")
    hpa = await admin.get("HorizontalPodAutoscaler", "frontend-scaler", "default")
    assert cpu_targets(hpa) == [("cpu", "Utilization", 65)]
    v1 = json.loads(kubectl("get", "horizontalpodautoscalers.v1.autoscaling", "frontend-scaler", "-o", "json"))
    assert (v1["apiVersion"], v1["spec"]["targetCPUUtilizationPercentage"]) == ("autoscaling/v1", 65)


async def test_a_target_reference_without_apiversion_finds_its_kind(admin):
    """The docs' hpa-rs.yaml names its ReplicaSet by kind alone; the HPA reads its scale all the same."""
    from minik8s.api.pb import apps_pb2, autoscaling_pb2
    from minik8s.controllers.podautoscaler.scale import get_scale
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name, rs.metadata.namespace, rs.spec.replicas = "frontend", "default", 3
    rs.spec.selector.matchLabels["tier"] = "frontend"
    rs.spec.template.metadata.labels["tier"] = "frontend"
    rs.spec.template.spec.containers.add(name="php-redis", image="us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5")
    await admin.create(rs)
    ref = autoscaling_pb2.CrossVersionObjectReference(kind="ReplicaSet", name="frontend")
    scale = await get_scale(admin, "default", ref)
    assert (scale.kind, scale.spec_replicas, scale.selector) == ("ReplicaSet", 3, "tier=frontend")
