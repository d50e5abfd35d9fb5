"""kubectl's everyday verbs in `minictl` against a real API server, each checked for kubectl's output
lines and, on bad input, for an error naming the field, exit status 1 and nothing stored: create
deployment|service|job from flags, expose, replace, diff, edit, explain, get --show-kind, apply -f DIR
with bad files among good ones, and cluster-info."""
from __future__ import annotations

import os
import re

import yaml
import pytest

from minik8s.api.codec import int_or_string
from minik8s.api.errors import NotFound
from minik8s.client.config import ClientConfig
from test_cli import Ctl


@pytest.fixture(scope="module")
def cluster(module_srv):
    ClientConfig(server=module_srv.address, token=module_srv.tokens["admin"]).save(module_srv.home)
    return module_srv


@pytest.fixture(scope="module")
def ctl(cluster):
    return Ctl(cluster.home)


@pytest.fixture(scope="module")
def client(cluster):
    return cluster.client()


def fail(ctl, *args, input: str | None = None) -> str:
    r = ctl(*args, input=input)
    assert r.returncode == 1 and r.stdout == "", (r.stdout, r.stderr)
    return r.stderr


def absent(client, kind: str, name: str, ns: str = "default") -> bool:
    try:
        client.get(kind, name, ns)
    except NotFound:
        return True
    return False


