"""A small operator written with the official Kubernetes Python client (`pip install kubernetes`): each
ConfigMap labelled `example.com/webapp=true` gets a Deployment of the same name running its
`data.image` with `data.replicas` replicas. The Deployment names the ConfigMap as its owner, so the
garbage collector deletes it with the ConfigMap.

Level-triggered, as controllers are: every (re)start lists the ConfigMaps and reconciles them all, then
watches from the list's resourceVersion and reconciles each one that changes.

    python webapp_operator.py      # the current context of $KUBECONFIG (or ~/.kube/config), its namespace
"""
import threading

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

LABEL_SELECTOR = "example.com/webapp=true"
WATCH_SECONDS = 2       # how long one watch runs before the loop looks at `stop` and watches again


def desired_deployment(config_map) -> dict:
    """The Deployment a ConfigMap asks for."""
    name, labels = config_map.metadata.name, {"app": config_map.metadata.name}
    owner = {"apiVersion": "v1", "kind": "ConfigMap", "name": name, "uid": config_map.metadata.uid,
             "controller": True, "blockOwnerDeletion": True}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": labels, "ownerReferences": [owner]},
            "spec": {"replicas": int(config_map.data.get("replicas", "1")),
                     "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": config_map.data["image"]}]}}}}


def reconcile(apps: client.AppsV1Api, config_map) -> None:
    """Create the Deployment, or bring its spec to what the ConfigMap says: running it twice is harmless."""
    body = desired_deployment(config_map)
    try:
        apps.create_namespaced_deployment(config_map.metadata.namespace, body)
    except ApiException as e:
        if e.status != 409:     # 409 Conflict: it exists already
            raise
        apps.patch_namespaced_deployment(config_map.metadata.name, config_map.metadata.namespace,
                                         {"spec": body["spec"]})


def run(namespace: str, stop: threading.Event) -> None:
    """Reconcile the namespace's labelled ConfigMaps until `stop` is set."""
    core, apps = client.CoreV1Api(), client.AppsV1Api()
    while not stop.is_set():
        listing = core.list_namespaced_config_map(namespace, label_selector=LABEL_SELECTOR)
        for config_map in listing.items:
            reconcile(apps, config_map)
        stream = watch.Watch().stream(core.list_namespaced_config_map, namespace, label_selector=LABEL_SELECTOR,
                                      resource_version=listing.metadata.resource_version,
                                      timeout_seconds=WATCH_SECONDS)
        for event in stream:
            if event["type"] in ("ADDED", "MODIFIED"):
                reconcile(apps, event["object"])


def main() -> None:
    config.load_kube_config()
    _, context = config.list_kube_config_contexts()
    run(context["context"].get("namespace", "default"), threading.Event())


if __name__ == "__main__":
    main()
