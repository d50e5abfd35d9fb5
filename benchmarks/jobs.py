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
  so the target is half the ReplicaSet's rate or better."""
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
    """Until `pred` holds for n objects of `kind` (a watch-fed informer)."""
    from minik8s.client.informer import Informer
    inf = Informer(client, kind)
    done = asyncio.Event()

    def check(*_):
        if sum(1 for o in inf.list() if pred(o)) >= n:
            done.set()
    inf.add_event_handler(check, lambda old, new: check(), None)
    await inf.start()
    check()
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.jobs")
    p.add_argument("--jobs", type=int, default=1000)
    args = p.parse_args(argv)
    with Server() as server:
        job_rate, rs_rate = asyncio.run(run(server, args.jobs))
    print(f"load average {os.getloadavg()[0]:.2f}; {args.jobs} jobs / pods")
    print_table([Row(f"{args.jobs} one-pod Jobs: created -> all Complete", job_rate, rs_rate, "/s",
                     baseline_label=f"ReplicaSet: {args.jobs} pods created -> Running",
                     target=(">=", 0.5), relative=True)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
