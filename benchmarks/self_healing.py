"""Self-healing: a lost node's pods Ready elsewhere beside the configured floor, a drain beside the
same pods deleted one by one, and a rotation of every node under a request stream.

    .venv/bin/python -m benchmarks.self_healing [--quick] [--pods N] [--grace S] [--toleration S] [--no-rotation]

A real API server (benchmarks.common.Server; its DefaultTolerationSeconds at --toleration), the real
scheduler as a subprocess, and in this process the controller manager (node-lifecycle with
nodeMonitorGracePeriod --grace, taint-eviction-controller, replicaset, deployment, garbagecollector) and two fake nodes
(kubelet.fakenodes, leases renewed every second).

Node loss: a Deployment of N pods runs on node-1 (node-2 cordoned meanwhile; the time from its
creation to N pods Ready is this run's pod start). node-2 is uncordoned, then node-1's kubelet stops
at once, as a machine that dies. Timed: until N pods of the Deployment, none terminating, are Ready
on node-2. The floor is what the settings allow: the grace period, then the toleration, then a pod
start. The node's last heartbeat came up to a lease renew period (1 s) before it stopped, so the time
is also given from that heartbeat (its Lease's renewTime).

Drain: N pods of a ReplicaSet on node-2; timed from the cordon until every one is gone, evicted in
parallel through the Eviction API as `minictl drain` does (minik8s.cli.nodeops, no budget). Baseline:
N bare pods on the same node, each deleted and waited for before the next (the same 0.2 s poll).

Rotation (root: real processes): `minictl up` of 3 process-runtime nodes on a home of its own, a
4-replica Deployment (busybox httpd, a 2 s preStop sleep as upstream advises for graceful
termination) behind a NodePort Service with a PodDisruptionBudget (maxUnavailable 1); a thread sends a request to 127.0.0.1:NODEPORT every 20 ms, each on a new
connection, while `minictl node rotate --all` replaces every node. Reported: failed requests (target
0) beside the requests sent, and the rotation's time."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import threading
import time

from benchmarks.common import FakeCluster, Row, Server, log, print_table

NODES = ["node-1", "node-2"]
LEASE_DURATION = 4                 # kubelet leaseDurationSeconds: a renewal every second
POLL = 0.2                         # minictl drain's wait-until-gone poll, used by the baseline too


def _pod_template(spec) -> None:
    c = spec.containers.add(name="app", image="busybox")
    c.resources.requests["cpu"] = "100m"


def deployment(name: str, n: int):
    from minik8s.api.pb import apps_pb2
    d = apps_pb2.Deployment()
    d.metadata.name, d.metadata.namespace, d.spec.replicas = name, "default", n
    d.spec.selector.matchLabels["app"] = name
    d.spec.template.metadata.labels["app"] = name
    _pod_template(d.spec.template.spec)
    return d


def replica_set(name: str, n: int):
    from minik8s.api.pb import apps_pb2
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name, rs.metadata.namespace, rs.spec.replicas = name, "default", n
    rs.spec.selector.matchLabels["app"] = name
    rs.spec.template.metadata.labels["app"] = name
    _pod_template(rs.spec.template.spec)
    return rs


def bare_pod(name: str, node: str):
    from minik8s.api.pb import core_pb2
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, "default"
    p.metadata.labels["app"] = "bare"
    p.spec.nodeName = node
    _pod_template(p.spec)
    return p


async def poll(fn, timeout: float, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = await fn()
        if v:
            return v
        await asyncio.sleep(interval)
    raise TimeoutError("not reached")


def _ready(p) -> bool:
    return not p.metadata.deletionTimestamp and any(c.type == "Ready" and c.status == "True"
                                                    for c in p.status.conditions)


async def ready_on(client, app: str, node: str, n: int):
    pods = [p for p in await client.list("Pod", "default", label_selector=f"app={app}")
            if _ready(p) and p.spec.nodeName == node]
    return pods if len(pods) == n else None


async def none_left(client, app: str, node: str):
    pods = await client.list("Pod", "default", label_selector=f"app={app}", field_selector=f"spec.nodeName={node}")
    return not list(pods)


async def set_cordon(client, node: str, value: bool) -> None:
    await client.patch("Node", node, {"spec": {"unschedulable": value}})


async def node_loss(admin, nodes, n: int) -> tuple[float, float, float]:
    """(pod start of N pods, node loss -> N replacements Ready on node-2, the same from the node's last
    heartbeat)."""
    from minik8s.api.clock import parse_time
    await set_cordon(admin, "node-2", True)
    t = time.monotonic()
    await admin.create(deployment("web", n))
    await poll(lambda: ready_on(admin, "web", "node-1", n), 120)
    pod_start = time.monotonic() - t
    await set_cordon(admin, "node-2", False)
    lost = nodes.kubelets.pop("node-1")          # the host routes no pod to it any more
    t0, wall0 = time.monotonic(), time.time()
    await lost.stop()
    lease = await admin.get("Lease", "node-1", "kube-node-lease")
    await poll(lambda: ready_on(admin, "web", "node-2", n), 300)
    healed = time.monotonic() - t0
    since_heartbeat = healed + wall0 - parse_time(lease.spec.renewTime)
    log(f"node loss: {n} pods Ready on node-2 after {healed:.2f} s (pod start {pod_start:.2f} s)")
    await admin.delete("Deployment", "web", "default")
    await poll(lambda: none_left(admin, "web", "node-2"), 60)
    return pod_start, healed, since_heartbeat


def _drain(client, node: str) -> float:
    from minik8s.cli.nodeops import evict_pods, pods_to_drain, set_unschedulable
    args = argparse.Namespace(ignore_daemonsets=True, delete_emptydir_data=False, force=False, grace_period=-1,
                              timeout=0.0, pod_selector="", disable_eviction=False)
    t = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()):
        set_unschedulable(client, client.get("Node", node), True)
        errors = evict_pods(client, pods_to_drain(client, node, args), args)
    elapsed = time.monotonic() - t
    if errors:
        raise RuntimeError(f"drain failed: {errors}")
    set_unschedulable(client, client.get("Node", node), False)
    return elapsed


def _delete_one_by_one(client, names: list[str]) -> float:
    from minik8s.api.errors import NotFound
    t = time.monotonic()
    for name in names:
        client.delete("Pod", name, "default")
        while True:
            try:
                client.get("Pod", name, "default")
            except NotFound:
                break
            time.sleep(POLL)
    return time.monotonic() - t


async def drain_vs_deletes(admin, server: Server, n: int) -> tuple[float, float]:
    from minik8s.client.client import Client
    await admin.create(replica_set("drain", n))
    await poll(lambda: ready_on(admin, "drain", "node-2", n), 120)
    with Client(server.address, server.token) as client:
        drained = await asyncio.to_thread(_drain, client, "node-2")
    # the ReplicaSet's replacements wait, unschedulable, until it goes: none runs on node-2
    await admin.delete("ReplicaSet", "drain", "default")
    await poll(lambda: none_left(admin, "drain", "node-2"), 60)
    names = [f"bare-{i}" for i in range(n)]
    for name in names:
        await admin.create(bare_pod(name, "node-2"))
    await poll(lambda: ready_on(admin, "bare", "node-2", n), 120)
    with Client(server.address, server.token) as client:
        deleted = await asyncio.to_thread(_delete_one_by_one, client, names)
    log(f"drain of {n} pods: {drained:.2f} s; {n} deletes one by one: {deleted:.2f} s")
    return drained, deleted


ROTATION_APP = """\
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
        lifecycle: {preStop: {sleep: {seconds: 2}}}     # serve on while the proxies let go of the pod
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}
"""
PACE = 0.02                        # the request stream: one request every 20 ms


def _get(port: int) -> None:
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    if answer.split()[1:2] != [b"200"]:
        raise OSError(f"answer {answer[:40]!r}")


def _stream(port: int, stop: threading.Event, counts: dict) -> None:
    while not stop.is_set():
        try:
            _get(port)
        except OSError as e:
            counts["failed"] += 1
            log(f"rotation: request failed: {e!r}")
        counts["sent"] += 1
        stop.wait(PACE)


def rotation() -> tuple[int, int, float]:
    """(failed requests, requests sent, seconds `minictl node rotate --all` took)."""
    import json
    import uuid
    home = tempfile.mkdtemp(prefix="minik8s-rotation-")
    env = dict(os.environ, MINIK8S_HOME=home)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def minictl(*args: str, timeout: float = 180.0) -> str:
        out = subprocess.run([sys.executable, "-m", "minik8s.cli.main", *args], env=env, cwd=root,
                             capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"minictl {' '.join(args)} failed: {out.stdout}{out.stderr}")
        return out.stdout

    tag = uuid.uuid4().hex[:4]
    with open(os.path.join(home, "cluster.yaml"), "w") as f:
        f.write("runtime: process\nnodes:\n" + "".join(f"- {{name: rot{tag}-{i}}}\n" for i in (1, 2, 3)))
    with open(os.path.join(home, "web.yaml"), "w") as f:
        f.write(ROTATION_APP)
    try:
        minictl("up", "-f", os.path.join(home, "cluster.yaml"))
        minictl("apply", "-f", os.path.join(home, "web.yaml"))
        minictl("rollout", "status", "deployment/web", "--timeout=120s", timeout=150)
        minictl("wait", "--for=jsonpath={.status.disruptionsAllowed}=1", "pdb/web", "--timeout=60s", timeout=90)
        port = json.loads(minictl("get", "service", "web", "-o", "json"))["spec"]["ports"][0]["nodePort"]
        counts, stop = {"sent": 0, "failed": 0}, threading.Event()
        stream = threading.Thread(target=_stream, args=(port, stop, counts), daemon=True)
        stream.start()
        t = time.monotonic()
        minictl("node", "rotate", "--all", "--timeout", "120s", timeout=600)
        took = time.monotonic() - t
        stop.set()
        stream.join()
        log(f"rotation of 3 nodes: {took:.1f} s, {counts['failed']} of {counts['sent']} requests failed")
        return counts["failed"], counts["sent"], took
    finally:
        subprocess.run([sys.executable, "-m", "minik8s.cli.main", "down", "--purge"], env=env, cwd=root,
                       capture_output=True, timeout=180)


def rotation_rows() -> list[Row]:
    what = "node rotate --all: 3 process nodes, 4 pods, PDB maxUnavailable 1"
    if os.geteuid() != 0:
        return [Row(f"{what}: failed requests", None, None, "", target=("<=", 0), na="needs root")]
    failed, sent, took = rotation()
    return [
        Row(f"{what}: failed requests", failed, sent, "", "requests sent, one per 20 ms",
            target=("<=", 0), fmt="{:,.0f}"),
        Row(f"{what}: rotation time", took, None, "s", note="3 nodes added, drained, removed", fmt="{:.1f}"),
    ]


async def run(server: Server, n: int, grace: float, toleration: float) -> list[Row]:
    async with FakeCluster(server, NODES, "node-lifecycle,taint-eviction-controller,replicaset,deployment,"
                           "garbagecollector", {"nodeMonitorGracePeriod": grace},
                           kubelet=f"leaseDurationSeconds: {LEASE_DURATION}, metricsPeriod: 3600") as cluster:
        pod_start, healed, since_heartbeat = await node_loss(cluster.admin, cluster.nodes, n)
        drained, deleted = await drain_vs_deletes(cluster.admin, server, n)
    floor = grace + toleration + pod_start
    return [
        Row(f"node loss -> {n} pods Ready elsewhere", healed, floor, "s",
            f"floor: {grace:g} grace + {toleration:g} toleration + {pod_start:.2f} pod start",
            target=("<=", floor + 2.0), fmt="{:.2f}"),
        Row(f"last heartbeat -> {n} pods Ready elsewhere", since_heartbeat, floor, "s", "the same floor",
            target=("<=", floor + 2.0), fmt="{:.2f}"),
        Row(f"drain of a node with {n} pods", drained, deleted, "s", f"{n} deletes one by one",
            target=("<=", 1.0), relative=True, fmt="{:.2f}"),
    ]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.self_healing", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="4 pods")
    p.add_argument("--pods", type=int, default=None, help="pods on the lost and on the drained node [10]")
    p.add_argument("--grace", type=float, default=8.0, help="nodeMonitorGracePeriod in seconds [8]")
    p.add_argument("--toleration", type=int, default=2,
                   help="default not-ready/unreachable toleration seconds [2]")
    p.add_argument("--no-rotation", action="store_true", help="leave out the node rotation (a real cluster)")
    args = p.parse_args(argv)
    n = args.pods or (4 if args.quick else 10)
    load = os.getloadavg()[0]
    extra = ("--default-not-ready-toleration-seconds", str(args.toleration),
             "--default-unreachable-toleration-seconds", str(args.toleration))
    with Server(extra_args=extra) as server:
        rows = asyncio.run(run(server, n, args.grace, args.toleration))
    if not args.no_rotation:
        rows += rotation_rows()
    print(f"Self-healing, {n} pods, grace period {args.grace:g} s, toleration {args.toleration} s; "
          f"load average {load:.2f} -> {os.getloadavg()[0]:.2f}")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
