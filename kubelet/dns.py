"""A pod's resolv.conf, from its `dnsPolicy` and `dnsConfig`, as upstream's kubelet makes it
(pkg/kubelet/network/dns):

    ClusterFirst (default)    nameserver: the cluster DNS (`kubelet.clusterDNS`); search
                              <ns>.svc.<domain> svc.<domain> <domain> and the host's; options ndots:5.
                              A hostNetwork pod gets Default instead.
    ClusterFirstWithHostNet   ClusterFirst, for hostNetwork pods too
    Default                   the host's resolv.conf (`kubelet.resolvConf`, /etc/resolv.conf)
    None                      nothing but the pod's dnsConfig

The pod's dnsConfig is then merged in: its nameservers and searches appended (each once), its options
replacing those of the same name. A cluster policy with no clusterDNS configured falls back to Default
(upstream's MissingClusterDNS). Upstream's limits apply: 3 nameservers, 32 search domains of 2048
characters in all. The runtimes write the result as each container's /etc/resolv.conf (CRI's
PodSandboxConfig.dns_config)."""
from __future__ import annotations

from dataclasses import dataclass, field

MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
MAX_SEARCH_CHARS = 2048


@dataclass
class DNSConfig:
    servers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)

    def resolv_conf(self) -> str:
        lines = [f"nameserver {s}" for s in self.servers]
        if self.searches:
            lines.append("search " + " ".join(self.searches))
        if self.options:
            lines.append("options " + " ".join(self.options))
        return "\n".join(lines) + "\n"


def read_resolv_conf(path: str = "/etc/resolv.conf") -> DNSConfig:
    """A resolv.conf's nameservers, search domains (`domain` counts as one) and options; empty when the
    file cannot be read."""
    cfg = DNSConfig()
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return cfg
    for line in lines:
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) > 1:
            cfg.servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            cfg.searches = fields[1:]       # the last one wins, as in the resolver
        elif fields[0] == "options":
            cfg.options.extend(fields[1:])
    return cfg


def dns_type(pod, cluster_dns: list[str]) -> str:
    """"cluster", "host" or "none": which base the pod's resolv.conf starts from."""
    policy = pod.spec.dnsPolicy or "ClusterFirst"
    if policy == "None":
        return "none"
    cluster = policy == "ClusterFirstWithHostNet" or (policy == "ClusterFirst" and not pod.spec.hostNetwork)
    return "cluster" if cluster and cluster_dns else "host"


def pod_dns_config(pod, cluster_dns: list[str], cluster_domain: str, host: DNSConfig) -> DNSConfig:
    kind = dns_type(pod, cluster_dns)
    if kind == "cluster":
        domain = cluster_domain.strip(".")
        ns = pod.metadata.namespace or "default"
        cfg = DNSConfig(list(cluster_dns), [f"{ns}.svc.{domain}", f"svc.{domain}", domain] + host.searches,
                        ["ndots:5"])
    elif kind == "host":
        cfg = DNSConfig(list(host.servers), list(host.searches), list(host.options))
    else:
        cfg = DNSConfig()
    if pod.spec.HasField("dnsConfig"):
        extra = pod.spec.dnsConfig
        cfg.servers = _once(cfg.servers + list(extra.nameservers))
        cfg.searches = _once(cfg.searches + list(extra.searches))
        cfg.options = _merge_options(cfg.options, [o.name + (f":{o.value}" if o.HasField("value") else "")
                                                   for o in extra.options])
    cfg.servers = cfg.servers[:MAX_NAMESERVERS]
    cfg.searches = _trim_searches(cfg.searches)
    return cfg


def _once(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _merge_options(base: list[str], extra: list[str]) -> list[str]:
    """Options by name: the pod's replace the base's of the same name, new ones go last."""
    merged: dict[str, str] = {}
    for opt in base + extra:
        merged[opt.split(":", 1)[0]] = opt
    return list(merged.values())


def _trim_searches(searches: list[str]) -> list[str]:
    out, size = [], 0
    for s in _once(searches)[:MAX_SEARCHES]:
        size += len(s) + (1 if out else 0)
        if size > MAX_SEARCH_CHARS:
            break
        out.append(s)
    return out


class PodDNS:
    """The node's DNS settings (`kubelet.clusterDNS`, `clusterDomain`, `resolvConf`); `config(pod)`
    reads the host's resolv.conf afresh, so a pod started after it changed gets the new one."""

    def __init__(self, cluster_dns: list[str], cluster_domain: str = "cluster.local",
                 resolv_conf: str = "/etc/resolv.conf"):
        self.cluster_dns = list(cluster_dns)
        self.cluster_domain = cluster_domain
        self.resolv_conf = resolv_conf

    def config(self, pod) -> DNSConfig:
        return pod_dns_config(pod, self.cluster_dns, self.cluster_domain, read_resolv_conf(self.resolv_conf))
