"""Pod startup: create to Running as a watch sees it, and `minictl up` to all nodes Ready, each beside a
baseline measured in the same run.

    .venv/bin/python -m benchmarks.pod_startup [--quick] [--runtime process,docker] [--pods N]
                                               [--wait-load L] [--profile DIR] [--dump FILE] [--keep]

For each runtime, on a 1-node cluster of its own (`minictl up -f FILE --runtime R --port P` on a temporary
MINIK8S_HOME; FILE names one node of a name and pod CIDR unique to this run, see MiniCluster):

1. Pods: N pods (one container, `sleep 3600`, image minik8s/busybox:latest, imagePullPolicy IfNotPresent,
   terminationGracePeriodSeconds 1), created one at a time: each create waits for the previous pod to be
   Running, and the pods stay, so the node holds 0..N-1 others. Two series of N, each on an emptied node
   (pods deleted, and their sandboxes gone from the runtime):
   - scheduled: spec.nodeName unset, the scheduler binds the pod;
   - direct: spec.nodeName set at create, so the figure is the API server plus the kubelet.
   Measured from just before the create call to the arrival, on this process's watch of the pods, of
   the first event with status.phase Running (perf_counter, one process). A warm-up pod first is not
   counted (a node's first pod creates its bridge or Docker network). For the scheduled path the watch
   also tells when the pod was bound (first event with spec.nodeName), which splits the figure into
   scheduler and kubelet parts.
   Baseline, same run:
   - docker: `docker run -d --network none minik8s/busybox:latest sleep 3600`, timed from the call to
     the first `docker inspect` that shows it running (and removed at once), one just before each pod,
     so each pod and its baseline meet the same load (on a shared machine a baseline measured minutes
     apart moved by 3x); the targets compare a series' pods with the bare runs interleaved with them.
     Before the cluster starts, as information: the Docker SDK (the kubelet's own client) in this
     process, `containers.run(detach=True)` then `reload()` until running; and the two containers a
     pod is, by hand: `docker run -d` of a sandbox on a bridge network (an --internal one made for
     it), then `docker run -d --network container:<sandbox>` of the app.
   - process: `subprocess.Popen(["sleep", "3600"])` (returns once the child has exec'd), and the same
     inside a fresh network namespace: `ip netns add`, then `ip netns exec NS sleep 3600` until the child
     is `sleep`; and `python -S -c pass`, the floor of a Python shim per container (info).
   Targets: docker p50 and p99 each within 1.3x of the bare `docker run -d` runs beside the pods;
   process p50 <= 100 ms.
   docker also: the kubelet's runtime calls for a new pod made in this process (benchmarks/docker_steps.py),
   each step timed and the engine requests of one pod start counted, beside the 4 of a pod by hand
   (create and start, twice).
2. `minictl up`: the wall time of `minictl up` (which returns once every node is Ready) with 3 nodes,
   per runtime, beside `minictl up --nodes 0` (API server, scheduler, controllers, no node) in the same
   run; median of R repetitions, interleaved. Targets: process <= 3 s, docker <= 5 s.

Clean-up: every pod is deleted (and waited for), then `minictl down --purge` (whose `kubelet
--remove-all` removes what the node still runs), then the node's bridge (process) or Docker network
(docker), which are per node name and which `down` leaves for other clusters. Bare-baseline containers
and namespaces are removed as soon as measured. Nothing is pulled; nothing leaves the machine."""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from benchmarks import docker_steps
from benchmarks.common import ROOT, Profiler, Row, log, median, percentile, print_table

IMAGE = "minik8s/busybox:latest"
LABEL = "bench.minik8s.io/pod-startup"
SIZES = {
    "full": dict(pods=50, bare=50, up_reps=3),
    "quick": dict(pods=8, bare=8, up_reps=1),
}
RUNNING_TIMEOUT = 60.0          # one pod to Running
UP_NODES = 3
TARGETS = {"process": ("<=", 100.0), "docker": ("<=", 1.3)}
UP_TARGETS = {"process": 3.0, "docker": 5.0}


