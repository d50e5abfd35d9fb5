"""Job controller throughput: N one-pod Jobs from create to all Complete, beside the ReplicaSet
controller creating the same number of pods in the same run.

    .venv/bin/python -m benchmarks.jobs [--jobs N]

One real API server (benchmarks.common.Server); in this process a controller manager running the
`job` and `replicaset` controllers, and a pod completer that plays a fake node whose containers exit
0 at once (every new pod is written Succeeded, or Running for the ReplicaSet's pods, as the fake
runtime would report them). Measured with perf_counter on this process's watch:

- jobs: N Jobs (completions 1) created with up to 64 creates in flight; from the first create to
  the last Job showing the Complete condition. Jobs per second.
- baseline: one ReplicaSet of N replicas; from its create to N of its pods seen Running. Pods per
  second. Each Job is one pod plus its status bookkeeping (finalizer, uncounted, counts, conditions),
  so the target is half the ReplicaSet's rate or better.

The log archive (on by default, `--no-archive` skips it; in this process a real kubelet, node-1, on the
process runtime):

- chatty container: a container writing ARCHIVE_BYTES of 100-byte lines as fast as it can, timed by
  the container itself; bytes/s with the node's log shipper on, beside the same container with it off.
  Target 0.8x or better.
- node killed mid-stream: a container printing a numbered line every millisecond; after 3 s the kubelet
  dies (its tasks cancelled, nothing flushed) and the container is stopped; the lines in the node's log
  missing from the archive, in seconds of output. Target under 1 s."""
from __future__ import annotations

import argparse
import asyncio
import os
import time

from benchmarks.common import Row, Server, log, print_table

CONCURRENCY = 64


def _job(name: str):
    from minik8s.api.pb import batch_pb2
    j = batch_pb2.Job(apiVersion="batch/v1", kind="Job")
    j.metadata.name, j.metadata.namespace = name, "default"
    j.spec.completions = j.spec.parallelism = 1
    t = j.spec.template.spec
    t.restartPolicy = "Never"
    c = t.containers.add()
    c.name, c.image = "main", "busybox"
    c.command.extend(["sh", "-c", "echo 3.14"])
    return j


def _replica_set(n: int):
    from minik8s.api.pb import apps_pb2
    rs = apps_pb2.ReplicaSet(apiVersion="apps/v1", kind="ReplicaSet")
    rs.metadata.name, rs.metadata.namespace = "baseline", "default"
    rs.spec.replicas = n
    rs.spec.selector.matchLabels["app"] = "baseline"
    rs.spec.template.metadata.labels["app"] = "baseline"
    c = rs.spec.template.spec.containers.add()
    c.name, c.image = "main", "busybox"
    return rs


async def _complete_pods(client, stop: asyncio.Event) -> None:
    """The fake node: Job pods end Succeeded (exit 0) at once, other pods run."""
    from minik8s.api.clock import rfc3339
    from minik8s.client.informer import Informer, copy
    queue: asyncio.Queue = asyncio.Queue()
    inf = Informer(client, "Pod")
    inf.add_event_handler(queue.put_nowait, None, None)
    await inf.start()

    async def worker():
        while True:
            pod = copy(await queue.get())
            now = rfc3339(time.time())
            job = "batch.kubernetes.io/job-name" in pod.metadata.labels
            pod.status.phase = "Succeeded" if job else "Running"
            cs = pod.status.containerStatuses.add()
            cs.name = pod.spec.containers[0].name
            if job:
                cs.state.terminated.exitCode, cs.state.terminated.finishedAt = 0, now
            else:
                cs.state.running.startedAt = now
            try:
                await client.update_status(pod)
            except Exception as e:      # noqa: BLE001  (a pod deleted meanwhile)
                log(f"completer: {pod.metadata.name}: {e}")
    workers = [asyncio.create_task(worker()) for _ in range(16)]
    await stop.wait()
    for w in workers:
        w.cancel()
    await inf.stop()


async def _wait_count(client, kind: str, pred, n: int) -> None:
    """Until `pred` holds for n objects of `kind` (a watch-fed informer). The objects it holds for
    are kept as a set, so each event costs the same however many objects there are."""
    from minik8s.client.informer import Informer, key_of
    inf = Informer(client, kind)
    done = asyncio.Event()
    holds: set[str] = set()

    def seen(obj) -> None:
        if pred(obj):
            holds.add(key_of(obj))
        else:
            holds.discard(key_of(obj))
        if len(holds) >= n:
            done.set()
    inf.add_event_handler(seen, lambda old, new: seen(new), lambda obj: holds.discard(key_of(obj)))
    await inf.start()
    for obj in inf.list():
        seen(obj)
    await done.wait()
    await inf.stop()


async def run(server: Server, n: int) -> tuple[float, float]:
    from minik8s.client.aio import AsyncClient
    from minik8s.controllers.manager import ControllerManager
    async with AsyncClient(server.address, server.token) as client:
        stop = asyncio.Event()
        manager = ControllerManager(client, "job,replicaset", leader_elect=False)
        mtask = asyncio.create_task(manager.run())
        ctask = asyncio.create_task(_complete_pods(client, stop))
        await manager.running.wait()

        t0 = time.perf_counter()
        await client.create(_replica_set(n))
        await _wait_count(client, "Pod", lambda p: p.metadata.labels.get("app") == "baseline"
                          and p.status.phase == "Running", n)
        rs_rate = n / (time.perf_counter() - t0)
        log(f"replicaset: {n} pods in {n / rs_rate:.1f} s")

        sem = asyncio.Semaphore(CONCURRENCY)

        async def create(i):
            async with sem:
                await client.create(_job(f"pi-{i}"))
        t0 = time.perf_counter()
        waiter = asyncio.create_task(_wait_count(
            client, "Job", lambda j: any(c.type == "Complete" and c.status == "True" for c in j.status.conditions), n))
        await asyncio.gather(*(create(i) for i in range(n)))
        await waiter
        job_rate = n / (time.perf_counter() - t0)
        log(f"jobs: {n} complete in {n / job_rate:.1f} s")
        stop.set()
        manager.stop()
        await asyncio.gather(mtask, ctask, return_exceptions=True)
    return job_rate, rs_rate


