"""The scheduler against a real API server process: bin packing versus spreading, Pending pods with
upstream's exact message that are placed as soon as room appears, GPU pods and taints, preemption,
no overcommit under concurrent creation, profiles, the decision record, failed binds, and the
`python -m minik8s.scheduler` entry point."""
from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys

import pytest

from minik8s.api import codec
from minik8s.api.errors import ApiError
from minik8s.api.pb import metrics_pb2
from minik8s.api.quantity import cpu_millis
from minik8s.scheduler.config import parse
from minik8s.scheduler.plugins import REGISTRY
from minik8s.scheduler.plugins.default_binder import DefaultBinder
from schedtest import Harness, make_node, make_pod
from support.wait import wait_for, wait_for_sync

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
GPU_TOLERATION = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
DECISION = "scheduler.minik8s.io/decision"


def strategy(kind: str, name: str = "default-scheduler") -> dict:
    return {"schedulerName": name,
            "pluginConfig": [{"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": kind}}}]}


async def pods_on(h: Harness, names) -> dict[str, str]:
    return {n: await h.node_of(n) for n in names}


@pytest.mark.parametrize("kind, expected", [
    ("MostAllocated", {"node-1": 4, "node-2": 2}),                      # fill a node before the next
    ("LeastAllocated", {"node-1": 2, "node-2": 2, "node-3": 2}),        # spread
])
async def test_bin_packing_versus_spreading(srv, kind, expected):
    async with Harness(srv, parse({"profiles": [strategy(kind)]})) as h:
        await h.create(*(make_node(f"node-{i}", cpu="4", memory="8Gi") for i in (1, 2, 3)))
        names = [f"web-{i}" for i in range(6)]
        for n in names:        # one at a time: the order is the lesson's
            await h.create(make_pod(n, cpu="1", memory="512Mi"))
            await h.node_of(n)
        placed = await pods_on(h, names)
        counts: dict[str, int] = {}
        for node in placed.values():
            counts[node] = counts.get(node, 0) + 1
        assert counts == expected


async def test_pending_pod_explains_itself_and_is_placed_when_room_appears(srv):
    message = ("0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint "
               "{nvidia.com/gpu: present}. preemption: 0/3 nodes are available: 1 No preemption victims found "
               "for incoming pod, 2 Preemption is not helpful for scheduling.")
    async with Harness(srv) as h:
        await h.create(make_node("node-1", cpu="4"),
                       make_node("gpu-1", taints=[GPU_TAINT], extra={"nvidia.com/gpu": "2"}),
                       make_node("gpu-2", taints=[GPU_TAINT], extra={"nvidia.com/gpu": "2"}))
        await h.create(make_pod("hog", cpu="3"))
        assert await h.node_of("hog") == "node-1"
        await h.create(make_pod("web-1", cpu="2"))
        ev = await h.event("web-1", "FailedScheduling")
        assert (ev.type, ev.message, ev.source.component) == ("Warning", message, "default-scheduler")

        async def condition():
            pod = await h.admin.get("Pod", "web-1")
            return next((c for c in pod.status.conditions if c.type == "PodScheduled"), None)
        cond = await wait_for(condition, what="PodScheduled condition")
        assert (cond.status, cond.reason, cond.message) == ("False", "Unschedulable", message)
        assert not (await h.admin.get("Pod", "web-1")).spec.nodeName
        metrics = h.scheduler.metrics.render()
        assert 'scheduler_pending_pods{queue="unschedulable"} 1' in metrics
        assert 'scheduler_schedule_attempts_total{result="unschedulable",profile="default-scheduler"} 1' in metrics

        # no timer retries it (that takes five minutes): deleting the pod in the way does
        await h.admin.delete("Pod", "hog", grace_period=0)
        assert await h.node_of("web-1") == "node-1"
        ev = await h.event("web-1", "Scheduled")
        assert ev.message == "Successfully assigned default/web-1 to node-1"


