"""The persistent volume controller against a real API server: dynamic provisioning by the default
class into the cluster home, binding a claim to the smallest sufficient static volume, reclaim
(Delete removes data and volume, Retain leaves it Released), the protection finalizers, and a claim
for a class that does not exist."""
from __future__ import annotations

import contextlib
import os

import pytest

from minik8s.api.errors import NotFound
from minik8s.api.pb import core_pb2, storage_pb2
from support import running_manager, wait_for

pytestmark = pytest.mark.timeout(120)

NS = "default"


@contextlib.asynccontextmanager
async def controllers(srv, home):
    async with srv.async_client() as admin, srv.async_client("controller-manager") as cm, \
            running_manager(cm, "persistentvolume-binder", settings={"home": str(home)}):
        yield admin


def storage_class(name: str, provisioner="minik8s.io/hostpath", default=False, reclaim="Delete"):
    sc = storage_pb2.StorageClass(apiVersion="storage.k8s.io/v1", kind="StorageClass",
                                  provisioner=provisioner, reclaimPolicy=reclaim)
    sc.metadata.name = name
    if default:
        sc.metadata.annotations["storageclass.kubernetes.io/is-default-class"] = "true"
    return sc


def claim(name: str, size="1Gi", cls: str | None = None):
    pvc = core_pb2.PersistentVolumeClaim(apiVersion="v1", kind="PersistentVolumeClaim")
    pvc.metadata.name, pvc.metadata.namespace = name, NS
    pvc.spec.accessModes.append("ReadWriteOnce")
    pvc.spec.resources.requests["storage"] = size
    if cls is not None:
        pvc.spec.storageClassName = cls
    return pvc


def volume(name: str, size: str, path: str, cls="manual", reclaim="Retain"):
    pv = storage_pb2.PersistentVolume(apiVersion="v1", kind="PersistentVolume")
    pv.metadata.name = name
    pv.spec.capacity["storage"] = size
    pv.spec.accessModes.append("ReadWriteOnce")
    pv.spec.storageClassName = cls
    pv.spec.persistentVolumeReclaimPolicy = reclaim
    pv.spec.hostPath.path = path
    return pv


async def get_or_none(client, kind, name, ns=None):
    try:
        return await client.get(kind, name, ns)
    except NotFound:
        return None


async def events_for(client, name: str) -> list:
    return [(e.reason, e.message) for e in (await client.list("Event", NS)).items if e.involvedObject.name == name]


async def test_default_class_provisions_a_directory_and_delete_reclaims_it(srv, tmp_path):
    async with controllers(srv, tmp_path) as admin:
        await admin.create(storage_class("standard", default=True))
        created = await admin.create(claim("data"))
        assert "kubernetes.io/pvc-protection" in created.metadata.finalizers
        bound = await wait_for(lambda: _bound(admin, "data"), what="claim bound")
        assert bound.spec.storageClassName == "standard"            # the default class was assigned
        pv_name = f"pvc-{created.metadata.uid}"
        assert bound.spec.volumeName == pv_name
        assert bound.status.capacity["storage"] == "1Gi"
        pv = await admin.get("PersistentVolume", pv_name)
        path = os.path.join(tmp_path, "volumes", pv_name)
        assert pv.spec.hostPath.path == path and os.path.isdir(path)
        assert pv.spec.claimRef.uid == created.metadata.uid
        assert "kubernetes.io/pv-protection" in pv.metadata.finalizers
        await wait_for(lambda: _phase(admin, pv_name, "Bound"), what="volume Bound")
        assert (await wait_for(lambda: events_for(admin, "data"))) [0] == (
            "ProvisioningSucceeded", f"Successfully provisioned volume {pv_name} using minik8s.io/hostpath")

        with open(os.path.join(path, "x"), "w") as f:
            f.write("data")
        await admin.delete("PersistentVolumeClaim", "data", NS)
        await wait_for(lambda: _gone(admin, "PersistentVolumeClaim", "data", NS), what="claim gone")
        await wait_for(lambda: _gone(admin, "PersistentVolume", pv_name), what="volume deleted")
        assert not os.path.exists(path)


