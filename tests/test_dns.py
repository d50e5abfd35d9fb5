"""The cluster DNS server alone, against a real API server, asked over UDP and TCP on loopback: service
A and SRV records, headless services' ready endpoints, hostname.subdomain names, pod names, NXDOMAIN,
truncation, and forwarding to a fake upstream resolver on 127.0.0.1 (no traffic leaves the host)."""
from __future__ import annotations

import asyncio
import contextlib

from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from minik8s.api.codec import from_dict
from minik8s.api.pb import core_pb2
from minik8s.dns.app import ClusterDNS
from minik8s.dns.forward import nameservers
from minik8s.dns.server import DNSServer
from support import wait_for


async def ask(port: int, name: str, qtype: str = "A", tcp: bool = False) -> DNSRecord:
    q = DNSRecord.question(name, qtype)
    raw = await asyncio.to_thread(q.send, "127.0.0.1", port, tcp=tcp, timeout=5)
    return DNSRecord.parse(raw)


def addresses(reply: DNSRecord) -> list[str]:
    return sorted(str(rr.rdata) for rr in reply.rr if rr.rtype in (QTYPE.A, QTYPE.AAAA))


def obj(kind_cls, doc: dict):
    return from_dict(kind_cls, doc)


def service(name: str, cluster_ip: str = "", ports=(), namespace: str = "default", **spec):
    spec = {"ports": list(ports) or [{"name": "http", "port": 80, "protocol": "TCP"}], **spec}
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return obj(core_pb2.Service, {"apiVersion": "v1", "kind": "Service",
                                  "metadata": {"name": name, "namespace": namespace}, "spec": spec})


def endpoints(name: str, ready: list[tuple[str, str]], not_ready=(), ports=(), namespace: str = "default"):
    """ready/not_ready: (ip, hostname) pairs."""
    subset = {"addresses": [{"ip": ip, "hostname": h} for ip, h in ready],
              "notReadyAddresses": [{"ip": ip, "hostname": h} for ip, h in not_ready],
              "ports": list(ports) or [{"name": "http", "port": 8080, "protocol": "TCP"}]}
    return obj(core_pb2.Endpoints, {"apiVersion": "v1", "kind": "Endpoints",
                                    "metadata": {"name": name, "namespace": namespace}, "subsets": [subset]})


@contextlib.asynccontextmanager
async def dns_server(srv, **kw):
    """A started ClusterDNS on 127.0.0.1 (a port of its own); yields (dns, port)."""
    async with srv.async_client() as c:
        dns = ClusterDNS(c, upstreams=kw.pop("upstreams", []), **kw)
        await dns.start()
        port = await dns.listen("127.0.0.1", 0)
        try:
            yield dns, port
        finally:
            await dns.close()


async def answered(port: int, name: str, qtype: str = "A", want=None):
    """Wait until the server answers `name` (its caches follow the API by watch)."""
    async def check():
        reply = await ask(port, name, qtype)
        got = addresses(reply) if qtype in ("A", "AAAA") else [str(rr.rdata) for rr in reply.rr]
        return reply if (want is None and reply.rr) or (want is not None and got == want) else None
    return await wait_for(check, what=f"{qtype} {name} -> {want}")


