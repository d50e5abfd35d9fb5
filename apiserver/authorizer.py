"""The authorizer chain, as `--authorization-mode=Node,RBAC` (the default; `AlwaysAllow` turns
authorization off, as upstream's flag does): the privileged group system:masters is allowed
everything; a node's identity goes to the Node authorizer; whatever is not allowed yet goes to RBAC. A request that none allows is Forbidden in upstream's words:
`pods "p" is forbidden: User "x" cannot delete resource "pods" in API group "" in the namespace
"default"`, with the Node authorizer's reason appended when it had one."""
from __future__ import annotations

from dataclasses import dataclass

from minik8s.api.errors import Forbidden
from minik8s.api.kinds import KINDS

from apiserver import node_authorizer
from apiserver.rbac import RBACAuthorizer

SUPERUSERS = "system:masters"
# what a kind word other than a stored kind means to the authorizer: (group, resource, subresource)
_SPECIAL = {"Binding": ("", "pods", "binding")}


@dataclass(frozen=True)
class Attributes:
    """What a request asks to do: a verb on a resource (group, plural, subresource, namespace, name),
    or on a non-resource path."""
    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    field_selector: str = ""
    path: str = ""

    @classmethod
    def for_kind(cls, verb: str, kind: str, namespace: str = "", name: str = "", subresource: str = "",
                 field_selector: str = "") -> "Attributes":
        if kind in _SPECIAL:
            group, resource, subresource = _SPECIAL[kind]
            namespaced = True
        else:
            info = KINDS[kind]
            group, resource, namespaced = info.group, info.plural, info.namespaced
        return cls(verb, group, resource, subresource, namespace if namespaced else "", name, field_selector)


def forbidden_message(user: str, attrs: Attributes, reason: str = "") -> str:
    if attrs.path:
        body = f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
        return "forbidden: " + body + (f": {reason}" if reason else "")
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    body = f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.group}" {scope}'
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    head = f'{qualified} "{attrs.name}" is forbidden' if attrs.name else f"{qualified} is forbidden"
    return f"{head}: {body}" + (f": {reason}" if reason else "")


MODES = ("AlwaysAllow", "Node", "RBAC")
DEFAULT_MODES = ("Node", "RBAC")


def parse_modes(text: str) -> tuple[str, ...]:
    """`--authorization-mode`: a comma-separated list of MODES, tried in order."""
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f"authorization mode(s) {unknown or [text]} not supported: choose from {', '.join(MODES)}")
    return modes


class Authorizer:
    def __init__(self, registry, modes: tuple[str, ...] = DEFAULT_MODES):
        self.registry = registry
        self.modes = modes
        self.rbac = RBACAuthorizer(registry)

    def decide(self, user: str, groups, attrs: Attributes, node: str | None = None) -> tuple[bool, str]:
        """(allowed, reason) for `user` in `groups` (`node` when the identity is a node's)."""
        if SUPERUSERS in groups:
            return True, ""
        reason = ""
        for mode in self.modes:
            if mode == "AlwaysAllow":
                return True, ""
            if mode == "Node" and node is not None:
                allowed, reason = node_authorizer.authorize(self.registry, node, attrs)
                if allowed:
                    return True, ""
            if mode == "RBAC" and self.rbac.allows(user, groups, attrs):
                return True, ""
        return False, reason

    def authorize(self, ident, attrs: Attributes) -> None:
        allowed, reason = self.decide(ident.user, ident.groups, attrs, ident.node_name)
        if not allowed:
            raise Forbidden(forbidden_message(ident.user, attrs, reason))

    def check(self, ident, verb: str, kind: str, namespace: str = "", name: str = "", subresource: str = "",
              field_selector: str = "") -> None:
        """Authorize `verb` on a kind (by its name) as the gRPC and REST handlers ask."""
        self.authorize(ident, Attributes.for_kind(verb, kind, namespace, name, subresource, field_selector))
