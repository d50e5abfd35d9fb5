"""The ReplicaSet controller against a real API server, with the test playing the kubelet (writing pod
status): replacing deleted pods, adoption and release, the order of deletions on scale-down,
expectations, slow start and minReadySeconds."""
from __future__ import annotations

import contextlib

import pytest

from minik8s.api.clock import FakeClock, rfc3339
from minik8s.api.pb import apps_pb2, core_pb2
from minik8s.client.informer import copy
from minik8s.controllers.base import ControllerContext
from minik8s.controllers.controller_utils import (Expectations, SlowStartError, controller_ref,
                                                  deletion_order_key, pods_to_delete, slow_start_batch)
from minik8s.controllers.replicaset import ReplicaSetController
from minik8s.client.informer import SharedInformerFactory
from support import FakeKubelet, running_manager, set_running, wait_for

# a hung watch fails its test instead of the run
pytestmark = pytest.mark.timeout(120)

NS = "default"


@contextlib.asynccontextmanager
async def controllers(srv, names, clock=None):
    """An admin client, with a controller manager running `names` in this loop."""
    async with srv.async_client() as admin, srv.async_client("controller-manager") as cm, \
            running_manager(cm, names, clock):
        yield admin


def replica_set(name: str, replicas: int, min_ready: int = 0, **labels) -> apps_pb2.ReplicaSet:
    labels = labels or {"app": name}
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name, rs.metadata.namespace = name, NS
    rs.spec.replicas = replicas
    rs.spec.minReadySeconds = min_ready
    rs.spec.selector.matchLabels.update(labels)
    rs.spec.template.metadata.labels.update(labels)
    c = rs.spec.template.spec.containers.add()
    c.name, c.image = "app", "nginx:1.25"
    return rs


def bare_pod(name: str, **labels) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, NS
    p.metadata.labels.update(labels)
    c = p.spec.containers.add()
    c.name, c.image = "app", "nginx:1.25"
    return p


async def owned_pods(client, rs) -> list:
    return [p for p in (await client.list("Pod", NS)).items
            if (r := controller_ref(p)) is not None and r.uid == rs.metadata.uid and not p.metadata.deletionTimestamp]


async def test_deleted_pod_is_replaced_and_status_counts_ready_pods(srv):
    async with controllers(srv, "replicaset") as client:
        kubelet = await FakeKubelet(client).start()
        rs = await client.create(replica_set("web", 3))
        pods = await wait_for(lambda: _n(client, rs, 3), what="3 pods")
        assert all(p.metadata.name.startswith("web-") and len(p.metadata.name) == len("web-") + 5 for p in pods)
        ref = controller_ref(pods[0])
        assert (ref.kind, ref.name, ref.controller, ref.blockOwnerDeletion) == ("ReplicaSet", "web", True, True)

        async def status_is(ready):
            cur = await client.get("ReplicaSet", "web", NS)
            st = cur.status
            return (st.replicas, st.readyReplicas, st.availableReplicas, st.fullyLabeledReplicas,
                    st.observedGeneration) == (3, ready, ready, 3, cur.metadata.generation)
        await wait_for(lambda: status_is(3), what="3 ready replicas")

        victim = pods[0].metadata.name
        await client.delete("Pod", victim, NS)
        after = await wait_for(lambda: _n(client, rs, 3, exclude=victim), what="a replacement pod")
        assert victim not in {p.metadata.name for p in after}
        await wait_for(lambda: status_is(3), what="3 ready replicas again")

        # the recorder wrote upstream's events
        async def events():
            evs = (await client.list("Event", NS, field_selector="involvedObject.name=web")).items
            return [e.message for e in evs if e.reason == "SuccessfulCreate"]
        msgs = await wait_for(lambda: _len_at_least(events, 4), what="4 SuccessfulCreate events")
        assert all(m.startswith("Created pod: web-") for m in msgs)
        await kubelet.stop()


async def _n(client, rs, n, exclude=None):
    pods = await owned_pods(client, rs)
    if exclude and any(p.metadata.name == exclude for p in pods):
        return None
    return pods if len(pods) == n else None


async def _len_at_least(fn, n):
    out = await fn()
    return out if len(out) >= n else None