async def test_static_binding_picks_the_smallest_sufficient_volume_and_retain_releases(srv, tmp_path):
    async with controllers(srv, tmp_path) as admin:
        for name, size in (("small", "1Gi"), ("medium", "5Gi"), ("large", "10Gi")):
            await admin.create(volume(name, size, str(tmp_path / name)))
        await admin.create(volume("other-class", "4Gi", str(tmp_path / "o"), cls="fast"))
        await wait_for(lambda: _phase(admin, "small", "Available"), what="volume Available")
        await admin.create(claim("db", "3Gi", cls="manual"))
        bound = await wait_for(lambda: _bound(admin, "db"), what="claim bound")
        assert bound.spec.volumeName == "medium"
        assert bound.status.capacity["storage"] == "5Gi"
        await wait_for(lambda: _phase(admin, "medium", "Bound"), what="volume Bound")

        await admin.delete("PersistentVolumeClaim", "db", NS)
        released = await wait_for(lambda: _phase(admin, "medium", "Released"), what="volume Released")
        assert released.spec.claimRef.name == "db"                  # Retain: kept for the administrator
        assert (await admin.get("PersistentVolume", "small")).status.phase == "Available"


async def test_a_claim_in_use_is_kept_until_its_pod_goes(srv, tmp_path):
    async with controllers(srv, tmp_path) as admin:
        await admin.create(storage_class("standard", default=True))
        await admin.create(claim("logs"))
        await wait_for(lambda: _bound(admin, "logs"), what="claim bound")
        pod = core_pb2.Pod(apiVersion="v1", kind="Pod")
        pod.metadata.name, pod.metadata.namespace = "writer", NS
        pod.spec.containers.add(name="app", image="busybox")
        pod.spec.volumes.add(name="logs").persistentVolumeClaim.claimName = "logs"
        await admin.create(pod)
        await admin.delete("PersistentVolumeClaim", "logs", NS)
        going = await admin.get("PersistentVolumeClaim", "logs", NS)
        assert going.metadata.deletionTimestamp
        # the controller has looked at the claim (and kept it) once its volume is still Bound after
        # the delete; the claim must still be there
        await wait_for(lambda: _phase(admin, f"pvc-{going.metadata.uid}", "Bound"))
        assert await get_or_none(admin, "PersistentVolumeClaim", "logs", NS) is not None
        await admin.delete("Pod", "writer", NS, grace_period=0)
        await wait_for(lambda: _gone(admin, "PersistentVolumeClaim", "logs", NS), what="claim gone")


async def test_a_claim_for_a_missing_class_stays_pending_with_an_event(srv, tmp_path):
    async with controllers(srv, tmp_path) as admin:
        await admin.create(claim("lost", cls="nope"))
        evs = await wait_for(lambda: events_for(admin, "lost"), what="event")
        assert evs[0] == ("ProvisioningFailed", 'storageclass.storage.k8s.io "nope" not found')
        pvc = await admin.get("PersistentVolumeClaim", "lost", NS)
        assert pvc.status.phase == "Pending" and not pvc.spec.volumeName
        # creating the class later provisions the claim
        await admin.create(storage_class("nope"))
        await wait_for(lambda: _bound(admin, "lost"), what="claim bound once its class exists")


async def test_a_pending_claim_binds_to_a_volume_created_after_it(srv, tmp_path):
    async with controllers(srv, tmp_path) as admin:
        await admin.create(claim("early", "2Gi", cls="manual"))
        await admin.create(volume("too-small", "1Gi", str(tmp_path / "s")))
        await wait_for(lambda: _phase(admin, "too-small", "Available"), what="volume Available")
        assert (await admin.get("PersistentVolumeClaim", "early", NS)).status.phase == "Pending"
        await admin.create(volume("late", "2Gi", str(tmp_path / "l")))
        bound = await wait_for(lambda: _bound(admin, "early"), what="claim bound to the new volume")
        assert bound.spec.volumeName == "late"


async def _bound(client, name):
    pvc = await client.get("PersistentVolumeClaim", name, NS)
    return pvc if pvc.status.phase == "Bound" and pvc.spec.volumeName else None


async def _phase(client, name, phase):
    pv = await get_or_none(client, "PersistentVolume", name)
    return pv if pv is not None and pv.status.phase == phase else None


async def _gone(client, kind, name, ns=None):
    return await get_or_none(client, kind, name, ns) is None
