"""RBAC rule matching as upstream's evaluation helpers: verbs, apiGroups (core is ""), resources with
subresources (`pods` is not `pods/log`; `*/scale`; `*`), resourceNames (a list or create never
matches a named rule), nonResourceURLs (exact, `*`, prefix ending in `*`)."""
from __future__ import annotations

import pytest

from apiserver.authorizer import Attributes
from apiserver.rbac import Rule, SubjectRules
from minik8s.api.pb import rbac_pb2


def rules(*specs) -> SubjectRules:
    s = SubjectRules()
    for verbs, groups, resources, names, urls in specs:
        s.add(Rule.of(rbac_pb2.PolicyRule(verbs=verbs, apiGroups=groups, resources=resources, resourceNames=names,
                                          nonResourceURLs=urls)))
    return s


POD_READER = (["get", "list"], [""], ["pods"], [], [])
LOGS = (["get"], [""], ["pods/log"], [], [])
ANY_SCALE = (["update"], ["*"], ["*/scale"], [], [])
ONE_CM = (["get", "update"], [""], ["configmaps"], ["settings"], [])
EVERYTHING_APPS = (["*"], ["apps"], ["*"], [], [])
HEALTH = (["get"], [], [], [], ["/healthz", "/metrics/*"])

CASES = [
    (POD_READER, Attributes("get", "", "pods", namespace="d", name="p"), True),
    (POD_READER, Attributes("list", "", "pods", namespace="d"), True),
    (POD_READER, Attributes("delete", "", "pods", namespace="d", name="p"), False),
    (POD_READER, Attributes("get", "", "pods", "log", "d", "p"), False),
    (POD_READER, Attributes("get", "apps", "pods", namespace="d", name="p"), False),
    (LOGS, Attributes("get", "", "pods", "log", "d", "p"), True),
    (LOGS, Attributes("get", "", "pods", namespace="d", name="p"), False),
    (ANY_SCALE, Attributes("update", "apps", "deployments", "scale", "d", "web"), True),
    (ANY_SCALE, Attributes("update", "apps", "deployments", namespace="d", name="web"), False),
    (ONE_CM, Attributes("get", "", "configmaps", namespace="d", name="settings"), True),
    (ONE_CM, Attributes("get", "", "configmaps", namespace="d", name="other"), False),
    (ONE_CM, Attributes("list", "", "configmaps", namespace="d"), False),
    (EVERYTHING_APPS, Attributes("delete", "apps", "deployments", namespace="d", name="x"), True),
    (EVERYTHING_APPS, Attributes("patch", "apps", "deployments", "status", "d", "x"), True),
    (EVERYTHING_APPS, Attributes("delete", "", "pods", namespace="d", name="x"), False),
    (HEALTH, Attributes("get", path="/healthz"), True),
    (HEALTH, Attributes("get", path="/metrics/cadvisor"), True),
    (HEALTH, Attributes("get", path="/healthz/etcd"), False),
    (HEALTH, Attributes("post", path="/healthz"), False),
    (HEALTH, Attributes("get", "", "pods", namespace="d"), False),
]


@pytest.mark.parametrize("rule,attrs,allowed", CASES)
def test_rule_matching(rule, attrs, allowed):
    assert rules(rule).allows(attrs) is allowed
