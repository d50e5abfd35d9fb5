"""`minictl` end to end: each command runs as its own process (`python -m minik8s.cli.main`) against a
real API server, and is checked for kubectl's output, messages and exit status. The printers, the
JSONPath templates and the apply patch are also checked directly, without a server."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import psutil
import pytest
import yaml

from cluster import ROOT
from minik8s.api.clock import rfc3339
from minik8s.api.codec import from_dict
from minik8s.api.kinds import KINDS
from minik8s.client.config import ClientConfig
from support import wait_for_sync


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def cluster(module_srv):
    ClientConfig(server=module_srv.address, token=module_srv.tokens["admin"]).save(module_srv.home)
    return module_srv, module_srv.home


@pytest.fixture(scope="module")
def client(cluster):
    return cluster[0].client()


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("MINIK8S_HOME", None)
    return env


class Ctl:
    def __init__(self, home: str):
        self.home = home

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "minik8s.cli.main", "--home", self.home, *args]

    def __call__(self, *args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args), capture_output=True, text=True, env=_env(), input=input,
                              timeout=timeout)

    def ok(self, *args: str, input: str | None = None) -> str:
        r = self(*args, input=input)
        assert r.returncode == 0, f"minictl {' '.join(args)}: {r.stderr}"
        return r.stdout

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=_env())


@pytest.fixture(scope="module")
def ctl(cluster):
    return Ctl(cluster[1])


def connected(proc: subprocess.Popen, srv) -> bool:
    """Whether `proc` holds a connection to the API server: its first call (the get or list that a
    watch resumes from) went out, so a change made from now on reaches its watch."""
    try:
        conns = psutil.Process(proc.pid).net_connections("tcp")
    except psutil.NoSuchProcess:
        return False
    return any(c.raddr and c.raddr.port == srv.port and c.status == psutil.CONN_ESTABLISHED for c in conns)


def watching(proc: subprocess.Popen, srv) -> None:
    wait_for_sync(lambda: connected(proc, srv) or proc.poll() is not None, what="minictl talking to the server")
    assert proc.poll() is None, proc.communicate()


_NS_COUNT = [0]


@pytest.fixture
def ns(client, request):
    """A fresh namespace per test, so tests see only their own objects."""
    _NS_COUNT[0] += 1
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + f"-{_NS_COUNT[0]}"
    client.create(from_dict(KINDS["Namespace"].message, {"metadata": {"name": name}}))
    return name


def create(client, kind: str, doc: dict):
    info = KINDS[kind]
    doc = {"apiVersion": info.api_version, "kind": kind, **doc}
    return client.create(from_dict(info.message, doc))


def pod_doc(name: str, ns: str, labels: dict | None = None, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
    team: a
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
        resources:
          limits: {cpu: 1, memory: 128Mi}
"""


def write(tmp_path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


# ---------------------------------------------------------------- apply
def test_apply_created_configured_unchanged(ctl, client, ns, tmp_path):
    path = write(tmp_path, "web.yaml", DEPLOYMENT)
    assert ctl.ok("apply", "-n", ns, "-f", path) == "deployment.apps/web created\n"
    assert ctl.ok("apply", "-n", ns, "-f", path) == "deployment.apps/web unchanged\n"
    d = client.get("Deployment", "web", ns)
    rv = d.metadata.resourceVersion
    assert "kubectl.kubernetes.io/last-applied-configuration" in d.metadata.annotations

    write(tmp_path, "web.yaml", DEPLOYMENT.replace("replicas: 2", "replicas: 3"))
    assert ctl.ok("apply", "-n", ns, "-f", path) == "deployment.apps/web configured\n"
    assert ctl.ok("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}") == "3"

    # a label someone else added survives apply; a label removed from the manifest goes (3-way)
    assert ctl.ok("label", "-n", ns, "deployment", "web", "owner=ops") == "deployment.apps/web labeled\n"
    write(tmp_path, "web.yaml", DEPLOYMENT.replace("replicas: 2", "replicas: 3").replace("    team: a\n", ""))
    assert ctl.ok("apply", "-n", ns, "-f", path) == "deployment.apps/web configured\n"
    labels = dict(client.get("Deployment", "web", ns).metadata.labels)
    assert labels == {"app": "web", "owner": "ops"}
    assert ctl.ok("apply", "-n", ns, "-f", path) == "deployment.apps/web unchanged\n"
    assert client.get("Deployment", "web", ns).metadata.resourceVersion != rv


def test_apply_directory_and_stdin(ctl, client, ns, tmp_path):
    d = tmp_path / "app"
    d.mkdir()
    (d / "1-svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
                                  "spec:\n  selector: {app: web}\n  ports: [{port: 80}]\n")
    (d / "2-deploy.yaml").write_text(DEPLOYMENT)
    assert ctl.ok("apply", "-n", ns, "-f", str(d)) == "service/web created\ndeployment.apps/web created\n"
    out = ctl.ok("apply", "-n", ns, "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": [yaml.safe_load(DEPLOYMENT)]}))
    assert out == "deployment.apps/web unchanged\n"
    assert ctl.ok("apply", "-n", ns, "-f", "-", "-o", "name",
                  input=yaml.safe_dump(pod_doc("p", ns))) == "pod/p\n"


