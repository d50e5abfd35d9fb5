"""The cluster zone: what a name under the cluster domain answers, read from the informer caches of
Services, Endpoints and Pods (no lookup ever calls the API server), after the Kubernetes DNS-Based
Service Discovery specification (kubernetes/dns, docs/specification.md, schema 1.1.0):

    <svc>.<ns>.svc.<zone>                     A: the ClusterIP; headless: one per ready endpoint;
                                              ExternalName: CNAME to spec.externalName
    _<port>._<proto>.<svc>.<ns>.svc.<zone>    SRV per named port: the service's name (ClusterIP),
                                              each ready endpoint's name (headless)
    <hostname>.<svc>.<ns>.svc.<zone>          A: a headless service's ready endpoint that has a hostname
                                              (a pod with hostname and subdomain = the service's name)
    <a>-<b>-<c>-<d>.<ns>.pod.<zone>           A: a pod of that namespace with that IP
    <d>.<c>.<b>.<a>.in-addr.arpa              PTR: a ClusterIP, or a headless endpoint with a hostname
    dns-version.<zone>                        TXT: the schema version

A name that exists but has no record of the asked type is NOERROR with no answer (NODATA); a name
under the zone that does not exist is NXDOMAIN; both carry the zone's SOA, as the spec asks.
`resolve` returns None for a name outside the zone and the reverse zone: the server forwards it."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from dnslib import AAAA, CNAME, PTR, QTYPE, RCODE, RR, SOA, SRV, TXT, A

TTL = 5                        # CoreDNS's kubernetes plugin default: answers follow endpoint changes fast
SCHEMA_VERSION = "1.1.0"
REVERSE_ZONE = "in-addr.arpa"


@dataclass
class Answer:
    rcode: int = RCODE.NOERROR
    answers: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)


def _ready_addresses(endpoints) -> list:
    """The ready addresses of an Endpoints object, each IP once, in object order."""
    seen, out = set(), []
    for subset in endpoints.subsets if endpoints is not None else ():
        for addr in subset.addresses:
            if addr.ip not in seen:
                seen.add(addr.ip)
                out.append(addr)
    return out


def _endpoint_label(addr) -> str:
    """An endpoint's name in the service: its hostname, else its IP with dashes (as CoreDNS names it)."""
    return addr.hostname or addr.ip.replace(".", "-").replace(":", "-")


def _is_headless(svc) -> bool:
    return svc.spec.clusterIP == "None"


