"""HPA reaction: from a load step to the new replica count Ready, beside the sync period (the floor).

    .venv/bin/python -m benchmarks.autoscaling [--quick] [--trials N] [--sync-period S]

A real API server (benchmarks.common.Server), the real scheduler as a subprocess, and in this process
the controller manager (replicaset, deployment, garbagecollector, horizontal-pod-autoscaler; the HPA
sync period as given, upstream's 15 s by default) and two fake nodes of 16 cpus (kubelet.fakenodes, their own PodMetrics
publishing turned off by a long metricsPeriod: this benchmark writes the usage). Each trial creates a
Deployment of 2 pods (200m cpu requested) and an HPA (50% cpu, behavior with upstream's default
policies), publishes 100m per pod and waits until the HPA has reported 50%; then, at a random point
of the sync cycle, raises every pod's usage to 300m (150%: the HPA wants 6) and times when the
Deployment's spec.replicas reads 6 and when 6 pods are Ready. A step waits for the next sync, so the
time to the write is at best a fraction of the period and at worst a whole one."""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time

from benchmarks.common import FakeCluster, Row, Server, log, median, print_table

NODES = ["node-1", "node-2"]
TARGET = 6
REQUEST, BEFORE, AFTER = "200m", "100m", "300m"


def manifests(name: str):
    from minik8s.api.pb import apps_pb2, autoscaling_pb2
    d = apps_pb2.Deployment()
    d.metadata.name, d.metadata.namespace, d.spec.replicas = name, "default", 2
    d.spec.selector.matchLabels["app"] = name
    d.spec.template.metadata.labels["app"] = name
    c = d.spec.template.spec.containers.add(name="app", image="busybox")
    c.resources.requests["cpu"] = REQUEST
    h = autoscaling_pb2.HorizontalPodAutoscaler()
    h.metadata.name, h.metadata.namespace = f"{name}-hpa", "default"
    h.spec.scaleTargetRef.apiVersion, h.spec.scaleTargetRef.kind, h.spec.scaleTargetRef.name = \
        "apps/v1", "Deployment", name
    h.spec.minReplicas, h.spec.maxReplicas = 2, 10
    m = h.spec.metrics.add(type="Resource")
    m.resource.name, m.resource.target.type, m.resource.target.averageUtilization = "cpu", "Utilization", 50
    h.spec.behavior.SetInParent()
    return d, h


async def publish(client, pods, cpu: str) -> None:
    from minik8s.api.clock import rfc3339
    from minik8s.api.errors import NotFound
    from minik8s.api.pb import metrics_pb2
    for p in pods:
        # a short window: a sample counts once it was taken a window after the pod turned Ready
        m = metrics_pb2.PodMetrics(timestamp=rfc3339(time.time()), window="1s")
        m.metadata.name, m.metadata.namespace = p.metadata.name, p.metadata.namespace
        ref = m.metadata.ownerReferences.add()
        ref.apiVersion, ref.kind, ref.name, ref.uid = "v1", "Pod", p.metadata.name, p.metadata.uid
        m.containers.add(name="app").usage["cpu"] = cpu
        try:
            old = await client.get("PodMetrics", p.metadata.name, p.metadata.namespace)
            m.metadata.resourceVersion = old.metadata.resourceVersion
            await client.update(m)
        except NotFound:
            await client.create(m)


async def poll(fn, timeout: float, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = await fn()
        if v:
            return v
        await asyncio.sleep(interval)
    raise TimeoutError("not reached")


async def ready_pods(client, app: str, n: int, at_least: bool = False):
    """The Ready pods of `app` once exactly `n` (or, `at_least`, n or more: the HPA's next sync may
    already scale on, the new pods having no samples yet) are Ready."""
    pods = [p for p in await client.list("Pod", "default", label_selector=f"app={app}")
            if not p.metadata.deletionTimestamp]
    ready = [p for p in pods if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions)]
    if at_least:
        return ready if len(ready) >= n else None
    return ready if len(ready) == n and len(pods) == n else None


async def trial(client, i: int, sync_period: float) -> tuple[float, float]:
    name = f"web{i}"
    d, h = manifests(name)
    await client.create(d)
    pods = await poll(lambda: ready_pods(client, name, 2), 60)
    await client.create(h)

    async def settled():
        hpa = await client.get("HorizontalPodAutoscaler", h.metadata.name, "default")
        cm = hpa.status.currentMetrics
        if cm and cm[0].resource.current.averageUtilization == 50:
            return True
        await publish(client, pods, BEFORE)          # until a sample is late enough to count
        await asyncio.sleep(0.5)
        return False
    await poll(settled, 3 * sync_period + 30)
    await asyncio.sleep(random.uniform(0, sync_period))      # a random phase of the sync cycle
    t0 = time.monotonic()
    await publish(client, pods, AFTER)

    async def written():
        return (await client.get("Deployment", name, "default")).spec.replicas == TARGET
    await poll(written, 2 * sync_period + 30)
    t_written = time.monotonic() - t0
    await poll(lambda: ready_pods(client, name, TARGET, at_least=True), 120)
    t_ready = time.monotonic() - t0
    await client.delete("HorizontalPodAutoscaler", h.metadata.name, "default")
    await client.delete("Deployment", name, "default")
    log(f"trial {i}: replicas written after {t_written:.2f} s, {TARGET} Ready after {t_ready:.2f} s")
    return t_written, t_ready


async def run(server: Server, trials: int, sync_period: float) -> list[Row]:
    async with FakeCluster(server, NODES, "replicaset,deployment,garbagecollector,horizontal-pod-autoscaler",
                           {"horizontalPodAutoscalerSyncPeriod": sync_period}) as cluster:
        results = [await trial(cluster.admin, i, sync_period) for i in range(trials)]
    written = [w for w, _ in results]
    ready = [r for _, r in results]
    note = f"info, {trials} trials"
    return [
        Row("load step -> replicas written (median)", median(written), sync_period, "s", "sync period", note=note,
            fmt="{:.2f}"),
        Row("load step -> replicas written (max)", max(written), sync_period, "s", "sync period", note=note,
            fmt="{:.2f}"),
        Row(f"load step -> {TARGET} pods Ready (median)", median(ready), sync_period, "s", "sync period", note=note,
            fmt="{:.2f}"),
        Row(f"load step -> {TARGET} pods Ready (max)", max(ready), sync_period, "s", "sync period", note=note,
            fmt="{:.2f}"),
    ]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.autoscaling", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 trials with a 5 s sync period")
    p.add_argument("--trials", type=int, default=None)
    p.add_argument("--sync-period", type=float, default=None, help="HPA sync period in seconds [15]")
    args = p.parse_args(argv)
    trials = args.trials or (2 if args.quick else 5)
    sync_period = args.sync_period or (5.0 if args.quick else 15.0)
    load = os.getloadavg()[0]
    with Server() as server:
        rows = asyncio.run(run(server, trials, sync_period))
    print(f"HPA reaction, sync period {sync_period:g} s; load average {load:.2f} -> {os.getloadavg()[0]:.2f}")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
