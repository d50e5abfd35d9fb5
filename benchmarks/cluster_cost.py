"""Cluster autoscaler cost: node-seconds used for a seeded bursty trace, beside a static cluster sized
for the peak and the lower bound, all from the same run.

    .venv/bin/python -m benchmarks.cluster_cost [--quick] [--seed N] [--hours H] [--unneeded-time S]

A real API server, the real scheduler and ReplicaSet controller in this process (real time), and the
cluster autoscaler on a FakeClock, stepped one scan interval (upstream's 10 s) at a time through the
trace: batch jobs arriving in bursts (bare pods annotated safe-to-evict "false", as long jobs are, each
running its own duration) and a diurnal web load (a ReplicaSet whose replicas follow one day's sine,
compressed into the run). Nodes are Node objects of one group (4 cpu, 1..20 nodes) made Ready at once
by the provider: the figure is the autoscaler's packing, not node start-up. Between steps the run waits
until the scheduler has placed or given up on every pod.

Figures: node-seconds the group used; a static cluster of the peak node count for the whole run; the
lower bound, the sum over steps of requested cpu / node cpu; and the longest a pod waited, in simulated
seconds, from being marked unschedulable to being bound (target 30 s)."""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import sys
import time

from benchmarks.common import Row, Server, log, print_table

NODE_CPU = 4000                       # milli-cpu of a node of the group
STEP = 10.0                           # simulated seconds per step: upstream's scan interval
GROUP = {"name": "pool", "min": 1, "max": 20, "template": {"cpu": "4", "memory": "16Gi"}}
WEB_CPU = 500


def batch_trace(seed: int, seconds: float) -> list[tuple[float, int, float]]:
    """(arrival, milli-cpu, duration) of each batch pod: bursts every 10 minutes on average, 5 to 20
    pods each, 0.5 to 2 cpu, running 2 to 15 minutes; sized so that the peak fits in the group's max."""
    rng = random.Random(seed)
    out, t = [], rng.expovariate(1 / 300)
    while t < seconds:
        for _ in range(rng.randint(5, 20)):
            out.append((t, rng.choice((500, 1000, 1500, 2000)), rng.uniform(120, 900)))
        t += rng.expovariate(1 / 600)
    return out


def web_replicas(t: float, seconds: float) -> int:
    """One day's load: 2 replicas at night, 14 at noon."""
    return round(8 - 6 * math.cos(2 * math.pi * t / seconds))


class Nodes:
    """The provider: Node objects, Ready as soon as they are made."""

    def __init__(self, client, groups):
        self.client, self.groups = client, groups

    def node_groups(self):
        return self.groups

    def starting(self, group):
        return set()

    def failed(self, group):
        return 0

    async def increase_size(self, group, names):
        from minik8s.api import codec
        from minik8s.api.pb import core_pb2
        cap = {"cpu": group.cpu, "memory": group.memory, "pods": "110"}
        for name in names:
            await self.client.create(codec.from_dict(core_pb2.Node, {
                "metadata": {"name": name, "labels": {**group.node_labels(), "kubernetes.io/hostname": name}},
                "status": {"capacity": cap, "allocatable": cap,
                           "conditions": [{"type": "Ready", "status": "True"}]}}))

    async def delete_node(self, group, name):
        await self.client.delete("Node", name)
        return True


def pod(name: str, cpu: int, duration: float):
    from minik8s.api import codec
    from minik8s.api.pb import core_pb2
    return codec.from_dict(core_pb2.Pod, {
        "metadata": {"name": name, "namespace": "default",
                     "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
                                     "bench/duration": str(duration)}},
        "spec": {"terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": f"{cpu}m"}}}]}})


def web():
    from minik8s.api import codec
    from minik8s.api.pb import apps_pb2
    return codec.from_dict(apps_pb2.ReplicaSet, {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                     "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "nginx",
                                     "resources": {"requests": {"cpu": f"{WEB_CPU}m"}}}]}}}})


def unschedulable(p) -> bool:
    return any(c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable"
               for c in p.status.conditions)


async def settle(client, timeout: float = 20.0) -> list:
    """The live pods once every unbound one is marked unschedulable and fits on no node as it is (the
    scheduler, which retries after a backoff in real time, has nothing left to place), and nothing moved
    for a moment."""
    from minik8s.autoscaler.scaleup import still_pending
    from minik8s.autoscaler.simulator import take_snapshot
    deadline, last, quiet = time.monotonic() + timeout, None, 0
    while True:
        pods = [p for p in (await client.list("Pod", "default")).items if p.status.phase not in ("Succeeded", "Failed")]
        shape = sorted((p.metadata.name, p.spec.nodeName, unschedulable(p)) for p in pods)
        snap = take_snapshot((await client.list("Node")).items, pods)
        placeable = len(still_pending(snap.pending, list(snap.shapes.values()))) < len(snap.pending)
        waiting = placeable or any(not p.spec.nodeName and not unschedulable(p) for p in pods)
        quiet = quiet + 1 if shape == last and not waiting else 0
        if quiet >= 3 or time.monotonic() > deadline:
            return pods
        last = shape
        await asyncio.sleep(0.1)


