"""Where a kubelet keeps things on disk, laid out as upstream's /var/lib/kubelet and /var/log/pods:

    HOME/kubelet/NODE/pods/UID/volumes/...          a pod's volumes (emptyDir, downwardAPI)
    HOME/logs/pods/NAMESPACE_NAME_UID/CONTAINER/N.log   container logs, one file per restart N"""
from __future__ import annotations

import hashlib
import os

# on every sandbox and container: which cluster (HOME) made it. Two clusters on one host may both have a
# node-1 and share one Docker engine; each kubelet only ever cleans up what carries its own cluster id.
LABEL_CLUSTER = "minik8s.io/cluster"


def cluster_id(home: str) -> str:
    return hashlib.sha1(os.path.realpath(home).encode()).hexdigest()[:12]


def node_root(home: str, node: str) -> str:
    return os.path.join(home, "kubelet", node)


def pod_dir(root: str, uid: str) -> str:
    return os.path.join(root, "pods", uid)


def pod_log_dir(home: str, namespace: str, name: str, uid: str) -> str:
    return os.path.join(home, "logs", "pods", f"{namespace}_{name}_{uid}")


def container_log_path(home: str, namespace: str, name: str, uid: str, container: str, attempt: int) -> str:
    return os.path.join(pod_log_dir(home, namespace, name, uid), container, f"{attempt}.log")
