"""docker-compose.yml without a network: the image built on the local Python image with the
dependencies copied from .venv (scripts/build-compose-base), `up -d` brings the control plane and a node
up, a pod runs on the host's engine, and `down -v` removes it all: the services, the pod's containers,
the node's Docker network and the cluster's volume.

Opt-in (MINIK8S_COMPOSE_TEST=1; scripts/test then builds minik8s/python:3.11 and installs Debian's
docker-compose where no compose answers): the Python image alone takes minutes to build."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from support.minictl import ROOT, free_port

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(os.environ.get("MINIK8S_COMPOSE_TEST") != "1",
                                 reason="opt-in (its images take minutes to build): MINIK8S_COMPOSE_TEST=1")]

POD = """apiVersion: v1
kind: Pod
metadata: {name: hello}
spec:
  containers:
  - name: app
    image: minik8s/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo hello from compose; exec sleep 3600"]
"""


def _compose_command() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("no docker compose and no docker-compose: scripts/test installs Debian's")


def test_compose_brings_up_a_cluster_offline_that_runs_a_pod_and_down_removes_it_all():
    import docker

    engine = docker.from_env(timeout=60)
    project = f"mk8stest{os.getpid()}"
    env = dict(os.environ, MINIK8S_BASE_IMAGE="minik8s/python-deps:3.11", MINIK8S_DEPS="present",
               MINIK8S_PORT=str(free_port()), MINIK8S_REST_PORT=str(free_port()))
    compose = [*_compose_command(), "-p", project]

    def run(*args: str, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([*compose, *args], input=stdin, env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout)

    def minictl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return run("exec", "-T", "apiserver", "minictl", *args, stdin=stdin, timeout=120)

    out = subprocess.run([os.path.join(ROOT, "scripts", "build-compose-base")], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    def node_networks() -> set[str]:
        return {n.id for n in engine.networks.list(names=["minik8s-node-1"])}
    networks_before = node_networks()
    pods = []
    try:
        out = run("up", "-d", "--build", timeout=600)
        assert out.returncode == 0, out.stdout + out.stderr
        deadline = time.monotonic() + 120
        while (out := minictl("get", "nodes", "--no-headers")).stdout.split()[1:2] != ["Ready"]:
            assert time.monotonic() < deadline, f"node-1 not Ready: {out.stdout}{out.stderr}"
            time.sleep(1)
        assert minictl("apply", "-f", "-", stdin=POD).stdout == "pod/hello created\n"
        out = minictl("wait", "--for=condition=Ready", "pod/hello", "--timeout=120s")
        assert out.returncode == 0, out.stdout + out.stderr
        assert minictl("logs", "hello").stdout == "hello from compose\n"
        pods = engine.containers.list(filters={"label": "io.kubernetes.pod.name=hello"})
        [network] = node_networks()
        assert pods
    finally:
        down = run("down", "-v", timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not engine.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
    assert not [c for c in engine.containers.list(all=True) if c.id in {p.id for p in pods}]
    assert not [v for v in engine.volumes.list() if v.name.startswith(project)]
    if network not in networks_before:     # one a cluster outside made for its own node-1 stays
        assert network not in node_networks()
    engine.close()
