"""`minictl cluster-info`: where the control plane answers (the address minictl talks to, and the REST
API kubectl uses when `up` wrote HOME/kubeconfig) and the cluster's own services, the kube-system
Services labelled `kubernetes.io/cluster-service=true`, named by their `kubernetes.io/name` label as
kubectl names them. A service is shown at its cluster IP and ports: minik8s serves no API proxy path."""
from __future__ import annotations

import os

from minik8s.cli.common import client_for

CLUSTER_SERVICE = "kubernetes.io/cluster-service=true"


def cluster_info_flags(p):
    p.add_argument("what", nargs="?", choices=("dump",), help="dump: not supported")


COMMANDS = [
    ("cluster-info", "clustercmds:cmd_cluster_info", "Display cluster information", cluster_info_flags),
]


def _rest_server(args) -> str:
    from minik8s.cli.kubeconfig import kubeconfig_path, load
    from minik8s.client.config import home_dir
    path = kubeconfig_path(home_dir(getattr(args, "home", None)))
    if not os.path.exists(path):
        return ""
    clusters = load(path).get("clusters") or []
    return (clusters[0].get("cluster") or {}).get("server", "") if clusters else ""


def _grpc_server(args) -> str:
    from minik8s.client.config import ClientConfig
    return getattr(args, "server", None) or ClientConfig.load(getattr(args, "home", None)).server


def cmd_cluster_info(args) -> int:
    from minik8s.cli import common
    if args.what == "dump":
        raise common.CliError("cluster-info dump is not supported: use `minictl get all -A -o yaml` and "
                              "`minictl logs`")
    client = client_for(args)
    services = common.sort_objects(list(client.list("Service", "kube-system", CLUSTER_SERVICE)))
    lines = [f"Kubernetes control plane is running at {_grpc_server(args)}"]
    rest = _rest_server(args)
    if rest:
        lines.append(f"Kubernetes REST API is running at {rest}")
    for s in services:
        name = s.metadata.labels.get("kubernetes.io/name") or s.metadata.name
        ports = ",".join(f"{p.port}/{p.protocol or 'TCP'}" for p in s.spec.ports)
        lines.append(f"{name} is running at {s.spec.clusterIP}:{ports}" if ports else
                     f"{name} is running at {s.spec.clusterIP}")
    print("\n".join(lines))
    print("\nTo further debug and diagnose cluster problems, use 'minictl get events -A' and 'minictl describe'.")
    return 0