def test_apply_cluster_scoped(ctl, client, tmp_path):
    path = write(tmp_path, "ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-apply\n"
                                      "  namespace: ignored\n  labels: {team: a}\n")
    assert ctl.ok("apply", "-f", path) == "namespace/team-apply created\n"
    assert ctl.ok("apply", "-f", path) == "namespace/team-apply unchanged\n"
    assert client.get("Namespace", "team-apply").metadata.labels["team"] == "a"


def test_apply_namespace_mismatch(ctl, ns, tmp_path):
    path = write(tmp_path, "p.yaml", yaml.safe_dump(pod_doc("p", "elsewhere")))
    r = ctl("apply", "-n", ns, "-f", path)
    assert r.returncode == 1
    assert r.stderr == ('error: the namespace from the provided object "elsewhere" does not match the namespace '
                        f'"{ns}". You must pass \'--namespace=elsewhere\' to perform this operation.\n')


def test_bad_manifest_exits_1_with_one_line_and_stores_nothing(ctl, client, ns, tmp_path):
    good = yaml.safe_dump(pod_doc("good", ns))
    bad = yaml.safe_dump(pod_doc("bad", ns)).replace("image: busybox", "image: busybox\n    imagePull: Always")
    path = write(tmp_path, "pods.yaml", good + "---\n" + bad)
    r = ctl("apply", "-f", path)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == f"error: {path}: doc 2: spec.containers[0].imagePull: unknown field\n"
    assert list(client.list("Pod", ns)) == []
    r = ctl("create", "-f", path)
    assert (r.returncode, r.stderr.count("\n")) == (1, 1)
    assert list(client.list("Pod", ns)) == []


def test_server_side_invalid(ctl, client, ns, tmp_path):
    path = write(tmp_path, "web.yaml", DEPLOYMENT.replace("replicas: 2", "replicas: -1"))
    r = ctl("apply", "-n", ns, "-f", path)
    assert r.returncode == 1
    assert r.stderr == ('The Deployment "web" is invalid: spec.replicas: Invalid value: -1: must be greater '
                        'than or equal to 0\n')
    assert list(client.list("Deployment", ns)) == []


def test_create_and_already_exists(ctl, ns, tmp_path):
    path = write(tmp_path, "web.yaml", DEPLOYMENT)
    assert ctl.ok("create", "-n", ns, "-f", path) == "deployment.apps/web created\n"
    r = ctl("create", "-n", ns, "-f", path)
    assert r.returncode == 1
    assert r.stderr == (f'Error from server (AlreadyExists): error when creating "{path}": deployments.apps "web" '
                        'already exists\n')
    # apply over an object made by create: a warning, then the annotation is patched in
    r = ctl("apply", "-n", ns, "-f", path)
    assert r.returncode == 0 and r.stdout == "deployment.apps/web configured\n"
    assert r.stderr.startswith("Warning: resource deployments/web is missing the "
                               "kubectl.kubernetes.io/last-applied-configuration annotation")
    assert ctl.ok("apply", "-n", ns, "-f", path) == "deployment.apps/web unchanged\n"


# ---------------------------------------------------------------- get: tables
def _lines(out: str) -> list[str]:
    return out.rstrip("\n").split("\n")


def test_get_pods_table(ctl, client, ns):
    create(client, "Pod", pod_doc("web-1", ns, {"app": "web"}))
    create(client, "Pod", pod_doc("db-0", ns, {"app": "db"}))
    out = _lines(ctl.ok("get", "pods", "-n", ns))
    assert out[0] == "NAME    READY   STATUS    RESTARTS   AGE"
    assert re.fullmatch(r"db-0    0/1     Pending   0          \d+s", out[1]), out
    assert re.fullmatch(r"web-1   0/1     Pending   0          \d+s", out[2]), out
    assert len(out) == 3
    wide = _lines(ctl.ok("get", "po", "-n", ns, "-o", "wide"))
    assert wide[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                               "READINESS", "GATES"]
    assert wide[0].startswith("NAME    READY   STATUS    RESTARTS   AGE   IP       NODE     NOMINATED NODE   ")
    assert wide[1].split()[5:] == ["<none>", "<none>", "<none>", "<none>"]
    labels = _lines(ctl.ok("get", "pods", "-n", ns, "--show-labels"))
    assert labels[0].endswith("   LABELS") and labels[1].endswith("app=db")
    # kind/name, several names, and the NAMESPACE column of -A
    assert _lines(ctl.ok("get", "pod/web-1", "-n", ns))[1].startswith("web-1 ")
    assert len(_lines(ctl.ok("get", "pods", "web-1", "db-0", "-n", ns))) == 3
    # flags anywhere, as kubectl takes them
    assert ctl.ok("get", "pods", "-n", ns, "web-1", "-o", "name") == "pod/web-1\n"
    assert ctl.ok("-n", ns, "get", "-o", "name", "pods", "db-0") == "pod/db-0\n"
    every = _lines(ctl.ok("get", "pods", "-A"))
    assert every[0].startswith("NAMESPACE") and every[0].split()[1] == "NAME"
    assert any(line.split()[:2] == [ns, "web-1"] for line in every)


