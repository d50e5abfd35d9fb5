"""The scale subresource over gRPC (GetScale, UpdateScale): a Deployment seen as an autoscaling/v1
Scale with its selector as a string; a write changes spec.replicas only; a stale resourceVersion is
a conflict, a negative count Invalid, a kind without scale NotFound; REST's `.../scale` answers the
same Scale; `minictl scale --current-replicas` checks the Scale it read."""
from __future__ import annotations

import contextlib
import io

import pytest

from minik8s.api.errors import Conflict, Invalid, NotFound
from minik8s.api.pb import apps_pb2, core_pb2
from minik8s.cli.main import main as minictl

NS = "default"


def deployment(name: str, replicas: int) -> apps_pb2.Deployment:
    d = apps_pb2.Deployment()
    d.metadata.name, d.metadata.namespace, d.spec.replicas = name, NS, replicas
    d.spec.selector.matchLabels["app"] = name
    d.spec.selector.matchExpressions.add(key="tier", operator="In", values=["fe", "be"])
    d.spec.template.metadata.labels.update({"app": name, "tier": "fe"})
    d.spec.template.spec.containers.add(name="c", image="nginx")
    return d


async def test_get_and_update_scale(admin):
    created = await admin.create(deployment("web", 2))
    scale = await admin.get_scale("Deployment", "web", NS)
    assert (scale.apiVersion, scale.kind, scale.metadata.name, scale.metadata.uid) == \
        ("autoscaling/v1", "Scale", "web", created.metadata.uid)
    assert (scale.spec.replicas, scale.status.selector) == (2, "app=web,tier in (be,fe)")
    assert scale.metadata.resourceVersion == created.metadata.resourceVersion
    scaled = await admin.update_scale("Deployment", "web", 5, NS, resource_version=scale.metadata.resourceVersion)
    assert scaled.spec.replicas == 5
    d = await admin.get("Deployment", "web", NS)
    assert (d.spec.replicas, d.metadata.generation) == (5, 2)
    assert d.spec.template == created.spec.template


async def test_dry_run_writes_nothing(admin):
    await admin.create(deployment("dry", 2))
    assert (await admin.update_scale("Deployment", "dry", 7, NS, dry_run=True)).spec.replicas == 7
    assert (await admin.get("Deployment", "dry", NS)).spec.replicas == 2


async def test_bad_scale_writes_are_refused(admin):
    await admin.create(deployment("web", 2))
    stale = (await admin.get_scale("Deployment", "web", NS)).metadata.resourceVersion
    await admin.update_scale("Deployment", "web", 3, NS)
    with pytest.raises(Conflict):
        await admin.update_scale("Deployment", "web", 4, NS, resource_version=stale)
    with pytest.raises(Invalid) as e:
        await admin.update_scale("Deployment", "web", -1, NS)
    assert "spec.replicas" in e.value.message
    assert (await admin.get("Deployment", "web", NS)).spec.replicas == 3
    cm = core_pb2.ConfigMap()
    cm.metadata.name, cm.metadata.namespace = "c", NS
    await admin.create(cm)
    with pytest.raises(NotFound):
        await admin.get_scale("ConfigMap", "c", NS)
    with pytest.raises(NotFound):
        await admin.get_scale("Deployment", "nope", NS)


def ctl(srv, *args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = minictl(["--server", srv.address, "--token", srv.tokens["admin"], *args])
    return code, out.getvalue(), err.getvalue()


async def test_minictl_scale_goes_through_the_subresource(srv, admin):
    await admin.create(deployment("web", 2))
    assert ctl(srv, "scale", "deployment/web", "--replicas=4", "--current-replicas=3") == (
        1, "", "error: Expected replicas to be 3, was 2\n")
    assert ctl(srv, "scale", "deployment/web", "--replicas=4", "--current-replicas=2") == (
        0, "deployment.apps/web scaled\n", "")
    assert (await admin.get_scale("Deployment", "web", NS)).spec.replicas == 4
    code, _, err = ctl(srv, "scale", "configmap/x", "--replicas=1")
    assert code == 1 and "no scaler has been implemented" in err
