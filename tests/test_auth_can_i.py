"""`minictl auth can-i` and real kubectl's `auth can-i` against the access reviews (gRPC and REST, JSON
and Kubernetes protobuf), and impersonation: `--as` works for those who may `impersonate`, and is
Forbidden to the rest."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from cluster import ROOT
from minik8s.api.errors import Forbidden
from minik8s.api.pb import rbac_pb2
from rest_support import rest_ca, rest_url

KUBECTL = shutil.which("kubectl") or shutil.which("kubectl", path=os.path.join(ROOT, ".venv", "bin"))


def minictl(srv, identity: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "minik8s.cli.main", "--server", srv.address, "--token",
                           srv.tokens[identity], *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=60)


# (identity, can-i arguments, answer)
CASES = [
    ("admin", ("delete", "deployments"), "yes"),
    ("admin", ("get", "/healthz"), "yes"),
    ("scheduler", ("create", "pods", "--subresource", "binding"), "yes"),
    ("scheduler", ("list", "nodes"), "yes"),
    ("scheduler", ("create", "pods", "--subresource", "exec"), "no"),
    ("scheduler", ("delete", "deployments.apps"), "no"),
    ("scheduler", ("delete", "namespaces/kube-public"), "no"),
    ("controller-manager", ("create", "pods"), "yes"),
    ("controller-manager", ("create", "pods", "--subresource", "exec"), "no"),
    ("node-1", ("get", "secrets", "anything"),
     "no - no relationship found between node 'node-1' and this object"),
    ("node-1", ("list", "services"), "yes"),
    ("admin", ("list", "pods", "--as", "system:kube-scheduler"), "yes"),
    ("admin", ("create", "pods", "--subresource", "exec", "--as", "system:kube-scheduler"), "no"),
    ("admin", ("get", "secrets", "--as", "someone", "--as-group", "system:masters"), "yes"),
]


@pytest.mark.parametrize("identity,args,answer", CASES, ids=[f"{c[0]}-{'-'.join(c[1])}" for c in CASES])
def test_can_i(module_srv, identity, args, answer):
    r = minictl(module_srv, identity, "auth", "can-i", *args)
    assert r.stdout.strip() == answer, r.stderr
    assert r.returncode == (0 if answer == "yes" else 1)


def test_impersonation_needs_the_right_to_impersonate(module_srv):
    r = minictl(module_srv, "scheduler", "auth", "can-i", "list", "pods", "--as", "admin")
    assert r.returncode == 1
    assert ('users "admin" is forbidden: User "system:kube-scheduler" cannot impersonate resource "users" in '
            'API group "" at the cluster scope') in r.stderr
    with pytest.raises(Forbidden):
        module_srv.client("node-1").impersonating("admin").list("secrets")
    assert module_srv.client().impersonating("system:node:node-2", ["system:nodes"]).version().user == \
        "system:node:node-2"


def test_list_prints_kubectls_table(module_srv):
    r = minictl(module_srv, "scheduler", "auth", "can-i", "--list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:] if not line.startswith(" ")}
    assert rows["pods/binding"] == ["[]", "[]", "[create]"]
    assert rows["pods"] == ["[]", "[]", "[delete", "get", "list", "watch]"]
    assert "deployments.apps" not in rows


def test_subject_access_review_needs_its_own_right(module_srv):
    review = rbac_pb2.SubjectAccessReview(kind="SubjectAccessReview")
    review.spec.user = "system:kube-scheduler"
    review.spec.resourceAttributes.verb, review.spec.resourceAttributes.resource = "create", "pods"
    review.spec.resourceAttributes.subresource = "exec"
    assert module_srv.client().review(review).status.allowed is False
    review.spec.resourceAttributes.subresource = "binding"
    assert module_srv.client().review(review).status.allowed is True
    with pytest.raises(Forbidden, match="cannot create resource \"subjectaccessreviews\""):
        module_srv.client("node-1").review(review)


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (scripts/test installs it)")
@pytest.mark.parametrize("identity,args,answer", [
    ("admin", ("delete", "deployments"), "yes"),
    ("scheduler", ("create", "pods", "--subresource", "exec"), "no"),
    ("admin", ("create", "pods", "--subresource", "exec", "--as", "system:kube-scheduler"), "no"),
    ("admin", ("list", "pods", "--as", "system:kube-scheduler"), "yes"),
])
def test_real_kubectl_can_i(module_srv, identity, args, answer):
    r = subprocess.run([KUBECTL, "--server", rest_url(module_srv), "--certificate-authority", rest_ca(module_srv),
                        "--token", module_srv.tokens[identity], "auth", "can-i", *args],
                       capture_output=True, text=True, env=dict(os.environ, KUBECONFIG=os.devnull), timeout=60)
    assert r.stdout.strip() == answer, r.stderr
    assert r.returncode == (0 if answer == "yes" else 1)
