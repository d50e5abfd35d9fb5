"""The scheduling queue on a fake clock: priority order, backoff that doubles to a cap, unschedulable
pods moved by the events their rejecting plugins care about, and the five-minute safety net."""
from __future__ import annotations

import asyncio

import pytest

from minik8s.api.clock import FakeClock
from minik8s.scheduler.queue import SchedulingQueue
from schedtest import make_pod, pod_info


def queue(clock=None, interested=None) -> SchedulingQueue:
    return SchedulingQueue(clock or FakeClock(), interested=interested)


async def pop_now(q: SchedulingQueue):
    return await asyncio.wait_for(q.pop(), 1)


async def test_priority_then_first_come():
    q = queue()
    for name, prio in (("low", 0), ("high-1", 100), ("mid", 10), ("high-2", 100)):
        q.add(pod_info(make_pod(name, priority=prio)))
    assert [(await pop_now(q)).info.name for _ in range(4)] == ["high-1", "high-2", "mid", "low"]


async def test_backoff_doubles_up_to_the_cap():
    clock = FakeClock()
    q = queue(clock)
    expected = [1, 2, 4, 8, 10, 10]
    q.add(pod_info(make_pod("p")))
    waits = []
    for _ in expected:
        qp = await pop_now(q)
        q.add_backoff(qp)
        waited = 0.0
        while q.depth().active == 0:
            clock.advance(0.5)
            waited += 0.5
            q.flush()
        waits.append(waited)
    assert waits == expected


async def test_unschedulable_pods_move_on_events_their_plugins_care_about():
    events = {"NodeResourcesFit": {"NodeAdd", "PodDelete"}, "TaintToleration": {"NodeAdd", "NodeUpdate"}}
    clock = FakeClock()
    q = queue(clock, lambda qp, ev: any(ev in events[p] for p in qp.unschedulable_plugins))
    q.add(pod_info(make_pod("needs-cpu")))
    q.add(pod_info(make_pod("needs-toleration")))
    a, b = await pop_now(q), await pop_now(q)
    q.add_unschedulable(a, frozenset({"NodeResourcesFit"}))
    q.add_unschedulable(b, frozenset({"TaintToleration"}))
    clock.advance(20)                   # past any backoff
    q.move_all("NodeUpdate")
    assert [(await pop_now(q)).info.name] == ["needs-toleration"]
    assert q.depth().unschedulable == 1
    q.move_all("PodDelete")
    assert (await pop_now(q)).info.name == "needs-cpu"


async def test_a_pod_moved_before_its_backoff_waits_it_out():
    clock = FakeClock()
    q = queue(clock)
    q.add(pod_info(make_pod("p")))
    qp = await pop_now(q)
    q.add_unschedulable(qp, frozenset({"NodeResourcesFit"}))
    q.move_all("NodeAdd")
    assert q.depth().backoff == 1 and q.depth().active == 0
    clock.advance(1)
    q.flush()
    assert (await pop_now(q)).info.name == "p"


async def test_unschedulable_pods_are_retried_after_five_minutes():
    clock = FakeClock()
    q = queue(clock, lambda qp, ev: False)
    q.add(pod_info(make_pod("p")))
    q.add_unschedulable(await pop_now(q), frozenset({"NodeResourcesFit"}))
    clock.advance(299)
    q.flush()
    assert q.depth().unschedulable == 1
    clock.advance(2)
    q.flush()
    assert (await pop_now(q)).info.name == "p"


async def test_flusher_runs_on_the_clock():
    clock = FakeClock()
    q = queue(clock)
    flusher = asyncio.create_task(q.run())
    q.add(pod_info(make_pod("p")))
    q.add_backoff(await pop_now(q))
    popped = asyncio.create_task(q.pop())
    for _ in range(20):
        await asyncio.sleep(0)
        clock.advance(0.1)
    assert (await asyncio.wait_for(popped, 1)).info.name == "p"
    flusher.cancel()


@pytest.mark.parametrize("change, moves", [
    (dict(labels={"tier": "web"}), True),
    (dict(node_selector={"zone": "a"}), True),
    (dict(), False),          # the same spec (a status update): no new try
])
async def test_updating_an_unschedulable_pod(change, moves):
    clock = FakeClock()
    q = queue(clock, lambda qp, ev: False)
    q.add(pod_info(make_pod("p")))
    q.add_unschedulable(await pop_now(q), frozenset({"NodeAffinity"}))
    clock.advance(20)
    q.update(pod_info(make_pod("p", **change)))
    assert (q.depth().active == 1) is moves


async def test_deleted_pods_leave_every_part():
    q = queue()
    q.add(pod_info(make_pod("a")))
    q.add(pod_info(make_pod("b")))
    q.delete("a")
    qp = await pop_now(q)
    q.delete("b")
    q.add_unschedulable(qp, frozenset())       # deleted while in flight: dropped
    name, depth = qp.info.name, q.depth()
    assert name == "b" and (depth.active, depth.backoff, depth.unschedulable) == (0, 0, 0)