async def test_a_new_node_and_an_uncordoned_node_take_pending_pods(srv):
    async with Harness(srv) as h:
        await h.create(make_node("node-1", cpu="1", unschedulable=True))
        await h.create(make_pod("a", cpu="500m"), make_pod("b", cpu="2"))
        ev = await h.event("a", "FailedScheduling")
        assert ev.message.startswith("0/1 nodes are available: 1 node(s) were unschedulable.")
        node = await h.admin.get("Node", "node-1")
        node.spec.unschedulable = False
        await h.admin.update(node)                          # uncordon
        assert await h.node_of("a") == "node-1"
        await h.create(make_node("node-2", cpu="4"))        # a node joins
        assert await h.node_of("b") == "node-2"


async def test_gpu_pods_land_only_on_gpu_nodes_and_never_exceed_their_gpus(srv):
    async with Harness(srv) as h:
        await h.create(make_node("cpu-1", cpu="16"), make_node("cpu-2", cpu="16"),
                       make_node("gpu-1", cpu="16", taints=[GPU_TAINT], extra={"nvidia.com/gpu": "2"}),
                       make_node("gpu-2", cpu="16", taints=[GPU_TAINT], extra={"nvidia.com/gpu": "4"}))
        names = [f"train-{i}" for i in range(8)]
        await asyncio.gather(*(h.admin.create(make_pod(n, cpu="1", gpu="1", tolerations=GPU_TOLERATION))
                               for n in names))

        async def settled():
            pods = [p for p in (await h.admin.list("Pod")).items if p.metadata.name in names]
            bound = [p for p in pods if p.spec.nodeName]
            pending = [p for p in pods if any(c.type == "PodScheduled" and c.status == "False"
                                              for c in p.status.conditions)]
            return (bound, pending) if len(bound) == 6 and len(pending) == 2 else None
        bound, pending = await wait_for(settled, what="6 bound, 2 pending")
        per_node: dict[str, int] = {}
        for p in bound:
            per_node[p.spec.nodeName] = per_node.get(p.spec.nodeName, 0) + 1
        assert per_node == {"gpu-1": 2, "gpu-2": 4}
        assert pending[0].status.conditions[0].message.startswith(
            "0/4 nodes are available: 4 Insufficient nvidia.com/gpu.")


async def test_taints_keep_ordinary_pods_off_gpu_nodes(srv):
    async with Harness(srv, parse({"profiles": [strategy("LeastAllocated")]})) as h:
        await h.create(make_node("cpu-1"), make_node("gpu-1", cpu="64", taints=[GPU_TAINT],
                                                     extra={"nvidia.com/gpu": "8"}))
        names = [f"web-{i}" for i in range(5)]
        await asyncio.gather(*(h.admin.create(make_pod(n, cpu="500m")) for n in names))
        assert set((await pods_on(h, names)).values()) == {"cpu-1"}
        await h.create(make_pod("big", cpu="8"))
        ev = await h.event("big", "FailedScheduling")
        assert ev.message.startswith("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated "
                                     "taint {nvidia.com/gpu: present}.")


async def test_preemption_evicts_the_right_victims(srv):
    async with Harness(srv) as h:
        await h.create(make_node("a", cpu="4"), make_node("b", cpu="4"))
        await h.create(make_pod("low-a", cpu="3", priority=1, node_name="a"),
                       make_pod("low-b1", cpu="2", priority=1, node_name="b"),
                       make_pod("low-b2", cpu="2", priority=1, node_name="b"))
        await h.create(make_pod("urgent", cpu="3", priority=1000))

        async def victim():
            pod = await h.admin.get("Pod", "low-a")
            return pod if pod.metadata.deletionTimestamp else None
        pod = await wait_for(victim, what="low-a deleted gracefully")
        (cond,) = [c for c in pod.status.conditions if c.type == "DisruptionTarget"]
        assert (cond.status, cond.reason, cond.message) == (
            "True", "PreemptionByScheduler", "default-scheduler: preempting to accommodate a higher priority pod")

        async def nominated():
            return (await h.admin.get("Pod", "urgent")).status.nominatedNodeName
        assert await wait_for(nominated, what="nominatedNodeName") == "a"
        urgent = await h.admin.get("Pod", "urgent")
        ev = await h.event("low-a", "Preempted")
        assert ev.message == f"Preempted by pod {urgent.metadata.uid} on node a"
        for name in ("low-b1", "low-b2"):
            assert not (await h.admin.get("Pod", name)).metadata.deletionTimestamp
        # the node's kubelet (here: the test, as node "a" would) finishes the deletion
        await h.admin.delete("Pod", "low-a", grace_period=0)
        assert await h.node_of("urgent") == "a"


