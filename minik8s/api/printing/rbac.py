"""Rows of the RBAC kinds as kubectl prints them: roles with their creation time, bindings with the
role they grant and, with -o wide, the users, groups and service accounts they grant it to."""
from __future__ import annotations

from minik8s.api import kinds

from minik8s.api.printing.cells import since
from minik8s.api.printing.columns import columns


@columns(kinds.ROLE, "Name", "Created At")
@columns(kinds.CLUSTER_ROLE, "Name", "Created At")
def _role_row(o, now):
    return [o.metadata.name, o.metadata.creationTimestamp]


@columns(kinds.ROLE_BINDING, "Name", "Role", "Age", wide=("Users", "Groups", "ServiceAccounts"))
@columns(kinds.CLUSTER_ROLE_BINDING, "Name", "Role", "Age", wide=("Users", "Groups", "ServiceAccounts"))
def _role_binding_row(o, now):
    return [o.metadata.name, f"{o.roleRef.kind}/{o.roleRef.name}", since(o.metadata.creationTimestamp, now),
            ", ".join(s.name for s in o.subjects if s.kind == "User"),
            ", ".join(s.name for s in o.subjects if s.kind == "Group"),
            ", ".join(f"{s.namespace}/{s.name}" for s in o.subjects if s.kind == "ServiceAccount")]