# ---------------------------------------------------------------- load
def wait_for_calm(limit: float, max_wait: float) -> None:
    """Sleep until the 1-minute load average is under `limit` (bounded by `max_wait` seconds)."""
    if limit <= 0:
        return
    deadline = time.monotonic() + max_wait
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        log(f"load average {os.getloadavg()[0]:.2f} >= {limit}: waiting")
        time.sleep(15)
    log(f"load average {os.getloadavg()[0]:.2f}: starting")


# ---------------------------------------------------------------- the cluster
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _free_pod_cidrs(base: str, n: int) -> list[str]:
    """`n` /24s under `base` that no route of this host covers and no minik8s bridge holds yet."""
    import random
    from minik8s.proxy.hostnet import connected_routes
    taken = [net for net, _ in connected_routes()]
    out: list[str] = []
    for third in random.sample(range(150, 250), 100):
        net = ipaddress.ip_network(f"{base}.{third}.0/24")
        if not any(net.overlaps(t) for t in taken) and not _docker_subnet_taken(net):
            out.append(str(net))
            if len(out) == n:
                return out
    raise RuntimeError(f"no free /24 left under {base}")


def _docker_subnet_taken(net) -> bool:
    """A Docker network (even one without a bridge up) already holding this subnet."""
    if not shutil.which("docker"):
        return False
    r = subprocess.run(["docker", "network", "ls", "-q"], capture_output=True, text=True, timeout=30)
    ids = r.stdout.split()
    if not ids:
        return False
    r = subprocess.run(["docker", "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", *ids],
                       capture_output=True, text=True, timeout=30)
    for s in r.stdout.split():
        try:
            if ipaddress.ip_network(s, strict=False).overlaps(net):
                return True
        except ValueError:
            pass
    return False


