"""The kubelet's node heartbeat against a real API server on a fake clock: a kubelet that stalled, or
could not reach the API server, while the node lifecycle controller set its conditions Unknown posts
Ready again within one nodeStatusUpdatePeriod of its recovery, not only when the 5-minute report
period runs out."""
from __future__ import annotations

import asyncio
import contextlib

from minik8s.api.clock import FakeClock, rfc3339
from minik8s.api.errors import NotFound

from kubelet.config import NodeConfig, Settings
from kubelet.node_status import NodeStatusManager
from kubelet.runtime.fake import FakeRuntime

from support.wait import wait_for

NODE = "n1"
UPDATE_PERIOD = 10.0


def ready(node) -> str:
    return next(c.status for c in node.status.conditions if c.type == "Ready")


@contextlib.asynccontextmanager
async def heartbeats(mgr: NodeStatusManager):
    """The kubelet's two heartbeat loops, running until the block ends (as a stall stops them)."""
    tasks = [asyncio.create_task(mgr.lease_loop()), asyncio.create_task(mgr.status_loop())]
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def renewed_at(client, clock) -> bool:
    lease = await client.get("Lease", NODE, "kube-node-lease")
    return lease.spec.renewTime.startswith(rfc3339(clock.now())[:19])


async def advance_one_period(client, clock) -> None:
    clock.advance(UPDATE_PERIOD)
    await wait_for(lambda: renewed_at(client, clock), what="the lease renewed", ignoring=(NotFound,))


async def set_unknown(client) -> None:
    """What the node lifecycle controller writes after the grace period without a heartbeat."""
    node = await client.get("Node", NODE)
    for c in node.status.conditions:
        c.status, c.reason, c.message = "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."
    await client.update_status(node)


async def started(admin, clock) -> NodeStatusManager:
    mgr = NodeStatusManager(admin, NodeConfig(name=NODE), FakeRuntime(NODE, "10.246.1.0/24", clock), [],
                            Settings(lease_duration=40, node_status_update_period=UPDATE_PERIOD), clock,
                            "127.0.0.1")
    await mgr.register()
    return mgr


async def test_a_kubelet_back_from_a_stall_posts_ready_within_one_update_period(admin):
    clock = FakeClock()
    mgr = await started(admin, clock)
    async with heartbeats(mgr):
        for _ in range(3):
            await advance_one_period(admin, clock)
    # stalled for a minute: no heartbeat, and meanwhile the controller calls the node Unknown
    clock.advance(60)
    await set_unknown(admin)
    async with heartbeats(mgr):
        await wait_for(lambda: renewed_at(admin, clock), what="the lease renewed on recovery",
                       ignoring=(NotFound,))
        clock.advance(UPDATE_PERIOD)
        node = await wait_for(lambda: _ready(admin), what="Ready posted again")
        c = next(c for c in node.status.conditions if c.type == "Ready")
        assert (c.reason, c.lastHeartbeatTime) == ("KubeletReady", rfc3339(clock.now()))


async def test_a_kubelet_cut_off_from_the_api_server_posts_ready_within_one_update_period(admin):
    clock = FakeClock()
    mgr = await started(admin, clock)

    class CutOff:
        """The API server unreachable: every call fails, as a partitioned kubelet's would."""
        calls = 0

        def __getattr__(self, name):
            async def fail(*args, **kwargs):
                CutOff.calls += 1
                raise ConnectionError("the API server is unreachable")
            return fail

    async with heartbeats(mgr):
        await advance_one_period(admin, clock)
        mgr.client = CutOff()
        clock.advance(UPDATE_PERIOD)               # a renewal and a status tick fail
        await wait_for(lambda: CutOff.calls, what="a renewal tried")
        await set_unknown(admin)
        mgr.client = admin
        await advance_one_period(admin, clock)
        await wait_for(lambda: _ready(admin), what="Ready posted again")


async def _ready(client):
    node = await client.get("Node", NODE)
    return node if ready(node) == "True" else None