async def test_clusterip_service_a_and_srv_records_and_nxdomain(srv, admin):
    await admin.create(service("web", "10.96.1.10", ports=[{"name": "http", "port": 80, "protocol": "TCP"},
                                                           {"name": "dns", "port": 53, "protocol": "UDP"}]))
    async with dns_server(srv) as (_, port):
        reply = await ask(port, "web.default.svc.cluster.local")
        assert reply.header.rcode == RCODE.NOERROR and reply.header.aa
        assert addresses(reply) == ["10.96.1.10"]
        srv_reply = await ask(port, "_http._tcp.web.default.svc.cluster.local", "SRV")
        [rr] = srv_reply.rr
        assert (rr.rdata.port, str(rr.rdata.target)) == (80, "web.default.svc.cluster.local.")
        assert addresses(DNSRecord(rr=srv_reply.ar)) == ["10.96.1.10"]     # the target's A, no second query
        assert [r.rdata.port for r in (await ask(port, "_dns._udp.web.default.svc.cluster.local", "SRV")).rr] == [53]
        # the name exists, the type does not: NODATA with the zone's SOA
        nodata = await ask(port, "web.default.svc.cluster.local", "MX")
        assert nodata.header.rcode == RCODE.NOERROR and not nodata.rr and nodata.auth[0].rtype == QTYPE.SOA
        for name in ("nope.default.svc.cluster.local", "web.other.svc.cluster.local",
                     "_http._udp.web.default.svc.cluster.local", "web.default.cluster.local",
                     "x.web.default.svc.cluster.local"):
            gone = await ask(port, name)
            assert gone.header.rcode == RCODE.NXDOMAIN and not gone.rr, name
            assert gone.auth[0].rtype == QTYPE.SOA
        # the same over TCP, and a new service shows up by watch
        assert addresses(await ask(port, "web.default.svc.cluster.local", tcp=True)) == ["10.96.1.10"]
        await admin.create(service("api", "10.96.1.11"))
        await answered(port, "api.default.svc.cluster.local", want=["10.96.1.11"])
        ptr = await ask(port, "10.1.96.10.in-addr.arpa", "PTR")
        assert [str(r.rdata) for r in ptr.rr] == ["web.default.svc.cluster.local."]
        assert [str(r.rdata) for r in (await ask(port, "dns-version.cluster.local", "TXT")).rr] == ['"1.1.0"']


async def test_headless_service_answers_each_ready_endpoint_and_hostname_subdomain(srv, admin):
    await admin.create(service("nginx", "None"))
    await admin.create(endpoints("nginx", ready=[("10.244.1.5", "web-0"), ("10.244.1.6", "web-1")],
                                 not_ready=[("10.244.1.7", "web-2")]))
    async with dns_server(srv) as (_, port):
        assert addresses(await ask(port, "nginx.default.svc.cluster.local")) == ["10.244.1.5", "10.244.1.6"]
        assert addresses(await ask(port, "web-0.nginx.default.svc.cluster.local")) == ["10.244.1.5"]
        assert addresses(await ask(port, "web-1.nginx.default.svc.cluster.local")) == ["10.244.1.6"]
        # a pod that is not ready has no name yet
        assert (await ask(port, "web-2.nginx.default.svc.cluster.local")).header.rcode == RCODE.NXDOMAIN
        srv_reply = await ask(port, "_http._tcp.nginx.default.svc.cluster.local", "SRV")
        assert sorted((r.rdata.port, str(r.rdata.target)) for r in srv_reply.rr) == [
            (8080, "web-0.nginx.default.svc.cluster.local."), (8080, "web-1.nginx.default.svc.cluster.local.")]
        assert addresses(DNSRecord(rr=srv_reply.ar)) == ["10.244.1.5", "10.244.1.6"]
        ptr = await ask(port, "5.1.244.10.in-addr.arpa", "PTR")
        assert [str(r.rdata) for r in ptr.rr] == ["web-0.nginx.default.svc.cluster.local."]
        # web-2 turns ready: the Endpoints rewrite reaches the answers by watch
        ep = await admin.get("Endpoints", "nginx", "default")
        ep.subsets[0].addresses.add(ip="10.244.1.7", hostname="web-2")
        del ep.subsets[0].notReadyAddresses[:]
        await admin.update(ep)
        await answered(port, "web-2.nginx.default.svc.cluster.local", want=["10.244.1.7"])
        await answered(port, "nginx.default.svc.cluster.local", want=["10.244.1.5", "10.244.1.6", "10.244.1.7"])


