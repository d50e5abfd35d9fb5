"""The API server end to end, through the real client and a real server process: the verbs, optimistic
concurrency, the status subresource, graceful deletion, binding, and durability across kill -9."""
from __future__ import annotations

import signal
import threading

import pytest

from minik8s.api.codec import from_dict
from minik8s.api.errors import AlreadyExists, BadRequest, Conflict, Invalid, NotFound, TooLarge
from minik8s.api.pb import apps_pb2, core_pb2


def pod(name: str, labels=None, node: str = "", **spec) -> core_pb2.Pod:
    d = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
         "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}
    if node:
        d["spec"]["nodeName"] = node
    return from_dict(core_pb2.Pod, d)


def deployment(name: str, replicas: int = 2, image: str = "nginx:1.25") -> apps_pb2.Deployment:
    return from_dict(apps_pb2.Deployment, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "web", "image": image}]}}}})


def test_create_sets_server_fields_and_defaults(srv):
    c = srv.client()
    p = c.create(pod("web-1"))
    assert p.metadata.uid and p.metadata.creationTimestamp.endswith("Z")
    assert int(p.metadata.resourceVersion) > 0
    assert p.metadata.namespace == "default"
    assert p.status.phase == "Pending"
    assert p.spec.restartPolicy == "Always"
    assert p.spec.containers[0].imagePullPolicy == "Always"     # untagged image means :latest
    with pytest.raises(AlreadyExists, match='pods "web-1" already exists'):
        c.create(pod("web-1"))


def test_generate_name(srv):
    c = srv.client()
    p = pod("")
    p.metadata.generateName = "web-"
    got = c.create(p)
    assert got.metadata.name.startswith("web-") and len(got.metadata.name) == 9


def test_resource_version_is_one_cluster_wide_counter(srv):
    c = srv.client()
    rvs = [int(c.create(pod(f"p{i}")).metadata.resourceVersion) for i in range(5)]
    rvs.append(int(c.create(deployment("d")).metadata.resourceVersion))
    assert rvs == sorted(rvs) and len(set(rvs)) == len(rvs)


def test_update_with_stale_resource_version_is_a_conflict_and_writes_nothing(srv):
    c = srv.client()
    d = c.create(deployment("web"))
    first = type(d)()
    first.CopyFrom(d)
    d.spec.replicas = 5
    updated = c.update(d)
    assert updated.metadata.generation == 2
    first.spec.replicas = 9
    with pytest.raises(Conflict, match="the object has been modified"):
        c.update(first)
    assert c.get("deployments", "web").spec.replicas == 5


def test_generation_moves_only_on_spec_change_and_status_is_a_subresource(srv):
    c = srv.client()
    d = c.create(deployment("web"))
    d.metadata.labels["team"] = "a"
    d.status.replicas = 7                       # ignored on the main resource
    d = c.update(d)
    assert d.metadata.generation == 1 and d.status.replicas == 0
    d.status.replicas = 2
    d.spec.replicas = 50                        # ignored on the status subresource
    d = c.update_status(d)
    assert d.status.replicas == 2 and d.spec.replicas == 2 and d.metadata.generation == 1


def test_noop_update_keeps_resource_version(srv):
    c = srv.client()
    d = c.create(deployment("web"))
    again = c.update(d)
    assert again.metadata.resourceVersion == d.metadata.resourceVersion


def test_merge_patch(srv):
    c = srv.client()
    c.create(deployment("web"))
    d = c.patch("deploy", "web", {"metadata": {"labels": {"tier": "fe"}}, "spec": {"replicas": 4}})
    assert d.metadata.labels["tier"] == "fe" and d.spec.replicas == 4
    d = c.patch("deploy", "web", {"metadata": {"labels": {"tier": None}}})
    assert "tier" not in d.metadata.labels
    with pytest.raises(Invalid, match="spec.replicas"):
        c.patch("deploy", "web", {"spec": {"replicas": "many"}})
    with pytest.raises(Invalid, match="spec.replicas"):
        c.patch("deploy", "web", {"spec": {"replicas": -1}})
    assert c.get("deploy", "web").spec.replicas == 4


def test_invalid_object_lists_every_error_and_stores_nothing(srv):
    c = srv.client()
    d = deployment("Bad_Name", replicas=-1)
    d.spec.template.metadata.labels["app"] = "other"
    with pytest.raises(Invalid) as e:
        c.create(d)
    paths = {p for p, _ in e.value.causes}
    assert {"metadata.name", "spec.replicas", "spec.template.metadata.labels"} <= paths
    assert len(c.list("deployments")) == 0


def test_list_selectors(srv):
    c = srv.client()
    c.create(pod("a", {"app": "web", "tier": "fe"}))
    c.create(pod("b", {"app": "web", "tier": "be"}))
    c.create(pod("c", {"app": "db"}))
    names = lambda **kw: sorted(p.metadata.name for p in c.list("pods", **kw))  # noqa: E731
    assert names(label_selector="app=web") == ["a", "b"]
    assert names(label_selector="app!=web") == ["c"]
    assert names(label_selector="tier in (fe,xx)") == ["a"]
    assert names(label_selector="tier notin (fe)") == ["b", "c"]
    assert names(label_selector="tier") == ["a", "b"]
    assert names(label_selector="!tier") == ["c"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="status.phase=Pending,metadata.name!=a") == ["b", "c"]
    with pytest.raises(BadRequest, match="field label not supported: spec.foo"):
        c.list("pods", field_selector="spec.foo=x")


