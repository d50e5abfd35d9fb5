"""The controller manager's controllers (upstream kube-controller-manager): each one a file with a
class that watches through shared informers, queues keys and reconciles one key at a time in its
`sync_*(key)` coroutine, talking to the cluster only through the API server.

`CONTROLLERS` is the registry `python -m minik8s.controllers` starts from: controller name ->
"module:Class". To add a controller, write its module (see `base.Controller`) and append one line:

    CONTROLLERS["endpoints"] = "minik8s.controllers.endpoints:EndpointsController"

Classes are imported only when their controller is enabled, so a missing or broken module affects
only its own controller."""
from __future__ import annotations

CONTROLLERS: dict[str, str] = {
    "replicaset": "minik8s.controllers.replicaset:ReplicaSetController",
    "deployment": "minik8s.controllers.deployment:DeploymentController",
    "garbagecollector": "minik8s.controllers.garbagecollector:GarbageCollector",
}

# ---- controllers registered by other modules: one line each, below ----
CONTROLLERS["endpoints"] = "minik8s.controllers.endpoints:EndpointsController"
CONTROLLERS["job"] = "minik8s.controllers.job:JobController"
CONTROLLERS["cronjob"] = "minik8s.controllers.cronjob:CronJobController"
CONTROLLERS["ttl-after-finished"] = "minik8s.controllers.ttlafterfinished:TTLAfterFinishedController"
CONTROLLERS["node-lifecycle"] = "minik8s.controllers.nodelifecycle:NodeLifecycleController"
CONTROLLERS["taint-eviction-controller"] = "minik8s.controllers.tainteviction:TaintEvictionController"
CONTROLLERS["pod-garbage-collector"] = "minik8s.controllers.podgc:PodGCController"
CONTROLLERS["disruption"] = "minik8s.controllers.disruption:DisruptionController"
CONTROLLERS["persistentvolume-binder"] = "minik8s.controllers.persistentvolume:PersistentVolumeController"
CONTROLLERS["statefulset"] = "minik8s.controllers.statefulset:StatefulSetController"
CONTROLLERS["horizontal-pod-autoscaler"] = "minik8s.controllers.podautoscaler.horizontal:HorizontalController"
CONTROLLERS["daemonset"] = "minik8s.controllers.daemonset:DaemonSetController"
CONTROLLERS["serviceaccount"] = "minik8s.controllers.serviceaccounts:ServiceAccountsController"
CONTROLLERS["root-ca-cert-publisher"] = "minik8s.controllers.rootcacertpublisher:RootCACertPublisher"


def controller_class(name: str):
    """The class registered under `name` (KeyError for an unknown name)."""
    import importlib
    module, _, cls = CONTROLLERS[name].partition(":")
    return getattr(importlib.import_module(module), cls)
