"""`minictl up | down` (minik8s/cli/up.py) as a user runs them: real component processes on a temporary
MINIK8S_HOME and a free loopback port. `up` merges the cluster file's apiServer block with the defaults
and returns once every node is Ready; fake nodes run in one kubelet process with no proxy; `down` leaves
no process behind, the pods' own included."""
from __future__ import annotations

import argparse
import os
import time

import pytest

from minik8s.cli.up import load_cluster
from support import wait_for_sync
from support.minictl import Ctl, alive, free_port

DEADLINE = 30.0


@pytest.fixture
def ctl(tmp_path):
    c = Ctl(str(tmp_path / "home"))
    yield c
    c("down", timeout=120)


def write(path, text: str) -> str:
    path.write_text(text)
    return str(path)


# ---------------------------------------------------------------- the cluster file
def test_an_api_server_block_keeps_the_defaults_it_leaves_out(tmp_path):
    def load(text):
        return load_cluster(argparse.Namespace(file=write(tmp_path / "c.yaml", text)), str(tmp_path))
    assert load("apiServer: {port: 7001}\n")["apiServer"] == {"address": "127.0.0.1", "port": 7001}
    assert load("apiServer: {address: 0.0.0.0}\n")["apiServer"] == {"address": "0.0.0.0", "port": 6443}
    assert load("apiServer:\nnodes: 2\n")["apiServer"] == {"address": "127.0.0.1", "port": 6443}
    with pytest.raises(ValueError, match=r"apiServer\.adress: unknown field"):
        load("apiServer: {adress: 127.0.0.1}\n")
    with pytest.raises(ValueError, match=r"apiServer\.port: 'x' is not a port number"):
        load("apiServer: {port: x}\n")
    with pytest.raises(ValueError, match="apiServer: expected a mapping"):
        load("apiServer: 127.0.0.1\n")


def test_up_with_a_cluster_file_that_names_no_address(ctl, tmp_path):
    port = free_port()
    out = ctl("up", "-f", write(tmp_path / "cluster.yaml", f"apiServer:\n  port: {port}\nnodes: 0\n"))
    assert out.returncode == 0, out.stderr
    assert f"cluster is up: server 127.0.0.1:{port}" in out.stdout
    assert "Ready" not in out.stdout                     # --nodes 0: nothing to wait for
    with ctl.client() as c:
        assert c.version().gitVersion


def test_up_names_an_unknown_api_server_field(ctl, tmp_path):
    out = ctl("up", "-f", write(tmp_path / "cluster.yaml", "apiServer: {prot: 7001}\n"))
    assert out.returncode == 1
    assert "apiServer.prot: unknown field" in out.stderr
    assert ctl.pids() == {}


# ---------------------------------------------------------------- fake nodes
def test_fake_nodes_run_in_one_kubelet_and_up_waits_until_they_are_ready(ctl):
    out = ctl("up", "--runtime", "fake", "--nodes", "3", "--port", str(free_port()))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert [line for line in lines if line.endswith(": Ready")] == ["node-1: Ready", "node-2: Ready", "node-3: Ready"]
    assert lines[-1].startswith("cluster is up")
    pids = ctl.pids()
    assert sorted(n for n in pids if n.startswith(("kubelet", "proxy"))) == ["kubelet-fake"]
    with ctl.client() as c:      # Ready when up returned, not eventually
        nodes = c.list("Node").items
    assert sorted(n.metadata.name for n in nodes) == ["node-1", "node-2", "node-3"]
    assert all(any(x.type == "Ready" and x.status == "True" for x in n.status.conditions) for n in nodes)

    out = ctl("down")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "kubelet-fake: stopped" and lines[-1] == "apiserver: stopped"
    assert ctl.pids() == {}
    assert not [name for name, pid in pids.items() if alive(pid)]
    assert ctl("down").stdout == "cluster is not running\n"


def test_up_says_which_nodes_are_not_ready_and_where_to_look(ctl, tmp_path):
    # a setting the kubelet refuses: its process exits, and up says so without waiting out its deadline
    spec = "runtime: fake\nnodes: 2\nkubelet: {noSuchSetting: 1}\n"
    t0 = time.monotonic()
    out = ctl("up", "-f", write(tmp_path / "cluster.yaml", spec), "--port", str(free_port()))
    assert out.returncode == 1
    log = os.path.join(ctl.home, "logs", "kubelet-fake.log")
    assert f"nodes not Ready (kubelet-fake exited): node-1, node-2; see {log}" in out.stderr
    assert time.monotonic() - t0 < 50
    with open(log) as f:
        assert "kubelet.noSuchSetting: unknown setting" in f.read()


