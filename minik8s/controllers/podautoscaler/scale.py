"""The HPA's view of its target's scale (upstream's autoscaling/v1 Scale: spec.replicas,
status.replicas, status.selector as a string), read from and written to any namespaced kind whose
spec has `replicas` and `selector` (Deployment, ReplicaSet, ...).

`get_scale` and `set_scale` are the only places that touch the target, so that they can move to a
scale subresource without the controller noticing. `set_scale` writes spec.replicas with an update
that carries the resourceVersion it read, re-reading and retrying on a conflict."""
from __future__ import annotations

from dataclasses import dataclass

from minik8s.api import kinds, selectors
from minik8s.api.errors import Conflict, NotFound
from minik8s.client.informer import copy

SET_SCALE_RETRIES = 5         # client-go retry.DefaultRetry steps


class ScaleError(Exception):
    """The target's scale cannot be read or written; the message says why."""


@dataclass
class Scale:
    target: object            # the target object as read, carrying its resourceVersion
    spec_replicas: int
    status_replicas: int
    selector: str             # "app=web,tier=fe"; "" when the target has none


def _scalable_kind(api_version: str, kind: str):
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    info = kinds.KINDS.get(kind)
    if info is None or info.group != group:
        raise ScaleError(f"unable to determine resource for scale target reference: "
                         f'no matches for kind "{kind}" in group "{group}"')
    spec = info.message.DESCRIPTOR.fields_by_name.get("spec")
    fields = spec.message_type.fields_by_name if spec is not None and spec.message_type else {}
    if "replicas" not in fields or "selector" not in fields or not info.namespaced:
        raise ScaleError(f"{info.plural}.{info.group or 'core'} has no scale subresource: "
                         f"the server could not find the requested resource")
    return info


def scale_of(obj) -> Scale:
    spec = obj.spec
    replicas = spec.replicas if spec.HasField("replicas") else 1
    selector = ""
    if spec.HasField("selector"):
        try:
            selector = str(selectors.from_label_selector_obj(spec.selector))
        except selectors.SelectorError:
            selector = ""
    return Scale(obj, replicas, obj.status.replicas, selector)


async def get_scale(client, namespace: str, ref) -> Scale:
    info = _scalable_kind(ref.apiVersion, ref.kind)
    try:
        obj = await client.get(info.kind, ref.name, namespace)
    except NotFound:
        raise ScaleError(f'{info.plural}.{info.group or "core"} "{ref.name}" not found') from None
    return scale_of(obj)


async def set_scale(client, scale: Scale, replicas: int) -> Scale:
    """Write `replicas` into the target's spec.replicas; on a conflict read it again and retry."""
    obj = copy(scale.target)
    kind = kinds.for_message(obj).kind
    attempt = 1
    while True:
        obj.spec.replicas = replicas
        try:
            return scale_of(await client.update(obj))
        except Conflict:
            if attempt == SET_SCALE_RETRIES:
                raise
            attempt += 1
            obj = await client.get(kind, obj.metadata.name, obj.metadata.namespace)
