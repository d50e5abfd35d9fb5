"""The registry of API kinds: for each kind its group/version, plural and short names, whether it is
namespaced, the protobuf message that holds it, and the rules the server applies to it. Each kind is
described once, by the record its own module in this package builds (`kinds/pod.py` builds `POD`);
everything that maps a user's word ("po", "deployments.apps", "Deployment") to a kind goes through
`lookup`."""
from __future__ import annotations

from minik8s.api.kinds.configmap import CONFIG_MAP
from minik8s.api.kinds.cronjob import CRONJOB
from minik8s.api.kinds.daemonset import DAEMON_SET
from minik8s.api.kinds.deployment import DEPLOYMENT
from minik8s.api.kinds.endpoints import ENDPOINTS
from minik8s.api.kinds.event import EVENT
from minik8s.api.kinds.horizontalpodautoscaler import HORIZONTAL_POD_AUTOSCALER
from minik8s.api.kinds.info import KindInfo, Strategy
from minik8s.api.kinds.job import JOB
from minik8s.api.kinds.lease import LEASE
from minik8s.api.kinds.metrics import NODE_METRICS, POD_METRICS
from minik8s.api.kinds.namespace import NAMESPACE
from minik8s.api.kinds.node import NODE
from minik8s.api.kinds.persistentvolume import PERSISTENT_VOLUME
from minik8s.api.kinds.persistentvolumeclaim import PERSISTENT_VOLUME_CLAIM
from minik8s.api.kinds.pod import POD
from minik8s.api.kinds.poddisruptionbudget import POD_DISRUPTION_BUDGET
from minik8s.api.kinds.rbac import CLUSTER_ROLE, CLUSTER_ROLE_BINDING, ROLE, ROLE_BINDING
from minik8s.api.kinds.replicaset import REPLICA_SET
from minik8s.api.kinds.secret import SECRET
from minik8s.api.kinds.service import SERVICE
from minik8s.api.kinds.serviceaccount import SERVICE_ACCOUNT
from minik8s.api.kinds.statefulset import STATEFUL_SET
from minik8s.api.kinds.storageclass import STORAGE_CLASS

__all__ = ["KINDS", "KindInfo", "Strategy", "UnknownKind", "lookup", "for_message", "for_api_version",
           "NAMESPACE", "NODE", "POD", "SERVICE", "ENDPOINTS", "PERSISTENT_VOLUME_CLAIM", "EVENT",
           "REPLICA_SET", "DEPLOYMENT", "JOB", "CRONJOB", "HORIZONTAL_POD_AUTOSCALER", "POD_DISRUPTION_BUDGET",
           "LEASE", "NODE_METRICS", "POD_METRICS", "CONFIG_MAP", "SECRET",
           "PERSISTENT_VOLUME", "STORAGE_CLASS", "STATEFUL_SET", "DAEMON_SET",
           "ROLE", "CLUSTER_ROLE", "ROLE_BINDING", "CLUSTER_ROLE_BINDING", "SERVICE_ACCOUNT"]

# the order settles which kind an unqualified word means: core kinds first
_ALL = [NAMESPACE, NODE, POD, SERVICE, ENDPOINTS, PERSISTENT_VOLUME_CLAIM, PERSISTENT_VOLUME, EVENT, CONFIG_MAP,
        SECRET, SERVICE_ACCOUNT, REPLICA_SET, DEPLOYMENT, STATEFUL_SET, DAEMON_SET, STORAGE_CLASS, JOB,
        CRONJOB, HORIZONTAL_POD_AUTOSCALER, POD_DISRUPTION_BUDGET, LEASE, NODE_METRICS, POD_METRICS,
        ROLE, CLUSTER_ROLE, ROLE_BINDING, CLUSTER_ROLE_BINDING]

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