class MiniCluster:
    """`minictl up` on a temporary home with `nodes` nodes named ps<tag>-I, each with a pod CIDR of its
    own. Node names are unique to the run because a node's bridge (process) and Docker network (docker)
    are named after the node and shared host-wide: with the default node-1.. a cluster of the test
    suite running beside this one would share them and their address pools. The command is otherwise
    `minictl up --runtime R --port P` (`--nodes 0` when there are none)."""

    def __init__(self, runtime: str, nodes: int, keep: bool = False):
        self.runtime, self.keep = runtime, keep
        self.home = tempfile.mkdtemp(prefix=f"minik8s-podstart-{runtime}-")
        self.port = _free_port()
        self.tag = uuid.uuid4().hex[:5]
        self.nodes: list[tuple[str, str]] = []           # (name, pod CIDR)
        if nodes:
            cidrs = _free_pod_cidrs("10.245" if runtime == "docker" else "10.244", nodes)
            self.nodes = [(f"ps{self.tag}-{i + 1}", cidr) for i, cidr in enumerate(cidrs)]
        self.cluster_file = os.path.join(self.home, "bench-cluster.yaml")
        with open(self.cluster_file, "w") as f:
            f.write("nodes:\n" + "".join(f"- {{name: {n}, podCIDR: {c}}}\n" for n, c in self.nodes)
                    if self.nodes else "nodes: 0\n")
        self.env = dict(os.environ, MINIK8S_HOME=self.home,
                        PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.up_seconds: float | None = None
        self.is_up = False

    def minictl(self, *args: str, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess:
        out = subprocess.run([sys.executable, "-m", "minik8s.cli.main", *args], env=self.env, cwd=ROOT,
                             capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise RuntimeError(f"minictl {' '.join(args)} failed ({out.returncode}): {out.stdout}{out.stderr}")
        return out

    def up(self) -> float:
        args = ["up", "-f", self.cluster_file, "--runtime", self.runtime, "--port", str(self.port),
                "--timeout", "120"]
        if not self.nodes:
            args += ["--nodes", "0"]
        t = time.perf_counter()
        self.is_up = True
        self.minictl(*args, timeout=180)
        self.up_seconds = time.perf_counter() - t
        return self.up_seconds

    def kubelet_pid(self, node: str) -> int | None:
        try:
            with open(os.path.join(self.home, "run", f"kubelet-{node}.pid")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def down(self) -> None:
        if self.keep:
            log(f"[{self.runtime}] cluster left running: MINIK8S_HOME={self.home} (stop: minictl down --purge)")
            return
        try:
            if self.is_up:
                self.minictl("down", "--purge", check=False, timeout=180)
        finally:
            shutil.rmtree(self.home, ignore_errors=True)
            for name, cidr in self.nodes:
                remove_node_network(self.runtime, name, cidr)

    def client(self):
        from minik8s.client.aio import AsyncClient
        from minik8s.client.config import ClientConfig
        return AsyncClient(config=ClientConfig.load(self.home))


def remove_node_network(runtime: str, node: str, cidr: str) -> None:
    """The per-node-name bridge (process) or Docker network (docker) `down` leaves behind."""
    try:
        if runtime == "process":
            from kubelet.network import PodNetwork
            with tempfile.TemporaryDirectory() as d:
                PodNetwork(node, cidr, d).remove_bridge()
        elif runtime == "docker":
            subprocess.run(["docker", "network", "rm", f"minik8s-{node}"], capture_output=True, timeout=60)
    except Exception as e:       # noqa: BLE001  (clean-up: report and go on)
        log(f"removing the network of {node}: {type(e).__name__}: {e}")


# ---------------------------------------------------------------- baselines
def bare_docker_cli(n: int, tag: str) -> list[float]:
    """`docker run -d --network none IMAGE sleep 3600` until `docker inspect` shows it running."""
    times, ids = [], []
    try:
        for i in range(n):
            t = time.perf_counter()
            r = subprocess.run(["docker", "run", "-d", "--network", "none", "--label", f"{LABEL}={tag}",
                                "--name", f"minik8s-bench-{tag}-{i}", IMAGE, "sleep", "3600"],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise RuntimeError(f"docker run failed: {r.stderr.strip()}")
            cid = r.stdout.strip()
            ids.append(cid)
            for _ in range(2000):
                s = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", cid],
                                   capture_output=True, text=True, timeout=30).stdout.strip()
                if s == "true":
                    break
            else:
                raise RuntimeError(f"container {cid} never showed running")
            times.append(time.perf_counter() - t)
    finally:
        for i in range(0, len(ids), 25):
            subprocess.run(["docker", "rm", "-f", *ids[i:i + 25]], capture_output=True, timeout=120)
    return times


def bare_docker_pod_cli(n: int, tag: str) -> list[float]:
    """What a pod is made of, by hand: a sandbox container on a bridge network (an --internal one made
    for this), then the app container joining its network namespace (`--network container:ID`), each
    a `docker run -d`, until `docker inspect` shows the app running."""
    net = f"minik8s-bench-{tag}"
    subprocess.run(["docker", "network", "create", "--internal", "--label", f"{LABEL}={tag}", net],
                   check=True, capture_output=True, timeout=60)
    times, ids = [], []
    try:
        for i in range(n):
            t = time.perf_counter()
            r = subprocess.run(["docker", "run", "-d", "--network", net, "--label", f"{LABEL}={tag}",
                                "--name", f"minik8s-bench-{tag}-pause-{i}", IMAGE, "sleep", "3600"],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise RuntimeError(f"docker run failed: {r.stderr.strip()}")
            pause = r.stdout.strip()
            ids.append(pause)
            r = subprocess.run(["docker", "run", "-d", "--network", f"container:{pause}", "--label", f"{LABEL}={tag}",
                                "--name", f"minik8s-bench-{tag}-app-{i}", IMAGE, "sleep", "3600"],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise RuntimeError(f"docker run failed: {r.stderr.strip()}")
            app = r.stdout.strip()
            ids.append(app)
            for _ in range(2000):
                s = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", app],
                                   capture_output=True, text=True, timeout=30).stdout.strip()
                if s == "true":
                    break
            else:
                raise RuntimeError(f"container {app} never showed running")
            times.append(time.perf_counter() - t)
    finally:
        for i in range(0, len(ids), 25):
            subprocess.run(["docker", "rm", "-f", *ids[i:i + 25]], capture_output=True, timeout=120)
        subprocess.run(["docker", "network", "rm", net], capture_output=True, timeout=60)
    return times


def bare_docker_sdk(n: int, tag: str) -> list[float]:
    """The Docker SDK in this process: `containers.run(detach=True)`, then `reload()` until running."""
    import docker
    client = docker.from_env(timeout=60)
    times, made = [], []
    try:
        for i in range(n):
            t = time.perf_counter()
            c = client.containers.run(IMAGE, ["sleep", "3600"], detach=True, network_mode="none",
                                      labels={LABEL: tag}, name=f"minik8s-bench-{tag}-sdk-{i}")
            made.append(c)
            for _ in range(2000):
                c.reload()
                if c.status == "running":
                    break
            else:
                raise RuntimeError(f"container {c.id} never showed running")
            times.append(time.perf_counter() - t)
    finally:
        for c in made:
            try:
                c.remove(force=True)
            except Exception as e:      # noqa: BLE001
                log(f"removing {c.id[:12]}: {e}")
        client.close()
    return times


def bare_spawn(n: int) -> list[float]:
    """`subprocess.Popen(["sleep", "3600"])`: returns once the child has exec'd sleep."""
    times, procs = [], []
    try:
        for _ in range(n):
            t = time.perf_counter()
            procs.append(subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            times.append(time.perf_counter() - t)
    finally:
        _reap(procs)
    return times


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def bare_netns_spawn(n: int, tag: str) -> list[float]:
    """`ip netns add NS` then `ip netns exec NS sleep 3600`, until the child is sleep: a process in a
    network namespace of its own with nothing else (no veth, no address)."""
    times, procs, namespaces = [], [], []
    try:
        for i in range(n):
            ns = f"mk8s-bench-{tag}-{i}"
            t = time.perf_counter()
            subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True, timeout=30)
            namespaces.append(ns)
            p = subprocess.Popen(["ip", "netns", "exec", ns, "sleep", "3600"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            for _ in range(100000):
                if _comm(p.pid) == "sleep" or p.poll() is not None:
                    break
            if p.poll() is not None:
                raise RuntimeError(f"ip netns exec exited with {p.returncode}")
            times.append(time.perf_counter() - t)
    finally:
        _reap(procs)
        for ns in namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
    return times


def bare_python(n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-S", "-c", "pass"], check=True, timeout=60)
        times.append(time.perf_counter() - t)
    return times


def _reap(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            pass


# ---------------------------------------------------------------- pods through a watch
def pod_object(name: str, node: str | None, tag: str):
    from minik8s.api import codec
    from minik8s.api.pb import core_pb2
    spec = {"terminationGracePeriodSeconds": 1,
            "containers": [{"name": "sleep", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                            "command": ["sleep", "3600"]}]}
    if node:
        spec["nodeName"] = node
    return codec.from_dict(core_pb2.Pod, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {LABEL: tag}},
        "spec": spec})


class PodWatch:
    """This process's watch of the benchmark's pods: when (perf_counter) each was first seen bound
    and first seen Running."""

    def __init__(self, client, tag: str):
        self.client, self.tag = client, tag
        self.bound: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.changed = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        listed = await self.client.list("Pod", "default", label_selector=f"{LABEL}={self.tag}")
        self.task = asyncio.create_task(self._run(listed.resource_version))

    async def _run(self, rv: str) -> None:
        async for ev in self.client.watch("Pod", "default", resource_version=rv,
                                          label_selector=f"{LABEL}={self.tag}"):
            now = time.perf_counter()
            pod = ev.object
            name = pod.metadata.name
            if pod.spec.nodeName and name not in self.bound:
                self.bound[name] = now
            if pod.status.phase == "Running" and name not in self.running:
                self.running[name] = now
            if pod.status.phase == "Failed":
                self.failed[name] = pod.status.message or pod.status.reason
            self.changed.set()

    async def wait_running(self, name: str, timeout: float) -> float:
        deadline = time.perf_counter() + timeout
        while name not in self.running:
            if name in self.failed:
                raise RuntimeError(f"pod {name} failed: {self.failed[name]}")
            if self.task.done():
                raise RuntimeError(f"the watch ended: {self.task.exception()!r}")
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"pod {name} not Running within {timeout:.0f}s")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(left, 1.0))
            except asyncio.TimeoutError:
                pass
        return self.running[name]

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def measure_pods(cl: MiniCluster, n: int, profile: str | None) -> dict:
    """A warm-up pod, then N scheduled pods, then N direct ones, one at a time; the node is emptied
    (every pod deleted, and its sandboxes gone) before each series and at the end."""
    node = cl.nodes[0][0]
    client = cl.client()
    watch = PodWatch(client, cl.tag)
    out = {"scheduled": [], "direct": [], "bind": [], "bound_to_running": [], "create_call": [],
           "bare_scheduled": [], "bare_direct": []}
    created: list[str] = []
    prof = None
    try:
        await watch.start()

        async def one(name: str, direct: bool) -> tuple[float, float, float]:
            t0 = time.perf_counter()
            await client.create(pod_object(name, node if direct else None, cl.tag))
            t_created = time.perf_counter()
            created.append(name)
            t_running = await watch.wait_running(name, RUNNING_TIMEOUT)
            return t0, t_created, t_running

        await one("warmup", False)      # the node's first pod makes its bridge or Docker network
        for path, direct in (("scheduled", False), ("direct", True)):
            await empty_node(cl, client, created)
            log(f"[{cl.runtime}] {n} {path} pods")
            pid = cl.kubelet_pid(node)
            prof = Profiler(profile, f"kubelet-{cl.runtime}-{path}", pid) if pid else None
            for i in range(n):
                name = f"{path}-{i}"
                if cl.runtime == "docker":      # the baseline beside the pod, at the same load
                    bare = await asyncio.to_thread(bare_docker_cli, 1, f"{cl.tag}-{path}-{i}")
                    out[f"bare_{path}"].append(bare[0] * 1000)
                t0, t_created, t_running = await one(name, direct)
                out[path].append((t_running - t0) * 1000)
                out["create_call"].append((t_created - t0) * 1000)
                if not direct:
                    tb = watch.bound.get(name, t_running)
                    out["bind"].append((tb - t0) * 1000)
                    out["bound_to_running"].append((t_running - tb) * 1000)
            if prof is not None:
                prof.stop()
                prof = None
    finally:
        if prof is not None:
            prof.stop()
        if created and not cl.keep:
            await empty_node(cl, client, created)
        await watch.stop()
        await client.close()
    return out


async def empty_node(cl: MiniCluster, client, names: list[str], timeout: float = 120.0) -> None:
    """Delete the pods `names` and wait until they are gone from the API and their sandboxes from
    the node's runtime (the kubelet finishes removing a pod's sandbox after the object is gone)."""
    if not names:
        return
    await delete_pods(client, cl.tag, names, timeout)
    names.clear()
    node = cl.nodes[0][0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cl.runtime == "process":
            d = os.path.join(cl.home, "kubelet", node, "runtime", "sandboxes")
            left = len(os.listdir(d)) if os.path.isdir(d) else 0
        else:
            from kubelet.runtime.base import LABEL_NODE
            r = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL_NODE}={node}"],
                               capture_output=True, text=True, timeout=60)
            left = len(r.stdout.split())
        if not left:
            return
        await asyncio.sleep(0.2)
    log(f"[{cl.runtime}] {left} sandboxes/containers still on {node} {timeout:.0f}s after their pods went")


async def delete_pods(client, tag: str, names: list[str], timeout: float = 120.0) -> None:
    from minik8s.api.errors import NotFound
    for name in names:
        try:
            await client.delete("Pod", name, "default")
        except NotFound:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = await client.list("Pod", "default", label_selector=f"{LABEL}={tag}")
        if not left.items:
            return
        await asyncio.sleep(0.5)
    log(f"{len(left.items)} pods still there {timeout:.0f}s after their deletion (down removes what they run)")


# ---------------------------------------------------------------- the measures
def measure_runtime(runtime: str, sz: dict, profile: str | None, keep: bool, series: dict) -> list[Row]:
    tag = uuid.uuid4().hex[:5]
    rows: list[Row] = []
    n = sz["pods"]
    log(f"[{runtime}] bare baseline ({sz['bare']} runs)")
    if runtime == "docker":
        base_sdk = bare_docker_sdk(sz["bare"], tag)
        base_pod = bare_docker_pod_cli(max(5, sz["bare"] // 2), tag)
        log(f"[{runtime}] the kubelet's runtime steps ({sz['bare']} pods)")
        steps, kinds = asyncio.run(docker_steps.measure(sz["bare"]))
    else:
        base_spawn = bare_spawn(sz["bare"])
        base_netns = bare_netns_spawn(sz["bare"], tag)
        base_py = bare_python(max(5, sz["bare"] // 5))
        base = percentile(base_spawn, 50) * 1000

    log(f"[{runtime}] minictl up (1 node)")
    cl = MiniCluster(runtime, 1, keep)
    try:
        cl.up()
        log(f"[{runtime}] up in {cl.up_seconds:.2f}s")
        res = asyncio.run(measure_pods(cl, n, profile))
        series[runtime] = res
    finally:
        cl.down()

    label = f"[{runtime}] create -> Running, {n} pods"
    sched, direct = res["scheduled"], res["direct"]
    if runtime == "docker":
        for path, what in (("scheduled", "scheduled"), ("direct", "nodeName set")):
            bare = res[f"bare_{path}"]
            for q in (50, 99):
                rows.append(Row(f"{label}, {what}, p{q}", percentile(res[path], q), percentile(bare, q), "ms",
                                f"bare docker run -d + inspect before each pod, p{q}",
                                target=TARGETS["docker"], relative=True, fmt="{:,.0f}"))
        rows.append(Row(f"{label}, scheduled, p50 vs the SDK", percentile(sched, 50),
                        percentile(base_sdk, 50) * 1000, "ms", "docker SDK run + reload, p50", fmt="{:,.0f}",
                        note="info: stricter baseline (no CLI start-up), measured before the cluster"))
        rows.append(Row(f"{label}, scheduled, p50 vs a pod by hand", percentile(sched, 50),
                        percentile(base_pod, 50) * 1000, "ms", "docker run sandbox + app in its netns, p50",
                        fmt="{:,.0f}", note="info: the same two containers a pod is, measured before the cluster"))
        rows += docker_steps.rows(steps, kinds)
    else:
        rows.append(Row(f"{label}, scheduled, p50", percentile(sched, 50), base, "ms", "bare Popen(sleep), p50",
                        target=TARGETS["process"], fmt="{:,.1f}"))
        rows.append(Row(f"{label}, scheduled, p99", percentile(sched, 99), percentile(base_spawn, 99) * 1000, "ms",
                        "bare Popen(sleep), p99", fmt="{:,.1f}"))
        rows.append(Row(f"{label}, nodeName set, p50", percentile(direct, 50), percentile(base_netns, 50) * 1000,
                        "ms", "ip netns add + exec sleep, p50", target=TARGETS["process"], fmt="{:,.1f}"))
        rows.append(Row(f"{label}, nodeName set, p99", percentile(direct, 99), percentile(base_netns, 99) * 1000,
                        "ms", "ip netns add + exec sleep, p99", fmt="{:,.1f}"))
        rows.append(Row(f"[{runtime}] python -S -c pass (the floor of a Python shim), p50",
                        percentile(base_py, 50) * 1000, None, "ms", fmt="{:,.1f}", note="info"))
    fmt = "{:,.0f}" if runtime == "docker" else "{:,.1f}"
    rows.append(Row(f"[{runtime}] ... scheduled: create -> bound (watch), p50", percentile(res["bind"], 50),
                    percentile(res["create_call"], 50), "ms", "create call alone, p50", fmt=fmt,
                    note="info: scheduler share"))
    rows.append(Row(f"[{runtime}] ... scheduled: bound -> Running (watch), p50",
                    percentile(res["bound_to_running"], 50), None, "ms", fmt=fmt, note="info: kubelet share"))
    return rows


def measure_up(runtimes: list[str], reps: int, keep: bool) -> list[Row]:
    """`minictl up` with 3 nodes per runtime beside `--nodes 0`, interleaved, median of `reps`."""
    walls: dict[str, list[float]] = {"none": [], **{r: [] for r in runtimes}}
    for rep in range(reps):
        for what in ["none", *runtimes]:
            cl = MiniCluster(runtimes[0] if what == "none" else what, 0 if what == "none" else UP_NODES, keep)
            try:
                walls[what].append(cl.up())
                log(f"up {what} ({rep + 1}/{reps}): {walls[what][-1]:.2f}s")
            finally:
                cl.down()
    base = median(walls["none"])
    return [Row(f"[{r}] minictl up --nodes {UP_NODES} to all Ready (median of {reps})", median(walls[r]), base, "s",
                "minictl up --nodes 0", target=("<=", UP_TARGETS[r]), fmt="{:.2f}") for r in runtimes]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.pod_startup", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    p.add_argument("--runtime", default="process,docker", help="comma-separated runtimes (default process,docker)")
    p.add_argument("--pods", type=int, help="pods per path (default 50; --quick 8)")
    p.add_argument("--up-reps", type=int, help="repetitions of the minictl up timing (default 3; --quick 1)")
    p.add_argument("--skip-up", action="store_true", help="leave out the minictl up timing")
    p.add_argument("--wait-load", type=float, default=0.0, metavar="L",
                   help="first wait (up to 10 min) for the 1-minute load average to drop under L")
    p.add_argument("--profile", metavar="DIR", help="py-spy the kubelet during the pods into DIR")
    p.add_argument("--keep", action="store_true", help="leave the clusters (and their pods) running")
    p.add_argument("--dump", metavar="FILE", help="write every pod's times (ms, in creation order) as JSON")
    args = p.parse_args(argv)
    runtimes = [r.strip() for r in args.runtime.split(",") if r.strip()]
    bad = [r for r in runtimes if r not in ("process", "docker")]
    if bad or not runtimes:
        p.error(f"--runtime: choose from process, docker (got {args.runtime!r})")
    if os.geteuid() != 0 and "process" in runtimes:
        p.error("the process runtime's pod network needs root")
    sz = dict(SIZES["quick" if args.quick else "full"])
    if args.pods:
        sz["pods"] = args.pods
    if args.up_reps:
        sz["up_reps"] = args.up_reps
    wait_for_calm(args.wait_load, 600)
    t = time.monotonic()
    load0 = os.getloadavg()
    rows: list[Row] = []
    series: dict[str, dict] = {}
    failed = False
    for rt in runtimes:
        try:
            rows += measure_runtime(rt, sz, args.profile, args.keep, series)
        except Exception as e:  # noqa: BLE001  (one runtime failing leaves the other's rows)
            failed = True
            log(f"[{rt}] failed: {type(e).__name__}: {e}")
            rows.append(Row(f"[{rt}] pod startup", None, None, "", na=f"failed: {str(e)[:80]}"))
    if not args.skip_up:
        try:
            rows += measure_up(runtimes, sz["up_reps"], args.keep)
        except Exception as e:  # noqa: BLE001
            failed = True
            log(f"minictl up timing failed: {type(e).__name__}: {e}")
            rows.append(Row("minictl up timing", None, None, "", na=f"failed: {str(e)[:80]}"))
    load1 = os.getloadavg()
    if args.dump:
        import json
        with open(args.dump, "w") as f:
            json.dump(series, f)
    print(f"\nminik8s pod startup ({'quick' if args.quick else 'full'} run, {time.monotonic() - t:.0f}s; "
          f"{os.cpu_count()} CPUs; load average (1/5/15 min) {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f} at start, "
          f"{load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f} at end)")
    print(f"Pods created one at a time and left running, {sz['pods']} scheduled then {sz['pods']} with nodeName "
          f"set, on a 1-node cluster emptied before each series; time from the create call to the watch event "
          f"with phase Running. Baselines measured in this run.\n")
    print_table(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
