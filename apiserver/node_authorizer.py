"""Upstream's Node authorizer and NodeRestriction admission, for identities `system:node:NAME` in
group `system:nodes`.

A node reads Services, Endpoints and Nodes; lists and watches Pods (its kubelet's own informer, and
the service proxy that runs on the node's identity); gets a Pod only when bound to it, and the
ConfigMaps, Secrets, PersistentVolumeClaims (and their PersistentVolumes) those pods refer to (a get,
or a list/watch narrowed to one by `metadata.name=`), and gets the ServiceAccounts they run as and
tokens for them bound to those pods. It writes its own Node and Lease, its metrics,
the status of pods bound to it and their deletion, and Events (create/update/patch, never delete).
Logs and exec of a pod go through that pod's own node only. Writes whose target is known only inside
the transaction (a patch, a pod's binding) are checked there by `node_write_check`, which also keeps
NodeRestriction's label rule: a node may not set `node-restriction.kubernetes.io/` or
`node-role.kubernetes.io/` labels on its Node.

`authorize` returns (allowed, reason); a node that is not allowed here may still be allowed by RBAC,
and the reason is added to the Forbidden message as upstream does."""
from __future__ import annotations

from typing import NamedTuple
from weakref import WeakKeyDictionary

from minik8s.api import kinds, selectors
from minik8s.api.errors import Forbidden, NotFound
from minik8s.api.pod_references import referenced_names

FORBIDDEN_LABEL_PREFIXES = ("node-restriction.kubernetes.io/", "node-role.kubernetes.io/")
READ = ("get", "list", "watch")


def selected_name(field_selector: str) -> str:
    """The one name a `metadata.name=NAME` field selector narrows a list or watch to, or ""."""
    try:
        requirements = selectors.parse_field_selector(field_selector).requirements if field_selector else []
    except ValueError:
        return ""
    return next((value for field, op, value in requirements if field == "metadata.name" and op == "="), "")


class PodRefs(NamedTuple):
    """What one version of a pod refers to, all a node's reads are decided on."""
    namespace: str
    configmaps: frozenset
    secrets: frozenset
    claims: frozenset
    service_account: str

    def names(self, resource: str) -> frozenset:
        return self.configmaps if resource == "configmaps" else self.secrets


# per registry, PodRefs by (namespace, name, resourceVersion): kubelets read what their pods refer to
# again and again, and decoding every pod on the node for each read would dominate the server under load
_REFS: WeakKeyDictionary = WeakKeyDictionary()
_REFS_MAX = 50_000


def _refs(cache: dict, rec) -> PodRefs:
    key = (rec.namespace, rec.name, rec.rv)
    refs = cache.get(key)
    if refs is None:
        pod = rec.decode()
        refs = PodRefs(rec.namespace, frozenset(referenced_names(pod, "ConfigMap")),
                       frozenset(referenced_names(pod, "Secret")),
                       frozenset(v.persistentVolumeClaim.claimName for v in pod.spec.volumes
                                 if v.HasField("persistentVolumeClaim")),
                       pod.spec.serviceAccountName or "default")
        if len(cache) >= _REFS_MAX:     # versions long replaced go with the rest; live ones come back
            cache.clear()
        cache[key] = refs
    return refs


def _bound_pods(registry, node: str, namespace: str) -> list[PodRefs]:
    cache = _REFS.setdefault(registry, {})
    return [_refs(cache, rec) for rec in registry.pods_on_node(node, namespace)]


def _pod_on(registry, node: str, namespace: str, name: str) -> bool:
    try:
        return registry.get(kinds.POD, namespace, name).decode().spec.nodeName == node
    except NotFound:
        return False


def _referenced(registry, node: str, attrs) -> bool:
    """Does a pod bound to `node` refer to the object `attrs` names?"""
    name = attrs.name or selected_name(attrs.field_selector)
    if not name or attrs.verb not in READ:
        return False
    if attrs.resource == "persistentvolumes":
        claims = {(p.namespace, c) for p in _bound_pods(registry, node, "") for c in p.claims}
        for ns, claim in claims:
            try:
                if registry.get(kinds.PERSISTENT_VOLUME_CLAIM, ns, claim).decode().spec.volumeName == name:
                    return True
            except NotFound:
                continue
        return False
    pods = _bound_pods(registry, node, attrs.namespace or "default")
    if attrs.resource == "persistentvolumeclaims":
        return any(name in p.claims for p in pods)
    return any(name in p.names(attrs.resource) for p in pods)


