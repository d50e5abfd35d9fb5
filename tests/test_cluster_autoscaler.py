"""The cluster autoscaler against a real API server, with the scheduler running in-process, a fake
kubelet playing the pods and a provider that adds and deletes Node objects: a pending pod gets a node,
an idle node is removed only after scale-down-unneeded-time (on the autoscaler's injected clock) and
without breaking a budget, and consolidation moves pods one node at a time without leaving any
unschedulable."""
from __future__ import annotations

import asyncio

from minik8s.api import codec
from minik8s.api.clock import FakeClock
from minik8s.api.nodegroups import STATUS_CONFIGMAP, parse_node_groups
from minik8s.api.pb import apps_pb2, core_pb2, policy_pb2
from minik8s.autoscaler.autoscaler import ClusterAutoscaler
from minik8s.autoscaler.scaledown import TO_BE_DELETED_TAINT
from support import FakeKubelet, running_manager, wait_for
from support.minictl import Ctl

TIMEOUT = 30.0


class NodeObjects:
    """A provider whose nodes are Node objects alone, Ready as soon as they are made."""

    def __init__(self, client, groups):
        self.client = client
        self.groups = groups
        self.deleted: list[str] = []
        self.made: dict[str, list[str]] = {}
        self.known = lambda name: True

    def node_groups(self):
        return self.groups

    def starting(self, group):
        return {n for n in self.made.get(group, ()) if not self.known(n)}

    def failed(self, group):
        return 0

    async def increase_size(self, group, names):
        self.made.setdefault(group.name, []).extend(names)
        for name in names:
            await self.client.create(node(name, group.cpu, group.memory, group.node_labels(), group.gpus,
                                          list(group.taints)))

    async def delete_node(self, group, name):
        await self.client.delete("Node", name)
        self.deleted.append(name)
        return True


def node(name, cpu="4", memory="8Gi", labels=None, gpus=0, taints=(), unschedulable=False):
    capacity = {"cpu": cpu, "memory": memory, "pods": "110"}
    if gpus:
        capacity["nvidia.com/gpu"] = str(gpus)
    return codec.from_dict(core_pb2.Node, {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": list(taints), "unschedulable": unschedulable},
        "status": {"capacity": capacity, "allocatable": capacity, "conditions": [{"type": "Ready", "status": "True"}]}})


