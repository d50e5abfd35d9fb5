"""Fake nodes at scale and the control plane's memory, against a real API server.

    python -m benchmarks.fake_nodes            # 1,000 idle fake nodes for 60 s, then 10,000 pods on them
    python -m benchmarks.fake_nodes --quick    # 200 nodes for 20 s, then 1,000 pods
    python -m benchmarks.fake_nodes --nodes 5000 --window 30 --pods 0     # the idle target itself

The control plane runs as `minictl up` runs it: the API server, the scheduler and the controller
manager (every controller), each its own process. The fake nodes run in one more process (`host`
below: FakeNodeHost, one shared channel and pod informer, a Kubelet with the fake runtime per node).
Every figure is printed beside a baseline from the same run:

- idle fake nodes: the host's CPU over a quiet window (leases, node status, relists, every loop a
  kubelet runs) as a share of one core, per 1,000 nodes and for 5,000 (the target: under 10% of one
  core, as KWOK runs thousands of nodes in one process). Two baselines, each a process holding the
  same node identities that does nothing but renew each node's Lease on the kubelet's period:
  `bare-heartbeats` with one Update call per renewal (what a kubelet of its own does: the floor
  before renewals were batched), and `bare-batched` through the host's own batcher (one UpdateLeases
  call per quarter second: the cost of the writes a hosted node cannot avoid). The API server's CPU
  for the same windows is shown beside;
- lease renewals: how evenly they arrive, as the renewals in the busiest 100 ms of the window (seen
  on a watch of kube-node-lease) beside the same for the bare process, which paces them evenly (a
  watch delivers a commit batch at once, so even that is above the mean); a herd puts all N in one;
- memory per fake node: the host's RSS growth while it builds and starts its nodes, per node, beside
  the bare heartbeat process's growth per node;
- control plane memory: the RSS of the API server, the scheduler and the controller manager, idle
  (no nodes) and loaded (the fake nodes plus the pods, every pod bound), beside three bare Python
  processes that import grpc and protobuf (the interpreter's floor). k3s's published figure is in
  the notes, as a reference only: it also runs a kubelet, containerd and packaged add-ons.

`python -m benchmarks.fake_nodes host|bare-heartbeats|bare-batched --server A --tokens F --home H --ready-file R`
are the node processes (used as subprocesses)."""
from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchmarks.common import Row, Server, log, make_pod, pod_template, print_table
from benchmarks.scheduler import BoundWatch, Proc, create_all, start_scheduler, wait_file

LEASE_NAMESPACE = "kube-node-lease"
LEASE_PERIOD = 10.0             # the kubelet's renewal period (leaseDurationSeconds 40 / 4)
KWOK_TARGET = 0.10              # of one core, for 5,000 idle nodes
K3S_NOTE = ("k3s publishes 1,428 MB for a server with one agent and 1,596 MB with a workload (Kine/SQLite, "
            "docs.k3s.io/reference/resource-profiling; k3s' figure also holds a kubelet and containerd)")


def node_names(n: int) -> list[str]:
    return [f"node-{i}" for i in range(1, n + 1)]


def _rss() -> int:
    import psutil
    return psutil.Process().memory_info().rss


# ---------------------------------------------------------------- the node processes
async def host(server: str, tokens: dict[str, str], home: str, ready_file: str) -> None:
    """The fake nodes, as FakeCluster starts them; writes its RSS before and after to `ready_file`."""
    from minik8s.client.aio import AsyncClient
    from kubelet.fakenodes import FakeNodeHost
    names = sorted(tokens)
    cluster_file = os.path.join(home, "cluster.yaml")
    with open(cluster_file, "w") as f:
        f.write("runtime: fake\nnodes:\n" + "".join(f"- {{name: {n}, cpu: '16'}}\n" for n in names)
                + "kubelet: {metricsPeriod: 3600}\n")
    before = _rss()
    nodes = FakeNodeHost(home, names, cluster_file, base_client=AsyncClient(server, tokens[names[0]]),
                         tokens=tokens)
    await nodes.start()
    _ready(ready_file, before)
    await _until_terminated()
    await nodes.stop()


