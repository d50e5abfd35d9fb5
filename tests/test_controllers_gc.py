"""The garbage collector against a real API server: background cascading deletion, foreground
deletion (the owner goes last, after pods that take their time to terminate), orphaning, and
dangling or partly dangling references found at start-up."""
from __future__ import annotations

import asyncio
import contextlib

import pytest

from minik8s.api.pb import apps_pb2, core_pb2, meta_pb2
from minik8s.controllers import deploymentutil as du
from minik8s.controllers.controller_utils import controller_ref
from support import FakeKubelet, running_manager, wait_for

# a hung watch fails its test instead of the run
pytestmark = pytest.mark.timeout(120)

NS = "default"


@contextlib.asynccontextmanager
async def controllers(srv, names="replicaset,deployment,garbagecollector"):
    async with srv.async_client() as admin, srv.async_client("controller-manager") as cm, \
            running_manager(cm, names):
        yield admin


def deployment(name: str, replicas: int) -> apps_pb2.Deployment:
    d = apps_pb2.Deployment()
    d.metadata.name, d.metadata.namespace = name, NS
    d.spec.replicas = replicas
    d.spec.selector.matchLabels["app"] = name
    d.spec.template.metadata.labels["app"] = name
    c = d.spec.template.spec.containers.add()
    c.name, c.image = "app", "nginx"
    return d


def pod(name: str, owners=()) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, NS
    for o in owners:
        p.metadata.ownerReferences.append(o)
    c = p.spec.containers.add()
    c.name, c.image = "app", "nginx"
    return p


def ref_to(obj, kind="ConfigMapLike", api_version="v1", block=False):
    return meta_pb2.OwnerReference(apiVersion=api_version, kind=kind, name=obj.metadata.name, uid=obj.metadata.uid,
                                   blockOwnerDeletion=block)


async def names(client, kind, selector="app=web") -> set[str]:
    return {o.metadata.name for o in (await client.list(kind, NS, label_selector=selector)).items}


async def rolled_out(client, name, replicas):
    d = await client.get("Deployment", name, NS)
    pods = await names(client, "Pod", f"app={name}")
    return d if du.deployment_complete(d, d.status) and len(pods) == replicas else None


async def nothing_left(client):
    return not (await names(client, "Deployment", "") & {"web"}) and not await names(client, "ReplicaSet") \
        and not await names(client, "Pod")


async def test_background_deletion_removes_replicasets_and_pods(srv):
    async with controllers(srv) as client:
        kubelet = await FakeKubelet(client).start()
        await client.create(deployment("web", 3))
        await wait_for(lambda: rolled_out(client, "web", 3), what="rollout")
        await client.delete("Deployment", "web", NS)          # the default policy: Background
        with pytest.raises(Exception):
            await client.get("Deployment", "web", NS)          # the owner goes at once
        await wait_for(lambda: nothing_left(client), what="ReplicaSets and pods collected")
        await kubelet.stop()


async def test_foreground_deletion_waits_for_terminating_pods_then_removes_owner_last(srv):
    async with controllers(srv) as client:
        # pods bound to a node terminate gracefully: they linger until "their kubelet" removes them
        kubelet = await FakeKubelet(client, node="node-1").start()
        await client.create(deployment("web", 2))
        await wait_for(lambda: rolled_out(client, "web", 2), what="rollout")
        deleted: dict[str, int] = {}
        rv = (await client.list("Pod", NS)).resource_version

        async def follow(kind):
            async for ev in client.watch(kind, NS, resource_version=rv):
                if ev.type == "DELETED":
                    deleted[f"{kind}/{ev.object.metadata.name}"] = int(ev.object.metadata.resourceVersion)
        watchers = [asyncio.create_task(follow(k)) for k in ("Pod", "ReplicaSet", "Deployment")]
        kubelet.pause()                                    # hold the pods in Terminating for a while
        await client.delete("Deployment", "web", NS, propagation_policy="Foreground")

        async def owner_waiting():
            d = await client.get("Deployment", "web", NS)
            pods = (await client.list("Pod", NS, label_selector="app=web")).items
            return d if d.metadata.deletionTimestamp and pods and \
                all(p.metadata.deletionTimestamp for p in pods) else None
        d = await wait_for(owner_waiting, what="deployment waiting on terminating pods")
        assert "foregroundDeletion" in d.metadata.finalizers
        rs = (await client.list("ReplicaSet", NS)).items
        assert len(rs) == 1 and "foregroundDeletion" in rs[0].metadata.finalizers
        kubelet.resume()
        await wait_for(lambda: nothing_left(client), what="everything gone")
        await wait_for(lambda: "Deployment/web" in deleted and len(deleted) == 4, what="4 deletions seen")
        for t in watchers:
            t.cancel()
        order = sorted(deleted, key=deleted.get)
        assert order[-1] == "Deployment/web" and order[-2].startswith("ReplicaSet/"), order
        await kubelet.stop()


async def test_orphan_deletion_leaves_replicasets_and_pods_without_owner(srv):
    async with controllers(srv) as client:
        kubelet = await FakeKubelet(client).start()
        d = await client.create(deployment("web", 2))
        await wait_for(lambda: rolled_out(client, "web", 2), what="rollout")
        pods_before = await names(client, "Pod")
        await client.delete("Deployment", "web", NS, propagation_policy="Orphan")

        async def deployment_gone():
            return not (await client.list("Deployment", NS)).items
        await wait_for(deployment_gone, what="deployment deleted")
        rss = (await client.list("ReplicaSet", NS)).items
        assert len(rss) == 1
        assert not any(r.uid == d.metadata.uid for r in rss[0].metadata.ownerReferences)
        # the ReplicaSet still owns and keeps its pods
        assert await names(client, "Pod") == pods_before
        for p in (await client.list("Pod", NS)).items:
            assert controller_ref(p).uid == rss[0].metadata.uid
        await kubelet.stop()


async def test_dangling_references_found_at_start_up(srv):
    """Objects whose owners vanished while no collector ran: one whose only owner is gone is
    deleted; one with a live owner too only loses the dead reference."""
    async with srv.async_client() as client:
        owner = await client.create(pod("owner"))
        doomed_owner = await client.create(pod("doomed-owner"))
        lone = await client.create(pod("lone", [ref_to(doomed_owner, "Pod")]))
        shared = await client.create(pod("shared", [ref_to(doomed_owner, "Pod"), ref_to(owner, "Pod")]))
        unknown = await client.create(pod("unknown-kind", [meta_pb2.OwnerReference(
            apiVersion="example.com/v1", kind="Widget", name="w", uid="1234")]))
        await client.delete("Pod", "doomed-owner", NS)
    async with controllers(srv, "garbagecollector") as client:
        async def collected():
            left = await names(client, "Pod", "")
            return left if "lone" not in left else None
        await wait_for(collected, what="lone collected")

        async def trimmed():
            p = await client.get("Pod", "shared", NS)
            return p if [r.uid for r in p.metadata.ownerReferences] == [owner.metadata.uid] else None
        await wait_for(trimmed, what="dead reference removed")
        assert (await client.get("Pod", "unknown-kind", NS)).metadata.uid == unknown.metadata.uid
        assert lone and shared
