"""The scale subresource, shared by gRPC (GetScale, UpdateScale) and REST (`.../NAME/scale`): a
workload whose spec has `replicas` and `selector` (Deployment, ReplicaSet, StatefulSet) seen as
upstream's autoscaling/v1 Scale -- the workload's name, namespace, uid and resourceVersion,
spec.replicas, status.replicas and status.selector as a string ("app=web,tier=fe"). A write
changes only the workload's spec.replicas; a resourceVersion it names must be the current one."""
from __future__ import annotations

from minik8s.api import selectors
from minik8s.api.errors import Conflict, Invalid, NotFound
from minik8s.api.kinds import KindInfo
from minik8s.api.pb import autoscaling_pb2

from apiserver.registry import Registry

CONFLICT_RETRIES = 5
NOT_FOUND = "the server could not find the requested resource"


def scale_of(obj) -> autoscaling_pb2.Scale:
    scale = autoscaling_pb2.Scale(apiVersion="autoscaling/v1", kind="Scale")
    for name in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp"):
        setattr(scale.metadata, name, getattr(obj.metadata, name))
    scale.spec.replicas = obj.spec.replicas if obj.spec.HasField("replicas") else 1
    scale.status.replicas = obj.status.replicas
    if obj.spec.HasField("selector"):
        try:
            scale.status.selector = str(selectors.from_label_selector_obj(obj.spec.selector))
        except selectors.SelectorError:
            pass          # an unparsable selector reads as none: the HPA reports InvalidSelector
    return scale


def _scalable(info: KindInfo) -> None:
    if not info.has_scale:
        raise NotFound(NOT_FOUND)


def get_scale(registry: Registry, info: KindInfo, namespace: str, name: str) -> autoscaling_pb2.Scale:
    _scalable(info)
    return scale_of(registry.get(info, namespace or "default", name).decode())


async def update_scale(registry: Registry, info: KindInfo, namespace: str, name: str, replicas: int,
                       resource_version: str = "", *, dry_run: bool = False, check=None) -> autoscaling_pb2.Scale:
    """Set the workload's spec.replicas; an unpinned write that lost a race is tried again on a new read."""
    _scalable(info)
    if replicas < 0:
        raise Invalid(f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: {replicas}: '
                      "must be greater than or equal to 0",
                      [("spec.replicas", "must be greater than or equal to 0")])
    for attempt in range(CONFLICT_RETRIES):
        obj = registry.get(info, namespace or "default", name).decode()
        if resource_version and resource_version != obj.metadata.resourceVersion:
            what = f"{info.plural}.{info.group}" if info.group else info.plural
            raise Conflict(f'Operation cannot be fulfilled on {what} "{name}": the object has been modified; '
                           "please apply your changes to the latest version and try again")
        obj.spec.replicas = replicas
        try:
            raw = await registry.update(info, obj, dry_run=dry_run, check=check)
        except Conflict:
            if resource_version or attempt + 1 == CONFLICT_RETRIES:
                raise
            continue
        return scale_of(info.message.FromString(raw))
    raise AssertionError("unreachable")