async def bare_heartbeats(server: str, tokens: dict[str, str], home: str, ready_file: str,
                          batched: bool = False) -> None:
    """Each node's Lease renewed every LEASE_PERIOD, the renewals spread over the period; nothing else.
    `batched`: each renewal through the fake node host's batcher, as its nodes' are."""
    from minik8s.api.clock import Clock, rfc3339_micro
    from minik8s.api.errors import NotFound
    from minik8s.api.pb import coordination_pb2
    from minik8s.client.aio import AsyncClient
    from kubelet.lease_batch import LeaseBatcher
    names = sorted(tokens)
    before = _rss()
    base = AsyncClient(server, tokens[names[0]])
    clients = {n: base.with_token(tokens[n]) for n in names}
    batcher = LeaseBatcher(base)
    updates = {n: batcher.updater(tokens[n]) if batched else clients[n].update for n in names}
    clock = Clock()

    async def renew(name: str, lease):
        lease.spec.renewTime = rfc3339_micro(clock.now())
        return await updates[name](lease)

    leases = {}
    for name in names:
        try:
            leases[name] = await clients[name].get("Lease", name, LEASE_NAMESPACE)
        except NotFound:
            lease = coordination_pb2.Lease()
            lease.metadata.name, lease.metadata.namespace = name, LEASE_NAMESPACE
            lease.spec.holderIdentity, lease.spec.leaseDurationSeconds = name, 40
            lease.spec.renewTime = rfc3339_micro(clock.now())
            leases[name] = await clients[name].create(lease)
    _ready(ready_file, before)

    async def renew_one(name: str) -> None:
        try:
            leases[name] = await renew(name, leases[name])
        except Exception as e:              # a conflict or a slow server: the next period tries again
            log(f"renewing {name}: {e}")

    async def loop():
        step = LEASE_PERIOD / len(names)
        pending: set[asyncio.Task] = set()
        start = time.monotonic()
        i = 0
        while True:         # each renewal at its own slot, whether or not the one before has come back
            for name in names:
                task = asyncio.create_task(renew_one(name))
                pending.add(task)
                task.add_done_callback(pending.discard)
                i += 1
                await asyncio.sleep(max(0.0, start + i * step - time.monotonic()))
    task = asyncio.create_task(loop())
    await _until_terminated()
    task.cancel()
    await batcher.stop()
    await base.close()


def _ready(path: str, before: int) -> None:
    with open(path + ".tmp", "w") as f:
        json.dump({"rss_before": before, "rss_after": _rss()}, f)
    os.replace(path + ".tmp", path)


async def _until_terminated() -> None:
    import signal
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def start_nodes(role: str, server: Server, names: list[str], workdir: str) -> tuple[Proc, str]:
    home = os.path.join(workdir, role)
    os.makedirs(home, exist_ok=True)
    tokens_file = os.path.join(home, "tokens.json")
    with open(tokens_file, "w") as f:
        json.dump({n: server.proc.tokens[n] for n in names}, f)
    ready = os.path.join(home, "ready.json")
    argv = [sys.executable, "-m", "benchmarks.fake_nodes", role, "--server", server.address, "--tokens", tokens_file,
            "--home", home, "--ready-file", ready]
    return Proc(argv, os.path.join(home, f"{role}.log")), ready


# ---------------------------------------------------------------- the control plane
def start_controller_manager(server: Server, workdir: str) -> Proc:
    home = os.path.join(workdir, "home")        # start_scheduler wrote its config.yaml
    token_file = os.path.join(home, "controller-manager.token")
    with open(token_file, "w") as f:
        f.write(server.proc.tokens["controller-manager"])
    return Proc([sys.executable, "-m", "minik8s.controllers", "--home", home, "--token-file", token_file,
                 "--leader-elect", "false"], os.path.join(workdir, "controller-manager.log"))