# ---------------------------------------------------------------- create from flags
async def test_create_deployment_dry_run_prints_kubectls_object(ctl):
    out = ctl.ok("create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", "--port=80",
                 "--dry-run=client", "-o", "yaml", "--", "sleep", "10")
    d = yaml.safe_load(out)
    assert d["apiVersion"] == "apps/v1" and d["kind"] == "Deployment"
    assert d["metadata"] == {"name": "web", "labels": {"app": "web"}}
    assert d["spec"]["replicas"] == 2 and d["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert d["spec"]["template"]["metadata"] == {"labels": {"app": "web"}}
    assert d["spec"]["template"]["spec"]["containers"] == [
        {"name": "nginx", "image": "nginx:1.25", "command": ["sleep", "10"], "ports": [{"containerPort": 80}]}]


async def test_create_deployment_service_and_job_store_what_kubectl_stores(ctl, client):
    assert ctl.ok("create", "deployment", "shop", "--image=registry.local/team/shop_api:2") == \
        "deployment.apps/shop created\n"
    d = client.get("Deployment", "shop", "default")
    assert d.spec.replicas == 1 and re.fullmatch(r"shop-api-[bcdfghjklmnpqrstvwxz2456789]{5}",
                                                 d.spec.template.spec.containers[0].name)
    assert ctl.ok("create", "service", "nodeport", "shop", "--tcp=80:8080") == "service/shop created\n"
    s = client.get("Service", "shop", "default")
    assert s.spec.type == "NodePort" and dict(s.spec.selector) == {"app": "shop"}
    assert [(p.name, p.port, int_or_string(p.targetPort)) for p in s.spec.ports] == [("80-8080", 80, 8080)]
    assert s.spec.ports[0].nodePort > 0
    assert ctl.ok("create", "service", "clusterip", "shop-internal", "--tcp=5678") == \
        "service/shop-internal created\n"
    assert client.get("Service", "shop-internal", "default").spec.ports[0].name == "5678"
    assert ctl.ok("create", "job", "hello", "--image=busybox", "--", "echo", "hi") == "job.batch/hello created\n"
    j = client.get("Job", "hello", "default")
    c = j.spec.template.spec.containers[0]
    assert (c.name, c.image, list(c.command)) == ("hello", "busybox", ["echo", "hi"])
    assert j.spec.template.spec.restartPolicy == "Never"


async def test_create_namespace_dry_runs_store_nothing(ctl, client):
    assert yaml.safe_load(ctl.ok("create", "namespace", "dry", "--dry-run=client", "-o", "yaml")) == \
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dry"}}
    assert ctl.ok("create", "namespace", "dry", "--dry-run=server") == "namespace/dry created (server dry run)\n"
    assert ctl.ok("create", "service", "clusterip", "dry", "--tcp=80", "--dry-run=client") == \
        "service/dry created (dry run)\n"
    assert absent(client, "Namespace", "dry", "") and absent(client, "Service", "dry")


async def test_create_from_flags_bad_input_names_the_field_and_stores_nothing(ctl, client):
    assert 'required flag(s) "image" not set' in fail(ctl, "create", "deployment", "noimage")
    assert absent(client, "Deployment", "noimage")
    err = fail(ctl, "create", "deployment", "Bad_Name", "--image=nginx")
    assert "metadata.name" in err and absent(client, "Deployment", "Bad_Name")
    err = fail(ctl, "create", "deployment", "negative", "--image=nginx", "--replicas=-1")
    assert "spec.replicas" in err and absent(client, "Deployment", "negative")
    assert 'parsing "abc"' in fail(ctl, "create", "service", "clusterip", "badport", "--tcp=abc")
    assert "at least one tcp port" in fail(ctl, "create", "service", "clusterip", "noport")
    err = fail(ctl, "create", "service", "nodeport", "toolow", "--tcp=80", "--node-port=80")
    assert "nodePort" in err and absent(client, "Service", "toolow")
    assert absent(client, "Service", "badport")


# ---------------------------------------------------------------- expose
async def test_expose_a_deployment_and_a_pod(ctl, client):
    ctl.ok("create", "deployment", "api", "--image=nginx", "--port=80")
    out = ctl.ok("expose", "deployment", "api", "--port=8080", "--target-port=80", "--dry-run=client", "-o", "yaml")
    s = yaml.safe_load(out)
    assert s["metadata"] == {"name": "api", "labels": {"app": "api"}}
    assert s["spec"] == {"ports": [{"port": 8080, "protocol": "TCP", "targetPort": 80}], "selector": {"app": "api"}}
    assert yaml.safe_load(ctl.ok("expose", "deploy/api", "--dry-run", "-o", "yaml"))["spec"]["ports"] == [
        {"port": 80, "protocol": "TCP", "targetPort": 80}]
    two = yaml.safe_load(ctl.ok("expose", "deploy/api", "--port=80,443", "--dry-run", "-o", "yaml"))
    assert [p["name"] for p in two["spec"]["ports"]] == ["port-1", "port-2"]
    assert ctl.ok("expose", "deployment", "api", "--port=8080", "--type=NodePort", "--name=api-public") == \
        "service/api-public exposed\n"
    s = client.get("Service", "api-public", "default")
    assert s.spec.type == "NodePort" and dict(s.spec.selector) == {"app": "api"} and s.spec.ports[0].port == 8080
    ctl.ok("apply", "-f", "-", input="apiVersion: v1\nkind: Pod\nmetadata: {name: solo, labels: {app: solo}}\n"
                                     "spec: {containers: [{name: c, image: nginx}]}\n")
    assert ctl.ok("expose", "pod", "solo", "--port=9000") == "service/solo exposed\n"
    assert dict(client.get("Service", "solo", "default").spec.selector) == {"app": "solo"}


async def test_expose_bad_input(ctl, client):
    ctl.ok("create", "deployment", "noports", "--image=nginx")
    assert "couldn't find port via --port flag or introspection" in fail(ctl, "expose", "deployment", "noports")
    err = fail(ctl, "expose", "deployment", "noports", "--port=80", "--type=Foo", "--name=typo")
    assert "spec.type" in err and absent(client, "Service", "typo")
    assert 'deployments.apps "ghost" not found' in fail(ctl, "expose", "deployment", "ghost", "--port=80")
    assert absent(client, "Service", "ghost")


# ---------------------------------------------------------------- apply -f DIR
async def test_apply_a_directory_applies_every_good_file_and_names_the_bad_ones(ctl, client, tmp_path):
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {}}}\ndata: {{k: v}}\n"
    (tmp_path / "a.yaml").write_text(cm.format("dir-a"))
    (tmp_path / "b.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dir-b\n")
    (tmp_path / "c.yaml").write_text(cm.format("Dir_C"))
    (tmp_path / "d.yaml").write_text("apiVersion: v1\nkind: Nope\nmetadata: {name: dir-d}\n")
    (tmp_path / "e.yaml").write_text(cm.format("dir-e"))
    r = ctl("apply", "-f", str(tmp_path))
    assert r.returncode == 1
    assert r.stdout == "configmap/dir-a created\nconfigmap/dir-e created\n"
    assert f"{tmp_path}/b.yaml" in r.stderr and f"{tmp_path}/d.yaml" in r.stderr and 'kind "Nope"' in r.stderr
    assert 'ConfigMap "Dir_C" is invalid: metadata.name' in r.stderr
    assert not absent(client, "ConfigMap", "dir-a") and not absent(client, "ConfigMap", "dir-e")
    assert absent(client, "ConfigMap", "Dir_C")
    again = ctl("apply", "-f", str(tmp_path / "a.yaml"))
    assert (again.returncode, again.stdout) == (0, "configmap/dir-a unchanged\n")