def _runs_as(registry, node: str, attrs) -> bool:
    """A get of, or a token for, a ServiceAccount some pod bound to `node` runs as (the token itself
    must be bound to such a pod: apiserver/serviceaccount_token.py)."""
    if (attrs.verb, attrs.subresource) not in (("get", ""), ("create", "token")):
        return False
    pods = _bound_pods(registry, node, attrs.namespace or "default")
    return any(p.service_account == attrs.name for p in pods)


def authorize(registry, node: str, attrs) -> tuple[bool, str]:
    group, resource, verb, sub = attrs.group, attrs.resource, attrs.verb, attrs.subresource
    no_relation = f"no relationship found between node '{node}' and this object"
    if attrs.path:
        return False, ""
    if group == "" and resource in ("services", "endpoints") and not sub:
        return verb in READ, ""
    if group == "" and resource == "nodes":
        if verb in READ and not sub:
            return True, ""
        own = attrs.name == node and verb in ("create", "update", "patch", "delete") and sub in ("", "status")
        return own, "" if own else f"node '{node}' may only modify its own Node object"
    if group == "coordination.k8s.io" and resource == "leases":
        own = attrs.namespace == "kube-node-lease" and attrs.name == node and verb not in ("list", "watch")
        return own, "" if own else f"node '{node}' may only use its own Lease in kube-node-lease"
    if group == "" and resource == "events":
        return verb in ("create", "update", "patch"), ""
    if group == "" and resource == "pods":
        return _authorize_pod(registry, node, attrs, no_relation)
    if group == "" and resource in ("configmaps", "secrets", "persistentvolumeclaims", "persistentvolumes") \
            and not sub:
        allowed = _referenced(registry, node, attrs)
        return allowed, "" if allowed else no_relation
    if group == "" and resource == "serviceaccounts":
        allowed = _runs_as(registry, node, attrs)
        return allowed, "" if allowed else no_relation
    if group == "metrics.k8s.io" and resource == "nodes":
        own = attrs.name == node and verb in ("get", "create", "update", "delete")
        return own, "" if own else f"node '{node}' may only publish its own metrics"
    if group == "metrics.k8s.io" and resource == "pods":
        return verb in ("get", "create", "update", "delete"), ""     # bound: checked in the write
    return False, ""


def _authorize_pod(registry, node: str, attrs, no_relation: str) -> tuple[bool, str]:
    verb, sub = attrs.verb, attrs.subresource
    if not sub and verb in ("list", "watch"):
        return True, ""
    if (not sub and verb == "get") or sub in ("log", "exec"):
        allowed = verb in ("get", "create") and _pod_on(registry, node, attrs.namespace, attrs.name)
        return allowed, "" if allowed else no_relation
    if (not sub and verb == "delete") or (sub == "status" and verb in ("update", "patch")):
        return True, ""         # bound to this node: checked against the stored pod in the write
    return False, ""


def _forbidden(user: str, verb: str, resource: str, name: str, why: str) -> Forbidden:
    return Forbidden(f'{resource} "{name}" is forbidden: User "{user}" cannot {verb} resource '
                     f'"{resource}": {why}')


def _forbidden_labels(old, new) -> list[str]:
    before = dict(old.metadata.labels) if old is not None else {}
    after = dict(new.metadata.labels)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    return sorted(k for k in changed if k.startswith(FORBIDDEN_LABEL_PREFIXES))


def node_write_check(ident, verb: str):
    """A check run inside the write, against the stored object: a pod (or its metrics) must be bound to
    the calling node, and a node's own Node must not gain or change restricted labels."""
    node = ident.node_name
    if node is None:
        return None

    def check(tx, old, new):
        obj = old if old is not None else new
        if obj is None:
            return
        kind = obj.DESCRIPTOR.name
        if kind == "Node" and new is not None:
            labels = _forbidden_labels(old, new)
            if labels:
                what = "modify labels" if old is not None else "set the following labels"
                raise Forbidden(f'node "{node}" is not allowed to {what}: {", ".join(labels)}')
        elif kind == "PodMetrics":
            rec = tx.get("Pod", obj.metadata.namespace, obj.metadata.name)
            if rec is None or rec.decode().spec.nodeName != node:
                raise _forbidden(ident.user, verb, "podmetrics", obj.metadata.name,
                                 f'node "{node}" can only publish metrics of pods bound to it')
        elif kind == "Pod":
            if obj.spec.nodeName != node:
                raise _forbidden(ident.user, verb, "pods/status" if verb == "update" else "pods", obj.metadata.name,
                                 f'node "{node}" can only {verb} pods bound to it')
            if new is not None and old is not None and new.spec.nodeName != node:
                raise _forbidden(ident.user, verb, "pods/status", obj.metadata.name,
                                 f'node "{node}" cannot move a pod to another node')
    return check
