"""Names resolve inside pods: a kubelet (process runtime, then docker) gives each pod a resolv.conf
pointing at the cluster DNS, and from inside the pod `web` (a Service) and `web-0.nginx` (a
StatefulSet-style pod: hostname web-0, subdomain nginx, behind the headless Service nginx) resolve.
The DNS server listens on an address of its own on a dummy interface the test makes (as `minictl up`
does for the kube-dns ClusterIP); only that interface and the pods' bridges carry traffic."""
from __future__ import annotations

import asyncio
import contextlib
import random

import pytest

from minik8s.api.codec import from_dict
from minik8s.api.pb import core_pb2
from minik8s.dns import address
from minik8s.dns.app import ClusterDNS
from support import running_manager
from test_kubelet_harness import FAST, kubelet, phase_is, pod, sh, wait_for, wait_pod
from test_kubelet_process import alogs, log_is

from kubelet.config import Settings
from kubelet.dns import DNSConfig, pod_dns_config, read_resolv_conf

@contextlib.asynccontextmanager
async def cluster_dns(srv, home: str):
    """The DNS server on port 53 of a fresh /32 held on a dummy interface of this test's own; yields
    the address."""
    ip = f"10.96.254.{random.randint(2, 250)}"
    ifname = address.dns_iface(home)
    await asyncio.to_thread(address.hold, ifname, ip)
    try:
        async with srv.async_client() as c:
            dns = ClusterDNS(c, upstreams=[])
            await dns.start()
            await dns.listen(ip, 53)
            try:
                yield ip
            finally:
                await dns.close()
    finally:
        await asyncio.to_thread(address.release, ifname)


def service(name: str, selector: dict, cluster_ip: str = "") -> core_pb2.Service:
    spec = {"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return from_dict(core_pb2.Service, {"apiVersion": "v1", "kind": "Service",
                                        "metadata": {"name": name, "namespace": "default"}, "spec": spec})


async def resolve_from_a_pod(srv, home: str, runtime: str, lookup: str, member_name: str) -> None:
    """`lookup NAME` (the pod's resolver tool) for the Service `web` and the StatefulSet-style pod
    `member_name`, from a pod."""
    async with cluster_dns(srv, home) as dns_ip, srv.async_client("admin") as c, \
            running_manager(c, "endpoints"), \
            kubelet(srv, home, runtime=runtime, settings=Settings(**FAST, cluster_dns=[dns_ip])):
        web = await c.create(service("web", {"app": "web"}))
        await c.create(service("nginx", {"app": "nginx"}, cluster_ip="None"))
        await c.create(pod("web-0", [sh("app", "exec sleep 600")], labels={"app": "nginx"},
                           hostname="web-0", subdomain="nginx"))
        member = await wait_pod(c, "web-0", phase_is("Running"))
        # busybox's nslookup fails when any search domain does: the addresses in its output tell
        ip, pod_ip = web.spec.clusterIP, member.status.podIP
        await c.create(pod("client", [sh("app", f"cat /etc/resolv.conf; until {lookup} web | grep -qwF {ip} && "
                                                f"{lookup} {member_name} | grep -qwF {pod_ip}; do sleep 0.2; done; "
                                                f"{lookup} web; {lookup} {member_name}; echo resolved; exec sleep 600")]))
        await wait_pod(c, "client", phase_is("Running"))
        try:
            await wait_for(log_is(srv, "client", contains=b"resolved"), 60, what="the names to resolve in the pod")
        except AssertionError as e:
            raise AssertionError(f"{e}; the pod's log: {(await alogs(srv, 'client'))[-2000:]!r}") from None
        text = (await alogs(srv, "client")).decode()
        assert f"nameserver {dns_ip}\n" in text
        assert "search default.svc.cluster.local svc.cluster.local cluster.local" in text
        assert "options ndots:5" in text
        assert ip in text and "web.default.svc.cluster.local" in text
        assert pod_ip in text and "web-0.nginx.default.svc.cluster.local" in text


@pytest.mark.root
async def test_service_and_statefulset_pod_names_resolve_in_a_process_runtime_pod(srv, tmp_path):
    await resolve_from_a_pod(srv, str(tmp_path), "process", "getent hosts", "web-0.nginx")


@pytest.mark.root
@pytest.mark.docker
async def test_service_and_statefulset_pod_names_resolve_in_a_docker_pod(srv, tmp_path):
    # busybox's nslookup applies the search list only to names without a dot, so the pod's name is
    # given whole (glibc's getent, above, searches any name with fewer than ndots dots)
    await resolve_from_a_pod(srv, str(tmp_path), "docker", "nslookup", "web-0.nginx.default.svc.cluster.local")


HOST = DNSConfig(["192.0.2.53"], ["corp.example"], ["ndots:1"])
CLUSTER_SEARCH = ["team.svc.cluster.local", "svc.cluster.local", "cluster.local"]


@pytest.mark.parametrize("spec,cluster_dns,want", [
    ({}, ["10.96.0.10"], DNSConfig(["10.96.0.10"], CLUSTER_SEARCH + ["corp.example"], ["ndots:5"])),
    ({"dnsPolicy": "ClusterFirst", "hostNetwork": True}, ["10.96.0.10"], HOST),
    ({"dnsPolicy": "ClusterFirstWithHostNet", "hostNetwork": True}, ["10.96.0.10"],
     DNSConfig(["10.96.0.10"], CLUSTER_SEARCH + ["corp.example"], ["ndots:5"])),
    ({"dnsPolicy": "Default"}, ["10.96.0.10"], HOST),
    ({}, [], HOST),                                     # no cluster DNS configured: the host's
    ({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"], "searches": ["a.example"],
                                         "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}},
     ["10.96.0.10"], DNSConfig(["1.1.1.1"], ["a.example"], ["ndots:2", "edns0"])),
    ({"dnsConfig": {"nameservers": ["10.96.0.10", "1.1.1.1"], "searches": ["cluster.local", "b.example"],
                    "options": [{"name": "ndots", "value": "2"}]}}, ["10.96.0.10"],
     DNSConfig(["10.96.0.10", "1.1.1.1"], CLUSTER_SEARCH + ["corp.example", "b.example"], ["ndots:2"])),
])
def test_dns_policy_gives_upstreams_resolv_conf(spec, cluster_dns, want):
    p = from_dict(core_pb2.Pod, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team"},
                                 "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}})
    assert pod_dns_config(p, cluster_dns, "cluster.local", HOST) == want


def test_host_resolv_conf_is_read_as_the_resolver_reads_it(tmp_path):
    path = tmp_path / "resolv.conf"
    path.write_text("# comment\nnameserver 192.0.2.1\ndomain old.example\nsearch a.example b.example\n"
                    "nameserver 192.0.2.2 ; trailing\noptions ndots:2 timeout:1\n")
    cfg = read_resolv_conf(str(path))
    assert cfg == DNSConfig(["192.0.2.1", "192.0.2.2"], ["a.example", "b.example"], ["ndots:2", "timeout:1"])
    assert cfg.resolv_conf() == ("nameserver 192.0.2.1\nnameserver 192.0.2.2\nsearch a.example b.example\n"
                                 "options ndots:2 timeout:1\n")
    assert read_resolv_conf(str(tmp_path / "missing")) == DNSConfig()
