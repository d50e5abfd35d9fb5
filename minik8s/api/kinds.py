"""The registry of API kinds: for each kind its group/version, plural and short names, whether it is
namespaced, and the protobuf message that holds it. Everything that maps a user's word ("po",
"deployments.apps", "Deployment") to a kind goes through `lookup`."""
from __future__ import annotations

from dataclasses import dataclass

from minik8s.api.pb import (apps_pb2, autoscaling_pb2, batch_pb2, coordination_pb2, core_pb2,
                            metrics_pb2, policy_pb2)


@dataclass(frozen=True)
class KindInfo:
    kind: str
    group: str
    version: str
    plural: str
    short_names: tuple[str, ...]
    namespaced: bool
    message: type
    has_status: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def resource(self) -> str:
        """kubectl's name for the kind in messages: `deployment.apps`, `pod`."""
        return f"{self.singular}.{self.group}" if self.group else self.singular


_ALL = [
    KindInfo("Namespace", "", "v1", "namespaces", ("ns",), False, core_pb2.Namespace),
    KindInfo("Node", "", "v1", "nodes", ("no",), False, core_pb2.Node),
    KindInfo("Pod", "", "v1", "pods", ("po",), True, core_pb2.Pod),
    KindInfo("Service", "", "v1", "services", ("svc",), True, core_pb2.Service),
    KindInfo("Endpoints", "", "v1", "endpoints", ("ep",), True, core_pb2.Endpoints, has_status=False),
    KindInfo("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", ("pvc",), True,
             core_pb2.PersistentVolumeClaim),
    KindInfo("Event", "", "v1", "events", ("ev",), True, core_pb2.Event, has_status=False),
    KindInfo("ReplicaSet", "apps", "v1", "replicasets", ("rs",), True, apps_pb2.ReplicaSet),
    KindInfo("Deployment", "apps", "v1", "deployments", ("deploy",), True, apps_pb2.Deployment),
    KindInfo("Job", "batch", "v1", "jobs", (), True, batch_pb2.Job),
    KindInfo("HorizontalPodAutoscaler", "autoscaling", "v2", "horizontalpodautoscalers", ("hpa",), True,
             autoscaling_pb2.HorizontalPodAutoscaler),
    KindInfo("PodDisruptionBudget", "policy", "v1", "poddisruptionbudgets", ("pdb",), True,
             policy_pb2.PodDisruptionBudget),
    KindInfo("Lease", "coordination.k8s.io", "v1", "leases", (), True, coordination_pb2.Lease,
             has_status=False),
    KindInfo("NodeMetrics", "metrics.k8s.io", "v1beta1", "nodes", (), False, metrics_pb2.NodeMetrics,
             has_status=False),
    KindInfo("PodMetrics", "metrics.k8s.io", "v1beta1", "pods", (), True, metrics_pb2.PodMetrics,
             has_status=False),
]

KINDS: dict[str, KindInfo] = {k.kind: k for k in _ALL}
_BY_MESSAGE = {k.message: k for k in _ALL}
_ALIASES: dict[str, KindInfo] = {}
for _k in _ALL:
    for _alias in (_k.kind.lower(), _k.plural, _k.singular, *_k.short_names):
        # an unqualified word goes to the first kind that claims it (`pods` is core Pods, not
        # pods.metrics.k8s.io), as kubectl prefers the core group
        _ALIASES.setdefault(_alias, _k)
        if _k.group:
            _ALIASES[f"{_alias}.{_k.group}"] = _k
            _ALIASES[f"{_alias}.{_k.version}.{_k.group}"] = _k


class UnknownKind(LookupError):
    pass


def lookup(name: str) -> KindInfo:
    """Resolve a kind as a user may write it: `Pod`, `pods`, `po`, `deployments.apps`."""
    info = KINDS.get(name) or _ALIASES.get(name.lower())
    if info is None:
        raise UnknownKind(f'the server doesn\'t have a resource type "{name}"')
    return info


def for_message(msg) -> KindInfo:
    info = _BY_MESSAGE.get(type(msg))
    if info is None:
        raise UnknownKind(f"{type(msg).__name__} is not an API kind")
    return info


def for_api_version(api_version: str, kind: str) -> KindInfo:
    """Resolve a manifest's apiVersion/kind pair exactly, as the server does."""
    info = KINDS.get(kind)
    if info is None:
        raise UnknownKind(f'no matches for kind "{kind}" in version "{api_version}"')
    if api_version != info.api_version:
        raise UnknownKind(f'no matches for kind "{kind}" in version "{api_version}" '
                          f'(minik8s serves {kind} as {info.api_version})')
    return info
