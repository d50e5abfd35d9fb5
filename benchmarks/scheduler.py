"""Scheduler benchmarks: throughput, packing quality and memory, against a real API server.

    python -m benchmarks.scheduler            # 10,000 pods on 1,000 and on 5,000 fake nodes, packing, memory
    python -m benchmarks.scheduler --quick    # a smoke run: 1,000 pods on 100 and 500 nodes

Fake nodes are Node objects created through the API with capacity and Ready=True; no kubelet runs.
Every measure is printed beside a baseline from the same run:

- throughput, pods/s from the first pod's creation to the last pod's bind (seen on a watch), beside
  the API's bare bind rate: the same pods created the same way and bound by a process that makes no
  decision (round-robin binds, no events, no record), on a fresh server with the same nodes. Creation
  and binding compete for the API server, so the same is measured again with a backlog: all pods
  pending before the binder starts, from the first bind to the last. Beside creation-to-bound: the
  create-only rate (nothing binding), the creation's own rate in the same run, and how long the last
  bind came after the last creation (small: the binder kept up, the create path set the pace);
- packing: nodes used by MostAllocated (our default) for a seeded random mix of pod sizes, beside the
  lower bound (total requests / node capacity, the larger over cpu and memory), and LeastAllocated;
- memory: the scheduler's peak RSS at 5,000 nodes and 10,000 pods, beside the bare binder's.

The scheduler runs as `python -m minik8s.scheduler`, its own process, as under `minictl up`. On a
small machine the API server, the scheduler and this driver share the CPUs; the table says how many.

`python -m benchmarks.scheduler bare-binder --server A --token T --nodes N --ready-file F` is the
baseline binder (used as a subprocess)."""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks.common import ROOT, Row, Server, log, make_pod, percentile, pod_template, print_table

PODS = 10_000
NODE_COUNTS = (1_000, 5_000)
CREATE_CONCURRENCY = 64
BIND_CONCURRENCY = 256
NODE_CPU, NODE_MEMORY, NODE_PODS = "32", "128Gi", "110"
PACK_NODE_CPU, PACK_NODE_MEMORY_GI = 8, 32
PACK_CPU = ("250m", "500m", "1", "2")
PACK_MEMORY = ("512Mi", "1Gi", "2Gi", "4Gi")


# ---------------------------------------------------------------- objects
def fake_node(name: str, cpu: str = NODE_CPU, memory: str = NODE_MEMORY):
    from minik8s.api import codec
    from minik8s.api.pb import core_pb2
    return codec.from_dict(core_pb2.Node, {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
        "status": {"capacity": {"cpu": cpu, "memory": memory, "pods": NODE_PODS},
                   "allocatable": {"cpu": cpu, "memory": memory, "pods": NODE_PODS},
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}})


async def create_all(client, objects, concurrency: int = CREATE_CONCURRENCY, sent: dict | None = None) -> None:
    it = iter(objects)

    async def worker():
        for obj in it:
            if sent is not None:
                sent[obj.metadata.name] = time.perf_counter()
            await client.create(obj)
    await asyncio.gather(*(worker() for _ in range(concurrency)))


