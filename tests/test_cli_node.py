"""`minictl node fail | restart | add | remove | rotate` on a cluster `minictl up` runs (real component
processes on a home of the test's own): a failed node goes Unknown with the unreachable taint and its
Deployment's pods come back elsewhere; a restarted kubelet adopts what still runs; an added node is
Ready and kept by `up`, a removed one drained and forgotten; rotate moves every pod to fresh nodes
under a PodDisruptionBudget, and on process nodes a request stream against the NodePort loses no
request meanwhile (the leaving nodes' service proxies hand their sockets over). Also: a token added to the server's token file is accepted while it runs."""
from __future__ import annotations

import os

import pytest

from minik8s.api.codec import from_dict
from minik8s.api.errors import NotFound, Unauthenticated
from minik8s.api.pb import core_pb2
from minik8s.client.client import Client
from minik8s.client.config import ClientConfig
from minik8s.client.home import token_csv, write_token_file

from cluster import IDENTITIES
from support import wait_for_sync
from support.minictl import Ctl, alive, free_port

# short timings so a lost node is seen in seconds: a lease renewed every second, Unknown 4 s after the
# last one, pods bound to it for 1 s more
QUICK = """\
apiServer: {{port: {port}, defaultNotReadyTolerationSeconds: 1, defaultUnreachableTolerationSeconds: 1}}
controllerManager: {{nodeMonitorGracePeriod: 4, nodeMonitorPeriod: 1}}
kubelet: {{leaseDurationSeconds: 4}}
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
"""

PDB = """\
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}
"""


@pytest.fixture
def ctl(tmp_path):
    c = Ctl(str(tmp_path / "home"))
    yield c
    c("down", timeout=120)


def up(ctl, tmp_path, nodes: str, runtime: str = "fake", timings: str = QUICK) -> None:
    spec = timings.format(port=free_port()) + f"runtime: {runtime}\nnodes: {nodes}\n"
    (tmp_path / "cluster.yaml").write_text(spec)
    out = ctl("up", "-f", str(tmp_path / "cluster.yaml"))
    assert out.returncode == 0, out.stdout + out.stderr


def ok(out) -> str:
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def apply(ctl, tmp_path, text: str) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text(text)
    ok(ctl("apply", "-f", str(path)))


def condition(node, kind: str = "Ready") -> str:
    return next((c.status for c in node.status.conditions if c.type == kind), "")


def running_pods(c, app: str = "web") -> dict[str, str]:
    """name -> node of the app's pods that run (none terminating)."""
    pods = c.list("Pod", namespace="default", label_selector=f"app={app}").items
    return {p.metadata.name: p.spec.nodeName for p in pods
            if p.status.phase == "Running" and not p.metadata.deletionTimestamp}


def node_names(c) -> set[str]:
    return {n.metadata.name for n in c.list("Node").items}


# ---------------------------------------------------------------- fail, restart
def test_a_failed_node_goes_unknown_and_its_pods_are_replaced_on_another(ctl, tmp_path):
    up(ctl, tmp_path, "[{name: a}, {name: b}]")
    ok(ctl("cordon", "b"))                      # every pod starts on a
    apply(ctl, tmp_path, DEPLOYMENT)
    with ctl.client() as c:
        first = wait_for_sync(lambda: (p := running_pods(c)) and len(p) == 2 and p, what="2 pods on a")
        assert set(first.values()) == {"a"}
        ok(ctl("uncordon", "b"))

        out = ok(ctl("node", "fail", "a"))
        assert out.splitlines() == ["kubelet-a: killed", "node/a failed"]
        assert not alive(ctl.pids()["kubelet-a"]) and alive(ctl.pids()["kubelet-b"])
        node = wait_for_sync(lambda: (n := c.get("Node", "a")) and condition(n) == "Unknown" and n,
                             what="node a Unknown")
        wait_for_sync(lambda: any(t.key == "node.kubernetes.io/unreachable" and t.effect == "NoExecute"
                                  for t in c.get("Node", "a").spec.taints), what="the unreachable taint")
        assert node.metadata.name == "a"        # the Node object stays
        now = wait_for_sync(lambda: (p := running_pods(c)) and len(p) == 2 and set(p.values()) == {"b"} and p,
                            what="the Deployment's pods running on b", timeout=60)
        assert not set(now) & set(first)

        out = ok(ctl("node", "restart", "a"))
        assert out.splitlines()[-1] == "node/a restarted"
        assert condition(c.get("Node", "a")) == "True"
        wait_for_sync(lambda: not c.get("Node", "a").spec.taints, what="the unreachable taint gone")


