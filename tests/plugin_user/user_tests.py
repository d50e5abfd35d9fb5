"""A user's test file: it uses only the minik8s pytest plugin's fixtures, as a project of its own would
(tests/test_pytest_plugin.py copies it into a fresh directory beside a pytest.ini of its own and runs
pytest on it, alone and under pytest-xdist). Its name keeps our own suite from collecting it."""
import pytest
# imported before any fixture runs, as code under test would: the kubeconfig fixture must still win
from kubernetes import client, config

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
"""


def test_apply_then_wait_for_available(apply, wait_for, minik8s_namespace):
    [deployment] = apply(DEPLOYMENT)
    assert deployment.metadata.namespace == minik8s_namespace
    ready = wait_for(deployment, "Available")
    assert ready.status.readyReplicas == 2
    pod_count = wait_for("deployment/web", lambda d: d.status.replicas == 2)
    assert pod_count.metadata.name == "web"


def test_apply_again_changes_what_the_manifest_names(apply, wait_for, tmp_path):
    path = tmp_path / "web.yaml"
    path.write_text(DEPLOYMENT)
    apply(path)
    path.write_text(DEPLOYMENT.replace("replicas: 2", "replicas: 3"))
    [deployment] = apply(str(path))
    assert deployment.spec.replicas == 3
    wait_for(deployment, "jsonpath={.status.readyReplicas}=3")


def test_official_client_through_kubeconfig(kubeconfig, minik8s_namespace):
    config.load_kube_config()          # $KUBECONFIG, as code under test would read it
    _, context = config.list_kube_config_contexts()
    namespace = context["context"]["namespace"]
    assert namespace == minik8s_namespace
    core = client.CoreV1Api()
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "settings"}, "data": {"mode": "fast"}})
    assert core.read_namespaced_config_map("settings", namespace).data == {"mode": "fast"}


def _config_map(name, namespace):
    from minik8s.api.codec import from_dict
    from minik8s.api.pb import core_pb2
    return from_dict(core_pb2.ConfigMap, {"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": name, "namespace": namespace}})


def test_each_test_has_a_fresh_namespace(minik8s_client, minik8s_namespace):
    # the same name the test above used: it would exist already were the namespace shared
    minik8s_client.create(_config_map("settings", minik8s_namespace))
    # the first tests made Deployments named web, each in a namespace of its own
    assert list(minik8s_client.list("Deployment", minik8s_namespace)) == []


@pytest.mark.asyncio
async def test_asyncio_client(minik8s_aclient, minik8s_namespace):
    created = await minik8s_aclient.create(_config_map("async", minik8s_namespace))
    got = await minik8s_aclient.get("ConfigMap", "async", minik8s_namespace)
    assert got.metadata.uid == created.metadata.uid


@pytest.mark.minik8s(nodes=2)
def test_marker_sets_the_node_count(minik8s_client):
    nodes = [n.metadata.name for n in minik8s_client.list("Node")]
    assert sorted(nodes) == ["node-1", "node-2"]
