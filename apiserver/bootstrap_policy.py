"""The default ClusterRoles and ClusterRoleBindings, as upstream's bootstrappolicy (policy.go,
controller_policy.go), and their reconciliation at every server start.

Each is labelled `kubernetes.io/bootstrapping: rbac-defaults` and annotated
`rbac.authorization.kubernetes.io/autoupdate: "true"`; while the annotation says so, a start adds the
rules and subjects that are missing (never removes what an admin added), so reconciling twice
changes nothing. The controller manager runs every controller under its one identity, so the
per-controller roles (`system:controller:*`) are bound to that user rather than to the controllers'
ServiceAccounts in kube-system. Beyond upstream, for what this project's components read: the
scheduler reads NodeMetrics, the HPA controller writes its targets' replicas by patching them (the gRPC
API has no scale subresource), and the cluster DNS reads pods for their names."""
from __future__ import annotations

from minik8s.api.errors import AlreadyExists, Conflict, NotFound
from minik8s.api.kinds import CLUSTER_ROLE, CLUSTER_ROLE_BINDING
from minik8s.api.kinds.rbac import GROUP
from minik8s.api.pb import rbac_pb2

AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
READ = ("get", "list", "watch")
WRITE = ("create", "delete", "deletecollection", "patch", "update")
CORE, APPS, BATCH, POLICY = "", "apps", "batch", "policy"
AUTOSCALING, COORDINATION, STORAGE, METRICS = "autoscaling", "coordination.k8s.io", "storage.k8s.io", "metrics.k8s.io"
EVENTS_GROUP, AUTHORIZATION = "events.k8s.io", "authorization.k8s.io"


def rule(verbs, groups, resources=(), names=(), urls=()) -> rbac_pb2.PolicyRule:
    return rbac_pb2.PolicyRule(verbs=list(verbs), apiGroups=list(groups), resources=list(resources),
                               resourceNames=list(names), nonResourceURLs=list(urls))


def events_rule() -> rbac_pb2.PolicyRule:
    return rule(("create", "update", "patch"), (CORE, EVENTS_GROUP), ("events",))


def _role(name: str, rules, labels=None) -> rbac_pb2.ClusterRole:
    r = rbac_pb2.ClusterRole(apiVersion=CLUSTER_ROLE.api_version, kind="ClusterRole", rules=list(rules))
    r.metadata.name = name
    r.metadata.labels.update({**BOOTSTRAP_LABELS, **(labels or {})})
    r.metadata.annotations[AUTOUPDATE] = "true"
    return r


def _binding(name: str, role: str, users=(), groups=()) -> rbac_pb2.ClusterRoleBinding:
    b = rbac_pb2.ClusterRoleBinding(apiVersion=CLUSTER_ROLE_BINDING.api_version, kind="ClusterRoleBinding")
    b.metadata.name = name
    b.metadata.labels.update(BOOTSTRAP_LABELS)
    b.metadata.annotations[AUTOUPDATE] = "true"
    b.roleRef.apiGroup, b.roleRef.kind, b.roleRef.name = GROUP, "ClusterRole", role
    b.subjects.extend([rbac_pb2.Subject(kind="User", apiGroup=GROUP, name=u) for u in users] +
                      [rbac_pb2.Subject(kind="Group", apiGroup=GROUP, name=g) for g in groups])
    return b