async def test_adopts_matching_orphans_and_releases_pods_that_stop_matching(srv):
    async with controllers(srv, "replicaset") as client:
        orphan = await client.create(bare_pod("stray", app="db"))
        other = await client.create(bare_pod("unrelated", app="cache"))
        rs = await client.create(replica_set("db", 2, app="db"))
        pods = await wait_for(lambda: _n(client, rs, 2), what="2 pods")
        assert "stray" in {p.metadata.name for p in pods}          # adopted, so only one created
        adopted = await client.get("Pod", "stray", NS)
        assert controller_ref(adopted).uid == rs.metadata.uid
        assert not (await client.get("Pod", "unrelated", NS)).metadata.ownerReferences
        assert orphan.metadata.uid == adopted.metadata.uid and other

        # relabel the adopted pod: it is released and replaced
        p = copy(adopted)
        p.metadata.labels["app"] = "debug"
        await client.update(p)

        async def released():
            cur = await client.get("Pod", "stray", NS)
            return not cur.metadata.ownerReferences and len(await owned_pods(client, rs)) == 2
        await wait_for(released, what="release and replacement")


async def test_scale_down_deletes_unscheduled_then_not_ready_then_most_recently_ready(srv):
    async with controllers(srv, "replicaset") as client:
        rs = await client.create(replica_set("api", 5))
        pods = await wait_for(lambda: _n(client, rs, 5), what="5 pods")
        pods.sort(key=lambda p: p.metadata.name)
        unscheduled, not_ready, ready = pods[0], pods[1], pods[2:]
        t0 = 1_700_000_000
        for p in pods[1:]:
            await client.bind(NS, p.metadata.name, "node-1", p.metadata.uid)
        for i, p in enumerate(pods[1:]):
            cur = copy(await client.get("Pod", p.metadata.name, NS))
            set_running(cur, p is not not_ready, t0 + 10 * i, "node-1")
            await client.update_status(cur)
        # ready longest: ready[0]; most recently ready: ready[2]
        await client.patch("ReplicaSet", "api", {"spec": {"replicas": 2}}, NS)

        async def two_left():
            live = await owned_pods(client, rs)
            return live if len(live) == 2 else None
        live = await wait_for(two_left, what="scale down to 2")
        assert {p.metadata.name for p in live} == {ready[0].metadata.name, ready[1].metadata.name}
        # the unscheduled pod went at once; the bound ones are terminating (their kubelet's turn)
        names = {p.metadata.name for p in (await client.list("Pod", NS)).items}
        assert unscheduled.metadata.name not in names
        gone = await client.get("Pod", ready[2].metadata.name, NS)
        assert gone.metadata.deletionTimestamp


async def test_expectations_keep_a_stale_cache_from_creating_twice(srv):
    """The pod informer is stopped, so the cache never shows the pods this sync creates: the
    expectations alone keep the next syncs from creating them again."""
    async with srv.async_client() as admin, srv.async_client("controller-manager") as client:
        creates = []

        class Counting:
            def __getattr__(self, name):
                return getattr(client, name)

            async def create(self, obj, dry_run=False):
                if obj.DESCRIPTOR.name == "Pod":
                    creates.append(obj.metadata.generateName)
                return await client.create(obj, dry_run)
        factory = SharedInformerFactory(Counting())
        ctrl = ReplicaSetController(ControllerContext(Counting(), factory, FakeClock()))
        await factory.start_all()
        assert await factory.wait_for_cache_sync(30)
        rs = await admin.create(replica_set("cache", 3))
        await wait_for(lambda: ctrl.rs_informer.get(f"{NS}/cache") is not None, what="rs in cache")
        await ctrl.pod_informer.stop()
        await ctrl.sync_replicaset(f"{NS}/cache")
        assert len(creates) == 3
        assert ctrl.expectations.get(f"{NS}/cache") == (3, 0)
        await ctrl.sync_replicaset(f"{NS}/cache")
        await ctrl.sync_replicaset(f"{NS}/cache")
        assert len(creates) == 3
        assert len(await owned_pods(admin, rs)) == 3
        # the watch would report them: each observation lowers the expectation; then it syncs again
        for _ in range(3):
            ctrl.expectations.creation_observed(f"{NS}/cache")
        assert ctrl.expectations.satisfied(f"{NS}/cache")
        await factory.stop_all()
        await ctrl.recorder.stop()


