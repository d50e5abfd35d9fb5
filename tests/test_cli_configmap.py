"""`minictl create configmap` and `create secret generic` from literals, files, directories and env files
with kubectl's output and errors, `--dry-run=client -o yaml`, the `get` columns, `describe` (a Secret's
values never printed), and on a `minictl up` cluster: a pod using a Secret runs while the Secret's value
shows in neither `describe` nor any component's log."""
from __future__ import annotations

import os
import re

import pytest
import yaml

from minik8s.api.errors import NotFound
from minik8s.client.client import Client
from minik8s.client.config import ClientConfig
from support import wait_for_sync
from test_cli import Ctl
from test_up import free_port

PASSWORD = "t0p-Secret-1b7f"


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


def fail(ctl, *args) -> str:
    r = ctl(*args)
    assert r.returncode == 1 and r.stdout == "", (r.stdout, r.stderr)
    return r.stderr


def test_create_configmap_from_literals_files_a_directory_and_an_env_file(ctl, client, tmp_path):
    (tmp_path / "game.properties").write_text("lives=3\n")
    (tmp_path / "logo.bin").write_bytes(b"\x89PNG\x00\xff")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "a.conf").write_text("a\n")
    (conf / "b.conf").write_text("b\n")
    (conf / "bad name").write_text("skipped: not a valid key\n")
    (tmp_path / "app.env").write_text("\ufeff# settings\nLOG_LEVEL=debug\n\n  GREETING=hello world\n")

    assert ctl.ok("create", "configmap", "game", "--from-literal=mode=easy", "--from-literal=url=a=b",
                  f"--from-file={tmp_path}/game.properties", f"--from-file=logo={tmp_path}/logo.bin") == \
        "configmap/game created\n"
    cm = client.get("ConfigMap", "game", "default")
    assert dict(cm.data) == {"mode": "easy", "url": "a=b", "game.properties": "lives=3\n"}
    assert dict(cm.binaryData) == {"logo": b"\x89PNG\x00\xff"}

    assert ctl.ok("create", "cm", "conf", f"--from-file={conf}") == "configmap/conf created\n"
    assert dict(client.get("ConfigMap", "conf", "default").data) == {"a.conf": "a\n", "b.conf": "b\n"}

    assert ctl.ok("create", "configmap", "env", f"--from-env-file={tmp_path}/app.env") == "configmap/env created\n"
    assert dict(client.get("ConfigMap", "env", "default").data) == {"LOG_LEVEL": "debug", "GREETING": "hello world"}

    out = ctl.ok("get", "configmaps")
    assert re.search(r"^NAME\s+DATA\s+AGE$", out, re.M) and re.search(r"^game\s+4\s+\S+$", out, re.M)
    described = ctl.ok("describe", "configmap", "game")
    assert "Data\n====\ngame.properties:\n----\nlives=3\n" in described
    assert "BinaryData\n====\nlogo: 6 bytes\n" in described


def test_dry_run_client_prints_the_object_and_stores_nothing(ctl, client):
    out = ctl.ok("create", "secret", "generic", "dry", "--from-literal=password=s3cret", "--dry-run=client",
                 "-o", "yaml")
    assert yaml.safe_load(out) == {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "dry"},
                                   "data": {"password": "czNjcmV0"}}
    assert ctl.ok("create", "configmap", "dry", "--from-literal=k=v", "--dry-run=client") == \
        "configmap/dry created (dry run)\n"
    for kind in ("Secret", "ConfigMap"):
        with pytest.raises(NotFound):
            client.get(kind, "dry", "default")


def test_create_secret_generic_get_and_describe_show_no_value(ctl, client):
    assert ctl.ok("create", "secret", "generic", "db", f"--from-literal=password={PASSWORD}",
                  "--from-literal=username=admin", "--type=kubernetes.io/basic-auth") == "secret/db created\n"
    s = client.get("Secret", "db", "default")
    assert dict(s.data) == {"password": PASSWORD.encode(), "username": b"admin"}
    assert s.type == "kubernetes.io/basic-auth"
    out = ctl.ok("get", "secrets")
    assert re.search(r"^NAME\s+TYPE\s+DATA\s+AGE$", out, re.M)
    assert re.search(r"^db\s+kubernetes.io/basic-auth\s+2\s+\S+$", out, re.M)
    described = ctl.ok("describe", "secret", "db")
    assert re.search(r"^Type:\s+kubernetes.io/basic-auth$", described, re.M)
    assert re.search(rf"^password:\s+{len(PASSWORD)} bytes$", described, re.M)
    assert re.search(r"^username:\s+5 bytes$", described, re.M)
    assert PASSWORD not in described and "admin" not in described
    assert ctl.ok("create", "secret", "generic", "plain", "--from-literal=k=v") == "secret/plain created\n"
    assert client.get("Secret", "plain", "default").type == "Opaque"