def bare_python_rss() -> int:
    """RSS of a Python process that imported grpc and protobuf and does nothing."""
    code = ("import grpc, google.protobuf, psutil, os; import grpc.aio; "
            "print(psutil.Process(os.getpid()).memory_info().rss)")
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


class Window:
    """CPU seconds of some processes over a quiet window, and the lease renewals seen in it."""

    def __init__(self, client, pids: dict[str, int]):
        self.client, self.pids = client, pids
        self.arrivals: list[float] = []
        self.expired = 0                # watches cut off for falling behind (their events are not counted)

    async def measure(self, seconds: float) -> dict[str, float]:
        import psutil
        procs = {k: psutil.Process(p) for k, p in self.pids.items()}

        def cpu():
            return {k: sum(p.cpu_times()[:2]) for k, p in procs.items()}
        rv = (await self.client.list("Lease", LEASE_NAMESPACE)).resource_version
        task = asyncio.create_task(self._watch(rv))
        await asyncio.sleep(1.0)
        c0, t0 = cpu(), time.monotonic()
        self.arrivals.clear()
        await asyncio.sleep(seconds)
        c1, t1 = cpu(), time.monotonic()
        task.cancel()
        arrivals = [a - t0 for a in self.arrivals if a <= t1]
        out = {k: (c1[k] - c0[k]) / (t1 - t0) for k in procs}
        out["renewals_per_s"] = len(arrivals) / (t1 - t0)
        buckets = [0] * max(1, int((t1 - t0) * 10))
        for a in arrivals:
            buckets[min(int(a * 10), len(buckets) - 1)] += 1
        mean = sum(buckets) / len(buckets)
        out["peak_bucket"], out["mean_bucket"] = max(buckets), mean
        out["oldest_renewal"] = await self._oldest_renewal()
        out["watch_expired"] = self.expired
        return out

    async def _oldest_renewal(self) -> float:
        """Seconds since the least recent renewal of any lease, now: above the renewal period, some
        node is late (the node lifecycle controller calls a node Unknown at 40 s)."""
        from minik8s.api.clock import parse_time
        leases = await self.client.list("Lease", LEASE_NAMESPACE)
        return max((time.time() - parse_time(lease.spec.renewTime) for lease in leases), default=0.0)

    async def _watch(self, rv: str) -> None:
        from minik8s.api.errors import Expired
        while True:
            try:
                async for ev in self.client.watch("Lease", namespace=LEASE_NAMESPACE, resource_version=rv):
                    if ev.type == "MODIFIED":
                        self.arrivals.append(time.monotonic())
                return
            except asyncio.CancelledError:
                return
            except Expired:         # this driver fell behind: the count goes on from the current list
                self.expired += 1
                rv = (await self.client.list("Lease", LEASE_NAMESPACE)).resource_version


