"""The HPA's replica math and normalization as pure functions, table-driven over upstream's cases
(replica_calculator_test.go, horizontal_test.go): utilization and average value, the tolerance,
unready, Pending, missing, terminating and failed pods, the cpu initialization period, stabilization
windows, Pods/Percent policies with selectPolicy, and min/max. Time comes from a FakeClock."""
from __future__ import annotations

import pytest

from minik8s.api.clock import FakeClock, rfc3339
from minik8s.api.pb import core_pb2
from minik8s.controllers.podautoscaler.normalize import (Policy, Recommender, ScalingRules,
                                                         convert_with_rules)
from minik8s.controllers.podautoscaler.replica_calculator import (MetricError, PodMetric, Tolerances,
                                                                  raw_resource_replicas, resource_replicas)

CLOCK = FakeClock()
NOW = CLOCK.now()
WINDOW = 60.0


def pod(name, phase="Running", ready=True, started=-600, transition=-590, request="1", deleted=False,
        memory_request="1Gi"):
    """A pod started `started` s ago whose Ready condition (none if `ready` is None) last moved
    `transition` s ago."""
    p = core_pb2.Pod()
    p.metadata.name = name
    if deleted:
        p.metadata.deletionTimestamp = rfc3339(NOW)
    c = p.spec.containers.add(name="app", image="busybox")
    if request is not None:
        c.resources.requests["cpu"] = request
    c.resources.requests["memory"] = memory_request
    p.status.phase = phase
    if phase != "Pending":
        p.status.startTime = rfc3339(NOW + started)
    if phase != "Pending" and ready is not None:
        p.status.conditions.add(type="Ready", status="True" if ready else "False",
                                lastTransitionTime=rfc3339(NOW + transition))
    return p


def sample(milli, age=0.0):
    return PodMetric(milli, NOW - age, WINDOW)


def running(n, request="1"):
    return [pod(f"p{i}", request=request) for i in range(n)]


UTILIZATION_CASES = [
    # name, current, target %, pods, samples (milli-cpu by pod), want replicas, want utilization
    ("scale up", 3, 30, running(3), {"p0": 300, "p1": 500, "p2": 700}, 5, 50),
    ("scale down", 5, 50, running(5), {"p0": 100, "p1": 300, "p2": 500, "p3": 250, "p4": 250}, 3, 28),
    ("AS-1.1 ratio 2 doubles", 4, 50, running(4, "500m"), {f"p{i}": 500 for i in range(4)}, 8, 100),
    ("within tolerance (1.09)", 10, 100, running(10), {f"p{i}": 1090 for i in range(10)}, 10, 109),
    ("outside tolerance (1.11)", 10, 100, running(10), {f"p{i}": 1110 for i in range(10)}, 12, 111),
    ("within tolerance down (0.91)", 10, 100, running(10), {f"p{i}": 910 for i in range(10)}, 10, 91),
    ("AS-1.3 missing pod counts as 100% on scale down", 4, 50, running(4, "500m"),
     {"p0": 50, "p1": 50, "p2": 50}, 3, 10),
    ("missing pod counts as 0% on scale up", 3, 50, running(3), {"p0": 1000, "p1": 1000}, 4, 100),
    ("missing pods flip the direction: keep", 4, 50, running(4), {"p0": 400}, 4, 40),
    ("AS-1.4 Pending pods count as 0% on scale up", 4, 50,
     running(2) + [pod("p2", phase="Pending"), pod("p3", phase="Pending")], {"p0": 1000, "p1": 1000}, 4, 100),
    ("unready pod left out of a scale down", 4, 50,
     running(3) + [pod("p3", ready=False, started=-60, transition=-50)],
     {"p0": 200, "p1": 200, "p2": 200, "p3": 900}, 2, 20),
    ("AS-1.5 terminating and failed pods change nothing", 2, 50,
     running(2) + [pod("p2", deleted=True), pod("p3", phase="Failed")],
     {"p0": 1000, "p1": 1000, "p2": 5000, "p3": 5000}, 4, 100),
    ("sample from before a whole window of readiness is unready", 2, 50,
     running(1) + [pod("p1", started=-60, transition=-10)], {"p0": 1000, "p1": 3000}, 2, 100),
    ("sample a window after readiness counts", 2, 50,
     running(1) + [pod("p1", started=-200, transition=-100)], {"p0": 1000, "p1": 3000}, 8, 200),
    ("never ready after the initialization period: unready", 2, 50,
     running(1) + [pod("p1", ready=False, started=-600, transition=-590)], {"p0": 1000, "p1": 0}, 2, 100),
    ("was ready once, now not ready: its sample counts", 2, 50,
     running(1) + [pod("p1", ready=False, started=-600, transition=-100)], {"p0": 1000, "p1": 1000}, 4, 100),
    ("no Ready condition: unready", 2, 50, running(1) + [pod("p1", ready=None)],
     {"p0": 500, "p1": 5000}, 2, 50),
]


