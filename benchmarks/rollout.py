"""Rolling update and rollback behind a Service, with a stream of requests through the service proxy.

    .venv/bin/python -m benchmarks.rollout [--runtime process|docker|both] [--quick] [--keep]
    .venv/bin/python -m benchmarks.rollout --proxy-only       # the proxy alone (root), see bench_proxy_only

For each runtime, on a cluster of its own (`minictl up` on a temporary MINIK8S_HOME, 2 nodes):

1. A Deployment of 4 replicas (busybox httpd answering `<version> <pod name>`, a readiness probe every
   second, minReadySeconds 2, maxUnavailable 0, maxSurge 1, a preStop sleep of 2 s so a pod being
   deleted finishes what the proxy already sent it) behind a NodePort Service (a free node port).
2. Proxy latency: one HTTP/1.0 request per fresh TCP connection, alternating between a pod IP directly
   and 127.0.0.1:<nodePort> through the proxy; p50/p90/p99 of each and the added p50.
3. Rollout: a bounded stream of requests (fixed rate, at most CONCURRENCY in flight, loopback only)
   through 127.0.0.1:<nodePort> while the template's VERSION goes v1 -> v2 and the rollout runs to
   completion; then the same while `minictl rollout undo` (or, without that command yet, the same
   template change made through the API) takes it back to v1. Printed: requests sent and failed (with
   the reasons), the rollout's duration, the share of responses from the new version per second, and
   how quickly the proxy followed the pods: from a new pod turning Ready (as this process's watch saw
   it) to its first response, and from a pod's deletion (likewise) to the last request it was sent.

Every connection goes to 127.0.0.1 or to a pod IP on the cluster's own pod bridge."""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from benchmarks.common import ROOT, Row, log, percentile, print_table

SIZES = {
    "full": dict(rate=220.0, min_requests=2000, max_phase_s=240.0, latency_samples=1000, settle_s=2.0),
    "quick": dict(rate=100.0, min_requests=300, max_phase_s=120.0, latency_samples=200, settle_s=1.0),
}
CONCURRENCY = 32            # requests in flight at most
REQUEST_TIMEOUT = 5.0
REPLICAS = 4
MIN_READY_SECONDS = 2       # each new pod serves this long before the next old one goes: a rollout of
                            # ~10 s, so thousands of requests meet it while it runs
NODES = 2
BUCKET_S = 1.0


# ---------------------------------------------------------------- the cluster
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _free_pod_cidrs(base: str, n: int) -> list[str]:
    """`n` /24s under `base` that no route of this host covers yet."""
    import ipaddress
    import random
    from minik8s.proxy.hostnet import connected_routes
    taken = [net for net, _ in connected_routes()]
    out: list[str] = []
    for third in random.sample(range(160, 250), 90):
        net = ipaddress.ip_network(f"{base}.{third}.0/24")
        if not any(net.overlaps(t) for t in taken):
            out.append(str(net))
            if len(out) == n:
                return out
    raise RuntimeError(f"no free /24 left under {base}")


