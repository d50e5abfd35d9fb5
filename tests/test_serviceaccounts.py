"""ServiceAccounts: the `default` account of every namespace, pods running as an account (a missing
one refused), bound tokens (TokenRequest on gRPC, REST and `minictl create token`) authenticated as
`system:serviceaccount:NS:NAME` while their pod lives and until they expire, the `kubernetes` Service
kept by the API server, and -- on the process runtime (root) -- a pod whose code uses the official
client's in-cluster config listing pods with its account's RBAC rights, and 403 without them."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import uuid

import pytest

from minik8s.api import codec
from minik8s.api.clock import FakeClock
from minik8s.api.errors import Forbidden, NotFound, Unauthenticated
from minik8s.api.pb import authentication_pb2, core_pb2, rbac_pb2
from minik8s.client.client import Client
from minik8s.client.config import ClientConfig
from minik8s.client.home import rest_ca_file
from minik8s.proxy.hostnet import DestinationPolicy, api_server_endpoint
from rest_support import rest_ca, rest_url
from support import running_manager
from support.wait import wait_for, wait_for_sync

from apiserver.serviceaccount_token import ServiceAccountTokens, signing_key
from kubelet.tokens import TokenManager

MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
KUBECTL = shutil.which("kubectl")


def obj(message, doc: dict):
    return codec.from_dict(message, doc)


def account(name: str, namespace: str = "default", **extra):
    return obj(core_pb2.ServiceAccount, {"apiVersion": "v1", "kind": "ServiceAccount",
                                         "metadata": {"name": name, "namespace": namespace}, **extra})


def bare_pod(name: str, account_name: str = "", namespace: str = "default", **spec):
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
           "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}
    if account_name:
        doc["spec"]["serviceAccountName"] = account_name
    return obj(core_pb2.Pod, doc)


def pod_reader_binding(account_name: str, namespace: str = "default"):
    """A Role allowing get/list of pods and a RoleBinding granting it to the account."""
    role = obj(rbac_pb2.Role, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                               "metadata": {"name": "pod-reader", "namespace": namespace},
                               "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]})
    binding = obj(rbac_pb2.RoleBinding, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": f"read-pods-{account_name}", "namespace": namespace},
        "subjects": [{"kind": "ServiceAccount", "name": account_name, "namespace": namespace}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"}})
    return role, binding


def as_token(srv, token: str) -> Client:
    return Client(config=ClientConfig(server=srv.address, token=token))


# ---------------------------------------------------------------- admission
def test_pods_run_as_an_account_and_a_missing_one_is_refused(client):
    p = client.create(bare_pod("before"))
    assert p.spec.serviceAccountName == "default" and not p.spec.volumes     # no default account yet
    client.create(account("default"))
    p = client.create(bare_pod("web"))
    [vol] = p.spec.volumes
    assert vol.name.startswith("kube-api-access-") and len(vol.name) == len("kube-api-access-") + 5
    token, ca, ns = vol.projected.sources
    assert (token.serviceAccountToken.path, token.serviceAccountToken.expirationSeconds) == ("token", 3607)
    assert (ca.configMap.name, [(i.key, i.path) for i in ca.configMap.items]) == ("kube-root-ca.crt",
                                                                                  [("ca.crt", "ca.crt")])
    assert [(i.path, i.fieldRef.fieldPath) for i in ns.downwardAPI.items] == [("namespace", "metadata.namespace")]
    [mount] = p.spec.containers[0].volumeMounts
    assert (mount.name, mount.mountPath, mount.readOnly) == (vol.name, MOUNT, True)

    assert not client.create(bare_pod("quiet", automountServiceAccountToken=False)).spec.volumes
    client.create(account("no-mount", automountServiceAccountToken=False))
    assert not client.create(bare_pod("quiet-account", "no-mount")).spec.volumes

    with pytest.raises(Forbidden) as e:
        client.create(bare_pod("lost", "ghost"))
    assert str(e.value) == ('pods "lost" is forbidden: error looking up service account default/ghost: '
                            'serviceaccount "ghost" not found')
    assert e.value.causes == [("spec.serviceAccountName", 'serviceaccount "ghost" not found')]
    with pytest.raises(NotFound):
        client.get("Pod", "lost")


# ---------------------------------------------------------------- tokens
def test_a_bound_token_is_the_account_with_its_rbac_rights_until_its_pod_goes(srv, client):
    client.create(account("bot"))
    pod = client.create(bare_pod("job-1", "bot"))
    answer = client.create_token("default", "bot", bound=("Pod", "job-1", pod.metadata.uid))
    assert answer.spec.expirationSeconds == 3600 and answer.status.expirationTimestamp
    token = answer.status.token

    with as_token(srv, token) as bot:
        me = bot.version()
        assert me.user == "system:serviceaccount:default:bot"
        assert sorted(me.groups) == ["system:authenticated", "system:serviceaccounts",
                                     "system:serviceaccounts:default"]
        with pytest.raises(Forbidden) as e:
            bot.list("Pod", "default")
        assert str(e.value) == ('pods is forbidden: User "system:serviceaccount:default:bot" cannot list '
                                'resource "pods" in API group "" in the namespace "default"')
        for o in pod_reader_binding("bot"):
            client.create(o)
        wait_for_sync(lambda: _can_list(bot), what="the RoleBinding to take effect")
        assert [p.metadata.name for p in bot.list("Pod", "default").items] == ["job-1"]

        client.delete("Pod", "job-1", "default", grace_period=0)
        wait_for_sync(lambda: _gone(client, "job-1"), what="the pod to be deleted")
        with pytest.raises(Unauthenticated):
            bot.list("Pod", "default")


def _can_list(c) -> bool:
    try:
        c.list("Pod", "default")
        return True
    except Forbidden:
        return False


def _gone(client, name: str) -> bool:
    try:
        client.get("Pod", name)
        return False
    except NotFound:
        return True


def test_token_requests_are_checked(srv, client):
    client.create(account("bot"))
    with pytest.raises(NotFound, match='serviceaccounts "nobody" not found'):
        client.create_token("default", "nobody")
    with pytest.raises(Exception, match="spec.expirationSeconds: Invalid value: 60: may not specify a duration "
                                        "less than 10 minutes"):
        client.create_token("default", "bot", 60)
    other = client.create(account("other"))
    pod = client.create(bare_pod("runs-as-other", "other"))
    with pytest.raises(Exception, match='cannot bind token for serviceaccount "bot" to pod running with different'):
        client.create_token("default", "bot", bound=("Pod", "runs-as-other", pod.metadata.uid))
    assert other.metadata.uid
    # a node may ask only for tokens of pods bound to it
    with srv.client("node-1") as node, pytest.raises(Forbidden):
        node.create_token("default", "other", bound=("Pod", "runs-as-other", pod.metadata.uid))


def test_token_over_rest_and_minictl_create_token(srv, client):
    import ssl
    import json
    import urllib.request
    client.create(account("ci"))
    req = urllib.request.Request(
        f"{rest_url(srv)}/api/v1/namespaces/default/serviceaccounts/ci/token", method="POST",
        data=json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                         "spec": {"expirationSeconds": 1200}}).encode(),
        headers={"Authorization": f"Bearer {srv.tokens['admin']}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ssl.create_default_context(cafile=rest_ca(srv))) as resp:
        assert resp.status == 201
        body = json.load(resp)
    assert body["kind"] == "TokenRequest" and body["spec"]["expirationSeconds"] == 1200
    with as_token(srv, body["status"]["token"]) as ci:
        assert ci.version().user == "system:serviceaccount:default:ci"

    r = _minictl(srv, "create", "token", "ci", "-n", "default", "--duration", "1h")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert token.count(".") == 2 and "\n" not in token
    with as_token(srv, token) as ci:
        assert ci.version().user == "system:serviceaccount:default:ci"
    if KUBECTL:                 # kubectl posts the TokenRequest as Kubernetes protobuf
        r = subprocess.run([KUBECTL, "--server", rest_url(srv), "--certificate-authority", rest_ca(srv),
                            "--token", srv.tokens["admin"], "create", "token", "ci", "--duration", "20m"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        with as_token(srv, r.stdout.strip()) as ci:
            assert ci.version().user == "system:serviceaccount:default:ci"
    r = _minictl(srv, "create", "token", "ghost")
    assert r.returncode == 1
    assert r.stderr.strip() == 'error: failed to create token: serviceaccounts "ghost" not found'
    r = _minictl(srv, "create", "token", "ci", "--duration", "1m")
    assert r.returncode == 1 and "spec.expirationSeconds: Invalid value: 60" in r.stderr


def _minictl(srv, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "minik8s.cli.main", "--server", srv.address, "--token",
                           srv.tokens["admin"], *args], capture_output=True, text=True, timeout=60)


class _Record:
    def __init__(self, o):
        self.o = o

    def decode(self):
        return self.o


class _Objects:
    """The registry's `get` over a dict: what the token authenticator reads."""

    def __init__(self):
        self.items = {}

    def put(self, kind_info, o):
        self.items[(kind_info.kind, o.metadata.namespace, o.metadata.name)] = _Record(o)

    def get(self, info, namespace, name):
        rec = self.items.get((info.kind, namespace, name))
        if rec is None:
            raise NotFound(f'{info.plural} "{name}" not found')
        return rec