@pytest.mark.parametrize("name,current,target,pods,samples,want,utilization", UTILIZATION_CASES,
                         ids=[c[0] for c in UTILIZATION_CASES])
def test_cpu_utilization(name, current, target, pods, samples, want, utilization):
    metrics = {n: sample(v) for n, v in samples.items()}
    got = resource_replicas(current, target, "cpu", pods, metrics, NOW)
    assert (got.replicas, got.utilization) == (want, utilization)


def test_memory_skips_readiness_checks():
    pods = running(1) + [pod("p1", ready=False, started=-10, transition=-5)]
    metrics = {"p0": sample(2 * 1024 ** 3 * 1000), "p1": sample(2 * 1024 ** 3 * 1000)}
    got = resource_replicas(2, 100, "memory", pods, metrics, NOW)
    assert (got.replicas, got.utilization) == (4, 200)


def test_tolerance_is_configurable():
    metrics = {f"p{i}": sample(1050) for i in range(4)}
    assert resource_replicas(4, 100, "cpu", running(4), metrics, NOW).replicas == 4
    assert resource_replicas(4, 100, "cpu", running(4), metrics, NOW, Tolerances(0.01, 0.01)).replicas == 5


@pytest.mark.parametrize("pods,samples,message", [
    (running(2, request=None), {"p0": 100, "p1": 100}, "missing request for cpu in container app of Pod p0"),
    ([pod("p0", phase="Pending")], {}, "did not receive metrics for targeted pods (pods might be unready)"),
    ([], {}, "no pods returned by selector while calculating replica count"),
])
def test_errors(pods, samples, message):
    with pytest.raises(MetricError) as e:
        resource_replicas(2, 50, "cpu", pods, {n: sample(v) for n, v in samples.items()}, NOW)
    assert str(e.value) == message


AVERAGE_VALUE_CASES = [
    ("scale up", 3, 100, {"p0": 100, "p1": 200, "p2": 300}, running(3), 6, 200),
    ("scale down", 4, 400, {f"p{i}": 100 for i in range(4)}, running(4), 1, 100),
    ("missing pods count as the target on scale down", 4, 400, {"p0": 100, "p1": 100}, running(4), 3, 100),
    ("within tolerance", 3, 100, {f"p{i}": 105 for i in range(3)}, running(3), 3, 105),
]


@pytest.mark.parametrize("name,current,target,samples,pods,want,average", AVERAGE_VALUE_CASES,
                         ids=[c[0] for c in AVERAGE_VALUE_CASES])
def test_cpu_average_value(name, current, target, samples, pods, want, average):
    got = raw_resource_replicas(current, target, "cpu", pods, {n: sample(v) for n, v in samples.items()}, NOW)
    assert (got.replicas, got.average_value) == (want, average)


# ---------------------------------------------------------------- normalization
@pytest.mark.parametrize("current,desired,min_r,max_r,want", [
    (2, 20, 1, 50, (4, "ScaleUpLimit")),          # AS-1.9, no behavior: max(2 x 2, 4)
    (8, 20, 1, 10, (10, "TooManyReplicas")),
    (3, 0, 1, 10, (1, "TooFewReplicas")),
    (3, 5, 1, 10, (5, "DesiredWithinRange")),
])
def test_legacy_limits(current, desired, min_r, max_r, want):
    got = convert_with_rules(current, desired, min_r, max_r)
    assert got[:2] == want


