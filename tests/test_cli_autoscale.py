"""`minictl autoscale`, `get hpa` and `describe hpa` as kubectl prints them, and HPAs refused with the
bad field named and nothing stored: min > max, a target kind without a scale subresource, an unknown
metric type or resource name (through the API, `minictl apply` and `minictl autoscale`)."""
from __future__ import annotations

import contextlib
import io
import re

import pytest

from minik8s.api.errors import Invalid
from minik8s.api.pb import apps_pb2, autoscaling_pb2

NS = "default"


def ctl(srv, *args) -> tuple[int, str, str]:
    from minik8s.cli.main import main as minictl
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = minictl(["--server", srv.address, "--token", srv.tokens["admin"], *args])
    return code, out.getvalue(), err.getvalue()


def deployment(name: str) -> apps_pb2.Deployment:
    d = apps_pb2.Deployment()
    d.metadata.name, d.metadata.namespace, d.spec.replicas = name, NS, 1
    d.spec.selector.matchLabels["app"] = name
    d.spec.template.metadata.labels["app"] = name
    d.spec.template.spec.containers.add(name="c", image="nginx").resources.requests["cpu"] = "200m"
    return d


def statefulset(name: str) -> apps_pb2.StatefulSet:
    s = apps_pb2.StatefulSet()
    s.metadata.name, s.metadata.namespace, s.spec.serviceName = name, NS, name
    s.spec.selector.matchLabels["app"] = name
    s.spec.template.metadata.labels["app"] = name
    s.spec.template.spec.containers.add(name="c", image="nginx")
    return s


async def test_autoscale_names_the_hpa_after_its_target(srv, admin):
    await admin.create(deployment("php-apache"))
    assert ctl(srv, "autoscale", "deployment", "php-apache", "--cpu-percent=50", "--min=1", "--max=10") == (
        0, "horizontalpodautoscaler.autoscaling/php-apache autoscaled\n", "")
    hpa = await admin.get("HorizontalPodAutoscaler", "php-apache", NS)
    ref = hpa.spec.scaleTargetRef
    assert (ref.apiVersion, ref.kind, ref.name) == ("apps/v1", "Deployment", "php-apache")
    assert (hpa.spec.minReplicas, hpa.spec.maxReplicas) == (1, 10)
    assert [(m.resource.name, m.resource.target.averageUtilization) for m in hpa.spec.metrics] == [("cpu", 50)]
    await admin.create(statefulset("db"))
    assert ctl(srv, "autoscale", "statefulset/db", "--max=3", "--name=db-scaler")[1] == \
        "horizontalpodautoscaler.autoscaling/db-scaler autoscaled\n"
    hpa = await admin.get("HorizontalPodAutoscaler", "db-scaler", NS)
    # --min and --cpu-percent left to the server's defaults
    assert (hpa.spec.minReplicas, hpa.spec.metrics[0].resource.target.averageUtilization) == (1, 80)
    assert ctl(srv, "autoscale", "deployment/php-apache", "--max=4", "--name=dry", "--dry-run=server")[1] == \
        "horizontalpodautoscaler.autoscaling/dry autoscaled (server dry run)\n"
    assert sorted(h.metadata.name for h in (await admin.list("HorizontalPodAutoscaler", NS)).items) == \
        ["db-scaler", "php-apache"]