def test_tokens_expire_and_only_the_clusters_own_are_accepted(tmp_path):
    from minik8s.api import kinds
    from apiserver.auth import Identity
    clock = FakeClock()
    store = _Objects()
    sa = account("bot")
    sa.metadata.uid = "sa-uid"
    store.put(kinds.SERVICE_ACCOUNT, sa)
    tokens = ServiceAccountTokens(store, signing_key(str(tmp_path / "pki")), clock)
    assert oct(os.stat(tmp_path / "pki" / "service-account.key").st_mode & 0o777) == "0o600"
    req = authentication_pb2.TokenRequest()
    req.spec.expirationSeconds = 600
    token = tokens.create_token(Identity("admin"), "default", "bot", req).status.token
    assert tokens.authenticate(token).user == "system:serviceaccount:default:bot"
    clock.advance(599)
    assert tokens.authenticate(token) is not None
    clock.advance(2)
    assert tokens.authenticate(token) is None           # expired

    other = ServiceAccountTokens(store, signing_key(str(tmp_path / "other")), clock)
    assert tokens.authenticate(other.create_token(Identity("admin"), "default", "bot", req).status.token) is None
    req.spec.audiences.append("vault")
    assert tokens.authenticate(tokens.create_token(Identity("admin"), "default", "bot", req).status.token) is None
    fresh = tokens.create_token(Identity("admin"), "default", "bot", authentication_pb2.TokenRequest()).status.token
    sa.metadata.uid = "recreated"                       # the account deleted and made again
    assert tokens.authenticate(fresh) is None


