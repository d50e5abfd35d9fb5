"""The official Python clients against minik8s's REST API: `kubernetes` lists, creates, patches and
watches; `kubernetes_asyncio` watches."""
from __future__ import annotations

import threading

import pytest

from rest_support import rest_ca, rest_url

kubernetes = pytest.importorskip("kubernetes")
kubernetes_asyncio = pytest.importorskip("kubernetes_asyncio")

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
       "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def _configure(cfg, srv):
    cfg.host = rest_url(srv)
    cfg.ssl_ca_cert = rest_ca(srv)
    # the sync client names the key "authorization", the asyncio one "BearerToken"
    cfg.api_key = {"authorization": srv.tokens["admin"], "BearerToken": srv.tokens["admin"]}
    cfg.api_key_prefix = {"authorization": "Bearer", "BearerToken": "Bearer"}
    return cfg


@pytest.fixture
def core(srv):
    from kubernetes import client
    api = client.ApiClient(_configure(client.Configuration(), srv))
    yield client.CoreV1Api(api)
    api.close()


def test_list_create_patch_and_errors(core):
    from kubernetes.client.exceptions import ApiException
    assert "default" in [n.metadata.name for n in core.list_namespace().items]
    created = core.create_namespaced_pod("default", POD)
    assert created.metadata.uid and created.spec.containers[0].image == "nginx"
    patched = core.patch_namespaced_pod("web", "default", {"metadata": {"labels": {"tier": "front"}}})
    assert patched.metadata.labels == {"app": "web", "tier": "front"}
    pods = core.list_namespaced_pod("default", label_selector="tier=front")
    assert [p.metadata.name for p in pods.items] == ["web"]
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod("default", POD)
    assert e.value.status == 409 and e.value.reason == "Conflict"


def test_watch_streams_changes(core):
    from kubernetes import watch
    rv = core.list_namespaced_pod("default").metadata.resource_version
    w = watch.Watch()
    seen = []

    def collect():
        for ev in w.stream(core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=20):
            seen.append((ev["type"], ev["object"].metadata.name, dict(ev["object"].metadata.labels or {})))
            if len(seen) == 2:
                w.stop()

    t = threading.Thread(target=collect)
    t.start()
    core.create_namespaced_pod("default", POD)
    core.patch_namespaced_pod("web", "default", {"metadata": {"labels": {"x": "1"}}})
    t.join(30)
    assert seen == [("ADDED", "web", {"app": "web"}), ("MODIFIED", "web", {"app": "web", "x": "1"})]


async def test_asyncio_client_watches(srv):
    from kubernetes_asyncio import client, watch
    cfg = _configure(client.Configuration(), srv)
    async with client.ApiClient(cfg) as api:
        core = client.CoreV1Api(api)
        rv = (await core.list_namespaced_pod("default")).metadata.resource_version
        await core.create_namespaced_pod("default", POD)
        w = watch.Watch()
        async for ev in w.stream(core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=20):
            assert (ev["type"], ev["object"].metadata.name) == ("ADDED", "web")
            w.stop()
            break


def test_nodes_read_with_every_system_info_field(srv, core):
    """A kubelet posts nodeInfo with an empty kubeProxyVersion (upstream's kubelet no longer sets it);
    the official client requires every nodeInfo field, so it must be there, empty."""
    from minik8s.api.pb import core_pb2
    c = srv.client()
    node = core_pb2.Node()
    node.metadata.name = "n1"
    c.create(node)
    node = c.get("nodes", "n1")
    node.status.nodeInfo.CopyFrom(core_pb2.NodeSystemInfo(
        machineID="m", systemUUID="u", bootID="b", kernelVersion="6.1", osImage="Debian", kubeletVersion="v1.32.0",
        containerRuntimeVersion="process://1", kubeProxyVersion="", operatingSystem="linux", architecture="amd64"))
    c.update_status(node)
    [listed] = core.list_node().items
    assert listed.status.node_info.kube_proxy_version == ""
    assert listed.status.node_info.kubelet_version == "v1.32.0"