def _free_node_port() -> int:
    import random
    for port in random.sample(range(30000, 32768), 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free node port")


class MiniCluster:
    """`minictl up` on a temporary home; `minictl down --purge` on exit (the home is kept, and the
    cluster left running, with --keep or when the benchmark failed)."""

    def __init__(self, runtime: str, keep: bool = False):
        import uuid
        self.runtime = runtime
        self.keep = keep
        self.home = tempfile.mkdtemp(prefix=f"minik8s-rollout-{runtime}-")
        self.port = _free_port()
        # Node names and pod CIDRs of its own: a node's bridge (and the Docker network) is named after
        # the node and its default pod CIDR follows its place, so clusters started beside this one
        # with the default node-1.. would share them.
        tag = uuid.uuid4().hex[:4]
        self.www = f"/tmp/minik8s-rollout-www-{tag}-"
        self.cluster_file = os.path.join(self.home, "bench-cluster.yaml")
        cidrs = _free_pod_cidrs("10.245" if runtime == "docker" else "10.244", NODES)
        with open(self.cluster_file, "w") as f:
            f.write(f"runtime: {runtime}\nnodes:\n" + "".join(
                f"- {{name: rb{tag}-{i + 1}, podCIDR: {cidr}}}\n" for i, cidr in enumerate(cidrs)))
        self.env = dict(os.environ, MINIK8S_HOME=self.home,
                        PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def minictl(self, *args: str, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess:
        out = subprocess.run([sys.executable, "-m", "minik8s.cli.main", *args], env=self.env, cwd=ROOT,
                             capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise RuntimeError(f"minictl {' '.join(args)} failed ({out.returncode}): {out.stdout}{out.stderr}")
        return out

    def has_command(self, *words: str) -> bool:
        return self.minictl(*words, "-h", check=False).returncode == 0

    def __enter__(self):
        log(f"[{self.runtime}] minictl up (home {self.home}, port {self.port})")
        self.minictl("up", "-f", self.cluster_file, "--port", str(self.port), timeout=180)
        return self

    def __exit__(self, *exc):
        if self.keep or exc[0] is not None:
            log(f"[{self.runtime}] cluster left running for inspection: MINIK8S_HOME={self.home} "
                f"(stop: minictl down --purge)")
            return
        try:
            # foreground: returns once the pods are gone. The process runtime's containers outlive a
            # stopped kubelet by design, so `down` must not come while they are still being stopped.
            self.minictl("delete", "deployment", "web", "--cascade=foreground", check=False, timeout=120)
            self.minictl("down", "--purge", check=False, timeout=120)
        finally:
            shutil.rmtree(self.home, ignore_errors=True)
            if self.runtime == "process":
                import glob
                for d in glob.glob(self.www + "*"):
                    shutil.rmtree(d, ignore_errors=True)

    def client(self):
        from minik8s.client.aio import AsyncClient
        from minik8s.client.config import ClientConfig
        return AsyncClient(config=ClientConfig.load(self.home))


def manifests(node_port: int, www: str, version: str = "v1") -> str:
    """The Deployment and Service; each pod serves from the directory `www` + its name (on the host
    with the process runtime, which has no /tmp of its own)."""
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {REPLICAS}
  minReadySeconds: {MIN_READY_SECONDS}
  selector:
    matchLabels: {{app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: web
        image: minik8s/busybox
        imagePullPolicy: IfNotPresent
        env:
        - {{name: VERSION, value: "{version}"}}
        - {{name: WWW, value: "{www}"}}
        - name: POD_NAME
          valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
        command:
        - sh
        - -c
        - d=$WWW$POD_NAME; mkdir -p $d; echo $VERSION $POD_NAME >$d/index.html; exec busybox httpd -f -p 8080 -h $d
        ports:
        - {{name: http, containerPort: 8080}}
        readinessProbe:
          httpGet: {{path: /index.html, port: http}}
          periodSeconds: 1
        lifecycle:
          preStop:
            sleep: {{seconds: 2}}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {{app: web}}
  ports:
  - {{name: http, port: 80, targetPort: http, nodePort: {node_port}}}
"""


# ---------------------------------------------------------------- HTTP on raw asyncio streams
async def http_get(host: str, port: int, timeout: float = REQUEST_TIMEOUT) -> tuple[bool, str]:
    """(ok, body or error). One HTTP/1.0 request on a fresh connection."""
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.write(b"GET /index.html HTTP/1.0\r\nHost: web\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), timeout)
    except asyncio.TimeoutError:
        return False, "timeout"
    except OSError as e:
        return False, type(e).__name__
    finally:
        if writer is not None:
            writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if not status.startswith(b"HTTP/1.") or status.split()[1:2] != [b"200"]:
        return False, f"bad response {status[:40]!r}" if data else "empty response"
    return True, body.decode(errors="replace").strip()


class Stream:
    """Requests at a fixed rate (at most CONCURRENCY in flight, at most `max_requests`) until stopped."""

    def __init__(self, host: str, port: int, rate: float, max_requests: int):
        self.host, self.port, self.rate, self.max_requests = host, port, rate, max_requests
        self.results: list[tuple[float, float, bool, str]] = []     # (sent at, answered at, ok, body|error)
        self._stop = asyncio.Event()
        self._sem = asyncio.Semaphore(CONCURRENCY)

    def stop(self) -> None:
        self._stop.set()

    @property
    def sent(self) -> int:
        return len(self.results) + self._inflight

    async def run(self) -> None:
        self._inflight = 0
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        tasks = set()
        i = 0
        while not self._stop.is_set() and i < self.max_requests:
            due = t0 + i / self.rate
            delay = due - loop.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                    break
                except asyncio.TimeoutError:
                    pass
            await self._sem.acquire()
            i += 1
            self._inflight += 1
            task = asyncio.create_task(self._one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)

    async def _one(self) -> None:
        sent = time.monotonic()
        try:
            ok, body = await http_get(self.host, self.port)
        finally:
            self._sem.release()
            self._inflight -= 1
        self.results.append((sent, time.monotonic(), ok, body))


# ---------------------------------------------------------------- watching the cluster
class Watcher:
    """Informers on the Deployment, its pods and the Endpoints, recording when (this process's
    monotonic clock) each pod was first seen Ready and first seen terminating."""

    def __init__(self, client):
        from minik8s.client.informer import SharedInformerFactory
        self.factory = SharedInformerFactory(client)
        self.deploys = self.factory.informer("Deployment", "default")
        self.pods = self.factory.informer("Pod", "default", label_selector="app=web")
        self.endpoints = self.factory.informer("Endpoints", "default")
        self.ready_at: dict[str, float] = {}
        self.deleting_at: dict[str, float] = {}
        self.changed = asyncio.Event()
        for inf in (self.deploys, self.pods, self.endpoints):
            inf.add_event_handler(self._on, lambda old, new: self._on(new), self._on)

    def _on(self, obj) -> None:
        now = time.monotonic()
        if type(obj).__name__ == "Pod":
            name = obj.metadata.name
            if obj.metadata.deletionTimestamp:
                self.deleting_at.setdefault(name, now)
            elif any(c.type == "Ready" and c.status == "True" for c in obj.status.conditions):
                self.ready_at.setdefault(name, now)
        self.changed.set()

    async def start(self) -> None:
        await self.factory.start_all()
        await self.factory.wait_for_cache_sync(60)

    async def until(self, cond, timeout: float, what: str):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = cond()
            if result:
                return result
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(left, 1.0))
            except asyncio.TimeoutError:
                pass

    def rollout_complete(self) -> bool:
        """upstream `rollout status`: the controller saw the latest spec, every replica is updated,
        no old one is left, and all are available."""
        d = self.deploys.get("default/web")
        if d is None:
            return False
        st, want = d.status, d.spec.replicas
        return (st.observedGeneration >= d.metadata.generation and st.updatedReplicas == want
                and st.replicas == want and st.availableReplicas == want)

    def ready_endpoints(self) -> list[str]:
        ep = self.endpoints.get("default/web")
        return [a.ip for s in (ep.subsets if ep else ()) for a in s.addresses]

    def stop(self):
        return self.factory.stop_all()


# ---------------------------------------------------------------- phases
async def measure_latency(direct_ips: list[str], node_port: int, samples: int) -> dict:
    direct, proxied, errors = [], [], 0
    for i in range(samples):
        for target, out in (((direct_ips[i % len(direct_ips)], 8080), direct), (("127.0.0.1", node_port), proxied)):
            t = time.perf_counter()
            ok, _ = await http_get(*target)
            if ok:
                out.append((time.perf_counter() - t) * 1000)
            else:
                errors += 1
    return {"direct": direct, "proxied": proxied, "errors": errors}


async def run_phase(label: str, watcher: Watcher, node_port: int, change, new_version: str, size: dict) -> dict:
    # bounded: at most what the phase's time limit allows at the stream's rate
    stream = Stream("127.0.0.1", node_port, size["rate"],
                    int(size["rate"] * (size["max_phase_s"] + 2 * size["settle_s"] + 65)))
    task = asyncio.create_task(stream.run())
    await asyncio.sleep(size["settle_s"])          # a baseline before the change
    pods_before = set(p.metadata.name for p in watcher.pods.list())
    gen0 = watcher.deploys.get("default/web").metadata.generation
    t_change = time.monotonic()
    log(f"  {label}: changing the template ({new_version})")
    await change()

    def seen_by_controller() -> bool:
        d = watcher.deploys.get("default/web")
        return d.metadata.generation > gen0 and d.status.observedGeneration >= d.metadata.generation
    await watcher.until(seen_by_controller, 60, "the deployment controller to see the change")
    await watcher.until(watcher.rollout_complete, size["max_phase_s"], f"{label} complete")
    t_done = time.monotonic()
    log(f"  {label}: complete after {t_done - t_change:.1f} s; finishing the stream")
    # keep going a little after completion, and until the phase has its share of requests
    loop = asyncio.get_running_loop()
    end = loop.time() + max(size["settle_s"], 0.5)
    while loop.time() < end or (len(stream.results) < size["min_requests"] and loop.time() < end + 60):
        await asyncio.sleep(0.1)
    stream.stop()
    await task
    return {"label": label, "results": stream.results, "t_change": t_change, "t_done": t_done,
            "new_version": new_version, "pods_before": pods_before}


def follow_times(phase: dict, watcher: Watcher) -> tuple[list[float], list[float]]:
    """(Ready -> first response from that pod, in ms, for pods created in the phase;
    deletion seen -> last request sent to that pod, in ms, for pods deleted in the phase)."""
    first_answer: dict[str, float] = {}
    last_sent: dict[str, float] = {}
    for sent, answered, ok, body in phase["results"]:
        if ok and " " in body:
            pod = body.split(" ", 1)[1]
            first_answer[pod] = min(first_answer.get(pod, answered), answered)
            last_sent[pod] = max(last_sent.get(pod, sent), sent)
    ready = [(first_answer[p] - t) * 1000 for p, t in watcher.ready_at.items()
             if p not in phase["pods_before"] and p in first_answer and phase["t_change"] <= t]
    gone = [(last_sent.get(p, float("-inf")) - t) * 1000 for p, t in watcher.deleting_at.items()
            if p in phase["pods_before"] and phase["t_change"] <= t and p in last_sent]
    return ready, gone


def timeline(phase: dict) -> str:
    t0 = phase["t_change"]
    buckets: dict[int, list[int]] = {}
    for sent, _, ok, body in phase["results"]:
        b = int((sent - t0) // BUCKET_S)
        buckets.setdefault(b, [0, 0, 0])
        if ok:
            buckets[b][0 if body.startswith(phase["new_version"] + " ") else 1] += 1
        else:
            buckets[b][2] += 1
    out = []
    for b in sorted(buckets):
        new, old, failed = buckets[b]
        share = new / (new + old) if new + old else 0.0
        bar = "#" * round(share * 20)
        out.append(f"    t={b * BUCKET_S:+5.0f}s  new {share:6.1%} |{bar:<20}| ({new + old} ok, {failed} failed)")
    return "\n".join(out)


async def bench_runtime(runtime: str, size: dict, keep: bool) -> list[Row]:
    rows: list[Row] = []
    with MiniCluster(runtime, keep) as cl:
        path = os.path.join(cl.home, "web.yaml")
        with open(path, "w") as f:
            # a free node port: not the 30000 every cluster gets first
            f.write(manifests(_free_node_port(), cl.www, "v1"))
        cl.minictl("apply", "-f", path)
        client = cl.client()
        watcher = Watcher(client)
        await watcher.start()
        try:
            await watcher.until(lambda: watcher.rollout_complete() and len(watcher.ready_endpoints()) == REPLICAS,
                                240, "4 ready replicas behind the service")
            svc = await client.get("Service", "web", "default")
            node_port = svc.spec.ports[0].nodePort
            log(f"[{runtime}] 4 replicas ready; service on 127.0.0.1:{node_port}")

            lat = await measure_latency(watcher.ready_endpoints(), node_port, size["latency_samples"])
            d50, p50 = percentile(lat["direct"], 50), percentile(lat["proxied"], 50)
            rows.append(Row(f"[{runtime}] request latency p50, via proxy", p50, d50, "ms", "direct to pod IP",
                            fmt="{:.3f}"))
            rows.append(Row(f"[{runtime}] request latency p99, via proxy", percentile(lat["proxied"], 99),
                            percentile(lat["direct"], 99), "ms", "direct to pod IP", fmt="{:.3f}"))
            rows.append(Row(f"[{runtime}] proxy added latency p50", p50 - d50, None, "ms", target=("<=", 1.0),
                            fmt="{:.3f}"))
            if lat["errors"]:
                rows.append(Row(f"[{runtime}] latency-phase errors", lat["errors"], None, ""))

            async def set_version(version: str) -> None:
                from minik8s.api.errors import Conflict
                for _ in range(20):
                    d = await client.get("Deployment", "web", "default")
                    new = type(d)()
                    new.CopyFrom(d)
                    for e in new.spec.template.spec.containers[0].env:
                        if e.name == "VERSION":
                            e.value = version
                    try:
                        await client.update(new)
                        return
                    except Conflict:
                        continue
                raise RuntimeError("could not update the deployment (conflicts)")

            async def to_v2():
                if cl.has_command("set", "env"):
                    await asyncio.to_thread(cl.minictl, "set", "env", "deployment/web", "VERSION=v2")
                else:
                    await set_version("v2")

            async def undo():
                if cl.has_command("rollout", "undo"):
                    await asyncio.to_thread(cl.minictl, "rollout", "undo", "deployment/web")
                else:       # same effect as kubectl's undo: the previous template, as a new revision
                    log("  (no `minictl rollout undo` yet: reverting the template through the API)")
                    await set_version("v1")

            phases = [await run_phase("rollout", watcher, node_port, to_v2, "v2", size),
                      await run_phase("undo", watcher, node_port, undo, "v1", size)]
            for ph in phases:
                res = ph["results"]
                failed = [r for r in res if not r[2]]
                reasons: dict[str, int] = {}
                for r in failed:
                    reasons[r[3]] = reasons.get(r[3], 0) + 1
                name = f"[{runtime}] {ph['label']}"
                during = [r for r in res if ph["t_change"] <= r[0] <= ph["t_done"]]
                rows.append(Row(f"{name}: requests sent", len(res), None, "", fmt="{:,.0f}",
                                target=(">=", size["min_requests"])))
                rows.append(Row(f"{name}: ... of which while it ran (failed)", len(during),
                                sum(1 for r in during if not r[2]), "", "failed", fmt="{:,.0f}"))
                rows.append(Row(f"{name}: requests failed", len(failed), None, "", fmt="{:,.0f}",
                                target=("<=", 0), note=", ".join(f"{k}: {v}" for k, v in reasons.items())))
                rows.append(Row(f"{name}: duration (change -> complete)", ph["t_done"] - ph["t_change"], None, "s",
                                fmt="{:.1f}"))
                ready, gone = follow_times(ph, watcher)
                rows.append(Row(f"{name}: pod Ready -> first response (max)", max(ready) if ready else None,
                                percentile(ready, 50), "ms", "p50", fmt="{:.0f}"))
                rows.append(Row(f"{name}: pod deletion seen here -> last request it got (max)",
                                max(gone) if gone else None, None, "ms", fmt="{:.0f}",
                                note="the proxy's watch vs this one's; preStop covers the gap"))
                print(f"\n[{runtime}] {ph['label']}: share of responses from {ph['new_version']} per second "
                      f"(t=0: template changed; complete at t={ph['t_done'] - ph['t_change']:.1f}s)")
                print(timeline(ph), flush=True)
                if reasons:
                    print(f"    failures: {reasons}")
        finally:
            await watcher.stop()
            await client.close()
    return rows


# ---------------------------------------------------------------- the proxy alone (root)
class NetnsPods:
    """Real busybox httpd processes, each in a network namespace on a bridge of its own, as the process
    runtime's pods are: what `--proxy-only` measures the proxy against (needs root)."""

    def __init__(self, n: int):
        import random
        import uuid
        self.tag = uuid.uuid4().hex[:5]
        self.third = random.randint(0, 255)
        self.cidr = f"10.249.{self.third}.0/24"
        self.bridge = f"mk8s-b{self.tag}"
        self.dir = tempfile.mkdtemp(prefix="minik8s-proxybench-")
        self.pods: list[tuple[str, str]] = []       # (name, ip)
        self.procs: list[subprocess.Popen] = []
        self.namespaces: list[str] = []
        ip = self._ip
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"10.249.{self.third}.1/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for i in range(n):
            name, addr = f"pod-{i}", f"10.249.{self.third}.{10 + i}"
            ns, host, peer = f"mk8s-bp{self.tag}{i}", f"mkb{self.tag}{i}h", f"mkb{self.tag}{i}n"
            ip("netns", "add", ns)
            self.namespaces.append(ns)
            ip("link", "add", host, "type", "veth", "peer", "name", peer)
            ip("link", "set", host, "master", self.bridge, "up")
            ip("link", "set", peer, "netns", ns)
            ip("-n", ns, "addr", "add", f"{addr}/24", "dev", peer)
            ip("-n", ns, "link", "set", peer, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            www = os.path.join(self.dir, name)
            os.makedirs(www)
            with open(os.path.join(www, "index.html"), "w") as f:
                f.write(f"v1 {name}\n")
            self.procs.append(subprocess.Popen(["ip", "netns", "exec", ns, "busybox", "httpd", "-f", "-p", "8080",
                                                "-h", www], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self.pods.append((name, addr))

    @staticmethod
    def _ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    def close(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


async def bench_proxy_only(size: dict) -> list[Row]:
    """The proxy as `minictl up` runs it (its own process), against a real API server, with the
    Endpoints object written directly: request latency direct vs NodePort vs ClusterIP, and how long
    an Endpoints change takes to reach the data path."""
    from benchmarks.common import Server
    from minik8s.api.pb import core_pb2
    from minik8s.client.aio import AsyncClient
    from minik8s.client.config import ClientConfig

    if os.geteuid() != 0:
        raise RuntimeError("--proxy-only needs root (network namespaces for the backends)")
    rows: list[Row] = []
    pods = NetnsPods(REPLICAS)
    server = Server()
    proxy = None
    try:
        home = server.home
        os.makedirs(os.path.join(home, "run"), exist_ok=True)
        ClientConfig(server=server.address, token=server.token).save(home)
        token_file = os.path.join(home, "node-1.token")
        with open(token_file, "w") as f:
            f.write(server.proc.tokens["node-1"])
        client = AsyncClient(server.address, server.token)
        node = core_pb2.Node()
        node.metadata.name = "node-1"
        node.spec.podCIDR = pods.cidr
        node.spec.podCIDRs.append(pods.cidr)
        await client.create(node)
        svc = core_pb2.Service()
        svc.metadata.name, svc.metadata.namespace = "web", "default"
        svc.spec.type = "NodePort"
        svc.spec.ports.add(name="http", port=80).targetPort.number_value = 8080
        svc = await client.create(svc)
        node_port, cluster_ip = svc.spec.ports[0].nodePort, svc.spec.clusterIP

        def endpoints(members):
            ep = core_pb2.Endpoints()
            ep.metadata.name, ep.metadata.namespace = "web", "default"
            sub = ep.subsets.add()
            for _, ip in members:
                sub.addresses.add().ip = ip
            sub.ports.add(name="http", port=8080, protocol="TCP")
            return ep
        await client.create(endpoints(pods.pods))
        log_path = os.path.join(home, "proxy.log")
        proxy = subprocess.Popen([sys.executable, "-m", "minik8s.proxy", "--home", home, "--node-name", "node-1",
                                  "--token-file", token_file], cwd=ROOT, stdout=open(log_path, "ab"),
                                 stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=ROOT))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while True:
            ok_np, _ = await http_get("127.0.0.1", node_port, 1.0)
            ok_ci, _ = await http_get(cluster_ip, 80, 1.0)
            if ok_np and ok_ci:
                break
            if loop.time() > deadline or proxy.poll() is not None:
                raise RuntimeError(f"the proxy did not serve in time; see {log_path}")
            await asyncio.sleep(0.05)

        direct, via_np, via_ci = [], [], []
        ips = [ip for _, ip in pods.pods]
        for i in range(size["latency_samples"]):
            for target, out in (((ips[i % len(ips)], 8080), direct), (("127.0.0.1", node_port), via_np),
                                ((cluster_ip, 80), via_ci)):
                t = time.perf_counter()
                ok, _ = await http_get(*target)
                if ok:
                    out.append((time.perf_counter() - t) * 1000)
        d50 = percentile(direct, 50)
        rows.append(Row("[proxy only] latency p50 via NodePort 127.0.0.1", percentile(via_np, 50), d50, "ms",
                        "direct to pod IP", fmt="{:.3f}"))
        rows.append(Row("[proxy only] latency p50 via ClusterIP", percentile(via_ci, 50), d50, "ms",
                        "direct to pod IP", fmt="{:.3f}"))
        rows.append(Row("[proxy only] latency p99 via NodePort", percentile(via_np, 99), percentile(direct, 99),
                        "ms", "direct to pod IP", fmt="{:.3f}"))
        rows.append(Row("[proxy only] proxy added latency p50 (NodePort)", percentile(via_np, 50) - d50, None, "ms",
                        target=("<=", 1.0), fmt="{:.3f}"))

        # Endpoints change -> data path: drop the last pod, then ask (one request at a time) until it has
        # not answered for 50 requests in a row; the last request it answered was sent this long after
        # the write returned (0 when none sent after the write reached it).
        pickups = []
        victim = pods.pods[-1][0]
        ep = await client.get("Endpoints", "web", "default")
        for trial in range(10):
            cur = ep
            ep = endpoints(pods.pods[:-1])
            ep.metadata.resourceVersion = cur.metadata.resourceVersion
            ep = await client.update(ep)
            t0 = time.monotonic()
            last_hit, clean = t0, 0
            while clean < 50 and time.monotonic() - t0 < 10:
                sent = time.monotonic()
                ok, body = await http_get("127.0.0.1", node_port)
                if ok and body.endswith(victim):
                    last_hit, clean = sent, 0
                else:
                    clean += 1
            pickups.append((last_hit - t0) * 1000)
            cur = ep
            ep = endpoints(pods.pods)
            ep.metadata.resourceVersion = cur.metadata.resourceVersion
            ep = await client.update(ep)
            while True:     # back in: wait until it answers again
                ok, body = await http_get("127.0.0.1", node_port)
                if ok and body.endswith(victim):
                    break
        rows.append(Row("[proxy only] Endpoints write -> last request the dropped address got (max of 10)",
                        max(pickups), percentile(pickups, 50), "ms", "p50", target=("<=", 100.0), fmt="{:.1f}",
                        note="0: nothing sent after the write returned reached it"))
        await client.close()
    finally:
        if proxy is not None:
            proxy.terminate()
            try:
                proxy.wait(10)
            except subprocess.TimeoutExpired:
                proxy.kill()
        server.close()
        pods.close()
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.rollout", description=__doc__.split("\n\n")[0])
    p.add_argument("--runtime", default="both", choices=["process", "docker", "both"])
    p.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    p.add_argument("--keep", action="store_true", help="leave the clusters running")
    p.add_argument("--proxy-only", action="store_true",
                   help="measure the proxy alone: real httpd backends in network namespaces, the Endpoints "
                        "object written directly, no kubelet or controllers (root)")
    args = p.parse_args(argv)
    size = SIZES["quick" if args.quick else "full"]
    load0 = os.getloadavg()[0]

    def table(rows):
        print(f"\nrollout benchmark ({os.cpu_count()} CPUs; 1-min load average {load0:.1f} at start, "
              f"{os.getloadavg()[0]:.1f} at end)\n")
        print_table(rows)
    if args.proxy_only:
        table(asyncio.run(bench_proxy_only(size)))
        return 0
    runtimes = ["process", "docker"] if args.runtime == "both" else [args.runtime]
    rows: list[Row] = []
    failed = False
    for rt in runtimes:
        try:
            rows += asyncio.run(bench_runtime(rt, size, args.keep))
        except Exception as e:
            failed = True
            log(f"[{rt}] failed: {type(e).__name__}: {e}")
            rows.append(Row(f"[{rt}] benchmark", None, None, "", na=f"failed: {str(e)[:80]}"))
    table(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