def test_up_with_another_cluster_file_drains_and_deletes_the_nodes_it_no_longer_runs(ctl, tmp_path):
    port = str(free_port())
    first = write(tmp_path / "a.yaml", "runtime: fake\nnodes:\n- name: a-1\n- name: a-2\n")
    out = ctl("up", "-f", first, "--port", port)
    assert out.returncode == 0, out.stdout + out.stderr
    pod = write(tmp_path / "pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: on-a-2}\n"
                                         "spec: {nodeName: a-2, containers: [{name: c, image: busybox}]}\n")
    out = ctl("apply", "-f", pod)
    assert out.returncode == 0, out.stderr
    assert ctl("down").returncode == 0

    out = ctl("up", "-f", write(tmp_path / "b.yaml", "runtime: fake\nnodes:\n- name: b-1\n"), "--port", port)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "node a-1: not in this cluster, drained (0 pods deleted) and deleted" in out.stdout
    assert "node a-2: not in this cluster, drained (1 pods deleted) and deleted" in out.stdout
    with ctl.client() as c:
        nodes = c.list("Node").items
        pods = c.list("Pod", namespace="default").items
    # every node left in the store has a kubelet running behind it
    assert [n.metadata.name for n in nodes] == ["b-1"]
    assert sorted(n for n, pid in ctl.pids().items() if n.startswith("kubelet") and alive(pid)) == ["kubelet-b-1"]
    assert pods == []


def test_delete_waits_until_the_object_is_gone_unless_told_not_to(ctl, tmp_path):
    # a pod bound to a node with no kubelet is never confirmed gone: `delete` waits for it, as kubectl
    assert ctl("up", "--nodes", "0", "--port", str(free_port())).returncode == 0
    pod = write(tmp_path / "pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: stuck}\n"
                                         "spec: {nodeName: nowhere, containers: [{name: c, image: busybox}]}\n")
    assert ctl("apply", "-f", pod).returncode == 0
    out = ctl("delete", "pod", "stuck", "--timeout=2s")
    assert out.returncode == 1 and out.stdout == 'pod "stuck" deleted\n'
    assert "error: timed out waiting for the condition on pods/stuck" in out.stderr
    out = ctl("delete", "pod", "stuck", "--wait=false")
    assert out.returncode == 0, out.stderr


# ---------------------------------------------------------------- the process runtime
@pytest.mark.root
def test_down_leaves_no_pod_process_behind(ctl):
    from minik8s.api.codec import from_dict
    from minik8s.api.pb import core_pb2

    from kubelet.runtime.shim import STARTED_FILE, alive as started_alive, read_json

    out = ctl("up", "--runtime", "process", "--nodes", "1", "--port", str(free_port()))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "node-1: Ready" in out.stdout.splitlines()
    with ctl.client() as c:
        c.create(from_dict(core_pb2.Pod, {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sleeper", "namespace": "default"},
            "spec": {"nodeName": "node-1", "containers": [
                {"name": "app", "image": "busybox", "command": ["sleep", "600"]}]}}))
        wait_for_sync(lambda: c.get("Pod", "sleeper", "default").status.phase == "Running", what="the pod running")
    containers = os.path.join(ctl.home, "kubelet", "node-1", "runtime", "containers")
    [cid] = os.listdir(containers)
    started = wait_for_sync(lambda: read_json(os.path.join(containers, cid, STARTED_FILE)), what="the container started")
    assert started_alive(started["pid"], started["pid_start"])
    components = ctl.pids()
    # what holds tokens, pod specs, env and logs is the owner's alone
    mode = lambda *p: oct(os.stat(os.path.join(ctl.home, *p)).st_mode & 0o777)  # noqa: E731
    assert mode() == "0o700" and mode("pki") == "0o700"
    assert mode("kubelet", "node-1") == "0o700"
    assert mode("kubelet", "node-1", "runtime", "containers", cid, "container.json") == "0o600"

    out = ctl("down")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines.index("kubelet-node-1: stopped") < lines.index("node-1: removed 1 sandboxes and containers") \
        < lines.index("apiserver: stopped") == len(lines) - 1
    assert not started_alive(started["pid"], started["pid_start"])
    assert not started_alive(started["shim_pid"], started["shim_start"])
    assert ctl.pids() == {} and not [name for name, pid in components.items() if alive(pid)]
