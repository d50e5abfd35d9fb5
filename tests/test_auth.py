"""Authentication and the node rule: every call needs a valid bearer token; a node's identity may write
only its own Node and Lease, the status of pods bound to it, and Events."""
from __future__ import annotations

import pytest

from cluster import ApiServerProcess
from minik8s.api.codec import from_dict
from minik8s.api.errors import Forbidden, Unauthenticated
from minik8s.api.pb import coordination_pb2, core_pb2, storage_pb2
from test_apiserver import deployment, pod


def node(name: str) -> core_pb2.Node:
    return from_dict(core_pb2.Node, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})


def lease(name: str, namespace: str = "kube-node-lease") -> coordination_pb2.Lease:
    return from_dict(coordination_pb2.Lease, {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": name, "namespace": namespace}, "spec": {"holderIdentity": name}})


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_calls_without_a_valid_token_are_unauthenticated(srv, token):
    c = srv.client(token)
    for call in (lambda: c.list("pods"), lambda: c.create(pod("x")), lambda: c.version(),
                 lambda: list(c.watch("pods", timeout=5))):
        with pytest.raises(Unauthenticated):
            call()
    assert len(srv.client().list("pods")) == 0


def test_identities_are_reported(srv):
    assert srv.client().version().user == "admin"
    v = srv.client("node-1").version()
    assert v.user == "system:node:node-1" and list(v.groups) == ["system:nodes", "system:authenticated"]


def test_node_may_write_its_own_node_and_lease_only(srv):
    n1 = srv.client("node-1")
    n1.create(node("node-1"))
    n1.create(lease("node-1"))
    got = n1.get("nodes", "node-1")
    got.status.capacity["cpu"] = "4"
    n1.update_status(got)
    with pytest.raises(Forbidden, match="may only modify its own Node"):
        n1.create(node("node-2"))
    with pytest.raises(Forbidden, match="its own Lease"):
        n1.create(lease("node-2"))
    with pytest.raises(Forbidden, match="its own Lease"):
        n1.create(lease("node-1", namespace="default"))
    srv.client("node-2").create(node("node-2"))
    with pytest.raises(Forbidden):
        n1.delete("nodes", "node-2")
    assert {n.metadata.name for n in srv.client().list("nodes")} == {"node-1", "node-2"}


def test_node_may_update_status_of_pods_bound_to_it_only(srv):
    admin = srv.client()
    admin.create(pod("mine", node="node-1"))
    admin.create(pod("theirs", node="node-2"))
    admin.create(pod("unbound"))
    n1 = srv.client("node-1")
    p = n1.get("pods", "mine")
    p.status.phase = "Running"
    assert n1.update_status(p).status.phase == "Running"
    assert n1.patch("pods", "mine", {"status": {"podIP": "10.0.0.5"}}, status=True).status.podIP == "10.0.0.5"
    for name in ("theirs", "unbound"):
        other = admin.get("pods", name)
        other.status.phase = "Running"
        with pytest.raises(Forbidden, match="pods bound to it"):
            n1.update_status(other)
    assert admin.get("pods", "theirs").status.phase == "Pending"


def test_node_may_not_touch_specs_or_other_kinds(srv):
    admin = srv.client()
    admin.create(pod("mine", node="node-1"))
    n1 = srv.client("node-1")
    p = n1.get("pods", "mine")
    p.metadata.labels["x"] = "y"
    with pytest.raises(Forbidden):
        n1.update(p)
    with pytest.raises(Forbidden):
        n1.create(pod("new"))
    with pytest.raises(Forbidden):
        n1.create(deployment("web"))
    with pytest.raises(Forbidden):
        n1.bind("default", "mine", "node-1")
    assert "x" not in admin.get("pods", "mine").metadata.labels


def test_node_may_finish_deleting_its_own_pods(srv):
    admin = srv.client()
    admin.create(pod("mine", node="node-1"))
    admin.create(pod("theirs", node="node-2"))
    n1 = srv.client("node-1")
    with pytest.raises(Forbidden):
        n1.delete("pods", "theirs", grace_period=0)
    n1.delete("pods", "mine", grace_period=0)
    assert [p.metadata.name for p in admin.list("pods")] == ["theirs"]


def test_node_may_record_events(srv):
    n1 = srv.client("node-1")
    ev = from_dict(core_pb2.Event, {"apiVersion": "v1", "kind": "Event",
                                    "metadata": {"name": "mine.1", "namespace": "default"},
                                    "involvedObject": {"kind": "Pod", "name": "mine", "namespace": "default"},
                                    "reason": "Started", "message": "Started container c", "type": "Normal"})
    n1.create(ev)
    assert srv.client().get("events", "mine.1").reason == "Started"


def test_tls_off_loopback(tmp_path):
    """Off loopback the server refuses to start without TLS, and serves TLS with a CA-signed cert."""
    from minik8s.client.home import ensure_ca_and_server_cert
    import os
    s = ApiServerProcess(str(tmp_path), ("--address", "0.0.0.0"))
    with pytest.raises(RuntimeError, match="without TLS"):
        s.start(timeout=20)
    ca, cert, key = ensure_ca_and_server_cert(os.path.join(str(tmp_path), "pki"), ["127.0.0.1"])
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"
    s = ApiServerProcess(str(tmp_path), ("--address", "0.0.0.0", "--tls-cert-file", cert,
                                         "--tls-private-key-file", key))
    s.start()
    try:
        c = s.client(ca_file=ca)
        assert c.version().user == "admin"
        insecure = s.client()         # plaintext to a TLS port fails
        with pytest.raises(Exception):
            insecure.version()
    finally:
        s.close()


def test_an_https_server_is_never_spoken_to_in_plaintext(tmp_path):
    """`--server https://...` without a CA fails closed, naming the fix, and sends nothing; with the
    CA it verifies; with --insecure-skip-tls-verify it warns and still speaks TLS."""
    import os
    import subprocess
    import sys
    from minik8s.client.client import Client
    from minik8s.client.home import ensure_ca_and_server_cert
    os.makedirs(tmp_path / "pki")
    ca, cert, key = ensure_ca_and_server_cert(os.path.join(str(tmp_path), "pki"), ["127.0.0.1"])
    s = ApiServerProcess(str(tmp_path), ("--address", "0.0.0.0", "--tls-cert-file", cert,
                                         "--tls-private-key-file", key)).start()
    try:
        server = f"https://127.0.0.1:{s.port}"
        with pytest.raises(ValueError, match="no certificate authority is given"):
            Client(server, s.tokens["admin"])

        def minictl(*args):
            return subprocess.run([sys.executable, "-m", "minik8s.cli.main", "--home", str(tmp_path / "none"),
                                   "--server", server, "--token", s.tokens["admin"], *args, "get", "ns"],
                                  capture_output=True, text=True, timeout=60)
        refused = minictl()
        assert refused.returncode == 1 and refused.stdout == ""
        assert "--certificate-authority" in refused.stderr and "--insecure-skip-tls-verify" in refused.stderr
        verified = minictl("--certificate-authority", ca)
        assert verified.returncode == 0 and "default" in verified.stdout, verified.stderr
        skipped = minictl("--insecure-skip-tls-verify")
        assert skipped.returncode == 0 and "default" in skipped.stdout, skipped.stderr
        assert "not secure" in skipped.stderr
    finally:
        s.close()


def test_node_reads_what_its_pods_refer_to_as_they_come_go_and_survive_a_restart(srv):
    """A node may read a ConfigMap only while a pod bound to it refers to it: from the bind, until
    the pod is gone, and still after the API server restarts (it rebuilds which pods are on which node)."""
    admin = srv.client()
    admin.create(from_dict(core_pb2.ConfigMap, {"apiVersion": "v1", "kind": "ConfigMap",
                                                "metadata": {"name": "settings"}, "data": {"a": "1"}}))
    uses = {"volumes": [{"name": "v", "configMap": {"name": "settings"}}]}
    admin.create(pod("app", **uses))
    n1, n2 = srv.client("node-1"), srv.client("node-2")
    with pytest.raises(Forbidden, match="no relationship"):
        n1.get("configmaps", "settings")
    admin.bind("default", "app", "node-1")
    assert n1.get("configmaps", "settings").data["a"] == "1"
    with pytest.raises(Forbidden, match="no relationship"):
        n2.get("configmaps", "settings")
    srv.restart()
    admin, n1 = srv.client(), srv.client("node-1")
    assert n1.get("configmaps", "settings").data["a"] == "1"
    admin.delete("pods", "app", grace_period=0)
    with pytest.raises(Forbidden, match="no relationship"):
        n1.get("configmaps", "settings")


def test_node_reads_the_claims_its_pods_mount_and_their_volumes_only(srv):
    admin = srv.client()
    for name in ("data", "other"):
        admin.create(from_dict(storage_pb2.PersistentVolume, {
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"pv-{name}"},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                     "hostPath": {"path": f"/tmp/{name}"}}}))
        admin.create(from_dict(core_pb2.PersistentVolumeClaim, {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                     "volumeName": f"pv-{name}"}}))
    admin.create(pod("trainer", node="node-1",
                     volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]))
    n1 = srv.client("node-1")
    assert n1.get("persistentvolumeclaims", "data").spec.volumeName == "pv-data"
    assert n1.get("persistentvolumes", "pv-data").metadata.name == "pv-data"
    for resource, name in (("persistentvolumeclaims", "other"), ("persistentvolumes", "pv-other")):
        with pytest.raises(Forbidden, match="no relationship"):
            n1.get(resource, name)
    with pytest.raises(Forbidden, match="no relationship"):
        srv.client("node-2").get("persistentvolumeclaims", "data")
