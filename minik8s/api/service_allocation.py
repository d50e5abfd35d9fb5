"""Service address allocation, done by the API server on write as upstream does: a ClusterIP from the
service range and NodePorts from the node-port range. What is in use is derived from the stored
Services, so nothing leaks when a Service goes away."""
from __future__ import annotations

import ipaddress
import random

from minik8s.api.errors import Invalid

SERVICE_CIDR = "10.96.0.0/16"
NODE_PORT_RANGE = (30000, 32767)


def _in_use(services, skip: tuple[str, str]) -> tuple[set[str], set[tuple[int, str]]]:
    ips, ports = set(), set()
    for rec in services:
        if (rec.namespace, rec.name) == skip:
            continue
        svc = rec.decode()
        if svc.spec.clusterIP and svc.spec.clusterIP != "None":
            ips.add(svc.spec.clusterIP)
        for p in svc.spec.ports:
            if p.nodePort:
                ports.add((p.nodePort, p.protocol or "TCP"))
    return ips, ports


def allocate(services, svc, old=None, cidr: str = SERVICE_CIDR, port_range=NODE_PORT_RANGE) -> None:
    """Fill in clusterIP/clusterIPs and nodePorts of `svc` (in place); keep what `old` had."""
    spec = svc.spec
    if spec.type == "ExternalName":
        return
    ips, ports = _in_use(services, (svc.metadata.namespace, svc.metadata.name))
    net = ipaddress.ip_network(cidr)
    if old is not None and not spec.clusterIP:
        spec.clusterIP = old.spec.clusterIP
    if not spec.clusterIP:
        # random, as upstream allocates, so clusters sharing a host rarely pick the same address;
        # .1 is upstream's `kubernetes` service address and is skipped
        first, size = int(net.network_address) + 2, net.num_addresses - 3
        start = random.randrange(size)
        for i in range(size):
            host = str(ipaddress.ip_address(first + (start + i) % size))
            if host not in ips:
                spec.clusterIP = host
                break
        else:
            raise Invalid(f"Service \"{svc.metadata.name}\" is invalid: spec.clusterIP: Internal error: "
                          f"range is full", [("spec.clusterIP", "range is full")])
    elif spec.clusterIP != "None" and spec.clusterIP in ips and (old is None or old.spec.clusterIP != spec.clusterIP):
        raise Invalid(f"Service \"{svc.metadata.name}\" is invalid: spec.clusterIPs: Invalid value: "
                      f"[\"{spec.clusterIP}\"]: failed to allocate IP {spec.clusterIP}: provided IP is already "
                      "allocated", [("spec.clusterIPs", f"provided IP {spec.clusterIP} is already allocated")])
    del spec.clusterIPs[:]
    spec.clusterIPs.append(spec.clusterIP)
    if spec.type not in ("NodePort", "LoadBalancer"):
        for p in spec.ports:
            p.nodePort = 0
        return
    previous = {(p.port, p.protocol or "TCP"): p.nodePort for p in (old.spec.ports if old is not None else ())}
    lo, hi = port_range
    mine: set[tuple[int, str]] = set()
    errors = []
    for i, p in enumerate(spec.ports):
        proto = p.protocol or "TCP"
        if not p.nodePort:
            p.nodePort = previous.get((p.port, proto), 0)
        if p.nodePort:
            key = (p.nodePort, proto)
            if key in ports or key in mine:
                errors.append((f"spec.ports[{i}].nodePort",
                               f"Invalid value: {p.nodePort}: provided port is already allocated"))
            elif not lo <= p.nodePort <= hi:
                errors.append((f"spec.ports[{i}].nodePort",
                               f"Invalid value: {p.nodePort}: provided port is not in the valid range. "
                               f"The range of valid ports is {lo}-{hi}"))
            mine.add(key)
    for p in spec.ports:
        if not p.nodePort:
            proto = p.protocol or "TCP"
            start = random.randrange(hi - lo + 1)
            candidates = (lo + (start + i) % (hi - lo + 1) for i in range(hi - lo + 1))
            free = next((n for n in candidates if (n, proto) not in ports and (n, proto) not in mine), None)
            if free is None:
                errors.append(("spec.ports", "node port range is full"))
                break
            p.nodePort = free
            mine.add((free, proto))
    if errors:
        raise Invalid(f'Service "{svc.metadata.name}" is invalid: ' +
                      ", ".join(f"{a}: {b}" for a, b in errors), errors)
