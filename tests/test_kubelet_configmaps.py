"""ConfigMaps and Secrets in pods, on a real API server and kubelet: env `valueFrom` and `envFrom`,
`configMap`/`secret` volumes with items, modes and subPath, files that follow a changed object (the
atomic writer's `..data` swap) while a subPath mount keeps what it started with, upstream's
CreateContainerConfigError and FailedMount messages for what is missing, and the node authorizer's rule
that a node reads only the ConfigMaps and Secrets its own pods refer to. The Kubernetes docs' game-demo
ConfigMap and Pod and their basic-auth Secret are applied unchanged."""
from __future__ import annotations

import asyncio
import os

import pytest
import yaml

from minik8s.api.codec import from_dict
from minik8s.api.errors import Forbidden
from minik8s.api.kinds import for_api_version
from minik8s.api.pb import core_pb2

from kubelet.paths import pod_dir

from test_kubelet_harness import (cstatus, kubelet, phase_is, pod, running, sh, wait_event, wait_for,
                                  wait_pod)

# https://kubernetes.io/docs/concepts/configuration/configmap/ (unchanged)
GAME_DEMO = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: game-demo
data:
  # property-like keys; each key maps to a simple value
  player_initial_lives: "3"
  ui_properties_file_name: "user-interface.properties"

  # file-like keys
  game.properties: |
    enemy.types=aliens,monsters
    player.maximum-lives=5    
  user-interface.properties: |
    color.good=purple
    color.bad=yellow
    allow.textmode=true    
---
apiVersion: v1
kind: Pod
metadata:
  name: configmap-demo-pod
spec:
  containers:
    - name: demo
      image: alpine
      command: ["sleep", "3600"]
      env:
        # Define the environment variable
        - name: PLAYER_INITIAL_LIVES # Notice that the case is different here
                                     # from the key name in the ConfigMap.
          valueFrom:
            configMapKeyRef:
              name: game-demo           # The ConfigMap this value comes from.
              key: player_initial_lives # The key to fetch.
        - name: UI_PROPERTIES_FILE_NAME
          valueFrom:
            configMapKeyRef:
              name: game-demo
              key: ui_properties_file_name
      volumeMounts:
      - name: config
        mountPath: "/config"
        readOnly: true
  volumes:
  # You set volumes at the Pod level, then mount them into containers inside that Pod
  - name: config
    configMap:
      # Provide the name of the ConfigMap you want to mount.
      name: game-demo
      # An array of keys from the ConfigMap to create as files
      items:
      - key: "game.properties"
        path: "game.properties"
      - key: "user-interface.properties"
        path: "user-interface.properties"
"""

# https://kubernetes.io/docs/concepts/configuration/secret/#basic-authentication-secret (unchanged)
BASIC_AUTH = """
apiVersion: v1
kind: Secret
metadata:
  name: secret-basic-auth
type: kubernetes.io/basic-auth
stringData:
  username: admin # required field for kubernetes.io/basic-auth
  password: t0p-Secret # required field for kubernetes.io/basic-auth
"""


def objects(text: str) -> list:
    return [from_dict(for_api_version(d["apiVersion"], d["kind"]).message, d) for d in yaml.safe_load_all(text)]


def config_map(name: str, data: dict) -> core_pb2.ConfigMap:
    return from_dict(core_pb2.ConfigMap, {"metadata": {"name": name, "namespace": "default"}, "data": data})


async def pod_exec(srv, name: str, command: list[str], container: str | None = None) -> str:
    sc = srv.client("admin")
    r = await asyncio.to_thread(sc.exec, name, command, container=container)
    assert r.exit_code == 0, (command, r.stdout, r.stderr)
    return r.stdout.decode()


def shows(srv, name: str, command: list[str], want: str, container: str | None = None):
    """For wait_for: the command's output inside the pod is `want`."""
    async def check():
        return await pod_exec(srv, name, command, container) == want
    return check


async def update_data(c, name: str, **changes):
    cm = await c.get("ConfigMap", name, "default")
    cm.data.update(changes)
    return await c.update(cm)


