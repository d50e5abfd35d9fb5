"""The HPA's view of its target's scale, read and written through the scale subresource (the
API's GetScale and UpdateScale, upstream's autoscaling/v1 Scale: spec.replicas, status.replicas,
status.selector as a string) of any kind that serves it (Deployment, ReplicaSet, StatefulSet).

`set_scale` writes with the resourceVersion it read, reading the scale again and retrying on a
conflict, as the target's own controller may have written its status in between."""
from __future__ import annotations

from dataclasses import dataclass

from minik8s.api import kinds
from minik8s.api.errors import Conflict

SET_SCALE_RETRIES = 5         # client-go retry.DefaultRetry steps


class ScaleError(Exception):
    """The target's scale cannot be read or written; the message says why."""


@dataclass
class Scale:
    kind: str                 # the target's kind
    namespace: str
    name: str
    resource_version: str     # the target's, as read
    spec_replicas: int
    status_replicas: int
    selector: str             # "app=web,tier=fe"; "" when the target has none


def _target_kind(api_version: str, kind: str) -> str:
    """upstream's REST mapping of the reference: the kind in the apiVersion's group. A reference
    without apiVersion (the docs' hpa-rs.yaml has none) means the one kind of that name here;
    upstream would look for it in the core group and fail."""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    info = kinds.KINDS.get(kind)
    if info is None or (api_version and info.group != group):
        raise ScaleError(f"unable to determine resource for scale target reference: "
                         f'no matches for kind "{kind}" in group "{group}"')
    return info.kind


def _scale(kind: str, scale) -> Scale:
    m = scale.metadata
    return Scale(kind, m.namespace, m.name, m.resourceVersion, scale.spec.replicas, scale.status.replicas,
                 scale.status.selector)


async def get_scale(client, namespace: str, ref) -> Scale:
    kind = _target_kind(ref.apiVersion, ref.kind)
    return _scale(kind, await client.get_scale(kind, ref.name, namespace))


async def set_scale(client, scale: Scale, replicas: int) -> Scale:
    """Write `replicas` into the target's spec.replicas; on a conflict read it again and retry."""
    rv = scale.resource_version
    for attempt in range(1, SET_SCALE_RETRIES + 1):
        try:
            return _scale(scale.kind, await client.update_scale(scale.kind, scale.name, replicas, scale.namespace,
                                                                resource_version=rv))
        except Conflict:
            if attempt == SET_SCALE_RETRIES:
                raise
            rv = (await client.get_scale(scale.kind, scale.name, scale.namespace)).metadata.resourceVersion
    raise AssertionError("unreachable")
