"""A cluster's life cycle next to another one on the same machine, as a new user meets it: `up` on a
port that another cluster holds says so and starts nothing; `--port 0` picks a free port that every
client of the home (config.yaml, kubeconfig) then finds; `down --purge` takes away everything the
cluster made on the host and nothing of the other cluster's."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from support.minictl import Ctl


@pytest.fixture
def clusters(tmp_path):
    made = []

    def make(name: str) -> Ctl:
        made.append(Ctl(str(tmp_path / name)))
        return made[-1]
    yield make
    for c in made:
        c("down", "--purge", timeout=120)


def _up(ctl: Ctl, *flags: str) -> subprocess.CompletedProcess:
    out = ctl("up", *flags)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def test_up_on_a_port_another_cluster_holds_fails_at_once_and_port_0_picks_a_free_one(clusters):
    first = clusters("first")
    _up(first, "--runtime", "fake", "--nodes", "1", "--port", "0")
    with open(os.path.join(first.home, "cluster.yaml")) as f:
        taken = yaml.safe_load(f)["apiServer"]["port"]
    assert taken != 0

    second = clusters("second")
    out = second("up", "--runtime", "fake", "--nodes", "1", "--port", str(taken))
    assert out.returncode == 1
    assert out.stderr == (f"error: port {taken} on 127.0.0.1 is in use (another cluster or program): "
                          f"pass --port N, or --port 0 to pick a free one\n")
    assert out.stdout == ""
    # nothing started, and no client of the second home is sent to the first cluster
    assert not os.path.exists(os.path.join(second.home, "config.yaml"))
    assert second.pids() == {}

    out = _up(second, "--runtime", "fake", "--nodes", "1", "--port", "0")
    with open(os.path.join(second.home, "config.yaml")) as f:
        server = yaml.safe_load(f)["server"]
    host, port = server.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) not in (0, taken)
    assert out.stdout.splitlines()[-1].startswith(f"cluster is up: server {server}, ")
    with open(os.path.join(second.home, "cluster.yaml")) as f:
        assert yaml.safe_load(f)["apiServer"]["port"] == int(port)
    # the second home's token is good on the second cluster alone: both protocols reach it
    assert second("get", "nodes", "-o", "name").stdout == "node/node-1\n"
    with open(os.path.join(second.home, "run", "rest.port")) as f:
        rest_port = int(f.read())
    with open(os.path.join(second.home, "kubeconfig")) as f:
        kubeconfig = yaml.safe_load(f)
    assert kubeconfig["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{rest_port}"
    reached = subprocess.run([sys.executable, "-c", (
        "import kubernetes.config as c, kubernetes.client as k, sys; "
        "c.load_kube_config(sys.argv[1]); print(k.CoreV1Api().read_namespace('default').metadata.name)"),
        os.path.join(second.home, "kubeconfig")], capture_output=True, text=True, timeout=60)
    assert reached.returncode == 0 and reached.stdout == "default\n", reached.stderr

    # a later plain `up` keeps the port it picked
    out = _up(second)
    assert "apiserver: already running" in out.stdout and f"server {server}," in out.stdout
