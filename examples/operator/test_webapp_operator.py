"""The webapp operator's tests, against a real minik8s cluster through the minik8s pytest plugin:
`kubeconfig` points the official client at the cluster, in a namespace of the test's own; `apply` puts
in the ConfigMap a user would write; `wait_for` waits on what the operator must do."""
import threading

import pytest
from kubernetes import client, config

import webapp_operator

SHOP = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop
  labels:
    example.com/webapp: "true"
data:
  image: nginx:1.27
  replicas: "2"
"""


@pytest.fixture
def operator(kubeconfig, minik8s_namespace):
    """The operator, running in a thread on the test's namespace as `main()` would run it."""
    config.load_kube_config()           # reads $KUBECONFIG, which the kubeconfig fixture set
    stop, errors = threading.Event(), []

    def run():
        try:
            webapp_operator.run(minik8s_namespace, stop)
        except Exception as e:          # shown by the test, not lost with the thread
            errors.append(e)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(webapp_operator.WATCH_SECONDS + 10)
    assert not errors, f"the operator failed: {errors[0]!r}"


def test_a_labelled_configmap_gets_its_deployment(operator, apply, wait_for):
    [shop] = apply(SHOP)
    deployment = wait_for("deployment/shop", "Available")
    assert deployment.spec.replicas == 2
    assert deployment.spec.template.spec.containers[0].image == "nginx:1.27"
    assert deployment.metadata.ownerReferences[0].uid == shop.metadata.uid


def test_the_deployment_follows_its_configmap_and_goes_with_it(operator, apply, wait_for, minik8s_namespace):
    apply(SHOP)
    wait_for("deployment/shop", "Available")
    apply(SHOP.replace('replicas: "2"', 'replicas: "3"'))
    wait_for("deployment/shop", "jsonpath={.status.readyReplicas}=3")
    client.CoreV1Api().delete_namespaced_config_map("shop", minik8s_namespace)
    wait_for("deployment/shop", "delete")
