"""The event recorder against a real API server: the Event it writes, repeats counted into one Event,
two recorders picking one name, and failures that are logged rather than raised."""
from __future__ import annotations

import logging
import re

import pytest

from minik8s.api.clock import FakeClock, rfc3339
from minik8s.api.pb import apps_pb2, autoscaling_pb2, core_pb2
from minik8s.client.events import NORMAL, WARNING, EventRecorder, SyncEventRecorder

# a hung watch fails its test instead of the run
pytestmark = pytest.mark.timeout(60)


def pod(name: str, namespace: str = "default") -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, namespace
    c = p.spec.containers.add()
    c.name, c.image = "app", "nginx"
    return p


async def events_of(c, name: str) -> list:
    evs = (await c.list("Event", "default", field_selector=f"involvedObject.name={name}")).items
    return sorted(evs, key=lambda e: e.metadata.name)


async def test_event_is_written_with_upstreams_fields(srv):
    clock = FakeClock()
    async with srv.async_client("controller-manager") as c:
        p = await c.create(pod("web"))
        rec = EventRecorder(c, "default-scheduler", host="node-1", clock=clock)
        rec.event(p, NORMAL, "Scheduled", "Successfully assigned default/web to node-1")
        await rec.flush()
        [ev] = await events_of(c, "web")
        assert re.fullmatch(r"web\.[0-9a-f]{16}", ev.metadata.name)
        assert int(ev.metadata.name.split(".")[1], 16) == int(clock.now() * 1e9)
        assert ev.metadata.namespace == "default"
        ref = ev.involvedObject
        assert (ref.kind, ref.apiVersion, ref.namespace, ref.name, ref.uid, ref.resourceVersion) == \
            ("Pod", "v1", "default", "web", p.metadata.uid, p.metadata.resourceVersion)
        assert (ev.type, ev.reason, ev.message) == \
            ("Normal", "Scheduled", "Successfully assigned default/web to node-1")
        assert (ev.source.component, ev.source.host) == ("default-scheduler", "node-1")
        assert (ev.reportingComponent, ev.reportingInstance) == ("default-scheduler", "node-1")
        assert ev.count == 1
        assert ev.firstTimestamp == ev.lastTimestamp == rfc3339(clock.now())
        await rec.stop()


async def test_repeats_aggregate_into_one_event_and_other_reasons_do_not(srv):
    clock = FakeClock()
    async with srv.async_client("controller-manager") as c:
        p = await c.create(pod("web"))
        rec = EventRecorder(c, "default-scheduler", clock=clock)
        msg = "0/3 nodes are available: 3 Insufficient cpu."
        rec.event(p, WARNING, "FailedScheduling", msg)
        first = rfc3339(clock.now())
        clock.advance(30)
        rec.eventf(p, WARNING, "FailedScheduling", "0/%d nodes are available: %d Insufficient cpu.", 3, 3)
        await rec.flush()
        [ev] = await events_of(c, "web")
        assert ev.count == 2
        assert ev.firstTimestamp == first
        assert ev.lastTimestamp == rfc3339(clock.now())

        rec.event(p, NORMAL, "Scheduled", "Successfully assigned default/web to node-1")
        rec.event(p, WARNING, "FailedScheduling", "0/3 nodes are available: 3 Insufficient memory.")
        await rec.flush()
        evs = await events_of(c, "web")
        assert sorted((e.reason, e.message, e.count) for e in evs) == [
            ("FailedScheduling", "0/3 nodes are available: 3 Insufficient cpu.", 2),
            ("FailedScheduling", "0/3 nodes are available: 3 Insufficient memory.", 1),
            ("Scheduled", "Successfully assigned default/web to node-1", 1)]

        clock.advance(601)                  # more than ten minutes since the last repeat: a new Event
        rec.event(p, WARNING, "FailedScheduling", msg)
        await rec.flush()
        evs = await events_of(c, "web")
        assert sorted(e.count for e in evs if e.message == msg) == [1, 2]
        [fresh] = [e for e in evs if e.message == msg and e.count == 1]

        await c.delete("Event", fresh.metadata.name)     # a repeat of a deleted Event re-creates it
        clock.advance(1)
        rec.event(p, WARNING, "FailedScheduling", msg)
        await rec.flush()
        again = await c.get("Event", fresh.metadata.name)
        assert (again.count, again.firstTimestamp) == (2, fresh.firstTimestamp)
        await rec.stop()


