"""Zone-aware eviction rate limits (minik8s/controllers/zonestate.py), table-driven on clock readings the
test chooses: zone states from Ready statuses, the rate each state gets, the order and pace at which
bad nodes may be tainted, and no tainting at all while every zone is fully disrupted."""
from __future__ import annotations

import math

import pytest

from minik8s.controllers.zonestate import (FULL_DISRUPTION, NORMAL, PARTIAL_DISRUPTION, TokenBucket,
                                           ZoneEvictionLimits, compute_zone_state, zone_key)

T, F, U = "True", "False", "Unknown"


@pytest.mark.parametrize("ready, want", [
    ([T], NORMAL),
    ([T, T, F], NORMAL),
    ([F, F, T, T], NORMAL),                  # two not ready: never more than Normal
    ([F, F, F, T, T, T], NORMAL),            # 3 of 6 = 0.5 < 0.55
    ([F, U, F, T, T], PARTIAL_DISRUPTION),   # 3 of 5 = 0.6
    ([U, U, U, T], PARTIAL_DISRUPTION),
    ([U], FULL_DISRUPTION),
    ([F, U, U], FULL_DISRUPTION),
    ([], NORMAL),
])
def test_zone_state(ready, want):
    assert compute_zone_state(ready, 0.55) == want


@pytest.mark.parametrize("labels, want", [
    ({}, ""),
    ({"topology.kubernetes.io/zone": "a"}, ":\x00:a"),
    ({"topology.kubernetes.io/region": "eu", "topology.kubernetes.io/zone": "a"}, "eu:\x00:a"),
    ({"failure-domain.beta.kubernetes.io/zone": "b"}, ":\x00:b"),
])
def test_zone_key(labels, want):
    assert zone_key(labels) == want


@pytest.mark.parametrize("zones, want_rates, all_disrupted", [
    # one healthy zone: upstream's --node-eviction-rate
    ({"a": [T, T, U]}, {"a": 0.1}, False),
    # partial disruption in a small zone stops evictions there; in a large one they slow down
    ({"a": [U, U, U, T], "b": [T]}, {"a": 0.0, "b": 0.1}, False),
    ({"a": [U] * 30 + [T] * 21, "b": [T]}, {"a": 0.01, "b": 0.1}, False),
    ({"a": [U] * 30 + [T] * 20, "b": [T]}, {"a": 0.0, "b": 0.1}, False),       # 50 nodes is not more than 50
    # a zone lost alone is evicted at the normal rate
    ({"a": [U, U], "b": [T]}, {"a": 0.1, "b": 0.1}, False),
    # every zone lost: nothing is evicted
    ({"a": [U, U], "b": [F]}, {"a": 0.0, "b": 0.0}, True),
    ({"": [U]}, {"": 0.0}, True),
])
def test_rates_follow_zone_states(zones, want_rates, all_disrupted):
    limits = ZoneEvictionLimits()
    limits.update({k: [T] * len(v) for k, v in zones.items()}, now=0.0)
    limits.update(zones, now=1.0)
    assert {k: z.limiter.rate for k, z in limits.zones.items()} == want_rates
    assert limits.all_disrupted == all_disrupted


def taint_times(limits: ZoneEvictionLimits, nodes: list[tuple[str, str]], until: float, step: float = 0.5):
    """Each node asks every `step` s until tainted: node -> when it was allowed."""
    allowed: dict[str, float] = {}
    t = 0.0
    while t <= until:
        for name, z in nodes:
            if name not in allowed and limits.try_taint(name, z, t) == 0:
                allowed[name] = t
        t += step
    return allowed


@pytest.mark.parametrize("zones, nodes, until, want", [
    # a healthy zone: one node now, then one every 10 s, first come first served
    ({"a": [U, U, T, T, T, T, T, T, T, T]}, [("n1", "a"), ("n2", "a")], 30, {"n1": 0.0, "n2": 10.0}),
    # zones keep their own pace
    ({"a": [U, T, T], "b": [U, T, T]}, [("a1", "a"), ("b1", "b")], 5, {"a1": 0.0, "b1": 0.0}),
    # a large zone partially disrupted: one node every 100 s
    ({"a": [U] * 30 + [T] * 21}, [("n1", "a"), ("n2", "a")], 150, {"n1": 0.0, "n2": 100.0}),
    # a small one: none
    ({"a": [U, U, U, T]}, [("n1", "a")], 300, {}),
    # every zone down: none
    ({"a": [U], "b": [U]}, [("a1", "a"), ("b1", "b")], 300, {}),
])
def test_nodes_are_tainted_at_their_zone_rate_in_order(zones, nodes, until, want):
    limits = ZoneEvictionLimits()
    limits.update(zones, now=0.0)
    assert taint_times(limits, nodes, until) == want


def test_a_later_node_waits_behind_the_first_and_a_forgotten_one_leaves_the_queue():
    limits = ZoneEvictionLimits()
    limits.update({"a": [U, U, U, T, T, T, T, T, T]}, now=0.0)
    assert limits.try_taint("n1", "a", 0.0) == 0
    assert limits.try_taint("n2", "a", 1.0) == pytest.approx(9.0)
    assert limits.try_taint("n3", "a", 1.0) == pytest.approx(9.0)
    assert limits.waiting("a") == ["n2", "n3"]
    limits.forget("n2")                      # Ready again before its turn
    assert limits.try_taint("n3", "a", 10.0) == 0
    assert limits.waiting("a") == []


def test_leaving_full_disruption_restores_the_rates():
    limits = ZoneEvictionLimits()
    limits.update({"a": [T, T]}, now=0.0)
    change = limits.update({"a": [U, U]}, now=1.0)
    assert change.entered and limits.try_taint("n1", "a", 2.0) == math.inf
    change = limits.update({"a": [T, U]}, now=3.0)
    assert change.exited and not limits.all_disrupted
    assert (limits.zones["a"].state, limits.zones["a"].limiter.rate) == (NORMAL, 0.1)
    # the stopped limiter had no token, so the new one starts drained (upstream SwapLimiter)
    assert limits.try_taint("n1", "a", 3.0) == pytest.approx(10.0)
    assert limits.try_taint("n1", "a", 13.0) == 0


@pytest.mark.parametrize("rate, asks, want", [
    (0.1, [0, 5, 10, 15, 20], [True, False, True, False, True]),
    (0.5, [0, 1, 2, 3, 4], [True, False, True, False, True]),
    (0.0, [0, 100], [False, False]),
])
def test_token_bucket_of_burst_one(rate, asks, want):
    bucket = TokenBucket(rate, now=0.0)
    assert [bucket.try_accept(t) for t in asks] == want


def test_a_swapped_bucket_is_drained_when_the_old_one_had_no_token():
    old = TokenBucket(0.1, now=0.0)
    assert old.try_accept(0.0)
    new = old.swapped(0.5, now=1.0)
    assert not new.try_accept(1.0) and new.try_accept(3.0)