async def test_the_kubelet_refreshes_a_token_past_80_percent_of_its_life():
    clock = FakeClock()
    issued = []

    class Server:
        async def create_token(self, namespace, name, seconds, audiences, bound):
            issued.append((namespace, name, seconds, bound))
            answer = authentication_pb2.TokenRequest()
            answer.status.token = f"t{len(issued)}"
            answer.status.expirationTimestamp = _rfc3339(clock.now() + seconds)
            return answer

    pod = bare_pod("p", "bot")
    pod.metadata.uid = "u1"
    projection = core_pb2.ServiceAccountTokenProjection(path="token", expirationSeconds=1000)
    manager = TokenManager(clock)
    assert await manager.token(Server(), pod, projection) == "t1"
    assert issued == [("default", "bot", 1000, ("Pod", "p", "u1"))]
    clock.advance(790)
    assert await manager.token(Server(), pod, projection) == "t1"
    clock.advance(20)
    assert await manager.token(Server(), pod, projection) == "t2"


def _rfc3339(ts: float) -> str:
    from minik8s.api.clock import rfc3339
    return rfc3339(ts)


# ---------------------------------------------------------------- the kubernetes Service, controllers
def test_the_kubernetes_service_points_at_the_rest_api_and_comes_back(srv, client):
    rest_port = int(rest_url(srv).rsplit(":", 1)[1])
    svc = wait_for_sync(lambda: _get(client, "Service", "kubernetes"), what="the kubernetes Service")
    assert svc.spec.clusterIP == "10.96.0.1"
    assert [(p.name, p.port, p.targetPort.number_value) for p in svc.spec.ports] == [("https", 443, rest_port)]
    assert dict(svc.metadata.labels) == {"component": "apiserver", "provider": "kubernetes"}
    ep = wait_for_sync(lambda: _get(client, "Endpoints", "kubernetes"), what="its Endpoints")
    assert [[a.ip for a in s.addresses] for s in ep.subsets] == [["127.0.0.1"]]
    assert [(p.name, p.port) for p in ep.subsets[0].ports] == [("https", rest_port)]
    client.delete("Endpoints", "kubernetes", "default")
    wait_for_sync(lambda: _get(client, "Endpoints", "kubernetes"), timeout=30, what="the Endpoints to be put back")
    # loopback is the API server's own endpoint only
    bad = obj(core_pb2.Endpoints, {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "x"},
                                   "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 80}]}]})
    with pytest.raises(Exception, match="may not be in the loopback range"):
        client.create(bad)


def _get(client, kind: str, name: str, namespace: str = "default"):
    try:
        return client.get(kind, name, namespace)
    except NotFound:
        return None


def test_the_proxy_may_reach_the_api_server_and_no_other_host_address(tmp_path):
    os.makedirs(tmp_path / "run")
    (tmp_path / "run" / "rest.port").write_text("6444")
    policy = DestinationPolicy(lambda: ["10.244.0.0/24"], FakeClock(), route_reader=lambda: [],
                               api_server=api_server_endpoint(str(tmp_path), "localhost:6443"))
    assert policy.allowed("127.0.0.1", 6444)
    assert not policy.allowed("127.0.0.1", 6443)       # the gRPC port, or anything else on the host
    assert not policy.allowed("127.0.0.1", 22)
    assert not policy.allowed("127.0.0.1")


async def test_every_namespace_gets_a_default_account_and_the_root_ca(srv):
    ca_file = rest_ca_file(srv.home)
    async with srv.async_client("controller-manager") as c, srv.async_client() as admin, \
            running_manager(c, "serviceaccount,root-ca-cert-publisher", settings={"root-ca-file": ca_file}):
        ns = core_pb2.Namespace(apiVersion="v1", kind="Namespace")
        ns.metadata.name = "team-a"
        await admin.create(ns)
        for namespace in ("default", "kube-system", "team-a"):
            await wait_for(lambda: _aget(admin, "ServiceAccount", "default", namespace), what="the default account")
            cm = await wait_for(lambda: _aget(admin, "ConfigMap", "kube-root-ca.crt", namespace), what="the CA")
            assert cm.data["ca.crt"] == open(ca_file).read()
        await admin.delete("ServiceAccount", "default", "team-a")
        await wait_for(lambda: _aget(admin, "ServiceAccount", "default", "team-a"), what="the account back")


async def _aget(c, kind, name, namespace):
    try:
        return await c.get(kind, name, namespace)
    except NotFound:
        return None


# ---------------------------------------------------------------- in a pod (process runtime)
IN_CLUSTER = r"""
import os, time
from kubernetes import client, config
config.load_incluster_config()
print("HOST", os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"], flush=True)
ns = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
deadline = time.time() + 60
while True:
    try:
        pods = client.CoreV1Api().list_namespaced_pod(ns)
        print("LISTED", ",".join(sorted(p.metadata.name for p in pods.items)), flush=True)
        break
    except client.exceptions.ApiException as e:
        print("STATUS", e.status, e.reason, flush=True)
        break
    except Exception as e:                  # the proxy may not route the Service yet
        if time.time() > deadline:
            print("FAILED", type(e).__name__, e, flush=True)
            break
        time.sleep(0.3)
time.sleep(600)
"""

# what load_incluster_config does, with the standard library alone (the docker runtime's python image
# has no kubernetes package): the Service's variables, the mounted token and CA, a GET of the pods
STDLIB_IN_CLUSTER = r"""
import json, os, ssl, time, urllib.error, urllib.request
d = "/var/run/secrets/kubernetes.io/serviceaccount"
host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
print("HOST", host, port, flush=True)
ns = open(d + "/namespace").read()
ctx = ssl.create_default_context(cafile=d + "/ca.crt")
deadline = time.time() + 60
while True:
    req = urllib.request.Request(f"https://{host}:{port}/api/v1/namespaces/{ns}/pods",
                                 headers={"Authorization": "Bearer " + open(d + "/token").read()})
    try:
        with urllib.request.urlopen(req, context=ctx) as r:
            names = [p["metadata"]["name"] for p in json.load(r)["items"]]
        print("LISTED", ",".join(sorted(names)), flush=True)
        break
    except urllib.error.HTTPError as e:
        print("STATUS", e.code, e.reason, flush=True)
        break
    except Exception as e:
        if time.time() > deadline:
            print("FAILED", type(e).__name__, e, flush=True)
            break
        time.sleep(0.3)
time.sleep(600)
"""

_SERVICE_RANGE = f"10.100.{random.randint(1, 250)}.0/24"


@pytest.mark.root
@pytest.mark.apiserver_args("--service-cluster-ip-range", _SERVICE_RANGE)
async def test_in_cluster_client_lists_pods_with_its_accounts_rights(srv):
    """Process runtime: the pod runs this interpreter, with the official client."""
    await _in_cluster(srv, srv.home, "process", {"image": "python", "command": [sys.executable, "-c", IN_CLUSTER]})


@pytest.mark.docker
@pytest.mark.root
@pytest.mark.apiserver_args("--service-cluster-ip-range", _SERVICE_RANGE)
async def test_in_cluster_requests_from_a_docker_pod(srv, tmp_path):
    """Docker runtime: the volume bound at the same path, the Service reached from a container."""
    await _in_cluster(srv, str(tmp_path), "docker", {"image": "minik8s/python:3.11", "imagePullPolicy": "IfNotPresent",
                                                     "command": ["python3", "-c", STDLIB_IN_CLUSTER]})


async def _in_cluster(srv, home: str, runtime: str, container: dict) -> None:
    """Two pods run `container`: `reader`, whose account may list pods, and `stranger`, whose account
    may not; each prints the Service address it found and what the API answered. Then the reader's
    token stops working once the reader is deleted."""
    from kubelet.paths import pod_dir
    from minik8s.proxy.proxier import ServiceProxy
    from test_kubelet_harness import kubelet, phase_is, pod, wait_pod
    from test_kubelet_process import alogs

    service_ip = _SERVICE_RANGE.rsplit(".", 1)[0] + ".1"
    async with srv.async_client() as admin, srv.async_client("controller-manager") as cm, \
            running_manager(cm, "serviceaccount,root-ca-cert-publisher",
                            settings={"root-ca-file": rest_ca_file(srv.home)}), \
            kubelet(srv, home, runtime=runtime) as k:
        proxy = ServiceProxy(srv.async_client("node-1"), "node-1", iface=f"mk8s-s{uuid.uuid4().hex[:8]}",
                             api_server=api_server_endpoint(srv.home, srv.address))
        await proxy.start()
        try:
            for name in ("reader", "stranger"):
                await admin.create(account(name))
            for o in pod_reader_binding("reader"):
                await admin.create(o)
            await wait_for(lambda: _aget(admin, "ConfigMap", "kube-root-ca.crt", "default"), what="the CA")
            for name in ("reader", "stranger"):
                await admin.create(pod(name, [{"name": "app", **container}], serviceAccountName=name))
            for name in ("reader", "stranger"):
                await wait_pod(admin, name, phase_is("Running"), timeout=90)
            for name in ("reader", "stranger"):
                await wait_for(lambda: _lines(alogs(srv, name), 2), 90, what=f"the {name}'s answer")
            host = f"HOST {service_ip} 443"
            for name, answer in (("reader", "LISTED reader,stranger"), ("stranger", "STATUS 403 Forbidden")):
                log = (await alogs(srv, name)).decode()
                assert log.splitlines()[:2] == [host, answer], log

            # the mounted files, and the token dying with its pod
            reader = await admin.get("Pod", "reader")
            vol = next(v.name for v in reader.spec.volumes if v.name.startswith("kube-api-access-"))
            files = os.path.join(pod_dir(k.root, reader.metadata.uid), "volumes", "kubernetes.io~projected", vol)
            assert open(os.path.join(files, "namespace")).read() == "default"
            assert open(os.path.join(files, "ca.crt")).read() == open(rest_ca_file(srv.home)).read()
            token = open(os.path.join(files, "token")).read()
            with as_token(srv, token) as pod_client:
                assert pod_client.version().user == "system:serviceaccount:default:reader"
                await admin.delete("Pod", "reader", grace_period=0)
                await wait_for(lambda: _agone(admin, "reader"), 60, what="the pod to go")
                with pytest.raises(Unauthenticated):
                    pod_client.version()
        finally:
            await proxy.close()
            await proxy.client.close()


async def _lines(log, n: int) -> bool:
    return len((await log).splitlines()) >= n


async def _agone(c, name) -> bool:
    return await _aget(c, "Pod", name, "default") is None