ARCHIVE_BYTES = 50 * 1024 * 1024
CHATTY = ("import sys,time\nline = b'x' * 99 + b'\\n'\nn = {n} // 100\nt = time.perf_counter()\n"
          "w = sys.stdout.buffer\nfor _ in range(n): w.write(line)\nw.flush()\n"
          "print('ELAPSED', time.perf_counter() - t, file=sys.stderr)\n")
TICKER = "import time\nfor i in range(10**9):\n    print(i, flush=True)\n    time.sleep(0.001)\n"


async def _node(server: Server):
    from kubelet.agent import Kubelet
    from kubelet.app import make_runtime
    from kubelet.config import NodeConfig, Settings, default_pod_cidr
    from minik8s.client.aio import AsyncClient
    settings = Settings(pleg_period=0.2)
    cfg = NodeConfig(name="node-1", runtime="process", pod_cidr=default_pod_cidr("process", 1), index=1)
    client = AsyncClient(server.address, server.proc.tokens["node-1"])
    k = Kubelet(client, make_runtime("process", server.home, "node-1", cfg.pod_cidr, settings), cfg,
                server.home, settings, address="127.0.0.1")
    await k.start()
    return k, client


def _python_pod(name: str, script: str):
    import sys
    from minik8s.api.pb import core_pb2
    p = core_pb2.Pod(apiVersion="v1", kind="Pod")
    p.metadata.name, p.metadata.namespace = name, "default"
    p.spec.nodeName, p.spec.restartPolicy = "node-1", "Never"
    c = p.spec.containers.add()
    c.name, c.image = "app", "python"
    c.command.extend([sys.executable, "-c", script])
    return p


async def _phase(client, name: str, phases: tuple[str, ...]):
    while (p := await client.get("Pod", name, "default")).status.phase not in phases:
        await asyncio.sleep(0.05)
    return p


def _log_path(home: str, p) -> str:
    from kubelet.paths import container_log_path
    return container_log_path(home, "default", p.metadata.name, p.metadata.uid, "app", 0)


async def _chatty(client, home: str, name: str) -> float:
    """Bytes/s the chatty container reports for itself."""
    await client.create(_python_pod(name, CHATTY.format(n=ARCHIVE_BYTES)))
    p = await _phase(client, name, ("Succeeded", "Failed"))
    with open(_log_path(home, p), "rb") as f:
        f.seek(max(0, os.path.getsize(f.name) - 4096))
        elapsed = float(f.read().rsplit(b"ELAPSED ", 1)[1].split()[0])
    return ARCHIVE_BYTES / elapsed


async def run_archive(server: Server) -> tuple[float, float, int, int]:
    from minik8s.client.aio import AsyncClient
    async with AsyncClient(server.address, server.token) as client:
        k, node_client = await _node(server)
        on = await _chatty(client, server.home, "chatty-on")
        shipper = next(t for t in k._tasks if t.get_name().endswith("-logshipper"))
        shipper.cancel()
        k.syncer.flush_logs = None
        off = await _chatty(client, server.home, "chatty-off")
        log(f"chatty container: {on / 2**20:.1f} MiB/s archive on, {off / 2**20:.1f} MiB/s off")
        await k.stop()
        await node_client.close()

        k, node_client = await _node(server)
        p = await client.create(_python_pod("ticker", TICKER))
        await _phase(client, "ticker", ("Running",))
        await asyncio.sleep(3)                       # the stream runs a while before the node dies
        for t in k._tasks:                           # the node dies: nothing is flushed
            t.cancel()
        with open(_log_path(server.home, p), "rb") as f:
            written = len(f.read().splitlines())
        for c in await k.runtime.list_containers():
            await k.runtime.stop_container(c.id, 0)
        key = (await client.list_log_streams("default", "ticker")).streams[0].key
        archived = 0
        async for c in client.read_logs(key):
            archived += len(c.data.splitlines())
        log(f"node killed: {written} lines written, {archived} archived")
        await node_client.close()
    return on, off, written, archived


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.jobs")
    p.add_argument("--jobs", type=int, default=1000)
    p.add_argument("--no-archive", dest="archive", action="store_false", help="skip the log archive rows")
    args = p.parse_args(argv)
    rows = []
    with Server() as server:
        job_rate, rs_rate = asyncio.run(run(server, args.jobs))
        rows.append(Row(f"{args.jobs} one-pod Jobs: created -> all Complete", job_rate, rs_rate, "/s",
                        baseline_label=f"ReplicaSet: {args.jobs} pods created -> Running",
                        target=(">=", 0.5), relative=True))
        if args.archive:
            on, off, written, archived = asyncio.run(run_archive(server))
            rows.append(Row("chatty container (process runtime), log archive on", on / 2**20, off / 2**20,
                            "MiB/s", baseline_label="the same container, archive off", target=(">=", 0.8),
                            relative=True))
            rows.append(Row("node killed mid-stream: output lost", (written - archived) / 1000, None, "s",
                            target=("<", 1.0), fmt="{:.2f}",
                            note=f"{written - archived} of {written} lines, ~1000 lines/s"))
    print(f"load average {os.getloadavg()[0]:.2f}; {args.jobs} jobs / pods")
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
