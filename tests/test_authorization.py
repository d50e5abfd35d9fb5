"""Who may do what: the authorizer chain (Node authorizer, then RBAC with the bootstrap roles) as each
identity meets it, through real requests to a real API server. One table, identity x verb x
resource, each case allowed or denied; an allowed request may still fail for another reason (no
kubelet connected for logs or exec), but never with Forbidden."""
from __future__ import annotations

import json

import aiohttp
import pytest

from cluster import IDENTITIES
from minik8s.api.codec import from_dict
from minik8s.api.errors import ApiError, Forbidden, Invalid
from minik8s.api.pb import core_pb2, rbac_pb2
from minik8s.client.home import token_csv, write_token_file
from rest_support import rest_url, ssl_context
from test_apiserver import deployment, pod

USERS = {"alice": ("alice", ""), "bob": ("bob", ""), "carol": ("carol", "devs"), "jane": ("jane", ""),
         "dave": ("dave", "manager")}
# the RBAC page's own examples (kubernetes.io/docs/reference/access-authn-authz/rbac/), unchanged
DOCS_EXAMPLES = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  namespace: default
  name: pod-reader
rules:
- apiGroups: [""] # "" indicates the core API group
  resources: ["pods"]
  verbs: ["get", "watch", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
# This role binding allows "jane" to read pods in the "default" namespace.
# You need to already have a Role named "pod-reader" in that namespace.
kind: RoleBinding
metadata:
  name: read-pods
  namespace: default
subjects:
# You can specify more than one "subject"
- kind: User
  name: jane # "name" is case sensitive
  apiGroup: rbac.authorization.k8s.io
roleRef:
  # "roleRef" specifies the binding to a Role / ClusterRole
  kind: Role #this must be Role or ClusterRole
  name: pod-reader # this must match the name of the Role or ClusterRole you wish to bind to
  apiGroup: rbac.authorization.k8s.io
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  # "namespace" omitted since ClusterRoles are not namespaced
  name: secret-reader
rules:
- apiGroups: [""]
  #
  # at the HTTP level, the name of the resource for accessing Secret
  # objects is "secrets"
  resources: ["secrets"]
  verbs: ["get", "watch", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
# This cluster role binding allows anyone in the "manager" group to read secrets in any namespace.
kind: ClusterRoleBinding
metadata:
  name: read-secrets-global
subjects:
- kind: Group
  name: manager # Name is case sensitive
  apiGroup: rbac.authorization.k8s.io
roleRef:
  kind: ClusterRole
  name: secret-reader
  apiGroup: rbac.authorization.k8s.io
"""


def obj(message, d):
    return from_dict(message, d)


def binding(name: str, namespace: str, role: str, subjects: list[dict], kind: str = "ClusterRole"):
    return obj(rbac_pb2.RoleBinding, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role}, "subjects": subjects})


def secret(name: str, namespace: str = "default"):
    return obj(core_pb2.Secret, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
                                 "stringData": {"k": "v"}})


def pod_using(name: str, node: str, secret_name: str, namespace: str = "default"):
    p = pod(name, node=node, volumes=[{"name": "s", "secret": {"secretName": secret_name}}])
    p.metadata.namespace = namespace
    return p


def event(name: str):
    return obj(core_pb2.Event, {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": "default"},
                                "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default"},
                                "reason": "Started", "message": "m", "type": "Normal"})


@pytest.fixture(scope="module")
def world(module_srv):
    """Node node-1; pods on node-1 and node-2 each using a Secret of its own, a Deployment, an Event, namespace
    `team`; users alice (no binding), bob (view in team), carol (group devs: edit in team)."""
    srv = module_srv
    rows = [(srv.tokens[n], user, n, groups) for n, (user, groups) in IDENTITIES.items()]
    for name, (user, groups) in USERS.items():
        srv.tokens[name] = f"{name}-token"
        rows.append((srv.tokens[name], user, name, groups))
    write_token_file(token_csv(srv.home), rows)
    admin = srv.client()
    srv.client("node-1").create(obj(core_pb2.Node, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}))
    admin.create(obj(core_pb2.Namespace, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}))
    for s in (secret("s1"), secret("s2"), secret("ts", "team")):
        admin.create(s)
    admin.create(pod_using("web-1", "node-1", "s1"))
    admin.create(pod_using("web-2", "node-2", "s2"))
    admin.create(pod_using("tp", "node-1", "ts", "team"))
    admin.create(deployment("web"))
    admin.create(event("seen.1"))
    admin.create(binding("bob-view", "team", "view", [{"kind": "User", "name": "bob"}]))
    admin.create(binding("devs-edit", "team", "edit", [{"kind": "Group", "name": "devs"}]))
    return srv


def _throwaway_pod(admin, name: str, namespace: str = "default") -> str:
    p = pod(name)
    p.metadata.namespace = namespace
    admin.create(p)
    return name


def _throwaway_deployment(admin, name: str) -> str:
    admin.create(deployment(name))
    return name


def _labelled_node(c, label: str):
    n = c.get("nodes", "node-1")
    n.metadata.labels[label] = "x"
    return c.update(n)


# (identity, what, call(client, admin), allowed)
CASES = [
    # the admin: everything
    ("admin", "delete deployments", lambda c, a: c.delete("deployments", _throwaway_deployment(a, "web-a")), True),
    ("admin", "get secrets", lambda c, a: c.get("secrets", "s1"), True),
    ("admin", "create clusterrolebindings", lambda c, a: c.list("clusterrolebindings"), True),
    # the scheduler: reads pods and nodes, binds, writes pod status; no exec, no Deployments, no Secrets
    ("scheduler", "list pods", lambda c, a: c.list("pods"), True),
    ("scheduler", "list nodes", lambda c, a: c.list("nodes"), True),
    ("scheduler", "create pods/binding", lambda c, a: c.bind("default", _throwaway_pod(a, "tobind"), "node-1"), True),
    ("scheduler", "patch pods/status", lambda c, a: c.patch("pods", "web-1", {"status": {"message": "m"}}, "default",
                                                           status=True), True),
    ("scheduler", "delete pods", lambda c, a: c.delete("pods", _throwaway_pod(a, "victim")), True),
    ("scheduler", "create pods/exec", lambda c, a: c.exec("web-1", ["id"], "default"), False),
    ("scheduler", "delete deployments", lambda c, a: c.delete("deployments", "web"), False),
    ("scheduler", "get secrets", lambda c, a: c.get("secrets", "s1"), False),
    ("scheduler", "delete namespaces", lambda c, a: c.delete("namespaces", "kube-public"), False),
    ("scheduler", "create pods", lambda c, a: c.create(pod("sneaky")), False),
    # the controller manager: the per-controller roles
    ("controller-manager", "create pods", lambda c, a: c.create(pod("made-by-rs")), True),
    ("controller-manager", "update deployments/status", lambda c, a: c.update_status(c.get("deployments", "web")), True),
    ("controller-manager", "list secrets", lambda c, a: c.list("secrets"), True),
    ("controller-manager", "create pods/exec", lambda c, a: c.exec("web-1", ["id"], "default"), False),
    ("controller-manager", "create clusterrolebindings",
     lambda c, a: c.create(obj(rbac_pb2.ClusterRoleBinding, {
         "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "mine"},
         "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
         "subjects": [{"kind": "User", "name": "system:kube-controller-manager"}]})), False),
    # a node: its own pods and what they refer to, nothing of another node's
    ("node-1", "get its pod", lambda c, a: c.get("pods", "web-1"), True),
    ("node-1", "get another node's pod", lambda c, a: c.get("pods", "web-2"), False),
    ("node-1", "get its pod's secret", lambda c, a: c.get("secrets", "s1"), True),
    ("node-1", "get another node's pod's secret", lambda c, a: c.get("secrets", "s2"), False),
    ("node-1", "get its pod's secret in another namespace", lambda c, a: c.get("secrets", "ts", "team"), True),
    ("node-1", "list secrets", lambda c, a: c.list("secrets"), False),
    ("node-1", "get logs of its pod", lambda c, a: list(c.logs("web-1")), True),
    ("node-1", "get logs of another node's pod", lambda c, a: list(c.logs("web-2")), False),
    ("node-1", "exec into another node's pod", lambda c, a: c.exec("web-2", ["id"], "default"), False),
    ("node-1", "list services", lambda c, a: c.list("services"), True),
    ("node-1", "list deployments", lambda c, a: c.list("deployments"), False),
    ("node-1", "create events", lambda c, a: c.create(event("node1.1")), True),
    ("node-1", "delete events", lambda c, a: c.delete("events", "seen.1"), False),
    ("node-1", "label its Node freely", lambda c, a: _labelled_node(c, "example.com/disk"), True),
    ("node-1", "label its Node node-role.kubernetes.io/", lambda c, a: _labelled_node(c, "node-role.kubernetes.io/master"),
     False),
    ("node-1", "label its Node node-restriction.kubernetes.io/",
     lambda c, a: _labelled_node(c, "node-restriction.kubernetes.io/pool"), False),
    ("node-2", "get its pod", lambda c, a: c.get("pods", "web-2"), True),
    ("node-2", "get another node's pod", lambda c, a: c.get("pods", "web-1"), False),
    # users: only what a binding gives, only where it gives it
    ("alice", "list pods", lambda c, a: c.list("pods", "default"), False),
    ("alice", "list pods in team", lambda c, a: c.list("pods", "team"), False),
    ("bob", "list pods in team", lambda c, a: c.list("pods", "team"), True),
    ("bob", "get pods/log in team (view)", lambda c, a: list(c.logs("tp", "team")), True),
    ("bob", "list pods in default", lambda c, a: c.list("pods", "default"), False),
    ("bob", "delete pods in team", lambda c, a: c.delete("pods", "tp", "team"), False),
    ("bob", "get secrets in team", lambda c, a: c.get("secrets", "ts", "team"), False),
    ("carol", "delete pods in team (edit, via group)",
     lambda c, a: c.delete("pods", _throwaway_pod(a, "gone", "team"), "team"), True),
    ("carol", "get secrets in team", lambda c, a: c.get("secrets", "ts", "team"), True),
    ("carol", "create rolebindings in team", lambda c, a: c.create(binding("self", "team", "admin", [])), False),
    ("carol", "list pods in default", lambda c, a: c.list("pods", "default"), False),
]


def _outcome(call) -> bool:
    try:
        call()
    except Forbidden:
        return False
    except ApiError:
        pass        # past the authorizer: no kubelet connected, and the like
    return True


@pytest.mark.parametrize("identity,what,call,allowed", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_authorization_matrix(world, identity, what, call, allowed):
    c, admin = world.client(identity), world.client()
    assert _outcome(lambda: call(c, admin)) is allowed


def test_forbidden_reads_as_upstream(world):
    admin = world.client()
    _throwaway_pod(admin, "p")
    with pytest.raises(Forbidden) as e:
        world.client("alice").delete("pods", "p")
    assert e.value.message == ('pods "p" is forbidden: User "alice" cannot delete resource "pods" in API group "" '
                               'in the namespace "default"')
    with pytest.raises(Forbidden) as e:
        world.client("alice").list("deployments", "")
    assert e.value.message == ('deployments.apps is forbidden: User "alice" cannot list resource "deployments" in '
                               'API group "apps" at the cluster scope')
    with pytest.raises(Forbidden) as e:
        world.client("node-1").get("secrets", "s2")
    assert e.value.message.startswith('secrets "s2" is forbidden: User "system:node:node-1" cannot get resource '
                                      '"secrets" in API group "" in the namespace "default": no relationship found')


def test_a_binding_grants_from_its_write_and_stops_at_its_delete(world):
    admin, dave = world.client(), world.client("alice")
    with pytest.raises(Forbidden):
        dave.list("pods", "default")
    admin.create(binding("alice-view", "default", "view", [{"kind": "User", "name": "alice"}]))
    assert {p.metadata.name for p in dave.list("pods", "default")} >= {"web-1", "web-2"}
    admin.delete("rolebindings", "alice-view", "default")
    with pytest.raises(Forbidden):
        dave.list("pods", "default")


def test_the_rbac_docs_examples_apply_and_grant_what_they_say(world):
    import yaml
    from minik8s.api.kinds import for_api_version
    admin = world.client()
    for doc in yaml.safe_load_all(DOCS_EXAMPLES):
        admin.create(from_dict(for_api_version(doc["apiVersion"], doc["kind"]).message, doc))
    jane, dave = world.client("jane"), world.client("dave")
    assert {p.metadata.name for p in jane.list("pods", "default")} >= {"web-1", "web-2"}
    for forbidden in (lambda: jane.list("pods", "team"), lambda: jane.delete("pods", "web-1"),
                      lambda: jane.get("secrets", "s1"), lambda: dave.list("pods", "default")):
        with pytest.raises(Forbidden):
            forbidden()
    assert dave.get("secrets", "ts", "team").metadata.name == "ts"
    assert {s.metadata.name for s in dave.list("secrets", "").items} >= {"s1", "s2", "ts"}


def test_role_ref_is_immutable(world):
    admin = world.client()
    b = admin.get("rolebindings", "bob-view", "team")
    b.roleRef.name = "edit"
    with pytest.raises(Invalid, match="roleRef: Invalid value.*cannot change roleRef"):
        admin.update(b)


def test_bootstrap_roles_and_bindings_are_there(world):
    admin = world.client()
    roles = {r.metadata.name: r for r in admin.list("clusterroles")}
    for name in ("cluster-admin", "admin", "edit", "view", "system:kube-scheduler", "system:kube-controller-manager",
                 "system:node-proxier", "system:basic-user", "system:discovery", "system:public-info-viewer"):
        assert roles[name].metadata.annotations["rbac.authorization.kubernetes.io/autoupdate"] == "true"
    crb = admin.get("clusterrolebindings", "cluster-admin")
    assert [(s.kind, s.name) for s in crb.subjects] == [("Group", "system:masters")]
    assert not admin.get("clusterrolebindings", "system:node").subjects


def test_bootstrap_is_idempotent_and_keeps_what_an_admin_added(world):
    admin = world.client()
    view = admin.get("clusterroles", "view")
    view.rules.add(verbs=["get"], apiGroups=["example.com"], resources=["widgets"])
    admin.update(view)
    before = {r.metadata.name: r.metadata.resourceVersion for r in admin.list("clusterroles")}
    world.restart()
    after = {r.metadata.name: r.metadata.resourceVersion for r in world.client().list("clusterroles")}
    assert after == before
    assert any("widgets" in r.resources for r in world.client().get("clusterroles", "view").rules)


async def test_rest_forbidden_is_a_403_status(world):
    headers = {"Authorization": f"Bearer {world.tokens['alice']}"}
    async with aiohttp.ClientSession(rest_url(world), headers=headers,
                                     connector=aiohttp.TCPConnector(ssl=ssl_context(world))) as http:
        async with http.delete("/api/v1/namespaces/default/pods/web-1") as r:
            body = json.loads(await r.text())
    assert r.status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == ('pods "web-1" is forbidden: User "alice" cannot delete resource "pods" in API '
                               'group "" in the namespace "default"')
    assert body["details"] == {"name": "web-1", "kind": "pods"}


@pytest.mark.apiserver_args("--authorization-mode", "AlwaysAllow")
def test_authorization_can_be_turned_off(srv):
    srv.client().create(deployment("web"))
    srv.client("scheduler").delete("deployments", "web")
    assert not srv.client().list("deployments").items


def test_an_unknown_authorization_mode_is_refused(tmp_path):
    from cluster import ApiServerProcess
    with pytest.raises(RuntimeError, match="--authorization-mode: authorization mode.*'Webhook'.*not supported"):
        ApiServerProcess(str(tmp_path), ("--authorization-mode", "Node,Webhook")).start()