def replicaset(name, replicas, cpu, **spec):
    return codec.from_dict(apps_pb2.ReplicaSet, {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {
                     "terminationGracePeriodSeconds": 0, **spec,
                     "containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}]}}}})


def bare_pod(name, cpu=None, gpu=None, tolerations=()):
    requests = {k: v for k, v in (("cpu", cpu), ("nvidia.com/gpu", gpu)) if v}
    return codec.from_dict(core_pb2.Pod, {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"tolerations": list(tolerations),
                 "containers": [{"name": "c", "image": "busybox", "resources": {
                     "requests": requests, "limits": {"nvidia.com/gpu": gpu} if gpu else {}}}]}})


GROUPS = [
    {"name": "small", "min": 0, "max": 3, "template": {"cpu": "2", "memory": "4Gi"}},
    {"name": "gpu", "min": 0, "max": 2,
     "template": {"cpu": "4", "memory": "16Gi", "gpus": 1, "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]}},
]
SETTINGS = {"scaleDownUnneededTime": 600.0, "scaleDownDelayAfterAdd": 600.0}


class Rig:
    """API server clients, the in-process scheduler, a fake kubelet, and the autoscaler on a FakeClock
    (its scans run when the test says: `scan()`)."""

    def __init__(self, srv, groups=GROUPS, settings=SETTINGS):
        from minik8s.scheduler.scheduler import Scheduler
        self.admin = srv.async_client()
        self.sched_client = srv.async_client("scheduler")
        self.scheduler = Scheduler(self.sched_client)
        self.clock = FakeClock()
        self.provider = NodeObjects(self.admin, parse_node_groups(groups))
        self.autoscaler = ClusterAutoscaler(self.admin, self.provider, settings, clock=self.clock)
        self.provider.known = lambda name: self.autoscaler.nodes.get(name) is not None
        self.kubelet = FakeKubelet(self.admin)

    async def __aenter__(self):
        self._sched = asyncio.create_task(self.scheduler.run())
        await asyncio.wait_for(self.scheduler.ready.wait(), TIMEOUT)
        await self.kubelet.start()
        await self.autoscaler.start()
        return self

    async def __aexit__(self, *exc):
        await self.kubelet.stop()
        await self.scheduler.stop()
        self._sched.cancel()
        await asyncio.gather(self._sched, return_exceptions=True)
        await self.autoscaler.stop()
        await self.sched_client.close()
        await self.admin.close()

    async def settled(self):
        """The autoscaler's caches have caught up with the server's nodes and pods."""
        nodes = {n.metadata.name for n in (await self.admin.list("Node")).items}
        pods = {(p.metadata.name, p.spec.nodeName, p.metadata.resourceVersion)
                for p in (await self.admin.list("Pod", "default")).items}
        await wait_for(lambda: {n.metadata.name for n in self.autoscaler.nodes.list()} == nodes and
                       {(p.metadata.name, p.spec.nodeName, p.metadata.resourceVersion)
                        for p in self.autoscaler.pods.list()} >= pods, TIMEOUT, "autoscaler caches")

    async def scan(self, advance: float = 0.0):
        await self.settled()
        self.clock.advance(advance)
        await self.autoscaler.run_once()

    async def pods(self, **selector):
        return (await self.admin.list("Pod", "default", **selector)).items

    async def events(self, name, reason):
        return [e for e in (await self.admin.list("Event", "default")).items
                if e.involvedObject.name == name and e.reason == reason]


def unschedulable(pod) -> bool:
    return any(c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable"
               for c in pod.status.conditions)


async def test_pending_pod_gets_a_node_of_the_group_that_fits(srv):
    async with Rig(srv) as rig:
        await rig.admin.create(node("static-1", cpu="1"))
        await rig.admin.create(bare_pod("web", cpu="1500m"))
        await wait_for(lambda: _check(rig.admin.get("Pod", "web", "default"), unschedulable), TIMEOUT)
        await rig.scan()
        pod = await wait_for(lambda: _check(rig.admin.get("Pod", "web", "default"), lambda p: p.spec.nodeName),
                             TIMEOUT, "web scheduled")
        assert pod.spec.nodeName == "small-1"
        events = await wait_for(lambda: rig.events("web", "TriggeredScaleUp"), TIMEOUT)
        assert events[0].message == "pod triggered scale-up: [{small 0->1 (max: 3)}]"
        cm = await wait_for(lambda: rig.admin.get("ConfigMap", STATUS_CONFIGMAP, "kube-system"), TIMEOUT,
                            ignoring=(Exception,))
        assert "cloudProviderTarget: 1" in cm.data["status"]
        assert "ScaleUp: 0->1 for 1 unschedulable pod(s) (small-1)" in cm.data["status"]
        await rig.scan()                            # the next scan sees the node registered and Ready
        out = await asyncio.to_thread(Ctl(srv.home), "get", "nodegroups", "--server", srv.address,
                                      "--token", srv.tokens["admin"])
        assert out.returncode == 0, out.stderr
        header, small, gpu = out.stdout.splitlines()
        assert header.split()[:8] == ["NAME", "MIN", "MAX", "CURRENT", "READY", "TARGET", "SCALE-UP", "CANDIDATES"]
        assert small.split()[:8] == ["small", "0", "3", "1", "1", "1", "NoActivity", "0"]
        assert "ScaleUp: 0->1 for 1 unschedulable pod(s)" in small and gpu.split()[:4] == ["gpu", "0", "2", "0"]

        # a training pod asking for a GPU: the GPU group grows from zero
        tolerate = [{"key": "nvidia.com/gpu", "operator": "Exists"}]
        await rig.admin.create(bare_pod("train", cpu="1", gpu="1", tolerations=tolerate))
        await wait_for(lambda: _check(rig.admin.get("Pod", "train", "default"), unschedulable), TIMEOUT)
        await rig.scan()
        pod = await wait_for(lambda: _check(rig.admin.get("Pod", "train", "default"), lambda p: p.spec.nodeName),
                             TIMEOUT, "train scheduled")
        assert pod.spec.nodeName == "gpu-1"

        # no group's node holds 3 cpu without the GPU taint: the pod is told why, and nothing grows
        await rig.admin.create(bare_pod("huge", cpu="3"))
        await wait_for(lambda: _check(rig.admin.get("Pod", "huge", "default"), unschedulable), TIMEOUT)
        await rig.scan()
        events = await wait_for(lambda: rig.events("huge", "NotTriggerScaleUp"), TIMEOUT)
        assert events[0].message == ("pod didn't trigger scale-up: 1 Insufficient cpu, "
                                     "1 node(s) had untolerated taint {nvidia.com/gpu: }")
        assert len((await rig.admin.list("Node")).items) == 3


async def _check(coro, pred):
    obj = await coro
    return obj if pred(obj) else None


async def cordon(admin, name, on=True):
    await admin.patch("Node", name, {"spec": {"unschedulable": on}})


async def test_idle_node_is_removed_after_unneeded_time_without_breaking_a_budget(srv):
    async with Rig(srv) as rig, running_manager(rig.admin, "replicaset,disruption"):
        await rig.admin.create(node("static-1", cpu="4", unschedulable=True))
        await rig.admin.create(node("small-1", cpu="2", labels={"minik8s.io/node-group": "small"}))
        await rig.admin.create(replicaset("web", 2, "200m"))
        await wait_for(lambda: _all(rig.pods(), lambda p: p.spec.nodeName == "small-1" and p.status.phase == "Running", 2),
                       TIMEOUT, "web on small-1")
        await cordon(rig.admin, "static-1", False)
        pdb = codec.from_dict(policy_pb2.PodDisruptionBudget, {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}})
        await rig.admin.create(pdb)
        await wait_for(lambda: _check(rig.admin.get("PodDisruptionBudget", "web", "default"),
                                      lambda b: b.status.expectedPods == 2), TIMEOUT)

        # 0.2 utilization, but the budget allows no disruption: never a candidate, however long
        await rig.scan()
        await rig.scan(advance=700)
        assert rig.autoscaler.unneeded_since == {}
        assert rig.provider.deleted == []

        await rig.admin.patch("PodDisruptionBudget", "web", {"spec": {"minAvailable": 1}}, "default")
        await wait_for(lambda: _check(rig.admin.get("PodDisruptionBudget", "web", "default"),
                                      lambda b: b.status.disruptionsAllowed == 1), TIMEOUT)
        await rig.scan()
        assert list(rig.autoscaler.unneeded_since) == ["small-1"]
        await rig.scan(advance=599)                  # not unneeded for 10 minutes yet
        assert rig.autoscaler.draining is None
        await rig.scan(advance=1)

        healthy_low = []

        async def drained():
            b = await rig.admin.get("PodDisruptionBudget", "web", "default")
            if b.status.currentHealthy < b.status.desiredHealthy:
                healthy_low.append(b.status.currentHealthy)
            await rig.scan()
            return "small-1" in rig.provider.deleted

        await wait_for(drained, TIMEOUT, "small-1 drained and removed", interval=0.1)
        assert healthy_low == []
        pods = await rig.pods()
        assert len(pods) == 2 and all(p.spec.nodeName == "static-1" for p in pods)
        assert await rig.events(pods[0].metadata.name, "ScaleDown") == []       # the new pods were not moved
        moved = [e for e in (await rig.admin.list("Event", "default")).items
                 if e.reason == "ScaleDown" and e.involvedObject.kind == "Pod"]
        assert len(moved) == 2 and moved[0].message.startswith("deleting pod for node scale down")
        status = (await rig.admin.get("ConfigMap", STATUS_CONFIGMAP, "kube-system")).data["status"]
        assert "ScaleDown: node small-1 removed (underutilized)" in status


async def _all(coro, pred, count):
    items = await coro
    return len(items) == count and all(pred(i) for i in items)


async def test_consolidation_moves_pods_one_node_at_a_time_and_none_is_left_unschedulable(srv):
    settings = {**SETTINGS, "scaleDownUnneededTime": 60.0}
    async with Rig(srv, settings=settings) as rig, running_manager(rig.admin, "replicaset"):
        names = ["small-1", "small-2", "small-3"]
        for n in names:
            await rig.admin.create(node(n, cpu="4", labels={"minik8s.io/node-group": "small"}, unschedulable=True))
        # two pods of 1100m on each node: 0.55 each, above the threshold, yet six fit on two nodes
        await rig.admin.create(replicaset("web", 0, "1100m"))
        for i, n in enumerate(names, 1):
            await cordon(rig.admin, n, False)
            await rig.admin.patch("ReplicaSet", "web", {"spec": {"replicas": 2 * i}}, "default")
            await wait_for(lambda: _all(rig.pods(), lambda p: p.spec.nodeName and p.status.phase == "Running", 2 * i),
                           TIMEOUT, f"{2 * i} pods running")
            await cordon(rig.admin, n)
        for n in names:
            await cordon(rig.admin, n, False)

        await rig.scan()
        assert sorted(rig.autoscaler.unneeded_since) == names
        await rig.scan(advance=60)
        assert rig.autoscaler.draining is not None
        removed = rig.autoscaler.draining.candidate.node
        assert rig.autoscaler.draining.candidate.reason == "consolidation"
        tainted = [n.metadata.name for n in (await rig.admin.list("Node")).items
                   if any(t.key == TO_BE_DELETED_TAINT for t in n.spec.taints)]
        assert tainted == [removed]                 # one node at a time

        stuck = []

        async def consolidated():
            stuck.extend(p.metadata.name for p in await rig.pods() if unschedulable(p))
            await rig.scan(advance=60)
            return removed in rig.provider.deleted and rig.autoscaler.draining is None

        await wait_for(consolidated, TIMEOUT, "one node consolidated away", interval=0.1)
        await wait_for(lambda: _all(rig.pods(), lambda p: p.spec.nodeName and p.status.phase == "Running", 6),
                       TIMEOUT, "six pods running")
        pods = await rig.pods()
        assert stuck == []
        assert {p.spec.nodeName for p in pods} == set(names) - {removed}
        for _ in range(3):                          # 3300m on each of two 4-cpu nodes: nothing more to do
            await rig.scan(advance=120)
        assert rig.provider.deleted == [removed]
        node_events = [e for e in (await rig.admin.list("Event", "")).items
                       if e.involvedObject.kind == "Node" and e.reason == "ScaleDown"]
        assert "Consolidation: the pods of 3 nodes fit on 2" in node_events[0].message
        pod_events = [e for e in (await rig.admin.list("Event", "default")).items
                      if e.reason == "ScaleDown" and e.involvedObject.kind == "Pod"]
        assert len(pod_events) == 2 and "consolidation" in pod_events[0].message


async def test_group_below_min_is_brought_up_to_it(srv):
    groups = [{**GROUPS[0], "min": 2}]
    async with Rig(srv, groups=groups) as rig:
        await rig.scan()
        await wait_for(lambda: _check(rig.admin.list("Node"), lambda r: len(r.items) == 2), TIMEOUT)
        await rig.scan(advance=10_000)              # empty, but at min: never removed
        assert rig.autoscaler.unneeded_since == {} and rig.provider.deleted == []
        # what the group cost: two nodes for the 10000 s the clock moved between the scans
        assert rig.autoscaler.node_seconds["small"] == 20_000
        status = (await rig.admin.get("ConfigMap", STATUS_CONFIGMAP, "kube-system")).data["status"]
        assert "nodeSeconds: 20000" in status