class ClusterZone:
    """Answers for `<zone>` (default cluster.local) from three informer caches (anything with `get(key)`
    and `list()`: `namespace/name` keys)."""

    def __init__(self, services, endpoints, pods, domain: str = "cluster.local"):
        self.services = services
        self.endpoints = endpoints
        self.pods = pods
        self.domain = domain.strip(".").lower()
        self._zone_labels = tuple(self.domain.split("."))

    def soa(self) -> RR:
        zone = self.domain + "."
        return RR(zone, QTYPE.SOA, ttl=TTL,
                  rdata=SOA("ns.dns." + zone, "hostmaster." + zone, (1, 7200, 1800, 86400, TTL)))

    def resolve(self, qname: str, qtype: int) -> Answer | None:
        """The answer for (qname, qtype), or None when the name is not ours to answer."""
        labels = tuple(label.lower() for label in qname.rstrip(".").split(".")) if qname.strip(".") else ()
        if labels[-2:] == ("in-addr", "arpa"):
            return self._reverse(qname, labels, qtype)
        n = len(self._zone_labels)
        if labels[-n:] != self._zone_labels:
            return None
        records = self._records(labels[:-n], qname)
        if records is None:
            return Answer(RCODE.NXDOMAIN, authority=[self.soa()])
        answers = [rr for rr in records if rr.rtype == qtype or qtype == QTYPE.ANY]
        if not answers and qtype != QTYPE.CNAME:
            answers = [rr for rr in records if rr.rtype == QTYPE.CNAME]
        if not answers:
            return Answer(authority=[self.soa()])
        return Answer(answers=answers, additional=self._additional(answers))

    # -------------------------------------------------------------- forward zone
    def _records(self, labels: tuple[str, ...], qname: str) -> list[RR] | None:
        """Every record of the name (labels below the zone); [] for a name that exists with none
        (the zone apex, `svc`, a namespace), None for a name that does not exist."""
        if labels in ((), ("svc",), ("pod",)):
            return [self.soa()] if not labels else []
        if labels == ("dns-version",):
            return [RR(qname, QTYPE.TXT, ttl=TTL, rdata=TXT(SCHEMA_VERSION))]
        if labels[-1] == "pod":
            return self._pod_records(labels[:-1], qname)
        if labels[-1] != "svc":
            return None
        labels = labels[:-1]
        if len(labels) == 1:
            return [] if any(s.metadata.namespace == labels[0] for s in self.services.list()) else None
        if len(labels) < 2:
            return None
        ns, name = labels[-1], labels[-2]
        svc = self.services.get(f"{ns}/{name}")
        if svc is None:
            return None
        rest = labels[:-2]
        if not rest:
            return self._service_records(svc, qname)
        if len(rest) == 1:
            return self._endpoint_records(svc, rest[0], qname)
        if len(rest) == 2 and rest[0].startswith("_") and rest[1].startswith("_"):
            return self._srv_records(svc, rest[0][1:], rest[1][1:], qname)
        return None

    def _service_records(self, svc, qname: str) -> list[RR]:
        if svc.spec.type == "ExternalName":
            return [RR(qname, QTYPE.CNAME, ttl=TTL, rdata=CNAME(svc.spec.externalName))]
        if not _is_headless(svc):
            return [_address_rr(qname, svc.spec.clusterIP)] if svc.spec.clusterIP else []
        return [_address_rr(qname, a.ip) for a in self._ready(svc)]

    def _endpoint_records(self, svc, label: str, qname: str) -> list[RR] | None:
        """`<hostname>.<svc>...`: a headless service's ready endpoint by its name."""
        if not _is_headless(svc):
            return None
        ips = [a.ip for a in self._ready(svc) if _endpoint_label(a).lower() == label]
        return [_address_rr(qname, ip) for ip in ips] or None

    def _srv_records(self, svc, port_name: str, proto: str, qname: str) -> list[RR] | None:
        port = next((p for p in svc.spec.ports
                     if p.name and p.name.lower() == port_name and (p.protocol or "TCP").lower() == proto), None)
        if port is None:
            return None
        base = f"{svc.metadata.name}.{svc.metadata.namespace}.svc.{self.domain}."
        if not _is_headless(svc):
            return [RR(qname, QTYPE.SRV, ttl=TTL, rdata=SRV(0, 100, port.port, base))]
        out = []
        targets = self._ready_ports(svc, port.name)
        for addr, number in targets:
            out.append(RR(qname, QTYPE.SRV, ttl=TTL,
                          rdata=SRV(0, 100 // max(1, len(targets)), number, f"{_endpoint_label(addr)}.{base}")))
        return out

    def _ready(self, svc) -> list:
        return _ready_addresses(self.endpoints.get(f"{svc.metadata.namespace}/{svc.metadata.name}"))

    def _ready_ports(self, svc, port_name: str) -> list[tuple[object, int]]:
        """(ready address, its port number) for the endpoint port named `port_name` (a headless
        service's target port may differ per subset)."""
        endpoints = self.endpoints.get(f"{svc.metadata.namespace}/{svc.metadata.name}")
        out, seen = [], set()
        for subset in endpoints.subsets if endpoints is not None else ():
            port = next((p for p in subset.ports if p.name == port_name), None)
            for addr in subset.addresses if port is not None else ():
                if (addr.ip, port.port) not in seen:
                    seen.add((addr.ip, port.port))
                    out.append((addr, port.port))
        return out

    def _additional(self, answers: list[RR]) -> list[RR]:
        """The A records of SRV targets, so a client needs no second query."""
        out = []
        for rr in answers:
            if rr.rtype != QTYPE.SRV:
                continue
            target = str(rr.rdata.target)
            found = self.resolve(target, QTYPE.A)
            if found is not None:
                out.extend(found.answers)
        return out

    def _pod_records(self, labels: tuple[str, ...], qname: str) -> list[RR] | None:
        """`<a>-<b>-<c>-<d>.<ns>.pod`: only while a pod of that namespace has the address."""
        if len(labels) == 1:
            return []
        if len(labels) != 2:
            return None
        dashed, ns = labels
        try:
            ip = str(ipaddress.ip_address(dashed.replace("-", ".")))
        except ValueError:
            return None
        if not any(p.metadata.namespace == ns and p.status.podIP == ip for p in self.pods.list()):
            return None
        return [_address_rr(qname, ip)]

    # -------------------------------------------------------------- reverse zone
    def _reverse(self, qname: str, labels: tuple[str, ...], qtype: int) -> Answer | None:
        """PTR for a ClusterIP or a headless endpoint with a hostname; any other address is not ours."""
        if len(labels) != 6:
            return None
        ip = ".".join(reversed(labels[:4]))
        names = self._names_of(ip)
        if not names:
            return None
        if qtype not in (QTYPE.PTR, QTYPE.ANY):
            return Answer(authority=[self.soa()])
        return Answer(answers=[RR(qname, QTYPE.PTR, ttl=TTL, rdata=PTR(n)) for n in names])

    def _names_of(self, ip: str) -> list[str]:
        out = []
        for svc in self.services.list():
            base = f"{svc.metadata.name}.{svc.metadata.namespace}.svc.{self.domain}."
            if not _is_headless(svc) and svc.spec.clusterIP == ip:
                out.append(base)
            elif _is_headless(svc):
                out.extend(f"{a.hostname}.{base}" for a in self._ready(svc) if a.ip == ip and a.hostname)
        return out


def _address_rr(qname: str, ip: str) -> RR:
    if ":" in ip:
        return RR(qname, QTYPE.AAAA, ttl=TTL, rdata=AAAA(ip))
    return RR(qname, QTYPE.A, ttl=TTL, rdata=A(ip))