class BoundWatch:
    """Counts pods as they are bound, from a watch of the driver's own."""

    def __init__(self, client, expect: set[str], on_first=None):
        self.client, self.expect = client, set(expect)
        self.on_first = on_first        # called at the first bind seen
        self.bound: dict[str, float] = {}
        self.done = asyncio.Event()
        self._task = None

    async def start(self) -> None:
        rv = (await self.client.list("Pod")).resource_version
        self._task = asyncio.create_task(self._run(rv))

    async def _run(self, rv: str) -> None:
        async for ev in self.client.watch("Pod", resource_version=rv):
            p = ev.object
            name = p.metadata.name
            if p.spec.nodeName and name in self.expect and name not in self.bound:
                if not self.bound and self.on_first is not None:
                    self.on_first()
                self.bound[name] = time.perf_counter()
                if len(self.bound) == len(self.expect):
                    self.done.set()
                    return

    async def wait(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.done.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    def stop(self) -> None:
        if self._task:
            self._task.cancel()


# ---------------------------------------------------------------- processes
def _rss(pid: int) -> int:
    import psutil
    try:
        return psutil.Process(pid).memory_info().rss
    except psutil.Error:
        return 0


def _cpu(pid: int) -> float:
    import psutil
    try:
        t = psutil.Process(pid).cpu_times()
        return t.user + t.system
    except psutil.Error:
        return 0.0


class Proc:
    """A component subprocess whose peak RSS is sampled while it runs."""

    def __init__(self, argv: list[str], log_path: str):
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self._log = open(log_path, "ab")
        self.log_path = log_path
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.peak_rss = 0

    def sample(self) -> None:
        self.peak_rss = max(self.peak_rss, _rss(self.proc.pid))

    def cpu_seconds(self) -> float:
        return _cpu(self.proc.pid)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


async def _sampling(procs: list[Proc], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for p in procs:
            p.sample()
        try:
            await asyncio.wait_for(stop.wait(), 0.25)
        except asyncio.TimeoutError:
            pass


def start_scheduler(server: Server, workdir: str, config: str | None = None, extra: tuple[str, ...] = ()) -> Proc:
    from minik8s.client.config import ClientConfig
    home = os.path.join(workdir, "home")
    os.makedirs(home, exist_ok=True)
    ClientConfig(server=server.address, token="").save(home)
    token_file = os.path.join(home, "scheduler.token")
    with open(token_file, "w") as f:
        f.write(server.proc.tokens["scheduler"])
    argv = [sys.executable, "-m", "minik8s.scheduler", "--home", home, "--token-file", token_file]
    if config:
        argv += ["--config", config]
    return Proc(argv + list(extra), os.path.join(workdir, "scheduler.log"))


def start_bare_binder(server: Server, workdir: str, nodes: int) -> tuple[Proc, str]:
    ready = os.path.join(workdir, "binder.ready")
    if os.path.exists(ready):
        os.unlink(ready)
    argv = [sys.executable, "-m", "benchmarks.scheduler", "bare-binder", "--server", server.address,
            "--token", server.proc.tokens["scheduler"], "--nodes", str(nodes), "--ready-file", ready]
    return Proc(argv, os.path.join(workdir, "binder.log")), ready


async def wait_file(path: str, proc: Proc, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if not proc.alive():
            raise RuntimeError(f"process exited early: see {proc.log_path}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        await asyncio.sleep(0.05)


async def wait_scheduling(client, proc: Proc, timeout: float = 300) -> None:
    """The scheduler is up and synced once it binds a probe pod."""
    probe = make_pod(pod_template(), "warmup-probe")
    await client.create(probe)
    deadline = time.monotonic() + timeout
    while True:
        p = await client.get("Pod", "warmup-probe")
        if p.spec.nodeName:
            await client.delete("Pod", "warmup-probe", grace_period=0)
            return
        if not proc.alive():
            raise RuntimeError(f"scheduler exited: see {proc.log_path}")
        if time.monotonic() > deadline:
            raise TimeoutError("the scheduler did not bind the probe pod")
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------- the bare binder (baseline process)
async def bare_binder(server: str, token: str, nodes: int, ready_file: str) -> None:
    """Bind every pending pod round-robin to node-00000.. as fast as the API takes it: no decision."""
    from minik8s.client.aio import AsyncClient
    client = AsyncClient(server, token)
    names = [node_name(i) for i in range(nodes)]
    sem = asyncio.Semaphore(BIND_CONCURRENCY)
    tasks: set[asyncio.Task] = set()
    n = 0

    async def bind(p, node):
        try:
            await client.bind(p.metadata.namespace, p.metadata.name, node, p.metadata.uid)
        finally:
            sem.release()

    async def start(p):
        nonlocal n
        await sem.acquire()
        task = asyncio.create_task(bind(p, names[n % nodes]))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1

    listed = await client.list("Pod")
    with open(ready_file, "w") as f:
        f.write("ready")
    for p in listed.items:
        if not p.spec.nodeName:
            await start(p)
    async for ev in client.watch("Pod", resource_version=listed.resource_version):
        if ev.type == "ADDED" and not ev.object.spec.nodeName:
            await start(ev.object)


def node_name(i: int) -> str:
    return f"node-{i:05d}"


# ---------------------------------------------------------------- measures
async def _nodes(client, count: int, **kw) -> None:
    await create_all(client, (fake_node(node_name(i), **kw) for i in range(count)))


async def throughput(count: int, pods: int, mode: str, workdir: str, backlog: bool = False) -> dict:
    """One run on a fresh server with `count` nodes: `mode` is "bare" (the bare binder), "scheduler", or
    "scheduler-no-record" (the scheduler without the decision record).

    Without `backlog` the binder is up before the pods are created and the rate runs from the first
    creation to the last bind (creation and binding compete for the API server). With `backlog` all
    pods are pending before the binder starts, and the rate runs from the first bind to the last; the
    binder's CPU is counted from the first bind too, so its start-up (imports, the first list) is left
    out, and the creation alone gives the create-only rate (nothing binding meanwhile). Without
    `backlog`, `create_rate` is the creation's own rate in the same run (binding meanwhile) and
    `trail` how long the last bind came after the last creation: small when the binder keeps up and
    the create path sets the pace."""
    from minik8s.client.aio import AsyncClient
    with Server() as server:
        client = AsyncClient(server.address, server.token, timeout=120)
        try:
            await _nodes(client, count)
            template = pod_template()
            objs = [make_pod(template, f"pod-{i:05d}") for i in range(pods)]
            first_bind_cpu: list[tuple[float, float]] = []
            watch = BoundWatch(client, {o.metadata.name for o in objs},
                               on_first=lambda: first_bind_cpu.append((proc.cpu_seconds(), server.cpu_seconds())))
            sent: dict[str, float] = {}
            if backlog:
                c0 = time.perf_counter()
                await create_all(client, objs, sent=sent)
                create_rate = pods / (time.perf_counter() - c0)
                await watch.start()
            if mode == "bare":
                proc, ready = start_bare_binder(server, workdir, count)
                await wait_file(ready, proc)
            else:
                extra = ("--no-decision-record",) if mode == "scheduler-no-record" else ()
                proc = start_scheduler(server, workdir, extra=extra)
                if not backlog:
                    await wait_scheduling(client, proc)
            stop = asyncio.Event()
            sampler = asyncio.create_task(_sampling([proc], stop))
            cpu0 = (proc.cpu_seconds(), server.cpu_seconds())
            t0 = time.perf_counter()
            if not backlog:
                await watch.start()
                c0 = time.perf_counter()
                await create_all(client, objs, sent=sent)
                created = time.perf_counter()
                create_rate = pods / (created - c0)
            ok = await watch.wait(timeout=max(120.0, pods / 50))
            stop.set()
            await sampler
            watch.stop()
            if not ok:
                raise RuntimeError(f"{mode}: only {len(watch.bound)}/{pods} pods bound; see {proc.log_path}")
            t1 = max(watch.bound.values())
            trail = 0.0 if backlog else t1 - created
            if backlog:
                t0 = min(watch.bound.values())
                cpu0 = first_bind_cpu[0]
            cpu1 = (proc.cpu_seconds(), server.cpu_seconds())
            latencies = [watch.bound[n] - sent[n] for n in watch.bound]
            proc.stop()
            out = {"rate": pods / (t1 - t0), "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
                   "rss": proc.peak_rss, "cpu": cpu1[0] - cpu0[0], "api_cpu": cpu1[1] - cpu0[1], "seconds": t1 - t0,
                   "create_rate": create_rate, "trail": trail}
            what = "backlog" if backlog else "creation-to-bound"
            log(f"{mode}, {what}, {count} nodes: {out['rate']:.0f} pods/s over {out['seconds']:.1f}s; cpu: {mode} "
                f"{out['cpu']:.1f}s, apiserver {out['api_cpu']:.1f}s; peak rss {out['rss'] / 2**20:.0f} MiB")
            return out
        finally:
            await client.close()


def _median(results: list[dict]) -> dict:
    """Each figure's median over the runs (peak memory: the largest)."""
    out = {k: statistics.median(r[k] for r in results) for k in results[0]}
    out["rss"] = max(r["rss"] for r in results)
    return out


def pack_mix(n: int, seed: int = 4) -> list[tuple[str, str]]:
    rnd = random.Random(seed)
    return [(rnd.choice(PACK_CPU), rnd.choice(PACK_MEMORY)) for _ in range(n)]


def lower_bound(mix: list[tuple[str, str]]) -> int:
    from minik8s.api.quantity import bytes_value, cpu_millis
    cpu = sum(cpu_millis(c) for c, _ in mix)
    mem = sum(bytes_value(m) for _, m in mix)
    return max(math.ceil(cpu / (PACK_NODE_CPU * 1000)), math.ceil(mem / (PACK_NODE_MEMORY_GI * 2**30)))


async def packing(strategy: str, nodes: int, mix: list[tuple[str, str]], workdir: str) -> int:
    """Nodes holding at least one pod once the whole mix is scheduled with `strategy`."""
    from minik8s.client.aio import AsyncClient
    config = os.path.join(workdir, f"{strategy}.yaml")
    with open(config, "w") as f:
        f.write("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n"
                "- schedulerName: default-scheduler\n  pluginConfig:\n  - name: NodeResourcesFit\n    args:\n"
                f"      scoringStrategy:\n        type: {strategy}\n")
    with Server() as server:
        client = AsyncClient(server.address, server.token, timeout=120)
        try:
            await _nodes(client, nodes, cpu=str(PACK_NODE_CPU), memory=f"{PACK_NODE_MEMORY_GI}Gi")
            proc = start_scheduler(server, workdir, config)
            await wait_scheduling(client, proc)
            template = pod_template()
            objs = []
            for i, (cpu, mem) in enumerate(mix):
                p = make_pod(template, f"pack-{i:05d}")
                res = p.spec.containers[0].resources
                res.requests["cpu"], res.requests["memory"] = cpu, mem
                res.limits["cpu"], res.limits["memory"] = cpu, mem
                objs.append(p)
            watch = BoundWatch(client, {o.metadata.name for o in objs})
            await watch.start()
            await create_all(client, objs, concurrency=8)
            ok = await watch.wait(timeout=300)
            watch.stop()
            proc.stop()
            if not ok:
                raise RuntimeError(f"packing ({strategy}): {len(watch.bound)}/{len(objs)} bound; see {proc.log_path}")
            used = {p.spec.nodeName for p in (await client.list("Pod")).items if p.metadata.name.startswith("pack-")}
            log(f"packing {strategy}: {len(used)} nodes used for {len(mix)} pods")
            return len(used)
        finally:
            await client.close()


async def run(args) -> int:
    workdir = tempfile.mkdtemp(prefix="minik8s-bench-sched-")
    pods = args.pods or (1_000 if args.quick else PODS)
    counts = args.nodes or ((100, 500) if args.quick else NODE_COUNTS)
    repeat = args.repeat or (1 if args.quick else 3)
    load_before = os.getloadavg()[1]
    rows = []
    try:
        rss = None
        for count in counts:
            runs: dict[tuple[str, bool], list[dict]] = {}
            for _ in range(repeat):      # interleaved, so drift on a shared machine hits every mode alike
                for mode, backlog in (("bare", False), ("scheduler", False), ("scheduler-no-record", False),
                                      ("bare", True), ("scheduler", True)):
                    runs.setdefault((mode, backlog), []).append(
                        await throughput(count, pods, mode, workdir, backlog=backlog))
            bare, sched, no_record = (_median(runs[(m, False)]) for m in ("bare", "scheduler", "scheduler-no-record"))
            bare_backlog, sched_backlog = (_median(runs[(m, True)]) for m in ("bare", "scheduler"))
            target = 800 if count >= 5_000 else 1_000
            rows.append(Row(f"throughput, {pods:,} pods on {count:,} nodes, creation to bound (pods/s)", sched["rate"],
                            bare["rate"], "", baseline_label="bare bind rate", target=(">=", target), fmt="{:,.0f}"))
            rows.append(Row("  the same, as a share of the bare bind rate", sched["rate"], bare["rate"], "",
                            baseline_label="bare bind rate", target=(">=", 0.8), relative=True, fmt="{:,.0f}"))
            rows.append(Row("  creation alone, nothing binding (pods/s)", bare_backlog["create_rate"], None, "",
                            fmt="{:,.0f}", note="the create path's limit on the rows above"))
            rows.append(Row("  creation while the scheduler binds (pods/s)", sched["create_rate"], bare["create_rate"],
                            "", baseline_label="while the bare binder binds", fmt="{:,.0f}"))
            rows.append(Row("  last bind after the last creation (ms)", sched["trail"] * 1000, bare["trail"] * 1000, "",
                            baseline_label="bare binder", fmt="{:,.0f}", note="small: the binder kept up"))
            rows.append(Row("  p99 creation-to-bound latency (ms)", sched["p99"] * 1000, bare["p99"] * 1000, "",
                            baseline_label="bare binder", fmt="{:,.0f}"))
            rows.append(Row("  the same without the decision record (pods/s)", no_record["rate"], bare["rate"], "",
                            baseline_label="bare bind rate", target=(">=", 0.8), relative=True, fmt="{:,.0f}"))
            rows.append(Row(f"throughput, backlog of {pods:,} pending pods, {count:,} nodes (pods/s)",
                            sched_backlog["rate"], bare_backlog["rate"], "", baseline_label="bare bind rate",
                            target=(">=", target), fmt="{:,.0f}"))
            rows.append(Row("  the same, as a share of the bare bind rate", sched_backlog["rate"],
                            bare_backlog["rate"], "", baseline_label="bare bind rate", target=(">=", 0.85),
                            relative=True, fmt="{:,.0f}"))
            rows.append(Row("  scheduler cpu per pod, backlog, from the first bind (us)", sched_backlog["cpu"] / pods * 1e6,
                            bare_backlog["cpu"] / pods * 1e6, "", baseline_label="bare binder", fmt="{:,.0f}"))
            rss = (count, pods, max(r["rss"] for m in ("scheduler", "scheduler-no-record") for b in (False, True)
                                    for r in runs.get((m, b), ())),
                   max(r["rss"] for b in (False, True) for r in runs[("bare", b)]))
        if not args.skip_packing:
            nodes = 20 if args.quick else 100
            mix = pack_mix(int(nodes * 6.5))
            bound = lower_bound(mix)
            most = await packing("MostAllocated", nodes, mix, workdir)
            least = await packing("LeastAllocated", nodes, mix, workdir)
            label = f"{len(mix)} mixed pods, {nodes} nodes of {PACK_NODE_CPU} cpu/{PACK_NODE_MEMORY_GI}Gi"
            rows.append(Row(f"packing: nodes used, MostAllocated ({label})", most, bound, "",
                            baseline_label="lower bound", target=("<=", 1.1), relative=True, fmt="{:,.0f}"))
            rows.append(Row("packing: nodes used, LeastAllocated", least, bound, "", baseline_label="lower bound",
                            fmt="{:,.0f}", note="spreads (upstream's default)"))
        if rss:
            count, n, sched_rss, bare_rss = rss
            rows.append(Row(f"scheduler memory, {count:,} nodes + {n:,} pods (MiB)", sched_rss / 2**20,
                            bare_rss / 2**20, "", baseline_label="bare binder", fmt="{:,.0f}"))
    except Exception as e:
        log(f"benchmark failed: {e} (work files kept in {workdir})")
        raise
    print(f"\nScheduler benchmark: {os.cpu_count()} CPUs shared by the API server, the scheduler and this driver "
          f"(5-minute load average {load_before:.1f} before, {os.getloadavg()[1]:.1f} after: anything above "
          f"about 3 means other work shared the CPUs too); throughputs are the median of {repeat} interleaved runs, "
          f"memory the peak\n")
    print_table(rows)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scheduler")
    sub = p.add_subparsers(dest="cmd")
    b = sub.add_parser("bare-binder", help="the baseline binder process")
    b.add_argument("--server", required=True)
    b.add_argument("--token", required=True)
    b.add_argument("--nodes", type=int, required=True)
    b.add_argument("--ready-file", required=True)
    p.add_argument("--quick", action="store_true", help="a smoke run: 1,000 pods on 100 and 500 nodes")
    p.add_argument("--pods", type=int)
    p.add_argument("--nodes", type=lambda s: tuple(int(x) for x in s.split(",")), help="node counts, e.g. 1000,5000")
    p.add_argument("--skip-packing", action="store_true")
    p.add_argument("--repeat", type=int, help="runs of each throughput measure, the median reported (default 3; "
                                              "--quick: 1)")
    args = p.parse_args(argv)
    if args.cmd == "bare-binder":
        try:
            asyncio.run(bare_binder(args.server, args.token, args.nodes, args.ready_file))
        except KeyboardInterrupt:
            pass
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
