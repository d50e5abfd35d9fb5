"""The RBAC authorizer: may this user, with these groups, do this? Allow-only, the union of every rule
bound to the user, a group of theirs or (as a ServiceAccount) to them, as upstream's rbac.go and
evaluation_helpers.go match them: verbs, apiGroups, resources (`pods/log`, `*/scale`, `*`),
resourceNames, nonResourceURLs (exact, `*`, or a prefix ending in `*`).

Rules are kept in memory by subject, informer-style: the authorizer watches the four RBAC kinds in
the registry's own watch hub and rebuilds its index on the first question after a change, so a
question costs dictionary look-ups, never a read of storage, and a binding is in force as soon as
its write has returned."""
from __future__ import annotations

from dataclasses import dataclass

from minik8s.api.kinds import CLUSTER_ROLE, CLUSTER_ROLE_BINDING, ROLE, ROLE_BINDING

RBAC_KINDS = (ROLE, CLUSTER_ROLE, ROLE_BINDING, CLUSTER_ROLE_BINDING)


@dataclass(frozen=True)
class Rule:
    verbs: frozenset
    groups: frozenset
    resources: frozenset
    names: frozenset
    urls: frozenset

    @classmethod
    def of(cls, r) -> "Rule":
        return cls(frozenset(r.verbs), frozenset(r.apiGroups), frozenset(r.resources),
                   frozenset(r.resourceNames), frozenset(r.nonResourceURLs))

    def allows(self, attrs) -> bool:
        if "*" not in self.verbs and attrs.verb not in self.verbs:
            return False
        if attrs.path:
            return any(u == "*" or u == attrs.path or (u.endswith("*") and attrs.path.startswith(u[:-1]))
                       for u in self.urls)
        if "*" not in self.groups and attrs.group not in self.groups:
            return False
        if not self._resource_matches(attrs.resource, attrs.subresource):
            return False
        return not self.names or attrs.name in self.names

    def _resource_matches(self, resource: str, subresource: str) -> bool:
        if "*" in self.resources:
            return True
        combined = f"{resource}/{subresource}" if subresource else resource
        if combined in self.resources:
            return True
        return bool(subresource) and f"*/{subresource}" in self.resources


def service_account_user(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def _subject_keys(binding, binding_namespace: str) -> list[tuple[str, str]]:
    keys = []
    for s in binding.subjects:
        if s.kind == "ServiceAccount":
            keys.append(("User", service_account_user(s.namespace or binding_namespace, s.name)))
        elif s.kind in ("User", "Group"):
            keys.append((s.kind, s.name))
    return keys


class RuleIndex:
    """Every subject's rules: cluster-wide (ClusterRoleBindings) and per namespace (RoleBindings)."""

    def __init__(self, registry):
        cluster_roles = {r.name: r.decode().rules for r in registry.list(CLUSTER_ROLE, "")}
        roles = {(r.namespace, r.name): r.decode().rules for r in registry.list(ROLE, "")}
        self.cluster: dict[tuple[str, str], list[Rule]] = {}
        self.namespaced: dict[tuple[str, tuple[str, str]], list[Rule]] = {}
        for rec in registry.list(CLUSTER_ROLE_BINDING, ""):
            b = rec.decode()
            rules = [Rule.of(r) for r in cluster_roles.get(b.roleRef.name, ())]   # a dangling ref grants nothing
            for key in _subject_keys(b, ""):
                self.cluster.setdefault(key, []).extend(rules)
        for rec in registry.list(ROLE_BINDING, ""):
            b = rec.decode()
            source = roles.get((rec.namespace, b.roleRef.name), ()) if b.roleRef.kind == "Role" \
                else cluster_roles.get(b.roleRef.name, ())
            rules = [Rule.of(r) for r in source]
            for key in _subject_keys(b, rec.namespace):
                self.namespaced.setdefault((rec.namespace, key), []).extend(rules)

    def rules_for(self, user: str, groups, namespace: str) -> list[Rule]:
        keys = [("User", user)] + [("Group", g) for g in groups]
        out = [r for k in keys for r in self.cluster.get(k, ())]
        if namespace:
            out += [r for k in keys for r in self.namespaced.get((namespace, k), ())]
        return out


class RBACAuthorizer:
    def __init__(self, registry):
        self.registry = registry
        self._watchers = {}
        self._index: RuleIndex | None = None

    def _current(self) -> RuleIndex:
        stale = self._index is None
        for info in RBAC_KINDS:
            w = self._watchers.get(info.kind)
            if w is None or w.closed:
                self._watchers[info.kind] = self.registry.hub.subscribe(info.kind, "", None, None, None)
                stale = True
                continue
            while not w.queue.empty():
                w.queue.get_nowait()
                stale = True
        if stale:
            self._index = RuleIndex(self.registry)
        return self._index

    def rules_for(self, user: str, groups, namespace: str) -> list[Rule]:
        return self._current().rules_for(user, groups, namespace)

    def allows(self, user: str, groups, attrs) -> bool:
        return any(rule.allows(attrs) for rule in self.rules_for(user, groups, attrs.namespace))
