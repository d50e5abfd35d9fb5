"""Authentication (bearer tokens from a static token file) and authorization.

The token file is upstream's static-token CSV: `token,user,uid,"group1,group2"`. Identities: the
admin (group system:masters), the control-plane components (system:kube-scheduler,
system:kube-controller-manager), and one per node (system:node:NAME in group system:nodes).

Authorization: masters and control-plane components may do anything. A node may read everything but
ConfigMaps and Secrets, of which it may read only those the pods bound to it refer to (a get, or a
list/watch narrowed to one by `metadata.name=`), and write only what upstream's Node authorizer and
NodeRestriction admission allow: its own Node, its own Lease in kube-node-lease, the status of pods
bound to it, the deletion of pods bound to it, and Events."""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass

from minik8s.api import kinds, selectors
from minik8s.api.errors import Forbidden, Unauthenticated
from minik8s.api.pod_references import referenced_names

CONTROL_PLANE_USERS = {"system:kube-scheduler", "system:kube-controller-manager", "system:kube-proxy",
                       "system:cluster-autoscaler"}
NODE_READ_BY_REFERENCE = ("ConfigMap", "Secret")


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()

    @property
    def node_name(self) -> str | None:
        if self.user.startswith("system:node:") and "system:nodes" in self.groups:
            return self.user[len("system:node:"):]
        return None

    @property
    def privileged(self) -> bool:
        return "system:masters" in self.groups or self.user in CONTROL_PLANE_USERS


def _file_stamp(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class TokenAuthenticator:
    """The static token file, read again when an unknown token arrives after the file changed: a node
    added to a running cluster (`minictl node add`) gets its token written there, and no restart."""

    def __init__(self, path: str):
        self.path = path
        self.tokens: dict[str, Identity] = {}
        self.reload()

    def reload(self) -> None:
        self._stamp = _file_stamp(self.path)
        tokens = {}
        with open(self.path, newline="") as f:
            for row in csv.reader(f):
                if not row or row[0].startswith("#") or len(row) < 2:
                    continue
                groups = tuple(g for g in (row[3] if len(row) > 3 else "").split(",") if g)
                tokens[row[0].strip()] = Identity(row[1].strip(), groups)
        self.tokens = tokens

    def authenticate(self, metadata) -> Identity:
        header = ""
        for key, value in metadata or ():
            if key == "authorization":
                header = value
                break
        if not header.startswith("Bearer "):
            raise Unauthenticated("Unauthorized: no bearer token")
        token = header[len("Bearer "):].strip()
        ident = self.tokens.get(token)
        if ident is None and _file_stamp(self.path) != self._stamp:
            self.reload()
            ident = self.tokens.get(token)
        if ident is None:
            raise Unauthenticated("Unauthorized: invalid bearer token")
        return ident


def _forbidden(ident: Identity, verb: str, resource: str, name: str, why: str) -> Forbidden:
    return Forbidden(f'{resource} "{name}" is forbidden: User "{ident.user}" cannot {verb} resource '
                     f'"{resource}": {why}')


def authorize_write(ident: Identity, verb: str, kind: str, namespace: str, name: str,
                    subresource: str = "") -> None:
    """Checks that need only the request. Checks on the stored object run in `node_object_check`."""
    if ident.privileged:
        return
    node = ident.node_name
    resource = kind.lower() + "s" + (f"/{subresource}" if subresource else "")
    if node is None:
        raise _forbidden(ident, verb, resource, name, "no rule allows it")
    if kind == "Event":
        return
    if kind == "Node":
        if name != node:
            raise _forbidden(ident, verb, resource, name, f'node "{node}" may only modify its own Node object')
        return
    if kind == "Lease":
        if namespace != "kube-node-lease" or name != node:
            raise _forbidden(ident, verb, resource, name,
                             f'node "{node}" may only modify its own Lease in kube-node-lease')
        return
    if kind == "NodeMetrics":
        if name != node:
            raise _forbidden(ident, verb, resource, name, f'node "{node}" may only publish its own metrics')
        return
    if kind == "PodMetrics" or (kind == "Pod" and (subresource == "status" or verb == "delete")):
        return      # bound-to-this-node is checked against the stored pod
    raise _forbidden(ident, verb, resource, name, f'node "{node}" may not {verb} {resource}')


def _selected_name(field_selector: str) -> str:
    """The one name a `metadata.name=NAME` field selector narrows a list or watch to, or ""."""
    try:
        requirements = selectors.parse_field_selector(field_selector).requirements if field_selector else []
    except ValueError:
        return ""
    return next((value for field, op, value in requirements if field == "metadata.name" and op == "="), "")


def authorize_read(ident: Identity, registry, verb: str, kind: str, namespace: str, name: str = "",
                   field_selector: str = "") -> None:
    """Upstream's Node authorizer for reads: a node may get (or list/watch, by name) a ConfigMap or Secret
    only while a pod bound to it refers to that object."""
    node = ident.node_name
    if node is None or ident.privileged or kind not in NODE_READ_BY_REFERENCE:
        return
    name = name or _selected_name(field_selector)
    resource = kind.lower() + "s"
    if name:
        bound = selectors.parse_field_selector(f"spec.nodeName={node}")
        for rec in registry.list(kinds.POD, namespace or "default", None, bound):
            if name in referenced_names(rec.decode(), kind):
                return
    raise Forbidden(f'{resource} "{name}" is forbidden: User "{ident.user}" cannot {verb} resource "{resource}" '
                    f'in API group "" in the namespace "{namespace or "default"}": no relationship found '
                    f"between node '{node}' and this object")


def node_pod_check(ident: Identity, verb: str):
    """A check run inside the write: the stored pod must be bound to the calling node."""
    node = ident.node_name
    if node is None or ident.privileged:
        return None

    def check(tx, old, new):
        pod = old if old is not None else new
        if pod is not None and pod.DESCRIPTOR.name == "PodMetrics":
            rec = tx.get("Pod", pod.metadata.namespace, pod.metadata.name)
            if rec is None or rec.decode().spec.nodeName != node:
                raise _forbidden(ident, verb, "podmetrics", pod.metadata.name,
                                 f'node "{node}" can only publish metrics of pods bound to it')
            return
        if pod is None or pod.DESCRIPTOR.name != "Pod":
            return
        if pod.spec.nodeName != node:
            raise _forbidden(ident, verb, "pods/status" if verb == "update" else "pods", pod.metadata.name,
                             f'node "{node}" can only {verb} pods bound to it')
        if new is not None and old is not None and new.spec.nodeName != node:
            raise _forbidden(ident, verb, "pods/status", pod.metadata.name,
                             f'node "{node}" cannot move a pod to another node')
    return check