def test_legacy_stabilization_keeps_the_highest_recent_recommendation():
    """AS-1.8: recommendations 10, 6, 4 within 300 s keep 10 until it ages out."""
    clock, rec = FakeClock(), Recommender(300)
    rec.record_initial("ns/web", 10, clock.now())
    for desired in (6, 4):
        clock.advance(15)
        assert rec.stabilize("ns/web", desired, clock.now())[:2] == (10, "ScaleDownStabilized")
    clock.advance(300 - 30 + 1)                  # 10 is older than the window now; 6 is not
    assert rec.stabilize("ns/web", 4, clock.now())[:2] == (6, "ScaleDownStabilized")
    clock.advance(30)
    assert rec.stabilize("ns/web", 4, clock.now())[:2] == (4, "ReadyForNewScale")


DEFAULT_UP = ScalingRules(0, "Max", (Policy("Pods", 4, 15), Policy("Percent", 100, 15)))
DEFAULT_DOWN = ScalingRules(300, "Max", (Policy("Percent", 100, 15),))


def behave(rec, now, current, desired, up=DEFAULT_UP, down=DEFAULT_DOWN, min_r=1, max_r=50):
    stabilized, *_ = rec.stabilize_with_behavior("k", current, desired, up, down, now)
    return rec.limit_with_behavior("k", current, stabilized, min_r, max_r, up, down, now)


@pytest.mark.parametrize("up,want", [
    (DEFAULT_UP, (6, "ScaleUpLimit")),                                                   # AS-1.9
    (ScalingRules(0, "Min", DEFAULT_UP.policies), (4, "ScaleUpLimit")),
    (ScalingRules(0, "Disabled", DEFAULT_UP.policies), (2, "ScaleUpLimit")),
    (ScalingRules(0, "Max", (Policy("Percent", 900, 60),)), (20, "DesiredWithinRange")),
])
def test_scale_up_policies(up, want):
    assert behave(Recommender(), NOW, 2, 20, up=up)[:2] == want


def test_scale_up_stabilization_window_takes_the_lowest_recent_recommendation():
    clock, rec = FakeClock(), Recommender()
    up = ScalingRules(60, "Max", DEFAULT_UP.policies)
    rec.record_initial("k", 4, clock.now())
    clock.advance(30)
    assert rec.stabilize_with_behavior("k", 4, 8, up, DEFAULT_DOWN, clock.now())[:2] == (4, "ScaleUpStabilized")
    clock.advance(31)                            # the initial 4 aged out; 8 is the lowest left
    assert rec.stabilize_with_behavior("k", 4, 9, up, DEFAULT_DOWN, clock.now())[:2] == (8, "ScaleUpStabilized")


def test_scale_down_percent_policy_counts_from_the_start_of_its_period():
    clock, rec = FakeClock(), Recommender()
    down = ScalingRules(0, "Max", (Policy("Percent", 50, 60),))
    assert behave(rec, clock.now(), 10, 1, down=down)[:2] == (5, "ScaleDownLimit")
    rec.record_scale("k", DEFAULT_UP, down, 10, 5, clock.now())
    clock.advance(30)                             # within the period the count started at 10: 5 is the floor
    assert behave(rec, clock.now(), 5, 1, down=down)[:2] == (5, "ScaleDownLimit")
    clock.advance(31)
    assert behave(rec, clock.now(), 5, 1, down=down)[:2] == (2, "ScaleDownLimit")


@pytest.mark.parametrize("select,want", [("Max", 6), ("Min", 8), ("Disabled", 10)])
def test_scale_down_select_policy(select, want):
    down = ScalingRules(0, select, (Policy("Pods", 4, 60), Policy("Percent", 20, 60)))
    assert behave(Recommender(), NOW, 10, 1, down=down)[0] == want


def test_behavior_min_and_max():
    down = ScalingRules(0, "Max", (Policy("Percent", 100, 15),))
    assert behave(Recommender(), NOW, 5, 1, down=down, min_r=3)[:2] == (3, "TooFewReplicas")
    assert behave(Recommender(), NOW, 5, 9, max_r=7)[:2] == (7, "TooManyReplicas")
    assert behave(Recommender(), NOW, 5, 5)[:2] == (5, "DesiredWithinRange")


def test_default_scale_down_window_keeps_the_count_for_300_seconds():
    clock, rec = FakeClock(), Recommender()
    rec.record_initial("k", 10, clock.now())
    clock.advance(15)
    assert behave(rec, clock.now(), 10, 3)[:2] == (10, "DesiredWithinRange")
    clock.advance(300)
    assert behave(rec, clock.now(), 10, 3)[:2] == (3, "DesiredWithinRange")