async def run(args) -> int:
    from minik8s.client.aio import AsyncClient
    n = args.nodes or (200 if args.quick else 1_000)
    pods = args.pods if args.pods is not None else (1_000 if args.quick else 10_000)
    window = args.window or (20.0 if args.quick else 60.0)
    names = node_names(n)
    workdir = tempfile.mkdtemp(prefix="minik8s-bench-fake-")
    load_before = os.getloadavg()[0]
    floor = bare_python_rss()
    rows: list[Row] = []
    with Server(nodes=tuple(names)) as server:
        admin = AsyncClient(server.address, server.token, timeout=120)
        scheduler = start_scheduler(server, workdir)
        manager = start_controller_manager(server, workdir)
        plane = {"apiserver": server.pid, "scheduler": scheduler.proc.pid,
                 "controller-manager": manager.proc.pid}
        hosts = []          # every node process started, stopped in `finally` should a step fail
        try:
            await asyncio.sleep(args.settle)
            idle_rss = {k: _proc_rss(p) for k, p in plane.items()}
            log(f"control plane idle: {_mib(idle_rss)}")

            bare, ready = start_nodes("bare-heartbeats", server, names, workdir)
            hosts.append(bare)
            await wait_file(ready, bare, timeout=600)
            bare_mem = _read_json(ready)
            await asyncio.sleep(args.settle)
            base = await Window(admin, {"nodes": bare.proc.pid, **plane}).measure(window)
            bare.stop()
            log(f"bare heartbeats, {n} nodes: {_cpu_text(base)}")

            bare, ready = start_nodes("bare-batched", server, names, workdir)
            hosts.append(bare)
            await wait_file(ready, bare, timeout=600)
            await asyncio.sleep(args.settle)
            batched = await Window(admin, {"nodes": bare.proc.pid, **plane}).measure(window)
            bare.stop()
            log(f"bare batched heartbeats, {n} nodes: {_cpu_text(batched)}")

            nodes, ready = start_nodes("host", server, names, workdir)
            hosts.append(nodes)
            await wait_file(ready, nodes, timeout=900)
            host_mem = _read_json(ready)
            await asyncio.sleep(args.settle + LEASE_PERIOD)
            idle = await Window(admin, {"nodes": nodes.proc.pid, **plane}).measure(window)
            log(f"fake nodes, {n} nodes: {_cpu_text(idle)}")

            loaded_rss = None
            if pods:
                template = pod_template()
                objs = [make_pod(template, f"load-{i:05d}") for i in range(pods)]
                watch = BoundWatch(admin, {o.metadata.name for o in objs})
                await watch.start()
                await create_all(admin, objs)
                if not await watch.wait(timeout=max(300.0, pods / 20)):
                    raise RuntimeError(f"only {len(watch.bound)}/{pods} pods bound")
                watch.stop()
                await asyncio.sleep(args.settle)
                loaded_rss = {k: _proc_rss(p) for k, p in plane.items()}
                log(f"control plane with {n} nodes and {pods} pods: {_mib(loaded_rss)}")
        finally:
            for host in hosts:
                host.stop()
            scheduler.stop()
            manager.stop()
            await admin.close()

    per_k = 1000 / n
    rows.append(Row(f"idle fake nodes: host cpu, {n:,} nodes (% of one core)", idle["nodes"] * 100,
                    base["nodes"] * 100, "", baseline_label="bare lease renewals", fmt="{:,.1f}"))
    rows.append(Row("  per 1,000 idle nodes (% of one core)", idle["nodes"] * 100 * per_k,
                    base["nodes"] * 100 * per_k, "", baseline_label="bare lease renewals", fmt="{:,.2f}"))
    rows.append(Row("  5,000 idle nodes, from the above (% of one core)", idle["nodes"] * 100 * per_k * 5,
                    base["nodes"] * 100 * per_k * 5, "", baseline_label="bare lease renewals",
                    target=("<=", KWOK_TARGET * 100), fmt="{:,.1f}"))
    rows.append(Row("  the same beside batched bare renewals (% of one core)", idle["nodes"] * 100 * per_k,
                    batched["nodes"] * 100 * per_k, "", baseline_label="bare batched renewals", fmt="{:,.2f}",
                    note="per 1,000 nodes"))
    rows.append(Row("  api server cpu meanwhile (% of one core)", idle["apiserver"] * 100, base["apiserver"] * 100,
                    "", baseline_label="bare lease renewals", fmt="{:,.1f}"))
    rows.append(Row("  api server cpu beside batched bare renewals (% of one core)", idle["apiserver"] * 100,
                    batched["apiserver"] * 100, "", baseline_label="bare batched renewals", fmt="{:,.1f}"))
    rows.append(Row("  host cpu per lease renewal seen (us)", idle["nodes"] / max(idle["renewals_per_s"], 1e-9) * 1e6,
                    base["nodes"] / max(base["renewals_per_s"], 1e-9) * 1e6, "", baseline_label="bare lease renewals",
                    fmt="{:,.0f}", note="all of an idle node's work, per renewal; batched bare: "
                    f"{batched['nodes'] / max(batched['renewals_per_s'], 1e-9) * 1e6:,.0f} us"))
    rows.append(Row("lease renewals/s seen", idle["renewals_per_s"], n / LEASE_PERIOD, "",
                    baseline_label="nodes / renew period", fmt="{:,.0f}"))
    rows.append(Row("  renewals in the busiest 100 ms", idle["peak_bucket"], base["peak_bucket"], "",
                    baseline_label="bare, evenly paced", fmt="{:,.0f}",
                    note=f"mean {idle['mean_bucket']:.1f}; a herd: {n:,}"))
    rows.append(Row("  oldest lease renewal at the window's end (s)", idle["oldest_renewal"], base["oldest_renewal"],
                    "", baseline_label="bare lease renewals", fmt="{:,.1f}",
                    note=f"renew period {LEASE_PERIOD:.0f} s, lease 40 s; "
                    f"batched bare: {batched['oldest_renewal']:.1f}"))
    rows.append(Row("memory per fake node (KiB)", (host_mem["rss_after"] - host_mem["rss_before"]) / n / 1024,
                    (bare_mem["rss_after"] - bare_mem["rss_before"]) / n / 1024, "",
                    baseline_label="bare lease holder", fmt="{:,.0f}"))
    rows.append(Row("control plane RSS, idle (MB)", sum(idle_rss.values()) / 1e6, 3 * floor / 1e6, "",
                    baseline_label="3 bare grpc processes", target=("<=", 150), fmt="{:,.0f}",
                    note=_mib(idle_rss)))
    if loaded_rss:
        rows.append(Row(f"control plane RSS, {n:,} fake nodes + {pods:,} pods (MB)", sum(loaded_rss.values()) / 1e6,
                        3 * floor / 1e6, "", baseline_label="3 bare grpc processes", target=("<=", 500),
                        fmt="{:,.0f}", note=_mib(loaded_rss)))
    print(f"\nFake node benchmark: {os.cpu_count()} CPUs shared by the API server, the scheduler, the controller "
          f"manager, the node process and this driver (1-minute load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after); CPU over a {window:.0f} s quiet window, memory as RSS.\n")
    print_table(rows)
    print(f"\nReference: {K3S_NOTE}.")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _proc_rss(pid: int) -> int:
    import psutil
    return psutil.Process(pid).memory_info().rss