@pytest.mark.parametrize("args,error", [
    (["configmap", "x", "--from-literal=novalue"], "error: invalid literal source novalue, expected key=value"),
    (["configmap", "x", "--from-literal=a=1", "--from-literal=a=2"],
     'error: cannot add key "a", another key by that name already exists in Data for ConfigMap "x"'),
    (["configmap", "x", "--from-literal=bad key=1"],
     "error: \"bad key\" is not a valid key name for a ConfigMap: a valid config key must consist of "
     "alphanumeric characters, '-', '_' or '.'"),
    (["configmap", "x", "--from-env-file=/dev/null", "--from-literal=a=1"],
     "error: from-env-file cannot be combined with from-file or from-literal"),
    (["configmap", "x", "--from-file=/no/such/file"], "error: error reading /no/such/file: no such file or directory"),
    (["secret", "generic", "x", "--type=kubernetes.io/tls", "--from-literal=tls.crt=c"],
     'The Secret "x" is invalid: data[tls.key]: Required value'),
])
def test_bad_sources_exit_1_and_store_nothing(ctl, client, args, error):
    assert error in fail(ctl, "create", *args)
    for kind in ("ConfigMap", "Secret"):
        with pytest.raises(NotFound):
            client.get(kind, "x", "default")


# ---------------------------------------------------------------- a whole cluster
SECRET_AND_POD = f"""
apiVersion: v1
kind: Secret
metadata:
  name: secret-basic-auth
type: kubernetes.io/basic-auth
stringData:
  username: admin
  password: {PASSWORD}
---
apiVersion: v1
kind: Pod
metadata:
  name: uses-secret
spec:
  containers:
  - name: app
    image: busybox
    command: ["sleep", "600"]
    env:
    - name: PASSWORD
      valueFrom:
        secretKeyRef: {{name: secret-basic-auth, key: password}}
    volumeMounts:
    - {{name: creds, mountPath: /tmp/uses-secret-creds}}
  volumes:
  - name: creds
    secret: {{secretName: secret-basic-auth}}
"""


@pytest.mark.root
def test_a_secret_never_shows_in_describe_or_in_the_component_logs(tmp_path):
    home = str(tmp_path / "home")
    up = Ctl(home)
    r = up("up", "--runtime", "process", "--nodes", "1", "--port", str(free_port()), timeout=180)
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        manifest = tmp_path / "secret.yaml"
        manifest.write_text(SECRET_AND_POD)
        up.ok("apply", "-f", str(manifest))
        with Client(config=ClientConfig.load(home), timeout=5.0) as c:
            def running():
                statuses = c.get("Pod", "uses-secret", "default").status.containerStatuses
                return statuses and statuses[0].state.HasField("running")
            wait_for_sync(running, 60, what="the pod reading the secret running")
        same = up.ok("exec", "uses-secret", "--", "sh", "-c",
                     'test "$PASSWORD" = "$(cat /tmp/uses-secret-creds/password)" && echo same')
        assert same == "same\n"
        # a bad write naming the value: the error shown and logged must not echo it
        bad = tmp_path / "bad.yaml"
        bad.write_text(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: bad}}\ntype: kubernetes.io/dockerconfigjson\n"
                       f"stringData: {{.dockerconfigjson: '{{{PASSWORD}'}}\n")
        err = up("apply", "-f", str(bad))
        assert err.returncode == 1 and "data[.dockerconfigjson]" in err.stderr and PASSWORD not in err.stderr
        for args in (("describe", "secret", "secret-basic-auth"), ("describe", "pod", "uses-secret"),
                     ("get", "secrets")):
            assert PASSWORD not in up.ok(*args)
        logs = os.path.join(home, "logs")
        names = [n for n in os.listdir(logs) if os.path.isfile(os.path.join(logs, n))]
        assert any(n.startswith("apiserver") for n in names), names
        for name in names:
            with open(os.path.join(logs, name), errors="replace") as f:
                assert PASSWORD not in f.read(), name
    finally:
        up("down", timeout=120)