def test_namespaces(srv):
    c = srv.client()
    assert {n.metadata.name for n in c.list("ns")} >= {"default", "kube-system", "kube-node-lease"}
    p = pod("x")
    p.metadata.namespace = "nope"
    with pytest.raises(NotFound, match='namespaces "nope" not found'):
        c.create(p)
    ns = core_pb2.Namespace()
    ns.metadata.name = "team"
    c.create(ns)
    p.metadata.namespace = "team"
    c.create(p)
    assert [x.metadata.name for x in c.list("pods", namespace="team")] == ["x"]
    assert len(c.list("pods", namespace="default")) == 0
    c.delete("ns", "team")
    assert len(c.list("pods")) == 0


def test_bind_once(srv):
    c = srv.client()
    c.create(pod("p"))
    bound = c.bind("default", "p", "node-1")
    assert bound.spec.nodeName == "node-1"
    assert any(x.type == "PodScheduled" and x.status == "True" for x in bound.status.conditions)
    with pytest.raises(Conflict, match="already assigned"):
        c.bind("default", "p", "node-2")


def test_graceful_delete_of_bound_pod_and_finalizers(srv):
    c = srv.client()
    c.create(pod("p", node="node-1"))
    gone = c.delete("pods", "p")
    assert gone.metadata.deletionTimestamp and gone.metadata.deletionGracePeriodSeconds == 30
    assert c.get("pods", "p").metadata.deletionTimestamp      # the kubelet finishes it
    c.delete("pods", "p", grace_period=0)
    with pytest.raises(NotFound):
        c.get("pods", "p")
    d = deployment("keep")
    d.metadata.finalizers.append("example.com/hold")
    c.create(d)
    c.delete("deploy", "keep")
    held = c.get("deploy", "keep")
    assert held.metadata.deletionTimestamp
    del held.metadata.finalizers[:]
    c.update(held)
    with pytest.raises(NotFound):
        c.get("deploy", "keep")


def test_delete_preconditions(srv):
    c = srv.client()
    p = c.create(pod("p"))
    with pytest.raises(Conflict, match="Precondition failed"):
        c.delete("pods", "p", preconditions={"uid": "other"})
    c.delete("pods", "p", preconditions={"uid": p.metadata.uid})


def test_objects_over_the_size_limit_are_refused(srv):
    c = srv.client()
    p = pod("big")
    for i in range(8):
        p.metadata.annotations[f"a{i}"] = "x" * 200_000
    with pytest.raises((TooLarge, Invalid)):
        c.create(p)
    assert len(c.list("pods")) == 0


def test_restart_keeps_objects_and_resource_versions_move_up(srv):
    c = srv.client()
    created = {c.create(pod(f"p{i}")).metadata.name for i in range(20)}
    last = int(c.create(pod("last")).metadata.resourceVersion)
    c.delete("pods", "last")
    srv.restart()
    c = srv.client()
    assert {p.metadata.name for p in c.list("pods")} == created
    assert int(c.create(pod("after")).metadata.resourceVersion) > last + 1


def test_kill_9_during_concurrent_writes_loses_no_acknowledged_write(srv):
    acked: dict[str, int] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w: int):
        c = srv.client(timeout=5)
        for i in range(100_000):
            if stop.is_set():
                return
            name = f"w{w}-{i}"
            try:
                rv = int(c.create(pod(name)).metadata.resourceVersion)
            except Exception:
                return
            with lock:
                acked[name] = rv

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    deadline = __import__("time").monotonic() + 20
    while len(acked) < 300 and __import__("time").monotonic() < deadline:
        threading.Event().wait(0.01)
    srv.kill(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= 300
    srv.start()
    c = srv.client()
    stored = {p.metadata.name: int(p.metadata.resourceVersion) for p in c.list("pods")}
    missing = set(acked) - set(stored)
    assert not missing, f"{len(missing)} acknowledged writes lost"
    assert all(stored[n] == rv for n, rv in acked.items())
    assert int(c.create(pod("next")).metadata.resourceVersion) > max(acked.values())


def service(name: str, type_: str = "ClusterIP", ports=None, **spec):
    return from_dict(core_pb2.Service, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"type": type_, "selector": {"app": name},
                 "ports": ports or [{"name": "http", "port": 80, "targetPort": 8080}], **spec}})


def test_services_get_unique_cluster_ips_and_node_ports(srv):
    c = srv.client()
    a = c.create(service("a", "NodePort"))
    b = c.create(service("b", "NodePort"))
    assert a.spec.clusterIP.startswith("10.96.") and a.spec.clusterIP != b.spec.clusterIP
    assert list(a.spec.clusterIPs) == [a.spec.clusterIP]
    assert 30000 <= a.spec.ports[0].nodePort <= 32767
    assert a.spec.ports[0].nodePort != b.spec.ports[0].nodePort
    with pytest.raises(Invalid, match="provided port is already allocated"):
        c.create(service("c", "NodePort", [{"port": 80, "nodePort": a.spec.ports[0].nodePort}]))
    with pytest.raises(Invalid, match="spec.ports\\[0\\].nodePort"):
        c.create(service("d", "NodePort", [{"port": 80, "nodePort": 80}]))
    # an update that omits the allocated values keeps them
    a2 = service("a", "NodePort")
    a2.metadata.resourceVersion = ""
    kept = c.update(a2)
    assert kept.spec.clusterIP == a.spec.clusterIP and kept.spec.ports[0].nodePort == a.spec.ports[0].nodePort
    c.delete("svc", "a")
    e = c.create(service("e", "NodePort", [{"port": 80, "nodePort": a.spec.ports[0].nodePort}]))
    assert e.spec.ports[0].nodePort == a.spec.ports[0].nodePort      # freed by the delete