async def test_get_hpa_columns_as_kubectl(srv, admin):
    await admin.create(deployment("php-apache"))
    ctl(srv, "autoscale", "deployment/php-apache", "--cpu-percent=50", "--min=1", "--max=10")
    lines = ctl(srv, "get", "hpa")[1].splitlines()
    assert lines[0].split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert re.fullmatch(r"php-apache\s+Deployment/php-apache\s+cpu: <unknown>/50%\s+1\s+10\s+0\s+\d+s", lines[1])
    hpa = await admin.get("HorizontalPodAutoscaler", "php-apache", NS)
    hpa.status.currentReplicas, hpa.status.desiredReplicas = 4, 4
    m = hpa.status.currentMetrics.add(type="Resource")
    m.resource.name = "cpu"
    m.resource.current.averageUtilization, m.resource.current.averageValue = 250, "500m"
    hpa.status.conditions.add(type="AbleToScale", status="True", reason="ReadyForNewScale",
                              message="recommended size matches current size")
    await admin.update_status(hpa)
    line = ctl(srv, "get", "hpa", "php-apache")[1].splitlines()[1]
    assert re.fullmatch(r"php-apache\s+Deployment/php-apache\s+cpu: 250%/50%\s+1\s+10\s+4\s+\d+s", line)
    out = ctl(srv, "describe", "hpa", "php-apache")[1]
    col = len("  resource cpu on pods  (as a percentage of request):  ")
    want = [("Name:", "php-apache"), ("Namespace:", "default"), ("Reference:", "Deployment/php-apache"),
            ("Metrics:", "( current / target )"),
            ("  resource cpu on pods  (as a percentage of request):", "250% (500m) / 50%"),
            ("Min replicas:", "1"), ("Max replicas:", "10"), ("Deployment pods:", "4 current / 4 desired")]
    lines = out.splitlines()
    for key, value in want:
        assert key.ljust(col) + value in lines, (key, out)
    i = lines.index("Conditions:")
    assert lines[i + 1].split() == ["Type", "Status", "Reason", "Message"]
    assert lines[i + 3].split(None, 3) == ["AbleToScale", "True", "ReadyForNewScale",
                                           "recommended size matches current size"]
    assert lines[-1].split() == ["Events:", "<none>"]


def hpa(name="web", kind="Deployment", min_replicas=1, max_replicas=5, metric_type="Resource", resource="cpu"):
    h = autoscaling_pb2.HorizontalPodAutoscaler()
    h.metadata.name, h.metadata.namespace = name, NS
    h.spec.scaleTargetRef.apiVersion = "apps/v1" if kind != "ConfigMap" else "v1"
    h.spec.scaleTargetRef.kind, h.spec.scaleTargetRef.name = kind, "web"
    h.spec.minReplicas, h.spec.maxReplicas = min_replicas, max_replicas
    m = h.spec.metrics.add(type=metric_type)
    m.resource.name = resource
    m.resource.target.type, m.resource.target.averageUtilization = "Utilization", 50
    return h


@pytest.mark.parametrize("bad,field,message", [
    (hpa(min_replicas=6, max_replicas=2), "spec.maxReplicas", "must be greater than or equal to `minReplicas`"),
    (hpa(kind="ConfigMap"), "spec.scaleTargetRef.kind", 'Unsupported value: "ConfigMap"'),
    (hpa(kind="Job"), "spec.scaleTargetRef.kind", 'supported values: "Deployment", "ReplicaSet", "StatefulSet"'),
    (hpa(metric_type="Cpu"), "spec.metrics[0].type", 'Unsupported value: "Cpu"'),
    (hpa(resource="gpus"), "spec.metrics[0].resource.name", "must be a standard resource type or fully qualified"),
])
async def test_bad_autoscalers_name_the_field_and_store_nothing(admin, bad, field, message):
    with pytest.raises(Invalid) as e:
        await admin.create(bad)
    assert f"{field}: " in e.value.message and message in e.value.message, e.value.message
    assert (await admin.list("HorizontalPodAutoscaler", NS)).items == []


async def test_bad_input_from_the_command_line(srv, admin, tmp_path):
    await admin.create(deployment("web"))
    assert ctl(srv, "autoscale", "deployment/web", "--min=5", "--max=2") == (
        1, "", "error: --max=MAXPODS must be larger or equal to --min=MINPODS, max: 2, min: 5\n")
    assert ctl(srv, "autoscale", "deployment/web") == (
        1, "", "error: --max=MAXPODS is required and must be at least 1, max: -1\n")
    code, _, err = ctl(srv, "autoscale", "configmap/web", "--max=2")
    assert code == 1 and err.startswith("error: cannot autoscale a ConfigMap:")
    code, _, err = ctl(srv, "autoscale", "deployment/nope", "--max=2")
    assert (code, err) == (1, 'Error from server (NotFound): deployments.apps "nope" not found\n')
    path = tmp_path / "hpa.yaml"
    path.write_text("apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\n"
                    "spec: {scaleTargetRef: {kind: Job, name: web}, minReplicas: 3, maxReplicas: 2,\n"
                    "       targetCPUUtilizationPercentage: 50}\n")
    code, _, err = ctl(srv, "apply", "-f", str(path))
    assert code == 1
    assert "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`" in err
    assert 'spec.scaleTargetRef.kind: Unsupported value: "Job"' in err
    assert (await admin.list("HorizontalPodAutoscaler", NS)).items == []