def _mib(rss: dict[str, int]) -> str:
    return ", ".join(f"{k} {v / 1e6:.0f}" for k, v in rss.items())


def _cpu_text(w: dict) -> str:
    return (f"node process {w['nodes'] * 100:.1f}% of a core, apiserver {w['apiserver'] * 100:.1f}%, "
            f"{w['renewals_per_s']:.0f} renewals/s, busiest 100 ms {w['peak_bucket']} vs mean {w['mean_bucket']:.1f}, "
            f"oldest renewal {w['oldest_renewal']:.1f} s ago, lease watch cut off {w['watch_expired']} times")


def _read_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fake_nodes")
    sub = p.add_subparsers(dest="cmd")
    for role in ("host", "bare-heartbeats", "bare-batched"):
        r = sub.add_parser(role)
        r.add_argument("--server", required=True)
        r.add_argument("--tokens", required=True, help="JSON file: node name -> token")
        r.add_argument("--home", required=True)
        r.add_argument("--ready-file", required=True)
    p.add_argument("--quick", action="store_true", help="a smoke run: 200 nodes, a 20 s window, 1,000 pods")
    p.add_argument("--nodes", type=int)
    p.add_argument("--pods", type=int, help="pods for the loaded memory figure (0: skip it)")
    p.add_argument("--window", type=float, help="seconds of the quiet window")
    p.add_argument("--settle", type=float, default=5.0, help="seconds to wait before each measure")
    args = p.parse_args(argv)
    if args.cmd in ("host", "bare-heartbeats", "bare-batched"):
        with open(args.tokens) as f:
            tokens = json.load(f)
        role = host if args.cmd == "host" else \
            functools.partial(bare_heartbeats, batched=args.cmd == "bare-batched")
        try:
            asyncio.run(role(args.server, tokens, args.home, args.ready_file))
        except KeyboardInterrupt:
            pass
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