# ---------------------------------------------------------------- get --show-kind / --sort-by, cluster-info
async def test_get_show_kind_and_sort_by(ctl):
    for name, port in (("sort-b", "7002"), ("sort-a", "7003"), ("sort-c", "7001")):
        ctl.ok("create", "service", "clusterip", name, f"--tcp={port}")
    lines = ctl.ok("get", "services", "--show-kind", "--sort-by=.spec.ports[0].port").splitlines()
    names = [line.split()[0] for line in lines[1:] if line.startswith("service/sort-")]
    assert lines[0].split()[:2] == ["NAME", "TYPE"]
    assert names == ["service/sort-c", "service/sort-b", "service/sort-a"]
    assert "unterminated" in fail(ctl, "get", "services", "--sort-by=.spec.ports[")


async def test_cluster_info_names_the_control_plane_and_the_cluster_services(ctl, cluster):
    ctl.ok("apply", "-f", "-", input="""\
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/cluster-service: "true", kubernetes.io/name: CoreDNS}
spec:
  selector: {k8s-app: kube-dns}
  ports: [{name: dns, port: 53, protocol: UDP}]
""")
    lines = ctl.ok("cluster-info").splitlines()
    assert lines[0] == f"Kubernetes control plane is running at {cluster.address}"
    dns = [line for line in lines if line.startswith("CoreDNS is running at ")]
    assert len(dns) == 1 and dns[0].endswith(":53/UDP"), lines
    assert lines[-1].startswith("To further debug and diagnose cluster problems")


# ---------------------------------------------------------------- replace, diff, edit
def run_with(ctl, env: dict, *args, input: str | None = None):
    import subprocess
    from test_cli import _env
    return subprocess.run(ctl.argv(*args), capture_output=True, text=True, env=dict(_env(), **env), input=input,
                          timeout=60)


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {}}}\ndata: {{k: {}}}\n"


async def test_replace_puts_the_file_in_place_of_the_live_object(ctl, client):
    ctl.ok("apply", "-f", "-", input=CM.format("repl", "one"))
    assert ctl.ok("replace", "-f", "-", input=CM.format("repl", "two")) == "configmap/repl replaced\n"
    assert dict(client.get("ConfigMap", "repl", "default").data) == {"k": "two"}
    err = fail(ctl, "replace", "-f", "-", input=CM.format("repl-ghost", "x"))
    assert err == 'Error from server (NotFound): error when replacing "STDIN": configmaps "repl-ghost" not found\n'
    assert absent(client, "ConfigMap", "repl-ghost")
    bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: repl}\nimmutable: true\nbinaryData: {k: '!!'}\n"
    assert "binaryData" in fail(ctl, "replace", "-f", "-", input=bad)
    assert dict(client.get("ConfigMap", "repl", "default").data) == {"k": "two"}


async def test_diff_shows_what_apply_would_change_and_stores_nothing(ctl, client):
    ctl.ok("apply", "-f", "-", input=CM.format("dif", "v"))
    same = ctl("diff", "-f", "-", input=CM.format("dif", "v"))
    assert (same.returncode, same.stdout) == (0, "")
    r = ctl("diff", "-f", "-", input=CM.format("dif", "changed"))
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("diff -u -N ") and lines[0].endswith("/v1.ConfigMap.default.dif")
    assert "/LIVE-" in lines[0] and "/MERGED-" in lines[0]
    assert "-  k: v" in lines and "+  k: changed" in lines
    assert dict(client.get("ConfigMap", "dif", "default").data) == {"k": "v"}
    new = run_with(ctl, {"KUBECTL_EXTERNAL_DIFF": "diff -q"}, "diff", "-f", "-", input=CM.format("dif-new", "v"))
    assert new.returncode == 1 and "MERGED-" in new.stdout and "v1.ConfigMap.default.dif-new" in new.stdout
    assert absent(client, "ConfigMap", "dif-new")
    bad = ctl("diff", "-f", "-", input=CM.format("Dif_Bad", "v"))
    assert bad.returncode == 2 and "metadata.name" in bad.stderr and absent(client, "ConfigMap", "Dif_Bad")