def test_get_empty_and_not_found(ctl, ns):
    r = ctl("get", "pods", "-n", ns)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", f"No resources found in {ns} namespace.\n")
    r = ctl("get", "pods", "nope", "-n", ns)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", 'Error from server (NotFound): pods "nope" not found\n')
    r = ctl("get", "pods", "nope", "-n", ns, "--ignore-not-found")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    r = ctl("get", "deploy/nope", "-n", ns)
    assert r.stderr == 'Error from server (NotFound): deployments.apps "nope" not found\n'
    r = ctl("get", "foos")
    assert (r.returncode, r.stderr) == (1, 'error: the server doesn\'t have a resource type "foos"\n')


TABLE_OBJECTS = [
    ("Deployment", "deployments", yaml.safe_load(DEPLOYMENT), ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
     ["web", "0/2", "0", "0"]),
    ("ReplicaSet", "rs", {"metadata": {"name": "web-1"}, "spec": {
        "replicas": 3, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}},
     ["NAME", "DESIRED", "CURRENT", "READY", "AGE"], ["web-1", "3", "0", "0"]),
    ("Service", "svc", {"metadata": {"name": "web"}, "spec": {
        "type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "nodePort": 30080}]}},
     ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], None),
    ("Job", "jobs", {"metadata": {"name": "pi"}, "spec": {
        "manualSelector": True, "selector": {"matchLabels": {"job": "pi"}}, "completions": 3,
        "template": {"metadata": {"labels": {"job": "pi"}},
                     "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}}},
     ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"], ["pi", "Running", "0/3"]),
    ("HorizontalPodAutoscaler", "hpa", {"metadata": {"name": "web"}, "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 1, "maxReplicas": 5,
        "metrics": [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}},
     ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"],
     ["web", "Deployment/web", "cpu:", "<unknown>/50%", "1", "5", "0"]),
    ("PodDisruptionBudget", "pdb", {"metadata": {"name": "web"}, "spec": {
        "minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}},
     ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS", "AGE"], ["web", "1", "N/A", "0"]),
    ("PersistentVolumeClaim", "pvc", {"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "storageClassName": "local",
        "resources": {"requests": {"storage": "1Gi"}}}},
     ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES", "STORAGECLASS", "AGE"], ["data", "Pending", "local"]),
    ("Endpoints", "ep", {"metadata": {"name": "web"}, "subsets": [{
        "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 8080}]}]},
     ["NAME", "ENDPOINTS", "AGE"], ["web", "10.0.0.1:8080,10.0.0.2:8080"]),
    ("Lease", "leases", {"metadata": {"name": "leader"}, "spec": {"holderIdentity": "node-1"}},
     ["NAME", "HOLDER", "AGE"], ["leader", "node-1"]),
]


@pytest.mark.parametrize("kind,word,doc,header,cells", TABLE_OBJECTS, ids=[t[0] for t in TABLE_OBJECTS])
def test_get_table_columns(ctl, client, ns, kind, word, doc, header, cells):
    doc = dict(doc)
    doc["metadata"] = dict(doc["metadata"], namespace=ns)
    doc.pop("apiVersion", None), doc.pop("kind", None)
    create(client, kind, doc)
    out = _lines(ctl.ok("get", word, "-n", ns))
    assert out[0].split() == header
    if cells is not None:
        assert out[1].split()[:len(cells)] == cells, out


def test_get_services_cells(ctl, client, ns):
    create(client, "Service", {"metadata": {"name": "web", "namespace": ns}, "spec": {
        "type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "nodePort": 30081}]}})
    row = _lines(ctl.ok("get", "svc", "web", "-n", ns, "-o", "wide"))[1].split()
    assert row[0:2] == ["web", "NodePort"]
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", row[2])
    assert row[3:5] == ["<none>", "80:30081/TCP"] and row[6] == "app=web"


def test_get_cluster_scoped_tables(ctl, client):
    create(client, "Node", {"metadata": {"name": "cli-node", "labels": {"node-role.kubernetes.io/worker": ""}},
                            "status": {"nodeInfo": {"kubeletVersion": "v1.31.0-minik8s"}}})
    out = _lines(ctl.ok("get", "nodes"))
    assert out[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    row = next(line.split() for line in out if line.startswith("cli-node "))
    assert row[:3] == ["cli-node", "Unknown", "worker"]
    out = _lines(ctl.ok("get", "ns", "default", "kube-system"))
    assert out[0].split() == ["NAME", "STATUS", "AGE"]
    assert [line.split()[:2] for line in out[1:]] == [["default", "Active"], ["kube-system", "Active"]]


def test_get_events_table(ctl, client, ns):
    p = create(client, "Pod", pod_doc("p", ns))
    _event(client, ns, p, "e1", "Scheduled", "Successfully assigned to node-1", "default-scheduler", 1)
    out = _lines(ctl.ok("get", "events", "-n", ns))
    assert out[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert out[1].split()[1:] == ["Normal", "Scheduled", "pod/p", "Successfully", "assigned", "to", "node-1"]


def test_multiple_kinds_print_one_table_each(ctl, client, ns):
    create(client, "Pod", pod_doc("p", ns))
    create(client, "Service", {"metadata": {"name": "s", "namespace": ns}, "spec": {"ports": [{"port": 80}]}})
    out = ctl.ok("get", "pods,svc", "-n", ns)
    tables = out.rstrip("\n").split("\n\n")
    assert len(tables) == 2
    assert tables[0].split("\n")[1].startswith("pod/p ")
    assert tables[1].split("\n")[1].startswith("service/s ")


# ---------------------------------------------------------------- get: -o formats and selectors
def test_output_formats(ctl, client, ns):
    create(client, "Pod", pod_doc("a", ns, {"app": "x"}))
    create(client, "Pod", pod_doc("b", ns, {"app": "y"}, nodeName="n1"))
    one = ctl.ok("get", "pod", "a", "-n", ns, "-o", "json")
    doc = json.loads(one)
    assert (doc["apiVersion"], doc["kind"], doc["metadata"]["name"]) == ("v1", "Pod", "a")
    assert one.startswith('{\n    "apiVersion": "v1",\n    "kind": "Pod",\n    "metadata": {\n')
    lst = ctl.ok("get", "pods", "-n", ns, "-o", "json")
    doc = json.loads(lst)
    assert list(doc) == ["apiVersion", "items", "kind", "metadata"]
    assert (doc["apiVersion"], doc["kind"], doc["metadata"]) == ("v1", "List", {"resourceVersion": ""})
    assert [i["metadata"]["name"] for i in doc["items"]] == ["a", "b"]
    assert lst.endswith('    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n')
    y = yaml.safe_load(ctl.ok("get", "pods", "-n", ns, "-o", "yaml"))
    assert y["kind"] == "List" and [i["metadata"]["name"] for i in y["items"]] == ["a", "b"]
    assert yaml.safe_load(ctl.ok("get", "pod/a", "-n", ns, "-o", "yaml"))["metadata"]["labels"] == {"app": "x"}
    assert ctl.ok("get", "pods", "-n", ns, "-o", "name") == "pod/a\npod/b\n"
    assert ctl.ok("get", "deploy", "-n", ns, "-o", "name") == ""

    def jp(tpl, *extra):
        return ctl.ok("get", "pods", *extra, "-n", ns, "-o", f"jsonpath={tpl}")
    assert jp("{.items[*].metadata.name}") == "a b"
    assert jp("{.items[0].status.phase}") == "Pending"
    assert jp('{range .items[*]}{.metadata.name}{"\\t"}{.spec.nodeName}{"\\n"}{end}') == "a\t\nb\tn1\n"
    assert jp("{.metadata.labels.app}", "b") == "y"
    assert jp('{.spec.containers[?(@.name=="c")].image}', "a") == "busybox"
    assert jp("{.items[?(@.spec.nodeName)].metadata.name}") == "b"
    cc = _lines(ctl.ok("get", "pods", "-n", ns, "-o", "custom-columns=NAME:.metadata.name,NODE:.spec.nodeName"))
    assert cc == ["NAME   NODE", "a      <none>", "b      n1"]
    r = ctl("get", "pods", "-n", ns, "-o", "xml")
    assert r.returncode == 1 and r.stderr.startswith('error: unable to match a printer suitable for the output '
                                                     'format "xml"')


def test_label_and_field_selectors(ctl, client, ns):
    create(client, "Pod", pod_doc("a", ns, {"app": "web", "tier": "fe"}))
    create(client, "Pod", pod_doc("b", ns, {"app": "web", "tier": "be"}))
    create(client, "Pod", pod_doc("c", ns, {"app": "db"}, nodeName="n1"))

    def names(*args):
        return ctl.ok("get", "pods", "-n", ns, "-o", "name", *args).split()
    assert names("-l", "app=web") == ["pod/a", "pod/b"]
    assert names("-l", "app=web,tier!=fe") == ["pod/b"]
    assert names("-l", "tier in (fe,be)") == ["pod/a", "pod/b"]
    assert names("-l", "!tier") == ["pod/c"]
    assert names("--field-selector", "metadata.name=b") == ["pod/b"]
    assert names("--field-selector", "spec.nodeName=n1") == ["pod/c"]
    assert names("--field-selector", "status.phase=Pending,spec.nodeName!=n1") == ["pod/a", "pod/b"]
    r = ctl("get", "pods", "-n", ns, "--field-selector", "spec.bogus=1")
    assert r.returncode == 1 and r.stderr == "Error from server (BadRequest): field label not supported: spec.bogus\n"


def test_sort_by_and_no_headers(ctl, client, ns):
    for name, prio in (("a", 3), ("b", 1), ("c", 2)):
        create(client, "Pod", pod_doc(name, ns, priority=prio))
    out = ctl.ok("get", "pods", "-n", ns, "--sort-by", ".spec.priority", "--no-headers")
    assert [line.split()[0] for line in _lines(out)] == ["b", "c", "a"]


# ---------------------------------------------------------------- delete
def test_delete(ctl, client, ns, tmp_path):
    for n in ("a", "b", "c", "d"):
        create(client, "Pod", pod_doc(n, ns, {"group": "x" if n in "cd" else "y"}))
    assert ctl.ok("delete", "pod", "a", "-n", ns) == 'pod "a" deleted\n'
    r = ctl("delete", "pod", "a", "b", "-n", ns)
    assert r.returncode == 1
    assert r.stdout == 'pod "b" deleted\n'
    assert r.stderr == 'Error from server (NotFound): pods "a" not found\n'
    assert ctl("delete", "pod", "a", "-n", ns, "--ignore-not-found").returncode == 0
    assert ctl.ok("delete", "pods", "-l", "group=x", "-n", ns) == 'pod "c" deleted\npod "d" deleted\n'
    assert list(client.list("Pod", ns)) == []

    path = write(tmp_path, "web.yaml", DEPLOYMENT)
    ctl.ok("apply", "-n", ns, "-f", path)
    assert ctl.ok("delete", "-n", ns, "-f", path, "--wait", "--timeout", "20s") == \
        'deployment.apps "web" deleted\n'
    assert list(client.list("Deployment", ns)) == []
    r = ctl("delete", "-n", ns, "-f", path)
    assert r.returncode == 1 and r.stderr == 'Error from server (NotFound): deployments.apps "web" not found\n'
    r = ctl("delete", "pods", "-n", ns)
    assert r.returncode == 1 and r.stderr == "error: resource(s) were provided, but no name was specified\n"


def test_delete_graceful_pod_on_a_node(ctl, client, ns):
    create(client, "Pod", pod_doc("p", ns, nodeName="n1"))
    # --wait=false: bound to a node, the pod stays Terminating until its kubelet confirms, and
    # delete (like kubectl's) would otherwise wait for that
    assert ctl.ok("delete", "pod", "p", "-n", ns, "--grace-period", "30", "--wait=false") == \
        'pod "p" deleted\n'

    out = ctl.ok("get", "pod", "p", "-n", ns)
    assert _lines(out)[1].split()[2] == "Terminating"
    r = ctl("delete", "pod", "p", "-n", ns, "--force", "--grace-period=0")
    assert r.stdout == 'pod "p" force deleted\n'
    assert r.stderr.startswith("Warning: Immediate deletion does not wait")
    assert list(client.list("Pod", ns)) == []


# ---------------------------------------------------------------- describe
def _event(client, ns, obj, name, reason, message, component, count, age=30, type_="Normal"):
    ts = rfc3339(time.time() - age)
    create(client, "Event", {
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {"kind": obj.kind, "name": obj.metadata.name, "namespace": ns,
                           "uid": obj.metadata.uid, "apiVersion": obj.apiVersion},
        "reason": reason, "message": message, "type": type_, "source": {"component": component},
        "firstTimestamp": ts, "lastTimestamp": ts, "count": count})


def test_describe_pod_with_events(ctl, client, ns):
    p = create(client, "Pod", pod_doc("web", ns, {"app": "web", "tier": "fe"}))
    out = ctl.ok("describe", "pod", "web", "-n", ns)
    lines = _lines(out)
    assert lines[0] == "Name:             web"
    assert lines[1] == f"Namespace:        {ns}"
    assert "Labels:           app=web" in lines and "                  tier=fe" in lines
    assert "Annotations:      <none>" in lines
    assert "Status:           Pending" in lines
    assert "Containers:" in lines and "  c:" in lines and "    Image:          busybox" in lines
    assert re.fullmatch(r"Events:\s+<none>", lines[-1])

    _event(client, ns, p, "web.1", "Scheduled", "Successfully assigned web to node-1", "default-scheduler", 1, 60)
    _event(client, ns, p, "web.2", "BackOff", "Back-off pulling image", "kubelet", 4, 10, "Warning")
    other = create(client, "Pod", pod_doc("other", ns))
    _event(client, ns, other, "other.1", "Scheduled", "not about web", "default-scheduler", 1)
    lines = _lines(ctl.ok("describe", "pods/web", "-n", ns))
    i = lines.index("Events:")
    assert lines[i + 1].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert lines[i + 2].split() == ["----", "------", "----", "----", "-------"]
    assert re.fullmatch(r"  Normal   Scheduled  \d+s +default-scheduler  Successfully assigned web to node-1",
                        lines[i + 3]), lines[i + 3]
    assert re.fullmatch(r"  Warning  BackOff    \d+s \(x4 over \d+s\)  kubelet +Back-off pulling image",
                        lines[i + 4]), lines[i + 4]
    assert len(lines) == i + 5
    r = ctl("describe", "pod", "nope", "-n", ns)
    assert (r.returncode, r.stderr) == (1, 'Error from server (NotFound): pods "nope" not found\n')


def test_describe_other_kinds(ctl, client, ns, tmp_path):
    ctl.ok("apply", "-n", ns, "-f", write(tmp_path, "web.yaml", DEPLOYMENT))
    out = ctl.ok("describe", "deployment", "web", "-n", ns)
    assert "Replicas:               2 desired | 0 updated | 0 total | 0 available | 0 unavailable" in out
    assert "Selector:               app=web\n" in out
    assert "Pod Template:\n  Labels:  app=web\n  Containers:\n   nginx:\n    Image:" in out
    # kubectl hides the last-applied annotation
    assert "last-applied" not in out and "Annotations:            <none>" in out
    create(client, "Service", {"metadata": {"name": "web", "namespace": ns},
                               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    out = ctl.ok("describe", "svc", "web", "-n", ns)
    assert re.search(r"^Port:\s+<unset>  80/TCP$", out, re.M) and re.search(r"^TargetPort:\s+8080/TCP$", out, re.M)
    out = ctl.ok("describe", "ns", ns)
    assert out.startswith(f"Name:         {ns}\n") and "Status:       Active" in out
    create(client, "PodDisruptionBudget", {"metadata": {"name": "pdb", "namespace": ns},
                                           "spec": {"maxUnavailable": "50%"}})
    out = ctl.ok("describe", "pdb", "pdb", "-n", ns)
    assert re.search(r"^  Max Unavailable:\s+50%$", out, re.M), out


# ---------------------------------------------------------------- wait and watch
def test_wait_for_delete(cluster, ctl, client, ns):
    create(client, "Pod", pod_doc("doomed", ns))
    waiter = ctl.popen("wait", "pod/doomed", "-n", ns, "--for=delete", "--timeout=30s")
    watching(waiter, cluster[0])
    client.delete("Pod", "doomed", ns)
    out, err = waiter.communicate(timeout=30)
    assert (waiter.returncode, out, err) == (0, "pod/doomed condition met\n", "")
    # already gone: met at once
    assert ctl.ok("wait", "pod/doomed", "-n", ns, "--for=delete") == "pod/doomed condition met\n"


def test_wait_condition_jsonpath_and_timeout(cluster, ctl, client, ns):
    create(client, "Pod", pod_doc("p", ns))
    t0 = time.monotonic()
    r = ctl("wait", "pod/p", "-n", ns, "--for=condition=Ready", "--timeout=1s")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "error: timed out waiting for the condition on pods/p\n")
    assert time.monotonic() - t0 < 15
    assert ctl.ok("wait", "pod", "p", "-n", ns, "--for=jsonpath={.status.phase}=Pending") == \
        "pod/p condition met\n"

    waiter = ctl.popen("wait", "pod/p", "-n", ns, "--for=condition=ready", "--timeout=30s")
    watching(waiter, cluster[0])
    pod = client.get("Pod", "p", ns)
    c = pod.status.conditions.add()
    c.type, c.status = "Ready", "True"
    client.update_status(pod)
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert out == "pod/p condition met\n"
    assert ctl.ok("wait", "pod/p", "-n", ns, "--for=condition=Ready=True") == "pod/p condition met\n"
    r = ctl("wait", "pod/nope", "-n", ns, "--for=condition=Ready")
    assert (r.returncode, r.stderr) == (1, 'Error from server (NotFound): pods "nope" not found\n')


def test_get_watch(cluster, ctl, client, ns):
    create(client, "Pod", pod_doc("first", ns))
    w = ctl.popen("get", "pods", "-n", ns, "-w", "--request-timeout=6s")
    head = [w.stdout.readline(), w.stdout.readline()]     # the table is out: the watch has begun
    create(client, "Pod", pod_doc("second", ns))
    client.delete("Pod", "first", ns)
    out, err = w.communicate(timeout=30)
    assert w.returncode == 0, err
    lines = _lines("".join(head) + out)
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [line.split()[0] for line in lines[1:]] == ["first", "second", "first"]

    w = ctl.popen("get", "pods", "-n", ns, "--watch-only", "--output-watch-events", "-o", "json",
                  "--request-timeout=5s")
    watching(w, cluster[0])
    client.delete("Pod", "second", ns)
    out, _ = w.communicate(timeout=30)
    ev = json.loads(out)
    assert (ev["type"], ev["object"]["metadata"]["name"]) == ("DELETED", "second")


# ---------------------------------------------------------------- other commands
def test_label_annotate_patch(ctl, client, ns):
    create(client, "Pod", pod_doc("p", ns, {"app": "web"}))
    assert ctl.ok("label", "-n", ns, "pod", "p", "tier=fe") == "pod/p labeled\n"
    r = ctl("label", "-n", ns, "pod/p", "app=db")
    assert (r.returncode, r.stderr) == (1, "error: 'app' already has a value (web), and --overwrite is false\n")
    assert ctl.ok("label", "-n", ns, "pod/p", "app=db", "--overwrite") == "pod/p labeled\n"
    assert ctl.ok("label", "-n", ns, "pod", "p", "tier-") == "pod/p unlabeled\n"
    assert dict(client.get("Pod", "p", ns).metadata.labels) == {"app": "db"}
    assert ctl.ok("annotate", "-n", ns, "pod", "p", "note=hello world") == "pod/p annotated\n"
    assert client.get("Pod", "p", ns).metadata.annotations["note"] == "hello world"
    assert ctl.ok("patch", "-n", ns, "pod", "p", "--type", "merge", "-p",
                  '{"spec":{"activeDeadlineSeconds":60}}') == "pod/p patched\n"
    assert client.get("Pod", "p", ns).spec.activeDeadlineSeconds == 60
    assert ctl.ok("patch", "-n", ns, "pod/p", "-p", '{"spec":{"activeDeadlineSeconds":60}}') == \
        "pod/p patched (no change)\n"
    r = ctl("patch", "-n", ns, "pod", "p", "--type", "json", "-p", "[]")
    assert r.returncode == 1 and "merge" in r.stderr


def test_api_resources(ctl):
    lines = _lines(ctl.ok("api-resources"))
    assert lines[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    starts = [lines[0].index(h) for h in ("SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND")]
    rows = [[line[a:b].strip() for a, b in zip([0] + starts, starts + [None])] for line in lines[1:]]
    assert ["pods", "po", "v1", "true", "Pod"] in rows
    assert ["deployments", "deploy", "apps/v1", "true", "Deployment"] in rows
    assert ["namespaces", "ns", "v1", "false", "Namespace"] in rows
    assert ["jobs", "", "batch/v1", "true", "Job"] in rows
    groups = [r[2].rpartition("/")[0] for r in rows]
    assert groups == sorted(groups)          # kubectl's order: by API group
    assert "pods" in ctl.ok("api-resources", "-o", "name").split()
    assert "namespaces" not in ctl.ok("api-resources", "--namespaced=true", "-o", "name").split()


def test_version(ctl):
    lines = _lines(ctl.ok("version"))
    assert lines[0].startswith("Client Version: v") and lines[1].startswith("Server Version: v")


def test_connection_refused_and_bad_token(ctl, cluster):
    r = ctl("get", "pods", "--server", "127.0.0.1:1", "--token", "x")
    assert r.returncode == 1
    assert r.stderr == ("The connection to the server 127.0.0.1:1 was refused - did you specify the right host "
                        "or port?\n")
    r = ctl("get", "pods", "--token", "wrong")
    assert (r.returncode, r.stderr) == (1, "error: You must be logged in to the server (Unauthorized)\n")


def test_usage_errors_exit_1(ctl):
    r = ctl("get")
    assert r.returncode == 1 and r.stderr.startswith("error: You must specify the type of resource to get.")
    r = ctl("get", "pods", "--bogus")
    assert r.returncode == 1 and r.stderr.startswith("error: unrecognized arguments: --bogus")
    r = ctl("apply")
    assert r.returncode == 1 and "-f/--filename" in r.stderr


def test_startup_imports_stay_lazy():
    """`minictl` must start fast: its entry module imports neither gRPC, protobuf nor YAML."""
    code = ("import sys; import minik8s.cli.main; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'google', 'yaml')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- printers, without a server
def test_human_duration():
    from minik8s.cli.printers import human_duration
    cases = {-5: "<invalid>", -1: "0s", 0: "0s", 59: "59s", 119: "119s", 120: "2m", 150: "2m30s",
             599: "9m59s", 600: "10m", 3 * 3600 - 1: "179m", 3 * 3600: "3h", 3 * 3600 + 60: "3h1m",
             8 * 3600: "8h", 47 * 3600: "47h", 48 * 3600: "2d", 50 * 3600: "2d2h", 8 * 86400: "8d",
             400 * 86400: "400d", 2 * 365 * 86400: "2y", 3 * 365 * 86400 + 5 * 86400: "3y5d", 9 * 365 * 86400: "9y"}
    assert {k: human_duration(k) for k in cases} == cases


def test_tabwriter_matches_go():
    from minik8s.cli.printers import tabwrite
    assert tabwrite(["NAME\tREADY\tAGE", "nginx\t1/1\t5m"]) == "NAME    READY   AGE\nnginx   1/1     5m"
    assert tabwrite(["A\tB", "x\ty"]) == "A     B\nx     y"              # minwidth 6
    # describe's blocks: a line without a tab ends the column block
    assert tabwrite(["Name:\tx", "Labels:\ta=b", "Containers:", "  c:\ty"], minwidth=0, padding=2) == \
        "Name:    x\nLabels:  a=b\nContainers:\n  c:  y"


def _pod(status: dict, spec: dict | None = None, meta: dict | None = None):
    from minik8s.api.pb import core_pb2
    return from_dict(core_pb2.Pod, {"metadata": {"name": "p", **(meta or {})},
                                    "spec": spec or {"containers": [{"name": "a"}, {"name": "b"}]},
                                    "status": status})


def test_pod_status_like_kubectl():
    from minik8s.api.printing.pods import pod_status
    running = {"running": {"startedAt": "2024-01-01T00:00:00Z"}}
    assert pod_status(_pod({"phase": "Pending"})) == ("0/2", "Pending", "0")
    assert pod_status(_pod({"phase": "Running", "containerStatuses": [
        {"name": "a", "ready": True, "state": running},
        {"name": "b", "ready": False, "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 3}]})) \
        [:3] == ("1/2", "CrashLoopBackOff", "3")
    assert pod_status(_pod({"phase": "Succeeded", "containerStatuses": [
        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]})) == \
        ("0/2", "Completed", "0")
    assert pod_status(_pod({"phase": "Failed", "containerStatuses": [
        {"name": "a", "state": {"terminated": {"exitCode": 137, "signal": 9}}},
        {"name": "b", "state": {"terminated": {"exitCode": 2}}}]}))[1] == "Signal:9"
    init = {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]}
    assert pod_status(_pod({"phase": "Pending", "initContainerStatuses": [
        {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
        {"name": "i2", "state": {"running": {}}}]}, init))[1] == "Init:1/2"
    assert pod_status(_pod({"phase": "Pending", "initContainerStatuses": [
        {"name": "i1", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}, init))[1] == \
        "Init:ImagePullBackOff"
    assert pod_status(_pod({"phase": "Pending", "initContainerStatuses": [
        {"name": "i1", "state": {"terminated": {"exitCode": 1}}}]}, init))[1] == "Init:ExitCode:1"
    assert pod_status(_pod({"phase": "Running"}, meta={"deletionTimestamp": "2024-01-01T00:00:00Z"}))[1] == \
        "Terminating"
    assert pod_status(_pod({"phase": "Failed", "reason": "Evicted"}))[1] == "Evicted"
    r = pod_status(_pod({"phase": "Running", "containerStatuses": [
        {"name": "a", "ready": True, "state": running, "restartCount": 2,
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": rfc3339(time.time() - 90)}}}]}))
    assert re.fullmatch(r"2 \(9\ds ago\)", r[2]), r


def test_jsonpath_templates():
    from minik8s.cli import jsonpath
    doc = {"kind": "List", "items": [
        {"metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "x"}},
         "spec": {"containers": [{"name": "c1", "image": "i1"}, {"name": "c2", "image": "i2"}]}},
        {"metadata": {"name": "b"}, "spec": {"containers": [{"name": "c1", "image": "i3"}]}}]}
    cases = {
        "{.items[*].metadata.name}": "a b",
        "{.items[-1].metadata.name}": "b",
        "{.items[0:1].metadata.name}": "a",
        "{.items[0].metadata.labels.app\\.kubernetes\\.io/name}": "x",
        "{.items[0].metadata.labels['app.kubernetes.io/name']}": "x",
        '{.items[0].spec.containers[?(@.name=="c2")].image}': "i2",
        "{..image}": "i1 i2 i3",
        '{range .items[*]}{.metadata.name}:{range .spec.containers[*]}{.name},{end}{"\\n"}{end}': "a:c1,c2,\nb:c1,\n",
        "kind={.kind}": "kind=List",
        "{.missing}": "",
        "{.items[1].metadata}": '{"name":"b"}',
    }
    assert {t: jsonpath.compile(t).render(doc) for t in cases} == cases
    with pytest.raises(jsonpath.JSONPathError):
        jsonpath.compile("{range .items[*]}{.x}")
