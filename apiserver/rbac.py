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

    def allows_path(self, verb: str, path: str) -> bool:
        if "*" not in self.verbs and verb not in self.verbs:
            return False
        return any(u == "*" or u == path or (u.endswith("*") and path.startswith(u[:-1])) for u in self.urls)


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


class SubjectRules:
    """One subject's rules, indexed by (verb, apiGroup, resource) as written (wildcards included), so a
    question is a dozen dictionary look-ups however many rules there are."""

    def __init__(self):
        self.rules: list[Rule] = []
        self._by_key: dict[tuple[str, str, str], list[Rule]] = {}
        self._urls: list[Rule] = []

    def add(self, rule: Rule) -> None:
        self.rules.append(rule)
        if rule.urls:
            self._urls.append(rule)
        for key in ((v, g, r) for v in rule.verbs for g in rule.groups for r in rule.resources):
            self._by_key.setdefault(key, []).append(rule)

    def allows(self, attrs) -> bool:
        if attrs.path:
            return any(rule.allows_path(attrs.verb, attrs.path) for rule in self._urls)
        sub = attrs.subresource
        resources = (f"{attrs.resource}/{sub}", "*", f"*/{sub}") if sub else (attrs.resource, "*")
        for v in (attrs.verb, "*"):
            for g in (attrs.group, "*"):
                for r in resources:
                    for rule in self._by_key.get((v, g, r), ()):
                        if not rule.names or attrs.name in rule.names:
                            return True
        return False


class RuleIndex:
    """Every subject's rules: cluster-wide (ClusterRoleBindings) and per namespace (RoleBindings)."""

    def __init__(self, registry):
        cluster_roles = {r.name: r.decode().rules for r in registry.list(CLUSTER_ROLE, "")}
        roles = {(r.namespace, r.name): r.decode().rules for r in registry.list(ROLE, "")}
        self.cluster: dict[tuple[str, str], SubjectRules] = {}
        self.namespaced: dict[tuple[str, tuple[str, str]], SubjectRules] = {}
        for rec in registry.list(CLUSTER_ROLE_BINDING, ""):
            b = rec.decode()
            rules = [Rule.of(r) for r in cluster_roles.get(b.roleRef.name, ())]   # a dangling ref grants nothing
            for key in _subject_keys(b, ""):
                self._add(self.cluster, key, rules)
        for rec in registry.list(ROLE_BINDING, ""):
            b = rec.decode()
            source = roles.get((rec.namespace, b.roleRef.name), ()) if b.roleRef.kind == "Role" \
                else cluster_roles.get(b.roleRef.name, ())
            rules = [Rule.of(r) for r in source]
            for key in _subject_keys(b, rec.namespace):
                self._add(self.namespaced, (rec.namespace, key), rules)

    @staticmethod
    def _add(table: dict, key, rules: list[Rule]) -> None:
        subject = table.setdefault(key, SubjectRules())
        for rule in rules:
            subject.add(rule)

    def _subjects(self, user: str, groups, namespace: str) -> list[SubjectRules]:
        keys = [("User", user)] + [("Group", g) for g in groups]
        found = [self.cluster.get(k) for k in keys]
        if namespace:
            found += [self.namespaced.get((namespace, k)) for k in keys]
        return [s for s in found if s is not None]

    def rules_for(self, user: str, groups, namespace: str) -> list[Rule]:
        return [r for s in self._subjects(user, groups, namespace) for r in s.rules]

    def allows(self, user: str, groups, attrs) -> bool:
        return any(s.allows(attrs) for s in self._subjects(user, groups, attrs.namespace))


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
        return self._current().allows(user, groups, attrs)
