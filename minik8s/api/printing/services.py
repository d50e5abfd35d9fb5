"""Rows of Services and Endpoints as kubectl prints them: the cluster and external IPs a Service is
reached on, its ports, and the first three addresses of its Endpoints."""
from __future__ import annotations

from minik8s.api import kinds

from minik8s.api.printing.cells import format_labels, since
from minik8s.api.printing.columns import columns


def service_external_ip(o) -> str:
    spec = o.spec
    t = spec.type
    if t in ("ClusterIP", "NodePort", ""):
        return ",".join(spec.externalIPs) if spec.externalIPs else "<none>"
    if t == "LoadBalancer":
        lb = ",".join(i.ip or i.hostname for i in o.status.loadBalancer.ingress if i.ip or i.hostname)
        ips = ([lb] if lb else []) + list(spec.externalIPs)
        return ",".join(ips) if ips else "<pending>"
    if t == "ExternalName":
        return spec.externalName
    return "<unknown>"


def format_ports(ports) -> str:
    out = []
    for p in ports:
        out.append(f"{p.port}:{p.nodePort}/{p.protocol}" if p.nodePort > 0 else f"{p.port}/{p.protocol}")
    return ",".join(out)


@columns(kinds.SERVICE, "Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", wide=("Selector",))
def _service_row(o, now):
    ip = o.spec.clusterIPs[0] if o.spec.clusterIPs else (o.spec.clusterIP or "<none>")
    return [o.metadata.name, o.spec.type, ip, service_external_ip(o), format_ports(o.spec.ports) or "<none>",
            since(o.metadata.creationTimestamp, now), format_labels(o.spec.selector)]


def format_endpoints(o) -> str:
    if not o.subsets:
        return "<none>"
    items, count, more, limit = [], 0, False, 3
    for ss in o.subsets:
        if not ss.ports:
            count += len(ss.addresses)
            for a in ss.addresses:
                if len(items) == limit:
                    more = True
                    break
                items.append(a.ip)
            continue
        for p in ss.ports:
            count += len(ss.addresses)
            for a in ss.addresses:
                if len(items) == limit:
                    more = True
                    break
                host = f"[{a.ip}]" if ":" in a.ip else a.ip
                items.append(f"{host}:{p.port}")
    text = ",".join(items)
    return f"{text} + {count - limit} more..." if more else text


@columns(kinds.ENDPOINTS, "Name", "Endpoints", "Age")
def _endpoints_row(o, now):
    return [o.metadata.name, format_endpoints(o), since(o.metadata.creationTimestamp, now)]
