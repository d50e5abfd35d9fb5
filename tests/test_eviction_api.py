"""The Eviction API (pods/eviction) over gRPC and REST against a real API server: a budget that allows no
disruption refuses with 429 and upstream's message (its cause naming the budget) and changes nothing;
once a replacement is Ready the eviction goes through, the pod gets DisruptionTarget
(EvictionByEvictionAPI) and a graceful delete, and the budget's status is charged in the same write.
Pods no budget covers are always evicted; two budgets are a 500; nodes may not evict."""
from __future__ import annotations

import contextlib

import aiohttp
import pytest

from minik8s.api import disruption as rules
from minik8s.api.clock import FakeClock
from minik8s.api.errors import ApiError, Forbidden, NotFound, TooManyRequests
from minik8s.api.pb import apps_pb2, core_pb2, policy_pb2

from rest_support import rest_url, ssl_context
from support.controllers import FakeKubelet, running_manager
from support.wait import wait_for

NS = "default"


def replica_set(name, replicas):
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name, rs.metadata.namespace, rs.spec.replicas = name, NS, replicas
    rs.spec.selector.matchLabels["app"] = name
    rs.spec.template.metadata.labels["app"] = name
    c = rs.spec.template.spec.containers.add()
    c.name, c.image = "app", "busybox"
    return rs


def bare_pod(name, app, node="node-1"):
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, NS
    p.metadata.labels["app"] = app
    p.spec.nodeName = node
    c = p.spec.containers.add()
    c.name, c.image = "app", "busybox"
    return p


def budget(name, app, min_available):
    b = policy_pb2.PodDisruptionBudget()
    b.metadata.name, b.metadata.namespace = name, NS
    b.spec.selector.matchLabels["app"] = app
    b.spec.minAvailable.number_value = min_available
    return b


def disruption_target(pod):
    c = next((c for c in pod.status.conditions if c.type == "DisruptionTarget"), None)
    return (c.status, c.reason, c.message) if c is not None else None


async def allowed(client, name, n):
    pdb = await client.get("PodDisruptionBudget", name, NS)
    ok = pdb.status.observedGeneration == pdb.metadata.generation and pdb.status.disruptionsAllowed == n
    return pdb if ok and pdb.status.currentHealthy == pdb.status.desiredHealthy + n else None


async def ready_pods(client, app, n):
    pods = [p for p in (await client.list("Pod", NS, label_selector=f"app={app}")).items
            if rules.is_pod_ready(p) and not p.metadata.deletionTimestamp]
    return pods if len(pods) == n else None


@contextlib.asynccontextmanager
async def cluster(srv):
    clock = FakeClock()
    async with srv.async_client() as admin, srv.async_client("controller-manager") as cm, \
            running_manager(cm, "replicaset,disruption", clock):
        kubelet = await FakeKubelet(admin, clock, node="node-1").start()
        try:
            yield admin
        finally:
            await kubelet.stop()


@contextlib.asynccontextmanager
async def rest(srv, identity="admin"):
    headers = {"Authorization": f"Bearer {srv.tokens[identity]}"}
    async with aiohttp.ClientSession(rest_url(srv), headers=headers,
                                     connector=aiohttp.TCPConnector(ssl=ssl_context(srv))) as s:
        yield s


def eviction(name, grace=None):
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": NS}}
    if grace is not None:
        body["deleteOptions"] = {"gracePeriodSeconds": grace}
    return body


async def test_grpc_eviction_waits_for_the_budget_then_marks_and_deletes(srv):
    async with cluster(srv) as admin:
        await admin.create(replica_set("web", 2))
        await admin.create(budget("web", "web", 2))
        await wait_for(lambda: allowed(admin, "web", 0), what="2 of 2 healthy, none may go")
        victim = (await ready_pods(admin, "web", 2))[0].metadata.name

        with pytest.raises(TooManyRequests) as refused:
            await admin.evict(NS, victim)
        assert refused.value.message == "Cannot evict pod as it would violate the pod's disruption budget."
        assert refused.value.causes == [("DisruptionBudget",
                                         "The disruption budget web needs 2 healthy pods and has 2 currently")]
        pod = await admin.get("Pod", victim, NS)
        assert not pod.metadata.deletionTimestamp and disruption_target(pod) is None

        # a third replica becomes Ready: one disruption is allowed
        await admin.patch("ReplicaSet", "web", {"spec": {"replicas": 3}}, NS)
        await wait_for(lambda: allowed(admin, "web", 1), what="3 healthy, one may go")
        evicted = await admin.evict(NS, victim)
        assert evicted.metadata.deletionTimestamp and evicted.metadata.deletionGracePeriodSeconds == 30
        assert disruption_target(evicted) == ("True", "EvictionByEvictionAPI", "Eviction API: evicting")
        # the pod goes once its kubelet confirms, and the ReplicaSet makes up for it
        await wait_for(lambda: ready_pods(admin, "web", 3), what="3 ready pods again")
        with pytest.raises(NotFound):
            await admin.get("Pod", victim, NS)