# ---------------------------------------------------------------- process runtime
@pytest.mark.root
async def test_the_docs_game_demo_pod_reads_env_and_files_and_sees_the_configmap_change(srv, tmp_path):
    cm, p = objects(GAME_DEMO)
    async with kubelet(srv, str(tmp_path), runtime="process") as k, srv.async_client("admin") as c:
        await c.create(cm)
        await c.create(p)
        await c.bind("default", "configmap-demo-pod", "node-1")
        await wait_pod(c, "configmap-demo-pod", phase_is("Running"))
        name = "configmap-demo-pod"
        assert await pod_exec(srv, name, ["sh", "-c", "echo $PLAYER_INITIAL_LIVES $UI_PROPERTIES_FILE_NAME"]) == \
            "3 user-interface.properties\n"
        assert await pod_exec(srv, name, ["ls", "/config"]) == "game.properties\nuser-interface.properties\n"
        assert await pod_exec(srv, name, ["cat", "/config/game.properties"]) == \
            "enemy.types=aliens,monsters\nplayer.maximum-lives=5    \n"
        # on the node: the atomic writer's layout, files read-only to the container
        uid = (await c.get("Pod", name, "default")).metadata.uid
        vol = os.path.join(pod_dir(k.root, uid), "volumes", "kubernetes.io~configmap", "config")
        assert os.readlink(os.path.join(vol, "game.properties")) == "..data/game.properties"
        assert os.readlink(os.path.join(vol, "..data")).startswith("..")
        assert (await pod_exec(srv, name, ["sh", "-c", "echo x > /config/new 2>/dev/null || echo read-only"])
                ) == "read-only\n"

        await update_data(c, "game-demo", **{"game.properties": "enemy.types=robots\n"})
        await wait_for(shows(srv, name, ["cat", "/config/game.properties"], "enemy.types=robots\n"),
                       what="the mounted file to follow the ConfigMap")
        # env vars are read at container start only, as upstream
        assert await pod_exec(srv, name, ["sh", "-c", "echo $PLAYER_INITIAL_LIVES"]) == "3\n"


@pytest.mark.root
async def test_secret_and_configmap_env_from_items_modes_and_sub_path(srv, tmp_path):
    mnt = str(tmp_path / "mnt")
    async with kubelet(srv, str(tmp_path), runtime="process"), srv.async_client("admin") as c:
        secret, = objects(BASIC_AUTH)
        await c.create(secret)
        await c.create(config_map("app", {"LOG_LEVEL": "debug", "app.conf": "port=80\n"}))
        await c.create(pod("app", [sh("app", "exec sleep 600", envFrom=[
            {"configMapRef": {"name": "app"}},
            {"prefix": "DB_", "secretRef": {"name": "secret-basic-auth"}},
            {"configMapRef": {"name": "absent", "optional": True}}],
            env=[{"name": "LOG_LEVEL", "value": "info"},       # env wins over envFrom
                 {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "secret-basic-auth",
                                                                     "key": "password"}}}],
            volumeMounts=[{"name": "creds", "mountPath": f"{mnt}/creds"},
                          {"name": "conf", "mountPath": f"{mnt}/conf"},
                          {"name": "conf", "mountPath": f"{mnt}/app.conf", "subPath": "app.conf"}])],
            volumes=[{"name": "creds", "secret": {"secretName": "secret-basic-auth", "defaultMode": 0o440,
                                                  "items": [{"key": "username", "path": "user/name", "mode": 0o400},
                                                            {"key": "password", "path": "password"}]}},
                     {"name": "conf", "configMap": {"name": "app"}}]))
        await wait_pod(c, "app", running("app"))
        env = await pod_exec(srv, "app", ["sh", "-c", "echo $LOG_LEVEL $DB_username $DB_password $PASSWORD"])
        assert env == "info admin t0p-Secret t0p-Secret\n"
        assert await pod_exec(srv, "app", ["cat", f"{mnt}/creds/user/name"]) == "admin"
        modes = await pod_exec(srv, "app", ["stat", "-L", "-c", "%a %n", f"{mnt}/creds/user/name",
                                            f"{mnt}/creds/password", f"{mnt}/conf/app.conf"])
        assert modes.split("\n")[:3] == [f"400 {mnt}/creds/user/name", f"440 {mnt}/creds/password",
                                         f"644 {mnt}/conf/app.conf"]
        assert await pod_exec(srv, "app", ["ls", f"{mnt}/conf"]) == "LOG_LEVEL\napp.conf\n"

        await update_data(c, "app", **{"app.conf": "port=8080\n"})
        await wait_for(shows(srv, "app", ["cat", f"{mnt}/conf/app.conf"], "port=8080\n"),
                       what="the whole-volume mount to follow the ConfigMap")
        # a subPath mount is the file the container started with
        assert await pod_exec(srv, "app", ["cat", f"{mnt}/app.conf"]) == "port=80\n"