async def play_kubelet(client, pods, now: float, started: dict) -> None:
    """Bound pods run; a pod past its duration succeeds and goes; a pod being deleted goes at once."""
    from minik8s.api.errors import ApiError
    from minik8s.client.informer import copy
    for p in pods:
        meta = p.metadata
        try:
            if meta.deletionTimestamp:
                await client.delete("Pod", meta.name, "default", grace_period=0)
            elif p.spec.nodeName and meta.name not in started:
                started[meta.name] = now
                new = copy(p)
                new.status.phase = "Running"
                c = new.status.conditions.add()
                c.type, c.status = "Ready", "True"
                await client.update_status(new)
            elif meta.name in started and now - started[meta.name] >= float(meta.annotations.get("bench/duration", "inf")):
                await client.delete("Pod", meta.name, "default", grace_period=0)
        except ApiError:
            pass                    # it moved on; the next step looks again


async def run(server: Server, seed: int, seconds: float, unneeded: float) -> tuple[list[Row], dict]:
    from minik8s.api.clock import FakeClock
    from minik8s.api.nodefit import pod_requests
    from minik8s.api.nodegroups import parse_node_groups
    from minik8s.autoscaler.autoscaler import ClusterAutoscaler
    from minik8s.client.aio import AsyncClient
    from minik8s.controllers.manager import ControllerManager
    from minik8s.scheduler.scheduler import Scheduler

    admin = AsyncClient(server.address, server.token)
    sched_client = AsyncClient(server.address, server.proc.tokens["scheduler"])
    scheduler = Scheduler(sched_client, record_decisions=False)
    manager = ControllerManager(AsyncClient(server.address, server.proc.tokens["controller-manager"]),
                                "replicaset", leader_elect=False)
    clock = FakeClock()
    groups = parse_node_groups([GROUP])
    autoscaler = ClusterAutoscaler(admin, Nodes(admin, groups), {"scaleDownUnneededTime": unneeded}, clock=clock)
    tasks = [asyncio.create_task(scheduler.run()), asyncio.create_task(manager.run())]
    await scheduler.ready.wait()
    await manager.running.wait()
    await autoscaler.start()
    await admin.create(web())
    trace = batch_trace(seed, seconds)
    started: dict[str, float] = {}
    waiting_since: dict[str, float] = {}
    longest_wait, bound_late = 0.0, 0
    lower_bound = peak = 0.0
    t, i = 0.0, 0
    try:
        while t < seconds:
            while i < len(trace) and trace[i][0] <= t:
                await admin.create(pod(f"job-{i}", trace[i][1], trace[i][2]))
                i += 1
            await admin.patch("ReplicaSet", "web", {"spec": {"replicas": web_replicas(t, seconds)}}, "default")
            pods = await settle(admin)
            await play_kubelet(admin, pods, t, started)
            for p in pods:
                name = p.metadata.name
                if unschedulable(p) and not p.spec.nodeName:
                    waiting_since.setdefault(name, t)
                elif p.spec.nodeName and name in waiting_since:
                    waited = t - waiting_since.pop(name)
                    longest_wait = max(longest_wait, waited)
                    bound_late += waited > 30
            await autoscaler.run_once()
            nodes = len((await admin.list("Node")).items)
            peak = max(peak, nodes)
            requested = sum(pod_requests(p.spec).get("cpu", 0) for p in pods if p.spec.nodeName)
            lower_bound += requested / NODE_CPU * STEP
            clock.advance(STEP)
            t += STEP
            if int(t) % 600 == 0:
                log(f"t={t:.0f}s nodes={nodes} pods={len(pods)} node-seconds={autoscaler.node_seconds.get('pool', 0):.0f}")
    finally:
        await autoscaler.stop()
        await scheduler.stop()
        manager.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await admin.close()
        await sched_client.close()
    used = autoscaler.node_seconds.get("pool", 0.0)
    static = peak * seconds
    rows = [
        Row("node-seconds used vs the lower bound", used, lower_bound, "node-s", "sum of requests / node size",
            target=("<=", 1.25), relative=True, fmt="{:,.0f}"),
        Row("node-seconds used vs static for the peak", used, static, "node-s", f"{peak:.0f} nodes all along",
            fmt="{:,.0f}", note="info"),
        Row("longest wait, unschedulable -> bound", longest_wait, 30.0, "s", "target", target=("<=", 30.0),
            fmt="{:.0f}"),
    ]
    return rows, {"pods": i, "late": bound_late, "peak": peak}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.cluster_cost", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one simulated hour instead of six")
    p.add_argument("--hours", type=float, default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--unneeded-time", type=float, default=600.0,
                   help="scale-down-unneeded-time in seconds [600, upstream's]")
    args = p.parse_args(argv)
    hours = args.hours or (1.0 if args.quick else 6.0)
    load = os.getloadavg()[0]
    with Server() as server:
        rows, info = asyncio.run(run(server, args.seed, hours * 3600, args.unneeded_time))
    print(f"Cluster autoscaler cost, seed {args.seed}, {hours:g} simulated hours, {info['pods']} batch pods, "
          f"peak {info['peak']:.0f} nodes, scale-down-unneeded-time {args.unneeded_time:g} s, "
          f"{info['late']} pods bound after more than 30 s; load average {load:.2f} -> {os.getloadavg()[0]:.2f}")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