# ---------------------------------------------------------------- the user-facing roles
_VIEW = [
    rule(READ, (CORE,), ("pods", "pods/log", "pods/status", "services", "services/status", "endpoints",
                         "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps",
                         "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                         "events", "limitranges", "resourcequotas", "bindings")),
    rule(READ, (CORE,), ("namespaces", "namespaces/status")),
    rule(READ, (APPS,), ("deployments", "deployments/scale", "deployments/status", "replicasets",
                         "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale",
                         "statefulsets/status", "daemonsets", "daemonsets/status", "controllerrevisions")),
    rule(READ, (AUTOSCALING,), ("horizontalpodautoscalers", "horizontalpodautoscalers/status")),
    rule(READ, (BATCH,), ("jobs", "jobs/status", "cronjobs", "cronjobs/status")),
    rule(READ, (POLICY,), ("poddisruptionbudgets", "poddisruptionbudgets/status")),
    rule(READ, (EVENTS_GROUP,), ("events",)),
    rule(READ, (METRICS,), ("pods", "nodes")),
]
_EDIT = [
    rule(("impersonate",), (CORE,), ("serviceaccounts",)),
    rule(WRITE, (CORE,), ("pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward")),
    rule(("create",), (CORE,), ("pods/eviction",)),
    rule(WRITE, (CORE,), ("configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                          "replicationcontrollers/scale", "secrets", "serviceaccounts", "services",
                          "services/proxy", "endpoints")),
    rule(("get", "create"), (CORE,), ("pods/exec", "pods/attach", "pods/portforward")),
    rule(("create",), (CORE,), ("serviceaccounts/token",)),
    rule(READ, (CORE,), ("secrets", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy",
                         "services/proxy", "serviceaccounts")),
    rule(WRITE, (APPS,), ("daemonsets", "deployments", "deployments/rollback", "deployments/scale",
                          "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale")),
    rule(WRITE, (AUTOSCALING,), ("horizontalpodautoscalers",)),
    rule(WRITE, (BATCH,), ("cronjobs", "jobs")),
    rule(WRITE, (POLICY,), ("poddisruptionbudgets",)),
]
_ADMIN = [
    rule(("create",), (AUTHORIZATION,), ("localsubjectaccessreviews",)),
    rule(READ + WRITE, (GROUP,), ("rolebindings", "roles")),
]


def _user_facing() -> list[rbac_pb2.ClusterRole]:
    """Upstream aggregates admin, edit and view from labelled roles; here each carries its whole union
    and keeps the labels that say where it would be aggregated."""
    def aggregate(name):
        return {f"rbac.authorization.k8s.io/aggregate-to-{name}": "true"}
    return [
        _role("cluster-admin", [rule(("*",), ("*",), ("*",)), rule(("*",), (), urls=("*",))]),
        _role("admin", _ADMIN + _EDIT + _VIEW),
        _role("edit", _EDIT + _VIEW, aggregate("admin")),
        _role("view", _VIEW, aggregate("edit")),
    ]


# ---------------------------------------------------------------- the system roles
_DISCOVERY_URLS = ("/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz", "/openapi",
                   "/openapi/*", "/version", "/version/")
_PUBLIC_URLS = ("/healthz", "/livez", "/readyz", "/version", "/version/")


def _system() -> list[rbac_pb2.ClusterRole]:
    return [
        _role("system:basic-user", [rule(("create",), (AUTHORIZATION,),
                                         ("selfsubjectaccessreviews", "selfsubjectrulesreviews")),
                                    rule(("create",), ("authentication.k8s.io",), ("selfsubjectreviews",))]),
        _role("system:discovery", [rule(("get",), (), urls=_DISCOVERY_URLS)]),
        _role("system:public-info-viewer", [rule(("get",), (), urls=_PUBLIC_URLS)]),
        _role("system:kube-scheduler", [
            events_rule(),
            rule(("create",), (COORDINATION,), ("leases",)),
            rule(("get", "update"), (COORDINATION,), ("leases",), names=("kube-scheduler",)),
            rule(READ, (CORE,), ("nodes",)),
            rule(("delete", "get", "list", "watch"), (CORE,), ("pods",)),
            rule(("create",), (CORE,), ("bindings", "pods/binding")),
            rule(("patch", "update"), (CORE,), ("pods/status",)),
            rule(READ, (CORE,), ("replicationcontrollers", "services", "namespaces", "persistentvolumeclaims",
                                 "persistentvolumes")),
            rule(READ, (APPS,), ("replicasets", "statefulsets")),
            rule(READ, (POLICY,), ("poddisruptionbudgets",)),
            rule(READ, (STORAGE,), ("storageclasses", "csinodes", "csidrivers", "csistoragecapacities")),
            rule(("create",), (AUTHORIZATION,), ("subjectaccessreviews",)),
            rule(READ, (METRICS,), ("nodes",)),
        ]),
        _role("system:kube-controller-manager", [
            events_rule(),
            rule(("create",), (COORDINATION,), ("leases",)),
            rule(("get", "update"), (COORDINATION,), ("leases",), names=("kube-controller-manager",)),
            rule(("create",), (CORE,), ("secrets", "serviceaccounts")),
            rule(("delete",), (CORE,), ("secrets",)),
            rule(("get",), (CORE,), ("configmaps", "namespaces", "secrets", "serviceaccounts")),
            rule(("update",), (CORE,), ("secrets", "serviceaccounts")),
            rule(("create",), (AUTHORIZATION,), ("subjectaccessreviews",)),
            rule(("list", "watch"), ("*",), ("*",)),       # every shared informer
        ]),
        _role("system:volume-scheduler", [
            rule(("get", "list", "patch", "update", "watch"), (CORE,), ("persistentvolumes",
                                                                      "persistentvolumeclaims")),
            rule(READ, (STORAGE,), ("storageclasses",))]),
        _role("system:cluster-autoscaler", [       # upstream's chart, for what this autoscaler does
            events_rule(),
            rule(("create",), (CORE,), ("pods/eviction",)),
            rule(("update",), (CORE,), ("pods/status",)),
            rule(READ + ("update", "patch"), (CORE,), ("nodes",)),
            rule(READ, (CORE,), ("namespaces", "pods", "services", "replicationcontrollers",
                                 "persistentvolumeclaims", "persistentvolumes")),
            rule(READ, (APPS,), ("daemonsets", "replicasets", "statefulsets")),
            rule(READ, (POLICY,), ("poddisruptionbudgets",)),
            rule(READ, (STORAGE,), ("storageclasses", "csinodes", "csidrivers", "csistoragecapacities")),
            rule(READ, (BATCH,), ("jobs", "cronjobs")),
            rule(("create",), (COORDINATION,), ("leases",)),
            rule(("get", "update"), (COORDINATION,), ("leases",), names=("cluster-autoscaler",)),
            rule(("create", "list", "watch"), (CORE,), ("configmaps",)),
            rule(("get", "update", "delete"), (CORE,), ("configmaps",),
                 names=("cluster-autoscaler-status", "cluster-autoscaler-priority-expander"))]),
        _role("system:node-proxier", [
            rule(("list", "watch"), (CORE,), ("services", "endpoints", "nodes")),
            rule(("get",), (CORE,), ("nodes",)),
            rule(("list", "watch"), ("discovery.k8s.io",), ("endpointslices",)),
            events_rule(),
        ]),
        _role("system:kube-dns", [rule(("list", "watch"), (CORE,), ("endpoints", "services", "pods",
                                                                     "namespaces"))]),
        _role("system:node", [     # kept for the Node authorizer's reference; bound to no one, as upstream
            rule(READ, (CORE,), ("services", "endpoints", "nodes")),
            rule(("create", "update", "patch"), (CORE,), ("nodes/status", "pods/status")),
            rule(("create", "update", "patch", "get", "delete"), (CORE,), ("nodes",)),
            rule(("get", "list", "watch", "delete"), (CORE,), ("pods",)),
            rule(("get",), (CORE,), ("configmaps", "secrets", "persistentvolumeclaims", "persistentvolumes")),
            rule(("get", "create", "update", "patch", "delete"), (COORDINATION,), ("leases",)),
            events_rule(),
        ]),
    ]


def _controller(name: str, rules) -> rbac_pb2.ClusterRole:
    return _role(f"system:controller:{name}", [*rules, events_rule()])


def _controllers() -> list[rbac_pb2.ClusterRole]:
    pods_rw = ("create", "delete", "get", "list", "patch", "update", "watch")
    return [
        _controller("replicaset-controller", [
            rule(("get", "list", "watch", "update"), (APPS,), ("replicasets",)),
            rule(("update",), (APPS,), ("replicasets/status", "replicasets/finalizers")),
            rule(("list", "watch", "patch", "create", "delete"), (CORE,), ("pods",))]),
        _controller("deployment-controller", [
            rule(("get", "list", "watch", "update"), (APPS,), ("deployments",)),
            rule(("update",), (APPS,), ("deployments/status", "deployments/finalizers")),
            rule(("get", "list", "watch", "create", "update", "patch", "delete"), (APPS,), ("replicasets",)),
            rule(("get", "list", "watch", "update"), (CORE,), ("pods",))]),
        _controller("generic-garbage-collector", [
            rule(("get", "list", "watch", "patch", "update", "delete"), ("*",), ("*",))]),
        _controller("endpoint-controller", [
            rule(READ, (CORE,), ("services", "pods")),
            rule(("get", "list", "create", "update", "delete"), (CORE,), ("endpoints",)),
            rule(("create",), (CORE,), ("endpoints/restricted",))]),
        _controller("job-controller", [
            rule(("get", "list", "watch", "update", "patch"), (BATCH,), ("jobs",)),
            rule(("update",), (BATCH,), ("jobs/status", "jobs/finalizers")),
            rule(("list", "watch", "create", "delete", "patch"), (CORE,), ("pods",))]),
        _controller("cronjob-controller", [
            rule(("get", "list", "watch", "update"), (BATCH,), ("cronjobs",)),
            rule(("get", "list", "watch", "create", "update", "delete", "patch"), (BATCH,), ("jobs",)),
            rule(("update",), (BATCH,), ("cronjobs/status", "cronjobs/finalizers")),
            rule(("list", "delete"), (CORE,), ("pods",))]),
        _controller("ttl-after-finished-controller", [
            rule(("get", "list", "watch", "delete"), (BATCH,), ("jobs",))]),
        _controller("node-controller", [
            rule(("get", "list", "update", "delete", "patch"), (CORE,), ("nodes",)),
            rule(("patch", "update"), (CORE,), ("nodes/status",)),
            rule(("update", "patch"), (CORE,), ("pods/status",)),
            rule(("list", "delete"), (CORE,), ("pods",))]),
        _controller("taint-eviction-controller", [
            rule(("patch", "update"), (CORE,), ("pods/status",)),
            rule(("delete", "get", "list"), (CORE,), ("pods",))]),
        _controller("pod-garbage-collector", [
            rule(("list", "watch", "delete"), (CORE,), ("pods",)),
            rule(("get", "list"), (CORE,), ("nodes",)),
            rule(("patch", "update"), (CORE,), ("pods/status",))]),
        _controller("disruption-controller", [
            rule(READ, (APPS,), ("deployments", "replicasets", "statefulsets")),
            rule(READ, (CORE,), ("replicationcontrollers",)),
            rule(READ, (POLICY,), ("poddisruptionbudgets",)),
            rule(("get",), ("*",), ("*/scale",)),
            rule(("update",), (POLICY,), ("poddisruptionbudgets/status",)),
            rule(("patch", "update"), (CORE,), ("pods/status",))]),
        _controller("persistent-volume-binder", [
            rule(("create", "delete", "get", "list", "update", "watch"), (CORE,), ("persistentvolumes",)),
            rule(("update",), (CORE,), ("persistentvolumes/status",)),
            rule(("get", "list", "update", "watch"), (CORE,), ("persistentvolumeclaims",)),
            rule(("update",), (CORE,), ("persistentvolumeclaims/status",)),
            rule(("list", "watch", "get", "delete"), (CORE,), ("pods",)),
            rule(READ, (STORAGE,), ("storageclasses",)),
            rule(("create", "delete", "get"), (CORE,), ("endpoints", "services")),
            rule(("get",), (CORE,), ("secrets",))]),
        _controller("statefulset-controller", [
            rule(("list", "watch"), (CORE,), ("pods",)),
            rule(READ, (APPS,), ("statefulsets",)),
            rule(("update",), (APPS,), ("statefulsets/status", "statefulsets/finalizers")),
            rule(pods_rw, (CORE,), ("pods",)),
            rule(pods_rw, (APPS,), ("controllerrevisions",)),
            rule(("get", "create", "update", "patch", "delete"), (CORE,), ("persistentvolumeclaims",))]),
        _controller("horizontal-pod-autoscaler", [
            rule(READ, (AUTOSCALING,), ("horizontalpodautoscalers",)),
            rule(("update",), (AUTOSCALING,), ("horizontalpodautoscalers/status",)),
            rule(("get", "update"), ("*",), ("*/scale",)),
            rule(("get", "patch"), (APPS,), ("deployments", "replicasets", "statefulsets")),
            rule(("list",), (CORE,), ("pods",)),
            rule(("list",), (METRICS,), ("pods",))]),
        _controller("daemon-set-controller", [
            rule(READ, (APPS,), ("daemonsets",)),
            rule(("update",), (APPS,), ("daemonsets/status", "daemonsets/finalizers")),
            rule(("list", "watch"), (CORE,), ("nodes",)),
            rule(("list", "watch", "create", "delete", "patch"), (CORE,), ("pods",)),
            rule(("create",), (CORE,), ("pods/binding",)),
            rule(pods_rw, (APPS,), ("controllerrevisions",))]),
        _controller("service-account-controller", [rule(("create",), (CORE,), ("serviceaccounts",))]),
        _controller("root-ca-cert-publisher", [rule(("create", "update"), (CORE,), ("configmaps",))]),
    ]


def cluster_roles() -> list[rbac_pb2.ClusterRole]:
    return _user_facing() + _system() + _controllers()


def cluster_role_bindings() -> list[rbac_pb2.ClusterRoleBinding]:
    return [
        _binding("cluster-admin", "cluster-admin", groups=("system:masters",)),
        _binding("system:basic-user", "system:basic-user", groups=("system:authenticated",)),
        _binding("system:discovery", "system:discovery", groups=("system:authenticated",)),
        _binding("system:public-info-viewer", "system:public-info-viewer",
                 groups=("system:authenticated", "system:unauthenticated")),
        _binding("system:kube-scheduler", "system:kube-scheduler", users=("system:kube-scheduler",)),
        _binding("system:kube-controller-manager", "system:kube-controller-manager",
                 users=("system:kube-controller-manager",)),
        _binding("system:volume-scheduler", "system:volume-scheduler", users=("system:kube-scheduler",)),
        _binding("system:cluster-autoscaler", "system:cluster-autoscaler", users=("system:cluster-autoscaler",)),
        _binding("system:node-proxier", "system:node-proxier", users=("system:kube-proxy",)),
        _binding("system:kube-dns", "system:kube-dns", users=("system:kube-dns",)),
        _binding("system:node", "system:node"),
        *[_binding(r.metadata.name, r.metadata.name, users=("system:kube-controller-manager",))
          for r in _controllers()],
    ]


def _missing(current, wanted, field: str) -> list:
    have = list(getattr(current, field))
    return [x for x in getattr(wanted, field) if x not in have]


async def reconcile(registry) -> None:
    """Create the defaults that are missing; into those still marked autoupdate, add missing rules and
    subjects. Idempotent."""
    for info, wanted in [(CLUSTER_ROLE, r) for r in cluster_roles()] + \
                        [(CLUSTER_ROLE_BINDING, b) for b in cluster_role_bindings()]:
        try:
            current = registry.get(info, "", wanted.metadata.name).decode()
        except NotFound:
            try:
                await registry.create(info, wanted)
            except AlreadyExists:
                pass
            continue
        if current.metadata.annotations.get(AUTOUPDATE) != "true":
            continue
        field = "rules" if info is CLUSTER_ROLE else "subjects"
        missing = _missing(current, wanted, field)
        if missing:
            getattr(current, field).extend(missing)
            try:
                await registry.update(info, current)
            except Conflict:
                pass        # someone wrote it meanwhile: the next start reconciles again