async def test_pod_a_records_only_for_existing_pods_and_the_cluster_domain_is_a_setting(srv, admin):
    pod = obj(core_pb2.Pod, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                             "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    pod = await admin.create(pod)
    pod.status.podIP = "10.244.3.4"
    await admin.update_status(pod)
    await admin.create(service("web", "10.96.1.12"))
    async with dns_server(srv, domain="corp.example") as (_, port):
        await answered(port, "10-244-3-4.default.pod.corp.example", want=["10.244.3.4"])
        assert (await ask(port, "10-244-3-5.default.pod.corp.example")).header.rcode == RCODE.NXDOMAIN
        assert (await ask(port, "10-244-3-4.other.pod.corp.example")).header.rcode == RCODE.NXDOMAIN
        assert addresses(await ask(port, "web.default.svc.corp.example")) == ["10.96.1.12"]


class FakeUpstream(asyncio.DatagramProtocol):
    """A resolver on 127.0.0.1 answering every A question with 192.0.2.1, counting the questions."""

    def __init__(self):
        self.asked: list[str] = []

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        q = DNSRecord.parse(data)
        self.asked.append(str(q.q.qname))
        reply = q.reply()
        reply.add_answer(RR(q.q.qname, QTYPE.A, rdata=A("192.0.2.1"), ttl=60))
        self.transport.sendto(reply.pack(), addr)


async def test_other_names_go_to_the_upstream_resolver_and_cluster_names_never_do(srv, tmp_path):
    loop = asyncio.get_running_loop()
    transport, upstream = await loop.create_datagram_endpoint(FakeUpstream, local_addr=("127.0.0.1", 0))
    up_port = transport.get_extra_info("sockname")[1]
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("search example.org\nnameserver 127.0.0.1\noptions ndots:1\n")
    assert nameservers(str(resolv)) == ["127.0.0.1"]
    try:
        async with dns_server(srv, upstreams=None, resolv_conf=str(resolv), upstream_port=up_port) as (_, port):
            reply = await ask(port, "example.com")
            assert addresses(reply) == ["192.0.2.1"] and upstream.asked == ["example.com."]
            assert (await ask(port, "nope.default.svc.cluster.local")).header.rcode == RCODE.NXDOMAIN
            assert upstream.asked == ["example.com."]
    finally:
        transport.close()


async def test_no_upstream_answering_is_servfail_within_the_timeout(srv):
    # a port nobody listens on: the ICMP refusal or the timeout ends the wait, never a hang
    async with dns_server(srv, upstreams=["127.0.0.1"], upstream_port=9, upstream_timeout=0.5) as (_, port):
        assert (await ask(port, "example.com")).header.rcode == RCODE.SERVFAIL


async def test_large_answers_are_truncated_over_udp_and_whole_over_tcp(srv, admin):
    ready = [(f"10.244.9.{i}", "") for i in range(1, 61)]
    await admin.create(service("big", "None"))
    await admin.create(endpoints("big", ready=ready))
    async with dns_server(srv) as (_, port):
        udp = await ask(port, "big.default.svc.cluster.local")
        assert udp.header.tc and not udp.rr
        tcp = await ask(port, "big.default.svc.cluster.local", tcp=True)
        assert len(addresses(tcp)) == 60


async def test_garbage_gets_formerr_or_nothing_and_the_server_keeps_answering(srv, admin):
    await admin.create(service("web", "10.96.1.13"))
    async with dns_server(srv) as (dns, port):
        server: DNSServer = dns.server
        assert await server.answer(b"\x00") is None
        formerr = DNSRecord.parse(await server.answer(b"\x12\x34" + b"\x01\x00" + b"\x00\x01" + b"\xff" * 20))
        assert formerr.header.id == 0x1234 and formerr.header.rcode == RCODE.FORMERR
        assert addresses(await ask(port, "web.default.svc.cluster.local")) == ["10.96.1.13"]