def test_fail_and_restart_name_a_node_the_cluster_has(ctl, tmp_path):
    up(ctl, tmp_path, "[{name: a}]")
    out = ctl("node", "fail", "nope")
    assert out.returncode == 1
    assert f'error: node "nope" is not a node of the cluster in {ctl.home}' in out.stderr
    ok(ctl("node", "fail", "a"))
    out = ctl("node", "fail", "a")
    assert out.returncode == 1 and 'node "a": its kubelet (kubelet-a) is not running' in out.stderr


# ---------------------------------------------------------------- add, remove
def test_an_added_node_is_ready_kept_by_up_and_forgotten_once_removed(ctl, tmp_path):
    up(ctl, tmp_path, "[{name: a}]")
    out = ok(ctl("node", "add", "c", "--runtime", "fake", "--cpu", "2", "--memory", "4Gi",
                 "--labels", "tier=batch", "--taints", "dedicated=batch:NoSchedule"))
    assert out.splitlines()[-2:] == ["c: Ready", "node/c added"]
    with ctl.client() as c:
        node = c.get("Node", "c")
        assert condition(node) == "True"
        assert node.status.capacity["cpu"] == "2" and node.status.capacity["memory"] == "4Gi"
        assert node.metadata.labels["tier"] == "batch"
        assert [(t.key, t.value, t.effect) for t in node.spec.taints] == [("dedicated", "batch", "NoSchedule")]
        token_path = os.path.join(ctl.home, "pki", "node-c.token")
        token = open(token_path).read().strip()
    kubelet = ctl.pids()["kubelet-c"]

    out = ok(ctl("up", "-f", str(tmp_path / "cluster.yaml")))      # the file does not name c: still no ghost
    assert "not in this cluster" not in out
    assert ctl.pids()["kubelet-c"] == kubelet and alive(kubelet)
    out = ctl("node", "add", "c", "--runtime", "fake")
    assert out.returncode == 1 and 'nodes "c" already exists' in out.stderr
    out = ctl("node", "add", "D_1")
    assert out.returncode == 1 and 'invalid node name "D_1"' in out.stderr

    out = ok(ctl("node", "remove", "c"))
    assert out.splitlines() == ["node/c cordoned", "node/c drained", "kubelet-c: stopped", "node/c removed"]
    assert "kubelet-c" not in ctl.pids() and not alive(kubelet)
    assert not os.path.exists(token_path)
    with ctl.client() as c:
        assert node_names(c) == {"a"}
    with pytest.raises(Unauthenticated), Client(server=ClientConfig.load(ctl.home).server, token=token) as c:
        c.version()
    ok(ctl("down"))
    out = ok(ctl("up", "-f", str(tmp_path / "cluster.yaml")))
    assert "kubelet-c" not in out and "kubelet-c" not in ctl.pids()


def test_remove_refuses_what_drain_refuses_and_leaves_the_node_cordoned(ctl, tmp_path):
    up(ctl, tmp_path, "[{name: a}]")
    apply(ctl, tmp_path, "apiVersion: v1\nkind: Pod\nmetadata: {name: alone}\n"
                         "spec: {nodeName: a, containers: [{name: c, image: busybox}]}\n")
    out = ctl("node", "remove", "a")
    assert out.returncode == 1
    assert "cannot delete Pods declare no controller (use --force to override): default/alone" in out.stderr
    with ctl.client() as c:
        assert c.get("Node", "a").spec.unschedulable
    assert alive(ctl.pids()["kubelet-a"])
    out = ok(ctl("node", "remove", "a", "--force"))
    assert out.splitlines()[-1] == "node/a removed"
    with ctl.client() as c:
        assert node_names(c) == set()


