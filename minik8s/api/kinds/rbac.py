"""The RBAC kinds (rbac.authorization.k8s.io/v1): Role and ClusterRole (rules of verbs, apiGroups,
resources with `pods/log`-style subresources, resourceNames, and for cluster roles nonResourceURLs),
RoleBinding and ClusterRoleBinding (subjects User, Group, ServiceAccount and an immutable roleRef).
Defaults and validation as upstream's pkg/apis/rbac; names are path segments (`system:node` is valid)."""
from __future__ import annotations

from minik8s.api.kinds.configmap import _no_generation
from minik8s.api.kinds.info import KindInfo, Strategy
from minik8s.api.pb import rbac_pb2
from minik8s.api.validation_common import (Errors, _c, _Errors, _ix, _label_selector, _name_subdomain,
                                           _object_meta, _path_segment_msgs)

GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ("ServiceAccount", "User", "Group")


def rbac_name(name: str, prefix: bool = False) -> list[str]:
    """upstream ValidateRBACName: any path segment."""
    return _path_segment_msgs(name)


# ---------------------------------------------------------------- defaults
def default_binding(binding) -> None:
    """SetDefaults_RoleBinding/ClusterRoleBinding and SetDefaults_Subject."""
    if not binding.roleRef.apiGroup:
        binding.roleRef.apiGroup = GROUP
    for s in binding.subjects:
        if not s.apiGroup and s.kind in ("User", "Group"):
            s.apiGroup = GROUP


# ---------------------------------------------------------------- validation
def _policy_rule(errs: _Errors, path: str, rule, namespaced: bool) -> None:
    if not rule.verbs:
        errs.required(_c(path, "verbs"), "verbs must contain at least one value")
    if rule.nonResourceURLs:
        urls = list(rule.nonResourceURLs)
        if namespaced:
            errs.invalid(_c(path, "nonResourceURLs"), urls, "namespaced rules cannot apply to non-resource URLs")
        if rule.apiGroups or rule.resources or rule.resourceNames:
            errs.invalid(_c(path, "nonResourceURLs"), urls,
                         "rules cannot apply to both regular resources and non-resource URLs")
        return
    if not rule.apiGroups:
        errs.required(_c(path, "apiGroups"), "resource rules must supply at least one api group")
    if not rule.resources:
        errs.required(_c(path, "resources"), "resource rules must supply at least one resource")


def _rules(errs: _Errors, rules, namespaced: bool) -> None:
    for i, rule in enumerate(rules):
        _policy_rule(errs, _ix("rules", i), rule, namespaced)


def validate_role(role, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, role.metadata, rbac_name)
    _rules(errs, role.rules, True)
    return errs


def validate_cluster_role(role, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, role.metadata, rbac_name)
    _rules(errs, role.rules, False)
    if role.HasField("aggregationRule"):
        selectors = role.aggregationRule.clusterRoleSelectors
        if not selectors:
            errs.required("aggregationRule.clusterRoleSelectors",
                          "at least one clusterRoleSelector required if aggregationRule is non-nil")
        for i, sel in enumerate(selectors):
            _label_selector(errs, _ix("aggregationRule.clusterRoleSelectors", i), sel)
    return errs


def _subject(errs: _Errors, path: str, s, namespaced: bool) -> None:
    if not s.name:
        errs.required(_c(path, "name"))
    if s.kind == "ServiceAccount":
        if s.name:
            for msg in _name_subdomain(s.name):
                errs.invalid(_c(path, "name"), s.name, msg)
        if s.apiGroup:
            errs.not_supported(_c(path, "apiGroup"), s.apiGroup, [""])
        if not namespaced and not s.namespace:
            errs.required(_c(path, "namespace"))
    elif s.kind in ("User", "Group"):
        if s.apiGroup != GROUP:
            errs.not_supported(_c(path, "apiGroup"), s.apiGroup, [GROUP])
    else:
        errs.not_supported(_c(path, "kind"), s.kind, SUBJECT_KINDS)


def _binding(errs: _Errors, binding, old, namespaced: bool) -> None:
    _object_meta(errs, binding.metadata, rbac_name)
    ref = binding.roleRef
    if ref.apiGroup and ref.apiGroup != GROUP:
        errs.not_supported("roleRef.apiGroup", ref.apiGroup, [GROUP])
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if ref.kind not in kinds:
        errs.not_supported("roleRef.kind", ref.kind, kinds)
    if not ref.name:
        errs.required("roleRef.name")
    else:
        for msg in rbac_name(ref.name):
            errs.invalid("roleRef.name", ref.name, msg)
    for i, s in enumerate(binding.subjects):
        _subject(errs, _ix("subjects", i), s, namespaced)
    if old is not None and (ref.apiGroup, ref.kind, ref.name) != \
            (old.roleRef.apiGroup, old.roleRef.kind, old.roleRef.name):
        errs.invalid("roleRef", f"{{APIGroup:{ref.apiGroup} Kind:{ref.kind} Name:{ref.name}}}",
                     "cannot change roleRef")


def validate_role_binding(binding, old=None) -> Errors:
    errs = _Errors()
    _binding(errs, binding, old, True)
    return errs


def validate_cluster_role_binding(binding, old=None) -> Errors:
    errs = _Errors()
    _binding(errs, binding, old, False)
    return errs


_STRATEGY = Strategy(generation_from=_no_generation)      # upstream keeps no generation for RBAC objects
ROLE = KindInfo("Role", GROUP, "v1", "roles", (), True, rbac_pb2.Role, has_status=False,
                validate=validate_role, strategy=_STRATEGY)
CLUSTER_ROLE = KindInfo("ClusterRole", GROUP, "v1", "clusterroles", (), False, rbac_pb2.ClusterRole,
                        has_status=False, validate=validate_cluster_role, strategy=_STRATEGY)
ROLE_BINDING = KindInfo("RoleBinding", GROUP, "v1", "rolebindings", (), True, rbac_pb2.RoleBinding,
                        has_status=False, defaults=default_binding, validate=validate_role_binding,
                        strategy=_STRATEGY)
CLUSTER_ROLE_BINDING = KindInfo("ClusterRoleBinding", GROUP, "v1", "clusterrolebindings", (), False,
                                rbac_pb2.ClusterRoleBinding, has_status=False, defaults=default_binding,
                                validate=validate_cluster_role_binding, strategy=_STRATEGY)
