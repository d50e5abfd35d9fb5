"""A kubelet's configuration, read from the cluster file `minictl up` saves as HOME/cluster.yaml
(format: minik8s/cli/up.py). What the kubelet reads:

    runtime: auto | docker | process | fake        the nodes' container runtime
    nodes: 3                                       N nodes named node-1 .. node-N, host-sized
    nodes:                                         or a list; `count: K` makes NAME-1 .. NAME-K
    - name: gpu-1
      cpu: "8"                                     capacity: declared values are what the node advertises
      memory: 32Gi                                 (default: the host's)
      pods: 110
      gpus: 2                                      "auto": real GPUs through NVML; N: N fake GPUs;
                                                   or {count: 2, product: NVIDIA-H100, memory: 80Gi}
      labels: {accelerator: h200}
      taints: [{key: nvidia.com/gpu, value: present, effect: NoSchedule}]
      instanceType: gpu.large                      -> label node.kubernetes.io/instance-type
      podCIDR: 10.244.7.0/24                       default 10.244.I.0/24 (process), 10.245.I.0/24
                                                   (docker), 10.246.I.0/24 (fake): I = N for node-N,
                                                   else 100-249 from a hash of the name (a node name
                                                   keeps its CIDR whichever cluster it is in: bridges
                                                   and Docker networks are per node name, host-wide)
      runtime: process                             a node may differ from the cluster's runtime
    kubelet:                                       settings for every node (upstream's in brackets)
      leaseDurationSeconds: 40                     [40]; renewed every quarter of it [10 s]
      nodeStatusUpdatePeriod: 10                   how often node status is checked [10 s] ...
      nodeStatusReportPeriod: 300                  ... and written when nothing changed [5 min]
      backoffBase: 10                              CrashLoopBackOff / ImagePullBackOff start [10 s]
      backoffCap: 300                              ... and cap [300 s]; reset after 2 * cap clean
      metricsPeriod: 5                             NodeMetrics/PodMetrics sampling period
      plegPeriod: 1                                how often the runtime is relisted [1 s]
      resyncPeriod: 10                             each pod's periodic sync
      logMaxBytes: 10Mi                            container log size before rotation [10 Mi]
      evictionHard:                                node-pressure eviction thresholds (kubelet/eviction.py);
        memory.available: 100Mi                    a quantity or a percentage of capacity; given, it
        nodefs.available: 10%                      replaces the defaults [both as shown]
      evictionPressureTransitionPeriod: 300        how long a pressure condition outlives its cause [5 min]
      evictionMonitoringPeriod: 10                 how often thresholds are checked [10 s]
      clusterDNS: [10.96.0.10]                     pods' nameserver under dnsPolicy ClusterFirst
                                                   (`minictl up` writes the kube-dns ClusterIP) [none]
      clusterDomain: cluster.local                 the cluster's DNS zone [cluster.local]
      resolvConf: /etc/resolv.conf                 the host's resolver file, for dnsPolicy Default"""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field

import yaml

from kubelet.eviction import DEFAULT_EVICTION_HARD, parse_thresholds

DEFAULT_CIDR_BASE = {"process": "10.244", "docker": "10.245", "fake": "10.246"}


@dataclass
class Settings:
    lease_duration: int = 40
    node_status_update_period: float = 10.0
    node_status_report_period: float = 300.0
    backoff_base: float = 10.0
    backoff_cap: float = 300.0
    metrics_period: float = 5.0
    pleg_period: float = 1.0
    resync_period: float = 10.0
    log_max_bytes: int = 10 * 1024 * 1024
    eviction_hard: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_EVICTION_HARD))
    eviction_pressure_transition_period: float = 300.0
    eviction_monitoring_period: float = 10.0
    cluster_dns: list[str] = field(default_factory=list)
    cluster_domain: str = "cluster.local"
    resolv_conf: str = "/etc/resolv.conf"

    @property
    def lease_renew_period(self) -> float:
        return self.lease_duration / 4

    @classmethod
    def from_dict(cls, d: dict | None) -> "Settings":
        d = d or {}
        s = cls()
        keys = {"leaseDurationSeconds": "lease_duration", "nodeStatusUpdatePeriod": "node_status_update_period",
                "nodeStatusReportPeriod": "node_status_report_period", "backoffBase": "backoff_base",
                "backoffCap": "backoff_cap", "metricsPeriod": "metrics_period", "plegPeriod": "pleg_period",
                "resyncPeriod": "resync_period", "logMaxBytes": "log_max_bytes", "evictionHard": "eviction_hard",
                "evictionPressureTransitionPeriod": "eviction_pressure_transition_period",
                "evictionMonitoringPeriod": "eviction_monitoring_period", "clusterDNS": "cluster_dns",
                "clusterDomain": "cluster_domain", "resolvConf": "resolv_conf"}
        for key, value in d.items():
            attr = keys.get(key)
            if attr is None:
                raise ValueError(f"kubelet.{key}: unknown setting (known: {', '.join(sorted(keys))})")
            if attr == "eviction_hard":
                if not isinstance(value, dict):
                    raise ValueError(f"kubelet.evictionHard: a map of signal to threshold, not {value!r}")
                parse_thresholds(value)            # a bad threshold is refused here, naming its key
                s.eviction_hard = {str(k): str(v) for k, v in value.items()}
                continue
            if attr == "cluster_dns":
                s.cluster_dns = [str(ip) for ip in ([value] if isinstance(value, str) else value or [])]
                continue
            if attr == "log_max_bytes":
                from minik8s.api.quantity import bytes_value
                value = bytes_value(str(value))
            setattr(s, attr, type(getattr(s, attr))(value))
        return s