# ---------------------------------------------------------------- what is missing (fake runtime)
async def test_a_missing_key_or_object_is_create_container_config_error_until_it_appears(srv, tmp_path):
    async with kubelet(srv, str(tmp_path)), srv.async_client("admin") as c:
        await c.create(config_map("settings", {"a": "1"}))
        await c.create(pod("keyed", [{"name": "app", "image": "busybox", "env": [
            {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "b"}}},
            {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "c", "optional": True}}}]}]))
        await c.create(pod("unmade", [{"name": "app", "image": "busybox", "env": [
            {"name": "T", "valueFrom": {"secretKeyRef": {"name": "token", "key": "t"}}}]}]))
        p = await wait_pod(c, "keyed", lambda p: p.status.containerStatuses and
                           cstatus(p, "app").state.waiting.reason == "CreateContainerConfigError")
        assert cstatus(p, "app").state.waiting.message == "couldn't find key b in ConfigMap default/settings"
        await wait_event(c, "keyed", "Failed", "Error: couldn't find key b in ConfigMap default/settings")
        p = await wait_pod(c, "unmade", lambda p: p.status.containerStatuses and
                           cstatus(p, "app").state.waiting.reason == "CreateContainerConfigError")
        assert cstatus(p, "app").state.waiting.message == 'secret "token" not found'

        await update_data(c, "settings", b="2")
        await wait_pod(c, "keyed", running("app"))


async def test_a_missing_volume_source_is_failed_mount_and_optional_is_empty(srv, tmp_path):
    async with kubelet(srv, str(tmp_path)) as k, srv.async_client("admin") as c:
        await c.create(pod("nomount", volumes=[{"name": "config", "configMap": {"name": "absent"}}]))
        await c.create(pod("optional", volumes=[{"name": "s", "secret": {"secretName": "absent", "optional": True}}]))
        await c.create(config_map("partial", {"a": "1"}))
        await c.create(pod("nokey", volumes=[{"name": "config", "configMap": {
            "name": "partial", "items": [{"key": "zzz", "path": "z"}]}}]))
        await wait_event(c, "nomount", "FailedMount",
                         'MountVolume.SetUp failed for volume "config" : configmap "absent" not found')
        await wait_event(c, "nokey", "FailedMount", 'MountVolume.SetUp failed for volume "config" : '
                                                    "configmap references non-existent config key: zzz")
        await wait_pod(c, "optional", phase_is("Running"))
        assert (await c.get("Pod", "nomount", "default")).status.phase == "Pending"


# ---------------------------------------------------------------- node authorization
async def test_a_node_reads_only_the_configmaps_and_secrets_of_its_own_pods(srv, admin):
    secret, = objects(BASIC_AUTH)
    await admin.create(secret)
    await admin.create(config_map("mine", {"a": "1"}))
    await admin.create(config_map("other", {"a": "1"}))
    await admin.create(pod("p", node="node-1", volumes=[{"name": "s", "secret": {"secretName": "secret-basic-auth"}}],
                           containers=[{"name": "app", "image": "busybox", "envFrom": [{"configMapRef": {"name": "mine"}}]}]))
    async with srv.async_client("node-1") as n1, srv.async_client("node-2") as n2:
        assert (await n1.get("Secret", "secret-basic-auth", "default")).data["username"] == b"admin"
        assert (await n1.get("ConfigMap", "mine", "default")).data == {"a": "1"}
        assert len((await n1.list("ConfigMap", "default", field_selector="metadata.name=mine")).items) == 1
        for client, kind, name in ((n1, "ConfigMap", "other"), (n2, "Secret", "secret-basic-auth"),
                                   (n2, "ConfigMap", "mine")):
            with pytest.raises(Forbidden) as e:
                await client.get(kind, name, "default")
            assert "no relationship found between node" in e.value.message
        with pytest.raises(Forbidden):
            await n1.list("Secret", "default")
        assert len((await n1.list("Pod", "default")).items) == 1       # other kinds stay readable


# ---------------------------------------------------------------- docker runtime
@pytest.mark.docker
async def test_a_docker_pod_gets_configmap_env_and_files_that_follow_changes(srv, tmp_path):
    async with kubelet(srv, str(tmp_path), runtime="docker"), srv.async_client("admin") as c:
        secret, = objects(BASIC_AUTH)
        await c.create(secret)
        await c.create(config_map("web", {"greeting": "hello", "index.html": "v1\n"}))
        await c.create(pod("web", [sh("web", "exec sleep 600", env=[
            {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "web", "key": "greeting"}}}],
            volumeMounts=[{"name": "www", "mountPath": "/www"}, {"name": "creds", "mountPath": "/creds"}])],
            volumes=[{"name": "www", "configMap": {"name": "web", "items": [{"key": "index.html", "path": "index.html",
                                                                             "mode": 0o600}]}},
                     {"name": "creds", "secret": {"secretName": "secret-basic-auth"}}]))
        await wait_pod(c, "web", phase_is("Running"), timeout=60)
        assert await pod_exec(srv, "web", ["sh", "-c", "echo $GREETING; cat /www/index.html /creds/username"]) == \
            "hello\nv1\nadmin"
        assert await pod_exec(srv, "web", ["stat", "-L", "-c", "%a", "/www/index.html"]) == "600\n"
        await update_data(c, "web", **{"index.html": "v2\n"})
        await wait_for(shows(srv, "web", ["cat", "/www/index.html"], "v2\n"),
                       what="the docker container's mounted file to follow the ConfigMap")
