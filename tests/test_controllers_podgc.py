"""The pod garbage collector against a real API server, a fake clock driving its period: finished pods
beyond the threshold go (evicted first, then the oldest); a pod bound to a node that no longer exists
goes after the quarantine, marked Failed with DisruptionTarget `DeletionByPodGC`; a terminating pod on
a NotReady node goes once the node carries the out-of-service taint."""
from __future__ import annotations

import asyncio
import contextlib

from minik8s.api.clock import FakeClock
from minik8s.api.errors import NotFound
from minik8s.api.pb import core_pb2
from minik8s.client.informer import copy

from support.controllers import running_manager, set_running
from support.wait import wait_for

NS = "default"


@contextlib.asynccontextmanager
async def controllers(srv, clock, **settings):
    settings.setdefault("podGCPeriod", 20)
    async with srv.async_client() as admin, srv.async_client("controller-manager") as cm, \
            running_manager(cm, "pod-garbage-collector", clock, settings=settings) as mgr:
        yield admin, mgr


def pod(name: str, node: str = "") -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, NS
    p.spec.nodeName = node
    c = p.spec.containers.add()
    c.name, c.image = "app", "busybox"
    return p


async def with_phase(client, p, phase, reason=""):
    p = await client.create(p)
    p.status.phase, p.status.reason = phase, reason
    return await client.update_status(p)


async def names(client):
    return {p.metadata.name for p in (await client.list("Pod", NS)).items}


async def gone(client, name):
    try:
        await client.get("Pod", name, NS)
    except NotFound:
        return True
    return False


async def test_finished_pods_beyond_the_threshold_go_evicted_first_then_oldest(srv):
    clock = FakeClock()
    async with srv.async_client() as admin:
        for i in range(4):
            await with_phase(admin, pod(f"done-{i}"), "Succeeded" if i % 2 else "Failed")
        await with_phase(admin, pod("evicted"), "Failed", reason="Evicted")
        await admin.create(pod("pending"))
    async with controllers(srv, clock, terminatedPodGCThreshold=3) as (admin, mgr):
        # the first pass runs at start: 5 finished, threshold 3
        await wait_for(lambda: _names_are(admin, {"done-1", "done-2", "done-3", "pending"}),
                       what="evicted and the oldest finished pod collected")


async def _names_are(client, want):
    return await names(client) == want


async def test_orphaned_pods_go_after_the_quarantine_marked_failed(srv):
    clock = FakeClock()
    async with controllers(srv, clock) as (admin, mgr):
        watch_events = []

        async def watch():
            async for ev in admin.watch("Pod", NS):
                watch_events.append(ev)
        watcher = asyncio.create_task(watch())
        live = core_pb2.Node()
        live.metadata.name = "live"
        await admin.create(live)
        orphan = await admin.create(pod("orphan", "vanished"))
        orphan.status.phase = "Running"
        await admin.update_status(orphan)
        await admin.create(pod("kept", "live"))
        ctl = mgr.controllers["pod-garbage-collector"]
        clock.advance(20)
        await wait_for(lambda: "vanished" in ctl.missing_since, what="the missing node noticed")
        clock.advance(40)
        await wait_for(lambda: gone(admin, "orphan"), what="the orphan deleted")
        last = [ev.object for ev in watch_events if ev.object.metadata.name == "orphan" and ev.type == "MODIFIED"][-1]
        c = next(c for c in last.status.conditions if c.type == "DisruptionTarget")
        assert last.status.phase == "Failed"
        assert (c.status, c.reason, c.message) == ("True", "DeletionByPodGC", "PodGC: node no longer exists")
        assert not await gone(admin, "kept")
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


async def test_terminating_pods_on_an_out_of_service_node_are_force_deleted(srv):
    clock = FakeClock()
    async with controllers(srv, clock) as (admin, mgr):
        for name, ready in (("down", "False"), ("up", "True")):
            n = core_pb2.Node()
            n.metadata.name = name
            n.status.conditions.add(type="Ready", status=ready)
            await admin.create(n)
        for name, node in (("stuck", "down"), ("healthy-node", "up")):
            p = await admin.create(pod(name, node))
            p = copy(p)
            set_running(p, True, clock.now(), node)
            await admin.update_status(p)
            await admin.delete("Pod", name, NS)          # graceful: no kubelet finishes it
        assert (await admin.get("Pod", "stuck", NS)).metadata.deletionTimestamp     # Terminating

        for name in ("down", "up"):
            n = await admin.get("Node", name)
            n.spec.taints.add(key="node.kubernetes.io/out-of-service", value="nodeshutdown", effect="NoExecute")
            await admin.update(n)
        clock.advance(20)
        await wait_for(lambda: gone(admin, "stuck"), what="the stuck pod force-deleted")
        # a Ready node's terminating pods are its kubelet's business
        assert not await gone(admin, "healthy-node")