def test_the_budget_is_charged_in_the_same_write(srv, client):
    # no disruption controller: the budget's status changes only by the eviction
    for name in ("a", "b"):
        client.create(bare_pod(name, "db"))
    pdb = client.create(budget("db", "db", 1))
    pdb.status.observedGeneration = pdb.metadata.generation
    pdb.status.expectedPods, pdb.status.currentHealthy, pdb.status.desiredHealthy = 2, 2, 1
    pdb.status.disruptionsAllowed = 1
    client.update_status(pdb)
    for name in ("a", "b"):
        pod = client.get("Pod", name, NS)
        pod.status.phase = "Running"
        pod.status.conditions.add(type="Ready", status="True")
        client.update_status(pod)

    evicted = client.evict(NS, "a", grace_period=5)
    assert evicted.metadata.deletionGracePeriodSeconds == 5
    charged = client.get("PodDisruptionBudget", "db", NS)
    assert charged.status.disruptionsAllowed == 0
    assert charged.status.disruptedPods["a"] == evicted.status.conditions[-1].lastTransitionTime
    cond = next(c for c in charged.status.conditions if c.type == "DisruptionAllowed")
    assert (cond.status, cond.reason) == ("False", "InsufficientPods")
    # written together: the budget just before the pod, in one commit
    assert int(charged.metadata.resourceVersion) == int(evicted.metadata.resourceVersion) - 1

    with pytest.raises(TooManyRequests):
        client.evict(NS, "b")
    # evicting a pod already terminating charges nothing more
    client.evict(NS, "a")
    assert client.get("PodDisruptionBudget", "db", NS).status.disruptedPods.keys() == {"a"}


def test_unbudgeted_pods_go_two_budgets_are_an_error_nodes_may_not_evict(srv, client):
    client.create(bare_pod("free", "free"))
    evicted = client.evict(NS, "free")
    assert disruption_target(evicted)[1] == "EvictionByEvictionAPI"

    pod = client.create(bare_pod("twice", "twice"))
    pod.status.phase = "Running"     # a Pending pod is evicted without asking its budgets
    client.update_status(pod)
    for name in ("one", "two"):
        client.create(budget(name, "twice", 1))
    with pytest.raises(ApiError) as err:
        client.evict(NS, "twice")
    assert err.value.reason == "InternalError"
    assert "more than one PodDisruptionBudget" in err.value.message

    with pytest.raises(Forbidden):
        srv.client("node-1").evict(NS, "free")
    with pytest.raises(NotFound):
        client.evict(NS, "nobody")


async def test_rest_eviction_as_kubectl_drain_sends_it(srv):
    async with cluster(srv) as admin, rest(srv) as http:
        await admin.create(replica_set("api", 2))
        await admin.create(budget("api", "api", 2))
        await wait_for(lambda: allowed(admin, "api", 0), what="none may go")
        victim = (await ready_pods(admin, "api", 2))[0].metadata.name
        url = f"/api/v1/namespaces/{NS}/pods/{victim}/eviction"

        async with http.post(url, json=eviction(victim)) as r:
            body = await r.json()
            assert r.status == 429
        assert (body["kind"], body["reason"], body["code"]) == ("Status", "TooManyRequests", 429)
        assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
        assert body["details"]["causes"][0]["reason"] == "DisruptionBudget"

        async with http.post(url, json={**eviction(victim), "metadata": {"name": "other"}}) as r:
            assert r.status == 400
        async with http.post(url + "?dryRun=All", json=eviction(victim)) as r:
            assert r.status == 400      # refused, never carried out

        await admin.patch("ReplicaSet", "api", {"spec": {"replicas": 3}}, NS)
        await wait_for(lambda: allowed(admin, "api", 1), what="one may go")
        async with http.post(url, json=eviction(victim, grace=7)) as r:
            assert r.status == 201
            assert (await r.json())["status"] == "Success"
        pod = await admin.get("Pod", victim, NS)
        assert disruption_target(pod)[1] == "EvictionByEvictionAPI"
        assert pod.metadata.deletionGracePeriodSeconds == 7

        async with http.get("/api/v1") as r:
            names = {res["name"]: res for res in (await r.json())["resources"]}
        assert names["pods/eviction"]["kind"] == "Eviction" and names["pods/eviction"]["group"] == "policy"