def editor(tmp_path, script: str) -> str:
    path = tmp_path / "editor.sh"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


async def test_edit_saves_the_change_and_cancels_an_unchanged_file(ctl, client, tmp_path):
    ctl.ok("apply", "-f", "-", input=CM.format("ed", "before"))
    ed = editor(tmp_path, 'sed -i "s/k: before/k: after/" "$1"\n')
    r = run_with(ctl, {"KUBE_EDITOR": ed}, "edit", "configmap/ed")
    assert (r.returncode, r.stdout) == (0, "configmap/ed edited\n"), r.stderr
    assert dict(client.get("ConfigMap", "ed", "default").data) == {"k": "after"}
    r = run_with(ctl, {"KUBE_EDITOR": "", "EDITOR": "true"}, "edit", "cm", "ed")
    assert (r.returncode, r.stderr) == (0, "Edit cancelled, no changes made.\n")


async def test_edit_reopens_an_invalid_change_with_the_error_as_a_header(ctl, client, tmp_path):
    ctl.ok("create", "deployment", "edw", "--image=nginx", "--replicas=3")
    seen = tmp_path / "second.yaml"
    ed = editor(tmp_path, f'if grep -q "was not valid" "$1"; then cp "$1" {seen}; '
                          'sed -i "s/replicas: -3/replicas: 4/" "$1"; '
                          'else sed -i "s/replicas: 3/replicas: -3/" "$1"; fi\n')
    r = run_with(ctl, {"EDITOR": ed}, "edit", "deployment", "edw")
    assert (r.returncode, r.stdout) == (0, "deployment.apps/edw edited\n"), r.stderr
    assert r.stderr == 'error: deployments.apps "edw" is invalid\n'
    header = seen.read_text().splitlines()[4:7]
    assert header == ['# deployments.apps "edw" was not valid:',
                      "# * spec.replicas: Invalid value: -3: must be greater than or equal to 0", "#"]
    assert client.get("Deployment", "edw", "default").spec.replicas == 4
    stubborn = editor(tmp_path, 'sed -i "s/replicas: 4/replicas: -4/" "$1"\n')
    r = run_with(ctl, {"EDITOR": stubborn}, "edit", "deployment", "edw")
    assert r.returncode == 1 and r.stderr.endswith("error: Edit cancelled, no valid changes were saved.\n")
    kept = r.stderr.split('stored to "')[1].split('"')[0]
    assert "replicas: -4" in open(kept).read()
    os.unlink(kept)
    assert client.get("Deployment", "edw", "default").spec.replicas == 4


# ---------------------------------------------------------------- explain
async def test_explain_a_kind_a_field_and_recursively(ctl):
    out = ctl.ok("explain", "deployment")
    assert out.startswith("GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n\nDESCRIPTION:\n    <empty>\n"
                          "FIELDS:\n  apiVersion\t<string>\n    <no description>\n\n  kind\t<string>\n")
    assert "  spec\t<DeploymentSpec>\n" in out and out.endswith("<no description>\n\n\n")
    pod = ctl.ok("explain", "pods")
    assert pod.startswith("KIND:       Pod\nVERSION:    v1\n\n")
    ports = ctl.ok("explain", "deploy.spec.template.spec.containers.ports").splitlines()
    assert ports[4] == "FIELD: ports <[]ContainerPort>"
    assert [line.split("\t")[0].strip() for line in ports if "\t" in line] == \
        ["containerPort", "hostIP", "hostPort", "name", "protocol"]
    assert "FIELD: labels <map[string]string>" in ctl.ok("explain", "pod.metadata.labels")
    assert "FIELD: targetPort <IntOrString>" in ctl.ok("explain", "svc.spec.ports.targetPort")
    rec = ctl.ok("explain", "deployment.spec.strategy", "--recursive").splitlines()
    assert rec[rec.index("FIELDS:") + 1:] == ["  rollingUpdate\t<RollingUpdateDeployment>",
                                              "    maxSurge\t<IntOrString>", "    maxUnavailable\t<IntOrString>",
                                              "  type\t<string>", ""]


async def test_explain_bad_input_names_the_field(ctl):
    assert fail(ctl, "explain", "pods.spec.bogus") == 'error: field "bogus" does not exist\n'
    assert fail(ctl, "explain", "pods.spec.nodeName.deeper") == 'error: field "deeper" does not exist\n'
    assert "nosuchkind" in fail(ctl, "explain", "nosuchkind")
