"""Bounded watches: a client that stops reading its watch is cut off with Expired once its unread
events pass the server's byte bound (or it has read nothing for the stall time while events wait),
its queue dropped; watchers that read are untouched, and the server's memory does not follow the
unread events. The client lists again: Expired is what the informer already relists on."""
from __future__ import annotations

import asyncio

import grpc
import psutil
import pytest

from minik8s.api.errors import Expired
from minik8s.api.pb import api_pb2, core_pb2
from minik8s.client.transport import from_rpc_error
from support.wait import wait_for

NS = "default"


def big_pod(name: str):
    """A pod of about 2 KB, as a pod with a few labels, annotations and env vars is."""
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, NS
    for k in range(24):
        p.metadata.annotations[f"example.com/note-{k}"] = "x" * 64
    c = p.spec.containers.add()
    c.name, c.image = "app", "busybox"
    return p


class UnreadWatch:
    """A raw gRPC watch on pods whose messages nobody reads until `outcome()`. Its channel keeps
    HTTP/2's initial 64 KiB receive window (no BDP probing, which would grow it to megabytes), so
    the transport takes little and what the client does not read waits in the server's queue."""

    def __init__(self, srv):
        self.channel = grpc.aio.insecure_channel(srv.address, options=[("grpc.http2.bdp_probe", 0)])
        watch = self.channel.unary_stream("/minik8s.api.API/Watch",
                                          request_serializer=api_pb2.WatchRequest.SerializeToString,
                                          response_deserializer=api_pb2.WatchResponse.FromString)
        self.call = watch(api_pb2.WatchRequest(kind="Pod", namespace=NS),
                          metadata=(("authorization", f"Bearer {srv.tokens['admin']}"),))

    async def outcome(self) -> tuple[int, Exception | None]:
        """Reads what the stream still holds: (events read, the error that ended it)."""
        n = 0
        try:
            async for resp in self.call:
                n += len(resp.events)
        except grpc.RpcError as e:
            return n, from_rpc_error(e)
        return n, None

    async def close(self):
        self.call.cancel()
        await self.channel.close()


async def write_pods(admin, count: int, prefix: str = "p") -> None:
    sem = asyncio.Semaphore(32)

    async def one(i):
        async with sem:
            await admin.create(big_pod(f"{prefix}{i}"))
    await asyncio.gather(*(one(i) for i in range(count)))


async def started(watches: list[UnreadWatch], admin) -> None:
    """Until every watch is registered on the server: a pod created now reaches each stream's queue."""
    await asyncio.gather(*(w.call.initial_metadata() for w in watches))


@pytest.mark.apiserver_args("--watch-max-queue-bytes", "262144")
async def test_an_unread_watch_is_cut_off_with_expired_and_a_reading_one_sees_every_event(srv, admin):
    unread = UnreadWatch(srv)
    seen: list[str] = []

    async def reader():
        async for ev in admin.watch("pods", NS):
            seen.append(ev.object.metadata.name)
            if len(seen) == 400:
                return
    reading = asyncio.create_task(reader())
    try:
        await started([unread], admin)
        await write_pods(admin, 400)
        await asyncio.wait_for(reading, 60)
        assert sorted(seen) == sorted(f"p{i}" for i in range(400))
        got, err = await asyncio.wait_for(unread.outcome(), 30)
        assert isinstance(err, Expired), (got, err)
        assert "fell behind by more than 262144 bytes" in err.message
        assert got < 400        # what it had not read was dropped, not delivered late
    finally:
        reading.cancel()
        await unread.close()


@pytest.mark.apiserver_args("--watch-max-queue-bytes", "1048576")
async def test_ten_unread_watches_during_two_thousand_writes_are_cut_off_and_cost_no_memory(srv, admin):
    server = psutil.Process(srv.proc.pid)
    before = server.memory_info().rss
    watches = [UnreadWatch(srv) for _ in range(10)]
    try:
        await started(watches, admin)
        await write_pods(admin, 2000)
        grown = server.memory_info().rss - before
        assert grown < 100 * 1024 * 1024, f"server grew {grown / 2**20:.0f} MiB"
        outcomes = await asyncio.wait_for(asyncio.gather(*(w.outcome() for w in watches)), 60)
        assert all(isinstance(err, Expired) for _, err in outcomes), outcomes
        # the server still answers at once
        assert len((await admin.list("pods", NS)).items) == 2000
    finally:
        for w in watches:
            await w.close()


@pytest.mark.apiserver_args("--watch-stall-seconds", "1", "--watch-max-queue-bytes", "0")
async def test_a_watch_that_reads_nothing_for_the_stall_time_is_cut_off(srv, admin):
    unread = UnreadWatch(srv)
    try:
        await started([unread], admin)
        # more than the stream's transport window holds, so events wait in the server's queue;
        # then a few pods a second until the stall time has passed twice over (a bounded count)
        await write_pods(admin, 300, "early")
        loop = asyncio.get_running_loop()
        until = loop.time() + 2.5
        i = 0
        while loop.time() < until and i < 100:
            await admin.create(big_pod(f"late{i}"))
            i += 1
            await asyncio.sleep(0.05)      # paces the writer; nothing waits on state here
        _, err = await asyncio.wait_for(unread.outcome(), 30)
        assert isinstance(err, Expired) and "read no event for 1 s" in err.message
    finally:
        await unread.close()
