"""The work queue's client-go semantics, with time driven by a FakeClock."""
from __future__ import annotations

import asyncio

import pytest

from minik8s.api.clock import FakeClock
from minik8s.client.workqueue import ItemExponentialFailureRateLimiter, ShutDown, WorkQueue, run_workers
from support import wait_for

# a hung watch fails its test instead of the run
pytestmark = pytest.mark.timeout(10)


async def settle() -> None:
    """Let every ready task run (timers woken by a clock advance add their keys)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_add_dedups_while_queued_and_keeps_fifo_order():
    q = WorkQueue(FakeClock())
    for k in ("a", "b", "a", "c", "b"):
        q.add(k)
    assert len(q) == 3
    assert [await q.get() for _ in range(3)] == ["a", "b", "c"]
    assert q.metrics().adds == 3


async def test_key_added_while_processing_is_requeued_only_after_done():
    q = WorkQueue(FakeClock())
    q.add("a")
    assert await q.get() == "a"
    q.add("a")
    q.add("a")
    assert len(q) == 0           # not handed to a second worker while the first holds it
    waiter = asyncio.create_task(q.get())
    await settle()
    assert not waiter.done()
    q.done("a")
    assert await waiter == "a"   # re-queued once by done()
    q.done("a")
    assert len(q) == 0


async def test_workers_never_process_one_key_concurrently():
    q = WorkQueue(FakeClock())
    active: set[str] = set()
    calls: list[str] = []
    overlap = []
    release = asyncio.Event()

    async def sync(key):
        if key in active:
            overlap.append(key)
        active.add(key)
        calls.append(key)
        if len(calls) == 1:
            q.add("a")           # re-added mid-processing: must wait for this sync to finish
            q.add("b")
            await release.wait()
        await asyncio.sleep(0)
        active.discard(key)

    q.add("a")
    workers = asyncio.create_task(run_workers(q, sync, 4))
    await wait_for(lambda: calls == ["a", "b"])
    assert len(q) == 0           # "a" waits in dirty, not on the queue, while its worker holds it
    release.set()
    await wait_for(lambda: calls == ["a", "b", "a"])
    q.shutdown()
    await workers
    assert overlap == []


def test_rate_limiter_backoff_doubles_from_5ms_to_the_cap_and_forget_resets():
    rl = ItemExponentialFailureRateLimiter()
    assert [rl.when("k") for _ in range(5)] == [0.005, 0.01, 0.02, 0.04, 0.08]
    assert rl.num_requeues("k") == 5
    assert rl.when("other") == 0.005
    for _ in range(30):
        rl.when("k")
    assert rl.when("k") == 1000.0
    rl.forget("k")
    assert rl.num_requeues("k") == 0
    assert rl.when("k") == 0.005


async def test_add_rate_limited_waits_the_backoff_on_the_clock():
    clock = FakeClock()
    q = WorkQueue(clock)
    for expected in (0.005, 0.01, 0.02):
        q.add_rate_limited("k")
        await settle()
        clock.advance(expected * 0.9)
        await settle()
        assert len(q) == 0, f"added before its {expected}s backoff"
        clock.advance(expected * 0.1 + 1e-9)
        await settle()
        assert len(q) == 1
        assert await q.get() == "k"
        q.done("k")
    assert q.num_requeues("k") == 3
    assert q.metrics().retries == 3
    q.forget("k")
    assert q.num_requeues("k") == 0
    q.add_rate_limited("k")
    clock.advance(0.005)
    await settle()
    assert len(q) == 1           # back to the 5 ms first step


async def test_add_after_fires_only_after_advance_and_keeps_the_earlier_deadline():
    clock = FakeClock()
    q = WorkQueue(clock)
    q.add_after("a", 10)
    q.add_after("a", 30)         # later deadline: ignored
    q.add_after("b", 20)
    q.add_after("b", 5)          # earlier deadline: wins
    await settle()
    assert len(q) == 0
    clock.advance(5)
    await settle()
    assert [await q.get()] == ["b"]
    clock.advance(4.9)
    await settle()
    assert len(q) == 0
    clock.advance(0.1)
    await settle()
    assert await q.get() == "a"
    clock.advance(100)
    await settle()
    assert len(q) == 0           # the ignored and the replaced deadlines never fire
    q.add_after("c", 0)
    assert len(q) == 1


async def test_shutdown_drains_then_stops_workers_and_ignores_adds():
    q = WorkQueue(FakeClock())
    q.add("a")
    blocked = asyncio.create_task(q.get())
    assert await blocked == "a"
    idle = asyncio.create_task(q.get())
    await settle()
    q.add("b")
    assert await idle == "b"
    q.add("c")
    q.shutdown()
    q.add("d")
    assert await q.get() == "c"
    with pytest.raises(ShutDown):
        await q.get()
    waiter = asyncio.create_task(q.get())
    with pytest.raises(ShutDown):
        await waiter


async def test_run_workers_retries_failures_with_backoff_and_forgets_on_success():
    clock = FakeClock()
    q = WorkQueue(clock, name="test")
    attempts: list[str] = []

    async def sync(key):
        attempts.append(key)
        if len(attempts) < 3:
            raise RuntimeError("boom")

    q.add("k")
    workers = asyncio.create_task(run_workers(q, sync, 2))
    await wait_for(lambda: len(attempts) == 1)
    await wait_for(lambda: q.num_requeues("k") == 1)
    clock.advance(0.005)
    await wait_for(lambda: len(attempts) == 2)
    await wait_for(lambda: q.num_requeues("k") == 2)
    clock.advance(0.009)
    await settle()
    assert len(attempts) == 2    # second retry waits 10 ms
    clock.advance(0.0011)
    await wait_for(lambda: len(attempts) == 3)
    await wait_for(lambda: q.num_requeues("k") == 0)   # success forgot the failures
    m = q.metrics()
    assert (m.retries, m.depth, m.processing) == (2, 0, 0)
    q.shutdown()
    await workers
