"""The disruption controller against a real API server, with the ReplicaSet and Deployment controllers
and a fake kubelet: PodDisruptionBudget status (expectedPods from the workload's scale, desiredHealthy
from minAvailable or maxUnavailable, numbers or percentages, currentHealthy, disruptionsAllowed, the
DisruptionAllowed condition, observedGeneration) follows the pods; granted evictions in disruptedPods
count as unhealthy until the pod is seen going; an unknown controller fails safe."""
from __future__ import annotations

import contextlib

from minik8s.api import disruption as rules
from minik8s.api.clock import FakeClock
from minik8s.api.pb import apps_pb2, core_pb2, policy_pb2

from support.controllers import FakeKubelet, running_manager
from support.wait import wait_for

NS = "default"


@contextlib.asynccontextmanager
async def cluster(srv, clock, unready=frozenset()):
    async with srv.async_client() as admin, srv.async_client("controller-manager") as cm, \
            running_manager(cm, "replicaset,deployment,disruption", clock) as mgr:
        kubelet = await FakeKubelet(admin, clock, ready=lambda p: p.metadata.name not in unready).start()
        try:
            yield admin, kubelet
        finally:
            await kubelet.stop()


def template(obj, app):
    obj.metadata.namespace = NS
    obj.spec.selector.matchLabels["app"] = app
    obj.spec.template.metadata.labels["app"] = app
    c = obj.spec.template.spec.containers.add()
    c.name, c.image = "app", "busybox"
    return obj


def replica_set(name, replicas):
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name, rs.spec.replicas = name, replicas
    return template(rs, name)


def deployment(name, replicas):
    d = apps_pb2.Deployment()
    d.metadata.name, d.spec.replicas = name, replicas
    return template(d, name)


def budget(name, app, min_available=None, max_unavailable=None):
    b = policy_pb2.PodDisruptionBudget()
    b.metadata.name, b.metadata.namespace = name, NS
    b.spec.selector.matchLabels["app"] = app
    for field, value in (("minAvailable", min_available), ("maxUnavailable", max_unavailable)):
        if isinstance(value, int):
            getattr(b.spec, field).number_value = value
        elif isinstance(value, str):
            getattr(b.spec, field).string_value = value
    return b


def status_of(pdb):
    st = pdb.status
    c = next((c for c in st.conditions if c.type == "DisruptionAllowed"), None)
    return (st.expectedPods, st.desiredHealthy, st.currentHealthy, st.disruptionsAllowed,
            (c.status, c.reason) if c else None)


async def status_is(client, name, want):
    pdb = await client.get("PodDisruptionBudget", name, NS)
    return pdb if status_of(pdb) == want and pdb.status.observedGeneration == pdb.metadata.generation else None


async def test_min_available_number_and_percentage(srv):
    async with cluster(srv, FakeClock()) as (admin, kubelet):
        await admin.create(replica_set("web", 3))
        await admin.create(budget("web-min2", "web", min_available=2))
        await wait_for(lambda: status_is(admin, "web-min2", (3, 2, 3, 1, ("True", "SufficientPods"))),
                       what="minAvailable 2 of 3")
        # 50% of 3 rounds up to 2
        await admin.create(budget("web-half", "web", min_available="50%"))
        await wait_for(lambda: status_is(admin, "web-half", (3, 2, 3, 1, ("True", "SufficientPods"))),
                       what="minAvailable 50% of 3")
        # raising the bar is a new generation, observed
        await admin.patch("PodDisruptionBudget", "web-min2", {"spec": {"minAvailable": 3}}, NS)
        await wait_for(lambda: status_is(admin, "web-min2", (3, 3, 3, 0, ("False", "InsufficientPods"))),
                       what="minAvailable 3 of 3")