async def test_no_node_is_overcommitted_under_concurrent_creation(srv):
    rnd = random.Random(7)
    sizes = [rnd.choice(["250m", "500m", "750m", "1"]) for _ in range(120)]
    async with Harness(srv) as h:
        await h.create(*(make_node(f"node-{i}", cpu="2", memory="64Gi", pods="8") for i in range(10)))
        sem = asyncio.Semaphore(32)

        async def create(i, cpu):
            async with sem:
                await h.admin.create(make_pod(f"p-{i}", cpu=cpu))
        await asyncio.gather(*(create(i, c) for i, c in enumerate(sizes)))

        async def settled():
            pods = (await h.admin.list("Pod")).items
            done = [p for p in pods if p.spec.nodeName or any(
                c.type == "PodScheduled" and c.status == "False" for c in p.status.conditions)]
            return pods if len(done) == len(sizes) else None
        pods = await wait_for(settled, timeout=60, what="every pod bound or unschedulable")
        used: dict[str, list[int]] = {}
        for p in pods:
            if p.spec.nodeName:
                used.setdefault(p.spec.nodeName, []).append(cpu_millis(p.spec.containers[0].resources.requests["cpu"]))
        assert sum(sum(v) for v in used.values()) >= 18000        # the cluster did fill up
        for node, reqs in used.items():
            assert sum(reqs) <= 2000 and len(reqs) <= 8, (node, reqs)


async def test_profiles_and_other_schedulers(srv):
    cfg = parse({"profiles": [strategy("MostAllocated"), strategy("LeastAllocated", "spread-scheduler")]})
    async with Harness(srv, cfg) as h:
        await h.create(*(make_node(f"node-{i}") for i in (1, 2, 3)))
        await h.create(make_pod("elsewhere", cpu="1", scheduler_name="someone-else"))
        spread = [f"s-{i}" for i in range(3)]
        for n in spread:
            await h.create(make_pod(n, cpu="1", scheduler_name="spread-scheduler"))
            await h.node_of(n)
        assert sorted((await pods_on(h, spread)).values()) == ["node-1", "node-2", "node-3"]
        ev = await h.event("s-0", "Scheduled")
        assert ev.source.component == "spread-scheduler"
        packed = [f"p-{i}" for i in range(2)]
        for n in packed:
            await h.create(make_pod(n, cpu="1"))
        assert len(set((await pods_on(h, packed)).values())) == 1
        other = await h.admin.get("Pod", "elsewhere")
        assert not other.spec.nodeName and not other.status.conditions
        assert not [e for e in (await h.admin.list("Event")).items if e.involvedObject.name == "elsewhere"]


async def test_decision_record(srv):
    async with Harness(srv) as h:
        await h.create(make_node("node-1", cpu="2"), make_node("node-2", cpu="4"),
                       make_node("gpu-1", taints=[GPU_TAINT], extra={"nvidia.com/gpu": "1"}))
        await h.create(make_pod("warm", cpu="1", node_name="node-2"))
        await h.create(make_pod("web-1", cpu="1", memory="1Gi"))
        assert await h.node_of("web-1") == "node-2"

        async def record():
            return (await h.admin.get("Pod", "web-1")).metadata.annotations.get(DECISION)
        rec = json.loads(await wait_for(record, what="decision record"))
        assert rec["node"] == "node-2" and rec["nodes"] == 3
        assert rec["plugins"] == ["NodeResourcesFit", "NodeResourcesBalancedAllocation"]
        assert [r[0] for r in rec["rows"]] == ["node-2", "node-1", "gpu-1"]
        assert rec["rows"][2] == ["gpu-1", "node(s) had untolerated taint {nvidia.com/gpu: present}"]
        for name, total, scores in rec["rows"][:2]:
            assert total == sum(w * s for w, s in zip(rec["weights"], scores))