async def test_min_ready_seconds_delays_availability_on_the_clock(srv):
    clock = FakeClock()
    async with controllers(srv, "replicaset", clock=clock) as client:
        kubelet = await FakeKubelet(client, clock).start()
        await client.create(replica_set("slow", 2, min_ready=30))

        async def status():
            return (await client.get("ReplicaSet", "slow", NS)).status
        await wait_for(lambda: _check(status, lambda s: s.readyReplicas == 2), what="2 ready")
        assert (await status()).availableReplicas == 0
        start = clock.monotonic()
        await wait_for(lambda: _check(status, lambda s: s.availableReplicas == 2), tick=lambda: clock.advance(1),
                    what="2 available after minReadySeconds")
        assert clock.monotonic() - start >= 30        # not a second before minReadySeconds
        await kubelet.stop()


async def _check(fn, pred):
    return pred(await fn())


# ---------------------------------------------------------------- units
async def test_slow_start_grows_batches_and_stops_at_the_first_failing_batch():
    calls = []

    async def ok():
        calls.append(1)
    assert await slow_start_batch(10, 1, ok) == 10

    n = 0

    async def fail_on_fifth():
        nonlocal n
        n += 1
        if n == 5:
            raise RuntimeError("quota")
    with pytest.raises(SlowStartError) as e:
        await slow_start_batch(20, 1, fail_on_fifth)
    # batches 1, 2, 4: the 5th call fails in the third batch, which completes; nothing after it
    assert n == 7 and e.value.successes == 6


def _pod(name, node="", phase="Pending", ready_at=None, created=0, restarts=0, cost=None):
    p = core_pb2.Pod()
    p.metadata.name = name
    p.metadata.creationTimestamp = rfc3339(1_700_000_000 + created)
    if cost is not None:
        p.metadata.annotations["controller.kubernetes.io/pod-deletion-cost"] = str(cost)
    p.spec.nodeName = node
    p.status.phase = phase
    if ready_at is not None:
        c = p.status.conditions.add()
        c.type, c.status, c.lastTransitionTime = "Ready", "True", rfc3339(1_700_000_000 + ready_at)
    cs = p.status.containerStatuses.add()
    cs.restartCount = restarts
    return p


def test_deletion_order_matches_upstream_ranking():
    pods = [
        _pod("old-ready", "n1", "Running", ready_at=100, created=0),
        _pod("new-ready", "n1", "Running", ready_at=300, created=200),
        _pod("restarting", "n1", "Running", ready_at=100, created=0, restarts=3),
        _pod("not-ready", "n1", "Running"),
        _pod("pending", "n1", "Pending"),
        _pod("unscheduled"),
        _pod("cheap", "n1", "Running", ready_at=50, created=0, cost=-10),
    ]
    order = [p.metadata.name for p in sorted(pods, key=deletion_order_key)]
    assert order == ["unscheduled", "pending", "not-ready", "cheap", "new-ready", "restarting", "old-ready"]
    # a pod doubled up on a node with its siblings goes before an equal pod alone on its node
    a, b = _pod("alone", "n2", "Running", ready_at=100), _pod("crowded", "n1", "Running", ready_at=100)
    related = [b, _pod("sib1", "n1"), _pod("sib2", "n1"), a]
    assert [p.metadata.name for p in pods_to_delete([a, b], related, 1)] == ["crowded"]


def test_expectations_count_each_deletion_once_and_expire():
    clock = FakeClock()
    e = Expectations(clock)
    assert e.satisfied("ns/rs")
    e.expect_deletions("ns/rs", ["ns/a", "ns/b"])
    assert not e.satisfied("ns/rs")
    e.deletion_observed("ns/rs", "ns/a")
    e.deletion_observed("ns/rs", "ns/a")       # the update with deletionTimestamp, then the delete
    assert not e.satisfied("ns/rs")
    e.deletion_observed("ns/rs", "ns/b")
    assert e.satisfied("ns/rs")
    e.expect_creations("ns/rs", 2)
    assert not e.satisfied("ns/rs")
    clock.advance(301)
    assert e.satisfied("ns/rs")
