"""The ConfigMaps and Secrets a pod refers to, read from the API server at each of the pod's syncs
(upstream's `Get` change detection strategy): env vars and volume files are built from what the server
holds now, and a mounted volume follows a changed object within a resync period. A node may read only
the objects its pods refer to (the node authorizer, apiserver/node_authorizer.py). Also the tokens of
the pod's projected `serviceAccountToken` sources, from the token manager (kubelet/tokens.py)."""
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
    tokens: dict[tuple[str, int], str] = field(default_factory=dict)        # (audience, seconds) -> token

    def get(self, kind: str, name: str):
        """The object, or None when it does not exist; ObjectUnavailable when it could not be read."""
        why = self.failed.get((kind, name))
        if why is not None:
            raise ObjectUnavailable(why)
        return self.found.get((kind, name))

    def token(self, projection) -> str:
        """The token for a projected `serviceAccountToken` source; ObjectUnavailable when none came."""
        key = token_key(projection)
        token = self.tokens.get(key)
        if token is None:
            raise ObjectUnavailable(self.failed.get(("ServiceAccountToken", key), "no token was requested"))
        return token


def not_found(kind: str, name: str) -> str:
    """The kubelet's own wording (its managers name the resource in the singular): `configmap "x" not found`."""
    return f'{kind.lower()} "{name}" not found'


def token_key(projection) -> tuple[str, int]:
    return projection.audience, projection.expirationSeconds


async def fetch_pod_objects(client, pod, tokens=None) -> PodObjects:
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
    if tokens is not None:
        await _fetch_tokens(client, pod, objects, tokens)
    return objects


async def _fetch_tokens(client, pod, objects: PodObjects, tokens) -> None:
    for v in pod.spec.volumes:
        for source in v.projected.sources:
            if not source.HasField("serviceAccountToken"):
                continue
            key = token_key(source.serviceAccountToken)
            try:
                objects.tokens[key] = await tokens.token(client, pod, source.serviceAccountToken)
            except ApiError as e:
                objects.failed[("ServiceAccountToken", key)] = f"failed to fetch token: {e}"


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