async def test_busyness_from_node_metrics(srv):
    async with Harness(srv, parse({"profiles": [strategy("LeastAllocated")]})) as h:
        await h.create(make_node("node-1"), make_node("node-2"))
        metrics = codec.from_dict(metrics_pb2.NodeMetrics, {"metadata": {"name": "node-1"},
                                                            "usage": {"cpu": "3800m", "memory": "7Gi"}})
        await h.admin.create(metrics)

        async def seen():
            return h.scheduler.cache.usage_nodes
        await wait_for(seen, what="metrics in the cache")
        await h.create(make_pod("web", cpu="100m"))
        assert await h.node_of("web") == "node-2"          # node-1 would tie on requests, but is busy


class FlakyBinder(DefaultBinder):
    """Refuses the first bind of each pod, then binds as the DefaultBinder does."""
    name = "FlakyBinder"
    refused: set = set()

    async def bind(self, pod, node_name, annotations):
        if pod.name not in self.refused:
            self.refused.add(pod.name)
            raise ApiError("etcd is having a bad day")
        return await super().bind(pod, node_name, annotations)


class CountingReserve:
    name = "CountingReserve"
    reserved: list = []
    unreserved: list = []

    def __init__(self, args, handle):
        pass

    def reserve(self, state, pod, node):
        self.reserved.append((pod.name, node))

    def unreserve(self, state, pod, node):
        self.unreserved.append((pod.name, node))


async def test_a_failed_bind_is_unreserved_forgotten_and_retried(srv, monkeypatch):
    monkeypatch.setattr(FlakyBinder, "refused", set())
    monkeypatch.setattr(CountingReserve, "reserved", [])
    monkeypatch.setattr(CountingReserve, "unreserved", [])
    monkeypatch.setitem(REGISTRY, "FlakyBinder", FlakyBinder)
    monkeypatch.setitem(REGISTRY, "CountingReserve", CountingReserve)
    cfg = parse({"podInitialBackoffSeconds": 0.05, "profiles": [{"plugins": {
        "bind": {"disabled": [{"name": "*"}], "enabled": [{"name": "FlakyBinder"}]},
        "reserve": {"enabled": [{"name": "CountingReserve"}]}}}]})
    async with Harness(srv, cfg) as h:
        await h.create(make_node("node-1", cpu="1"))
        await h.create(make_pod("web", cpu="1"))
        assert await h.node_of("web") == "node-1"
        ev = await h.event("web", "FailedScheduling")
        assert ev.message == "Binding rejected: etcd is having a bad day"
        assert CountingReserve.reserved == [("web", "node-1")] * 2
        assert CountingReserve.unreserved == [("web", "node-1")]
        assert h.scheduler.cache.nodes["node-1"].requested["cpu"] == 1000     # counted once


def test_the_scheduler_process(srv, tmp_path):
    """`python -m minik8s.scheduler --home HOME --token-file FILE`, as `minictl up` starts it, with the
    configuration from HOME/cluster.yaml's `scheduler:` section."""
    from minik8s.client.config import ClientConfig
    home = tmp_path / "home"
    ClientConfig(server=srv.address, token="not-this-one").save(str(home))
    (home / "cluster.yaml").write_text("scheduler:\n  profiles:\n  - pluginConfig:\n    - name: NodeResourcesFit\n"
                                       "      args: {scoringStrategy: {type: LeastAllocated}}\n")
    token = tmp_path / "scheduler.token"
    token.write_text(srv.tokens["scheduler"])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root)
    proc = subprocess.Popen([sys.executable, "-m", "minik8s.scheduler", "--home", str(home), "--token-file",
                             str(token)], env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        admin = srv.client()
        admin.create(make_node("node-1"))
        admin.create(make_node("node-2"))
        for n in ("a", "b"):
            admin.create(make_pod(n, cpu="1"))

        def bound():
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            return all(admin.get("Pod", n).spec.nodeName for n in ("a", "b"))
        wait_for_sync(bound, timeout=60, what="pods bound by the scheduler process")
        assert {admin.get("Pod", n).spec.nodeName for n in ("a", "b")} == {"node-1", "node-2"}    # spread
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out.decode()[-2000:]