async def test_failures_are_logged_never_raised(srv, caplog):
    with caplog.at_level(logging.WARNING, logger="minik8s.client.events"):
        async with srv.async_client("controller-manager") as c:
            rec = EventRecorder(c, "test", clock=FakeClock())
            rec.event(pod("ghost", "no-such-namespace"), NORMAL, "Created", "created")   # the write fails
            rec.event(pod("web"), "Critical", "Odd", "unsupported type")                   # dropped
            rec.event(object(), NORMAL, "Odd", "not an API object")                        # dropped
            await rec.flush()
            await rec.stop()
    text = caplog.text
    assert "could not write event no-such-namespace/ghost." in text
    assert "unsupported event type 'Critical'" in text
    assert "dropping event Odd" in text


def test_sync_recorder_writes_and_aggregates_from_plain_code(srv):
    client = srv.client("node-1")
    p = srv.client().create(pod("web"))
    rec = SyncEventRecorder(client, "kubelet", host="node-1", clock=FakeClock())
    rec.event(p, NORMAL, "Pulled", 'Container image "nginx" already present on machine')
    rec.event(p, NORMAL, "Pulled", 'Container image "nginx" already present on machine')
    rec.close()
    [ev] = srv.client().list("Event", "default").items     # a node writes events, it does not read them
    assert (ev.source.component, ev.source.host, ev.count) == ("kubelet", "node-1", 2)


async def test_two_recorders_on_a_stopped_clock_never_lose_or_mix_events(srv):
    """A Deployment and its HPA share a name; on one stopped clock their recorders pick the same event
    name. The second write takes that name plus a few random hex digits, and its repeat counts there."""
    clock = FakeClock()
    deployment, hpa = apps_pb2.Deployment(), autoscaling_pb2.HorizontalPodAutoscaler()
    for obj in (deployment, hpa):
        obj.metadata.name, obj.metadata.namespace = "small", "default"
    async with srv.async_client("controller-manager") as c:
        deployments = EventRecorder(c, "deployment-controller", clock=clock)
        autoscaler = EventRecorder(c, "horizontal-pod-autoscaler", clock=clock)
        deployments.event(deployment, NORMAL, "ScalingReplicaSet", "Scaled up replica set small-5d4f to 1")
        await deployments.flush()
        scaled = "New size: 2; reason: cpu resource utilization (percentage of request) above target"
        autoscaler.event(hpa, NORMAL, "SuccessfulRescale", scaled)
        autoscaler.event(hpa, NORMAL, "SuccessfulRescale", scaled)          # a repeat
        await autoscaler.flush()
        kubelet = SyncEventRecorder(srv.client("node-1"), "kubelet", host="node-1", clock=clock)
        kubelet.event(pod("small"), NORMAL, "Pulled", 'Container image "nginx" already present on machine')
        kubelet.close()

        evs = await events_of(c, "small")
        assert sorted((e.involvedObject.kind, e.reason, e.count) for e in evs) == [
            ("Deployment", "ScalingReplicaSet", 1), ("HorizontalPodAutoscaler", "SuccessfulRescale", 2),
            ("Pod", "Pulled", 1)]
        stem = f"small.{int(clock.now() * 1e9):016x}"
        names = {e.involvedObject.kind: e.metadata.name for e in evs}
        assert names["Deployment"] == stem
        for kind in ("HorizontalPodAutoscaler", "Pod"):
            assert re.fullmatch(re.escape(stem) + r"[0-9a-f]{4}", names[kind])
        await deployments.stop()
        await autoscaler.stop()
