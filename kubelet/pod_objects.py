"""The ConfigMaps and Secrets a pod refers to, read from the API server at each of the pod's syncs
(upstream's `Get` change detection strategy): env vars and volume files are built from what the server
holds now, and a mounted volume follows a changed object within a resync period. A node may read only
the objects its pods refer to (the node authorizer, apiserver/auth.py)."""
from __future__ import annotations

from dataclasses import dataclass, field

from minik8s.api.errors import ApiError, NotFound
from minik8s.api.pod_references import config_map_names, secret_names


class ObjectUnavailable(Exception):
    """An object the pod refers to could not be read (other than being absent)."""


@dataclass
class PodObjects:
    found: dict[tuple[str, str], object] = field(default_factory=dict)      # (kind, name) -> object
    failed: dict[tuple[str, str], str] = field(default_factory=dict)        # (kind, name) -> why

    def get(self, kind: str, name: str):
        """The object, or None when it does not exist; ObjectUnavailable when it could not be read."""
        why = self.failed.get((kind, name))
        if why is not None:
            raise ObjectUnavailable(why)
        return self.found.get((kind, name))


def not_found(kind: str, name: str) -> str:
    """The kubelet's own wording (its managers name the resource in the singular): `configmap "x" not found`."""
    return f'{kind.lower()} "{name}" not found'


async def fetch_pod_objects(client, pod) -> PodObjects:
    objects = PodObjects()
    wanted = [("ConfigMap", n) for n in sorted(config_map_names(pod))] + \
             [("Secret", n) for n in sorted(secret_names(pod))]
    for kind, name in wanted:
        try:
            objects.found[(kind, name)] = await client.get(kind, name, pod.metadata.namespace)
        except NotFound:
            pass
        except ApiError as e:
            objects.failed[(kind, name)] = f"couldn't get {kind.lower()} {pod.metadata.namespace}/{name}: {e}"
    await _fetch_claims(client, pod, objects)
    return objects


async def _fetch_claims(client, pod, objects: PodObjects) -> None:
    """The pod's PersistentVolumeClaims and the volumes they are bound to."""
    ns = pod.metadata.namespace
    for v in pod.spec.volumes:
        if v.HasField("persistentVolumeClaim"):
            pvc = await _fetch(client, objects, "PersistentVolumeClaim", v.persistentVolumeClaim.claimName, ns)
            if pvc is not None and pvc.spec.volumeName:
                await _fetch(client, objects, "PersistentVolume", pvc.spec.volumeName, None)


async def _fetch(client, objects: PodObjects, kind: str, name: str, namespace):
    try:
        obj = objects.found[(kind, name)] = await client.get(kind, name, namespace)
        return obj
    except NotFound:
        return None
    except ApiError as e:
        objects.failed[(kind, name)] = f"couldn't get {kind.lower()} {name}: {e}"
        return None