async def test_max_unavailable_counts_the_deployments_scale_and_unready_pods(srv):
    async with cluster(srv, FakeClock()) as (admin, kubelet):
        await admin.create(deployment("api", 4))
        await admin.create(budget("api", "api", max_unavailable="25%"))
        # expected 4 (the Deployment's replicas), 25% of 4 = 1 may be down
        await wait_for(lambda: status_is(admin, "api", (4, 3, 4, 1, ("True", "SufficientPods"))),
                       what="maxUnavailable 25% of 4")
        # one pod stops being ready: no disruption left
        victim = sorted(p.metadata.name for p in (await admin.list("Pod", NS)).items)[0]
        kubelet.ready = lambda p: p.metadata.name != victim
        pod = await admin.get("Pod", victim, NS)
        for c in pod.status.conditions:
            if c.type == "Ready":
                c.status = "False"
        await admin.update_status(pod)
        await wait_for(lambda: status_is(admin, "api", (4, 3, 3, 0, ("False", "InsufficientPods"))),
                       what="one pod unready")


async def test_granted_eviction_is_held_in_disrupted_pods_until_the_pod_goes(srv):
    clock = FakeClock()
    async with cluster(srv, clock) as (admin, kubelet):
        await admin.create(replica_set("db", 3))
        await admin.create(budget("db", "db", min_available=1))
        pdb = await wait_for(lambda: status_is(admin, "db", (3, 1, 3, 2, ("True", "SufficientPods"))),
                             what="2 disruptions allowed")
        pods = sorted((await admin.list("Pod", NS)).items, key=lambda p: p.metadata.name)
        # what the eviction API will do: judge, write the charged budget, delete the pod
        decision = rules.decide_eviction(pods[0], [pdb], clock.now())
        assert decision.allowed and decision.budget.status.disruptionsAllowed == 1
        await admin.update_status(decision.budget)
        # the pod is not deleted yet: the controller counts it unhealthy while the grant is held
        held = await wait_for(lambda: status_is(admin, "db", (3, 1, 2, 1, ("True", "SufficientPods"))),
                              what="the disrupted pod counted unhealthy")
        assert list(held.status.disruptedPods) == [pods[0].metadata.name]
        await admin.delete("Pod", pods[0].metadata.name, NS)
        # once the pod is seen going the entry is dropped; its replacement becomes healthy
        pdb = await wait_for(lambda: status_is(admin, "db", (3, 1, 3, 2, ("True", "SufficientPods"))),
                             what="the replacement counted")
        assert not pdb.status.disruptedPods


async def test_a_grant_never_acted_on_expires_after_two_minutes(srv):
    clock = FakeClock()
    async with cluster(srv, clock) as (admin, kubelet):
        await admin.create(replica_set("cache", 2))
        await admin.create(budget("cache", "cache", min_available=1))
        pdb = await wait_for(lambda: status_is(admin, "cache", (2, 1, 2, 1, ("True", "SufficientPods"))),
                             what="1 disruption allowed")
        pod = (await admin.list("Pod", NS)).items[0]
        await admin.update_status(rules.decide_eviction(pod, [pdb], clock.now()).budget)
        await wait_for(lambda: status_is(admin, "cache", (2, 1, 1, 0, ("False", "InsufficientPods"))),
                       what="the grant held")
        clock.advance(121)
        pdb = await wait_for(lambda: status_is(admin, "cache", (2, 1, 2, 1, ("True", "SufficientPods"))),
                             what="the grant expired")
        assert not pdb.status.disruptedPods


async def test_percentage_over_a_pod_whose_controller_is_unknown_fails_safe(srv):
    async with cluster(srv, FakeClock()) as (admin, kubelet):
        p = core_pb2.Pod()
        p.metadata.name, p.metadata.namespace = "odd", NS
        p.metadata.labels["app"] = "odd"
        ref = p.metadata.ownerReferences.add()
        ref.apiVersion, ref.kind, ref.name, ref.uid, ref.controller = "example.com/v1", "Trainer", "t", "u-1", True
        c = p.spec.containers.add()
        c.name, c.image = "app", "busybox"
        await admin.create(p)
        await admin.create(budget("odd", "odd", max_unavailable=1))

        async def failed():
            pdb = await admin.get("PodDisruptionBudget", "odd", NS)
            c = next((c for c in pdb.status.conditions if c.type == "DisruptionAllowed"), None)
            return c if c is not None and c.reason == "SyncFailed" else None
        c = await wait_for(failed, what="SyncFailed")
        assert c.status == "False" and c.message == 'found no controllers for pod "odd"'
        assert (await admin.get("PodDisruptionBudget", "odd", NS)).status.disruptionsAllowed == 0