# ---------------------------------------------------------------- rotate
def test_rotate_moves_every_pod_to_fresh_nodes_under_a_disruption_budget(ctl, tmp_path):
    up(ctl, tmp_path, "2")                       # node-1 and node-2 share one kubelet process
    apply(ctl, tmp_path, DEPLOYMENT + "---\n" + PDB)
    with ctl.client() as c:
        wait_for_sync(lambda: len(running_pods(c)) == 2, what="2 pods running")
        wait_for_sync(lambda: c.get("PodDisruptionBudget", "web", "default").status.disruptionsAllowed == 1,
                      what="the budget allowing one disruption")
        out = ok(ctl("node", "rotate", "--all", "--timeout", "120s", timeout=300))
        lines = out.splitlines()
        for old in ("node-1", "node-2"):
            steps = [f"node/{old}: adding {old}-r1", f"node/{old}-r1 added", f"node/{old} cordoned",
                     f"node/{old} drained", f"node/{old} removed"]
            assert [line for line in lines if line in steps] == steps, out
        assert lines.index("node/node-1 removed") < lines.index("node/node-2: adding node-2-r1")
        assert node_names(c) == {"node-1-r1", "node-2-r1"}
        pods = wait_for_sync(lambda: (p := running_pods(c)) and len(p) == 2 and p, what="2 pods running")
        assert set(pods.values()) <= {"node-1-r1", "node-2-r1"}
    assert sorted(n for n, pid in ctl.pids().items() if n.startswith("kubelet") and alive(pid)) == \
        ["kubelet-node-1-r1", "kubelet-node-2-r1"]


WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: minik8s/busybox
        imagePullPolicy: IfNotPresent
        env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
        command: ["sh", "-c", "d=/tmp/www-$POD_NAME; mkdir -p $d && echo $POD_NAME > $d/index.html && exec busybox httpd -f -p 8080 -h $d"]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
        # upstream's graceful termination: serve on for 2 s once deleted, while every proxy stops
        # sending new connections, before the SIGTERM
        lifecycle: {preStop: {sleep: {seconds: 2}}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"""


class RequestStream:
    """A request every 20 ms to 127.0.0.1:PORT from a thread, each on a new connection, until stopped
    (or MAX requests, or LIMIT seconds); each failure kept with its time and error."""

    MAX, LIMIT, PACE = 20000, 400.0, 0.02

    def __init__(self, port: int):
        import threading
        self.port = port
        self.done, self.failures = 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _get(self) -> None:
        import socket
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
        if not answer.startswith(b"HTTP/1.") or answer.split()[1] != b"200":
            raise OSError(f"answer {answer[:40]!r}")

    def _run(self) -> None:
        import time
        deadline = time.monotonic() + self.LIMIT
        while not self._stop.is_set() and self.done < self.MAX and time.monotonic() < deadline:
            try:
                self._get()
            except OSError as e:
                self.failures.append((time.strftime("%H:%M:%S"), repr(e)))
            self.done += 1
            self._stop.wait(self.PACE)          # pacing the stream

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


@pytest.mark.root
def test_rotating_every_process_node_under_a_budget_loses_no_request(ctl, tmp_path):
    up(ctl, tmp_path, "3", runtime="process")
    apply(ctl, tmp_path, WEB + "---\n" + PDB)
    with ctl.client() as c:
        wait_for_sync(lambda: sum(1 for p in c.list("Pod", namespace="default", label_selector="app=web").items
                                  if any(k.type == "Ready" and k.status == "True" for k in p.status.conditions)) == 4,
                      what="4 web pods ready", timeout=120)
        wait_for_sync(lambda: c.get("PodDisruptionBudget", "web", "default").status.disruptionsAllowed == 1,
                      what="the budget allowing one disruption")
        port = c.get("Service", "web", "default").spec.ports[0].nodePort
        with RequestStream(port) as stream:
            wait_for_sync(lambda: stream.done >= 10, what="requests flowing")
            out = ok(ctl("node", "rotate", "--all", "--timeout", "120s", timeout=400))
            before = stream.done
            wait_for_sync(lambda: stream.done >= before + 10, what="requests after the rotation")
        assert node_names(c) == {"node-1-r1", "node-2-r1", "node-3-r1"}, out
        pods = running_pods(c)
        assert len(pods) == 4 and set(pods.values()) <= {"node-1-r1", "node-2-r1", "node-3-r1"}
    assert stream.failures == [], f"{len(stream.failures)} of {stream.done} requests failed: {stream.failures}"
    assert stream.done >= 100          # a stream, not a handful


def test_a_token_added_to_the_file_is_accepted_by_the_running_server(srv):
    with pytest.raises(Unauthenticated):
        srv.client("feedface").version()
    rows = [(srv.tokens[n], user, n, groups) for n, (user, groups) in IDENTITIES.items()]
    write_token_file(token_csv(srv.home), rows + [("feedface", "system:node:node-9", "node-9", "system:nodes")])
    assert srv.client("feedface").version().user == "system:node:node-9"
    assert srv.client("admin").version().user == "admin"
    with pytest.raises(Unauthenticated):
        srv.client("deadbeef").version()


# ---------------------------------------------------------------- the process runtime
@pytest.mark.root
def test_a_process_node_restarted_keeps_its_containers_and_a_failed_one_loses_them(ctl, tmp_path):
    from kubelet.runtime.shim import STARTED_FILE, alive as started_alive, read_json

    # upstream's timings: the pod stays bound to the failed node until it is back
    up(ctl, tmp_path, "0", runtime="process", timings="apiServer: {{port: {port}}}\n")
    out = ok(ctl("node", "add", "p", "--runtime", "process"))
    assert out.splitlines()[-1] == "node/p added"
    assert {"kubelet-p", "proxy-p"} <= set(ctl.pids())

    def container(c):
        pod = c.get("Pod", "sleeper", "default")
        ok = pod.status.phase == "Running" and pod.status.containerStatuses
        return ok and pod.status.containerStatuses[0]

    def started(cid: str) -> dict:
        path = os.path.join(ctl.home, "kubelet", "p", "runtime", "containers", cid.split("://")[-1], STARTED_FILE)
        return wait_for_sync(lambda: read_json(path), what="the container's start record")

    with ctl.client() as c:
        c.create(from_dict(core_pb2.Pod, {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sleeper", "namespace": "default"},
            "spec": {"nodeName": "p", "containers": [{"name": "app", "image": "busybox", "command": ["sleep", "600"]}]}}))
        before = wait_for_sync(lambda: container(c), what="the pod running")
        process = started(before.containerID)

        ok(ctl("node", "restart", "p"))       # a graceful restart: the new kubelet adopts the container
        wait_for_sync(lambda: c.get("Node", "p").status.nodeInfo.kubeletVersion, what="p registered")
        assert started_alive(process["pid"], process["pid_start"])
        after = container(c)
        assert (after.containerID, after.restartCount) == (before.containerID, 0)

        out = ok(ctl("node", "fail", "p"))
        assert out.splitlines()[:2] == ["kubelet-p: killed", "proxy-p: killed"]
        assert not started_alive(process["pid"], process["pid_start"])
        assert not started_alive(process["shim_pid"], process["shim_start"])

        ok(ctl("node", "restart", "p"))       # the pod is still bound to p: its container is made again
        again = wait_for_sync(lambda: (s := container(c)) and s.containerID != before.containerID and s,
                              what="the pod running a new container")
        assert started_alive(started(again.containerID)["pid"], started(again.containerID)["pid_start"])

        out = ok(ctl("node", "remove", "p", "--force"))
        assert out.splitlines()[-1] == "node/p removed"
        with pytest.raises(NotFound):
            c.get("Node", "p")
    assert not {"kubelet-p", "proxy-p"} & set(ctl.pids())


# ---------------------------------------------------------------- toleration seconds from cluster.yaml
def test_the_api_server_gets_the_cluster_files_default_toleration_seconds(tmp_path):
    import argparse

    from minik8s.cli.up import _components, load_cluster

    def api_argv(text):
        (tmp_path / "c.yaml").write_text(text)
        cluster = load_cluster(argparse.Namespace(file=str(tmp_path / "c.yaml")), str(tmp_path))
        return dict(_components(str(tmp_path), cluster, None))["apiserver"]

    argv = api_argv("apiServer: {defaultUnreachableTolerationSeconds: 5}\nnodes: 0\n")
    assert argv[argv.index("--default-unreachable-toleration-seconds") + 1] == "5"
    assert "--default-not-ready-toleration-seconds" not in argv        # upstream's 300 s stays the default
    with pytest.raises(ValueError, match=r"apiServer\.defaultNotReadyTolerationSeconds: -1 is not a number of seconds"):
        api_argv("apiServer: {defaultNotReadyTolerationSeconds: -1}\n")