@dataclass
class NodeConfig:
    name: str
    runtime: str = "auto"
    capacity: dict[str, str] = field(default_factory=dict)     # declared: cpu, memory, pods, ...
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict] = field(default_factory=list)
    gpus: object = None
    pod_cidr: str = ""
    instance_type: str = ""
    index: int = 0                                             # picks the default pod CIDR (index_of)
    address: str = ""


def node_entries(cluster: dict) -> list[tuple[str, dict]]:
    nodes = cluster.get("nodes", 1)
    if isinstance(nodes, int):
        return [(f"node-{i}", {}) for i in range(1, nodes + 1)]
    out = []
    for i, n in enumerate(nodes or [], 1):
        n = n or {}
        count = int(n.get("count", 1))
        base = n.get("name", f"node-{i}")
        names = [base] if count == 1 else [f"{base}-{j}" for j in range(1, count + 1)]
        out.extend((name, n) for name in names)
    return out


def index_of(name: str) -> int:
    """node-N -> N (N < 100); any other name -> 100..249 from a hash of it."""
    prefix, _, tail = name.rpartition("-")
    if prefix == "node" and tail.isdigit() and 0 < int(tail) < 100:
        return int(tail)
    return 100 + zlib.crc32(name.encode()) % 150


def default_pod_cidr(runtime: str, index: int) -> str:
    base = DEFAULT_CIDR_BASE.get(runtime, "10.244")
    return f"{base}.{index % 256}.0/24"


def load(home: str, node_name: str, path: str | None = None, runtime: str | None = None
         ) -> tuple[NodeConfig, Settings]:
    """The configuration of node `node_name` from the cluster file (absent: defaults)."""
    return load_all(home, [node_name], path, runtime)[node_name]


def load_all(home: str, names: list[str], path: str | None = None, runtime: str | None = None
             ) -> dict[str, tuple[NodeConfig, Settings]]:
    """`load` for each of `names`, the cluster file read once (a host of 1,000 fake nodes)."""
    path = path or os.path.join(home, "cluster.yaml")
    cluster: dict = {}
    if os.path.exists(path):
        with open(path) as f:
            cluster = yaml.safe_load(f) or {}
    entries: dict = {}
    for n, e in node_entries(cluster):
        entries.setdefault(n, e)            # the first entry of a name wins
    out = {}
    for name in names:
        cfg = node_config(name, entries.get(name, {}), cluster.get("runtime", "auto"), index_of(name))
        if runtime:
            cfg.runtime = runtime
        out[name] = (cfg, Settings.from_dict(cluster.get("kubelet")))
    return out


def node_config(name: str, entry: dict, cluster_runtime: str = "auto", index: int = 1) -> NodeConfig:
    capacity = {k: str(entry[k]) for k in ("cpu", "memory", "pods", "ephemeral-storage") if k in entry}
    capacity.update({k: str(v) for k, v in (entry.get("capacity") or {}).items()})
    return NodeConfig(name=name, runtime=entry.get("runtime") or cluster_runtime or "auto",
                      capacity=capacity, labels={str(k): str(v) for k, v in (entry.get("labels") or {}).items()},
                      taints=list(entry.get("taints") or []), gpus=entry.get("gpus"),
                      pod_cidr=entry.get("podCIDR", ""), instance_type=entry.get("instanceType", ""),
                      index=index, address=entry.get("address", ""))
