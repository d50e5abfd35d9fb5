"""The service proxy.

Data path (no API server, backends on loopback): round robin, a refused backend retried on the next,
no backend -> reset, half-close and large transfers, the usable filter applied per connection.

Whole proxy against a real API server (root: backends need addresses on a pod bridge, which the
proxy requires of every destination): the endpoints controller and the proxy run in this event loop;
pods are marked ready or not with update_status, as a kubelet would. NodePort on 127.0.0.1 balances
over the ready pods; a pod that turns not ready or starts terminating gets no new connection from
the moment the proxy's pod cache has the change; a dead backend's refusals are retried; ClusterIP
works from inside a network namespace routed to the host, as a pod's is; a standby proxy takes over.
Waits are polls with a deadline on observable state, never sleeps."""
from __future__ import annotations

import asyncio
import ipaddress
import os
import random
import subprocess
import sys
import time
import uuid

import pytest

from minik8s.api.clock import Clock, rfc3339
from minik8s.api.pb import core_pb2
from minik8s.client.informer import SharedInformerFactory, copy
from minik8s.controllers.base import ControllerContext
from minik8s.controllers.endpoints import EndpointsController
from minik8s.proxy.hostnet import DestinationPolicy, connected_routes
from minik8s.proxy.proxier import ServiceProxy, backends_for
from minik8s.proxy.tcp import Backend, Listener, Route
from support.wait import wait_for

TIMEOUT = 30.0

# a service range of our own, so a cluster running beside the tests never shares a cluster IP
pytestmark = pytest.mark.apiserver_args("--service-cluster-ip-range", f"10.96.{random.randint(64, 250)}.0/24")


# ---------------------------------------------------------------- backends and clients
class Backends:
    """Tiny servers answering each connection with their name (after reading one line)."""

    def __init__(self):
        self.servers: dict[str, asyncio.AbstractServer] = {}
        self.hits: dict[str, int] = {}

    async def start(self, name: str, host: str, port: int = 0) -> int:
        async def handle(reader, writer):
            try:
                await reader.readline()
                self.hits[name] = self.hits.get(name, 0) + 1
                writer.write(name.encode() + b"\n")
                await writer.drain()
            finally:
                writer.close()
        server = await asyncio.start_server(handle, host, port, reuse_address=True)
        self.servers[name] = server
        return server.sockets[0].getsockname()[1]

    async def stop(self, name: str) -> None:
        server = self.servers.pop(name)
        server.close()
        await server.wait_closed()

    async def close(self) -> None:
        for name in list(self.servers):
            await self.stop(name)


async def ask(host: str, port: int) -> str:
    """One request; the answering backend's name, or '' when the connection was reset or closed."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    except OSError:
        return ""
    try:
        writer.write(b"hello\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 5)
        return line.decode().strip()
    except (ConnectionError, OSError):
        return ""
    finally:
        writer.close()


# ---------------------------------------------------------------- data path only
async def test_round_robin_retry_and_reset_on_loopback():
    be = Backends()
    ports = {n: await be.start(n, "127.0.0.1") for n in ("a", "b", "c")}
    route = Route("t")
    route.set_backends(Backend("127.0.0.1", ports[n], pod=n) for n in ("a", "b", "c"))
    unusable: set[str] = set()
    lst = Listener("127.0.0.1", 0, route, lambda b: b.pod not in unusable)
    await lst.start()
    try:
        got = [await ask("127.0.0.1", lst.port) for _ in range(30)]
        assert {n: got.count(n) for n in "abc"} == {"a": 10, "b": 10, "c": 10}
        assert route.served == 30 and route.rejected == 0

        unusable.add("b")           # e.g. the pod turned not ready: the very next connection skips it
        got = [await ask("127.0.0.1", lst.port) for _ in range(20)]
        assert "b" not in got and got.count("a") == got.count("c") == 10
        unusable.clear()

        await be.stop("c")          # dead, still listed: refused, retried on the next backend
        got = [await ask("127.0.0.1", lst.port) for _ in range(20)]
        assert "" not in got and set(got) == {"a", "b"}
        assert route.retries > 0

        route.set_backends([])      # nothing to send to: the client's connection is reset
        assert await ask("127.0.0.1", lst.port) == ""
        assert route.rejected == 1
    finally:
        lst.close()
        await be.close()


async def test_half_close_and_large_transfer():
    async def echo(reader, writer):
        data = await reader.read()          # until the client's EOF
        writer.write(data[::-1])
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    route = Route("big")
    route.set_backends([Backend("127.0.0.1", port)])
    lst = Listener("127.0.0.1", 0, route, lambda b: True)
    await lst.start()
    try:
        payload = os.urandom(8 * 1024 * 1024)
        reader, writer = await asyncio.open_connection("127.0.0.1", lst.port)

        async def send():
            writer.write(payload)
            await writer.drain()
            writer.write_eof()
        sender = asyncio.create_task(send())
        back = await asyncio.wait_for(reader.read(), 60)
        await sender
        writer.close()
        assert back == payload[::-1]
    finally:
        lst.close()
        server.close()


def test_backends_for_reads_ready_addresses_of_the_named_port():
    ep = core_pb2.Endpoints()
    s = ep.subsets.add()
    a = s.addresses.add()
    a.ip = "10.244.1.5"
    a.targetRef.kind, a.targetRef.namespace, a.targetRef.name, a.targetRef.uid = "Pod", "ns", "p", "u1"
    s.notReadyAddresses.add().ip = "10.244.1.6"
    s.ports.add(name="http", port=8080, protocol="TCP")
    s.ports.add(name="dns", port=53, protocol="UDP")
    assert backends_for(ep, "http") == [Backend("10.244.1.5", 8080, "ns/p", "u1")]
    assert backends_for(ep, "dns") == []
    assert backends_for(ep, "other") == []
    assert backends_for(None, "http") == []


def test_destination_policy_only_pod_bridges_in_pod_cidrs():
    routes = [(ipaddress.ip_network("10.244.1.0/24"), "mk8s-abc"),
              (ipaddress.ip_network("10.245.1.0/24"), "br-1234"),
              (ipaddress.ip_network("192.0.2.0/24"), "eth0"),
              (ipaddress.ip_network("10.9.0.0/16"), "mk8s-zzz")]
    cidrs = ["10.244.1.0/24", "10.245.1.0/24", "192.0.2.0/24", "10.246.1.0/24"]
    policy = DestinationPolicy(lambda: cidrs, Clock(), route_reader=lambda: routes)
    assert policy.allowed("10.244.1.7")
    assert policy.allowed("10.245.1.7")
    assert not policy.allowed("192.0.2.9")          # a podCIDR, but reached through the host's own NIC
    assert not policy.allowed("10.246.1.9")         # a podCIDR no bridge routes (fake runtime)
    assert not policy.allowed("10.9.0.1")           # a project bridge, but no node's podCIDR
    assert not policy.allowed("127.0.0.1")
    assert not policy.allowed("fd00::1")


def test_connected_routes_parses_proc_net_route(tmp_path):
    f = tmp_path / "route"
    f.write_text("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
                 "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
                 "mk8s-x\t0001F40A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n")
    assert connected_routes(str(f)) == [(ipaddress.ip_network("10.244.1.0/24"), "mk8s-x")]


# ---------------------------------------------------------------- the whole proxy, with root
def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


class PodNet:
    """A pod bridge of the test's own (`mk8s-t...`) holding a /24; backends bind addresses on it, as
    pods on a node bridge would have them, and a Node object declares it as its podCIDR."""

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.bridge = f"mk8s-t{tag}"
        self.third = random.randint(0, 255)
        self.cidr = f"10.250.{self.third}.0/24"
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"10.250.{self.third}.1/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        self.netns = None

    def pod_ip(self, i: int) -> str:
        ip = f"10.250.{self.third}.{10 + i}"
        _ip("addr", "add", f"{ip}/24", "dev", self.bridge)
        return ip

    def client_netns(self) -> str:
        """A namespace like a pod's: its own address, default route to the host over a veth."""
        name = f"mk8s-tc-{uuid.uuid4().hex[:6]}"
        host_end, ns_end = f"mkt{name[-6:]}h", f"mkt{name[-6:]}n"
        _ip("netns", "add", name)
        self.netns = name
        _ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
        _ip("link", "set", ns_end, "netns", name)
        _ip("addr", "add", f"10.251.{self.third}.1/24", "dev", host_end)
        _ip("link", "set", host_end, "up")
        _ip("-n", name, "addr", "add", f"10.251.{self.third}.2/24", "dev", ns_end)
        _ip("-n", name, "link", "set", ns_end, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "route", "add", "default", "via", f"10.251.{self.third}.1")
        self._veth = host_end
        return name

    def close(self) -> None:
        if self.netns:
            subprocess.run(["ip", "link", "del", self._veth], capture_output=True)
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


async def set_ready(client, name: str, ip: str, ready: bool):
    pod = copy(await client.get("Pod", name))
    pod.status.phase = "Running"
    pod.status.podIP = ip
    del pod.status.podIPs[:]
    pod.status.podIPs.add().ip = ip
    del pod.status.conditions[:]
    c = pod.status.conditions.add()
    c.type, c.status, c.lastTransitionTime = "Ready", "True" if ready else "False", rfc3339(time.time())
    return await client.update_status(pod)


def make_pod(name: str):
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, "default"
    p.metadata.labels["app"] = "web"
    c = p.spec.containers.add()
    c.name, c.image = "web", "busybox"
    c.ports.add(name="http", containerPort=8080)
    p.spec.nodeName = "node-1"
    return p


class Cluster:
    """API server + endpoints controller + proxy (this loop) + backends on a test pod bridge."""

    def __init__(self, srv, net: PodNet, proxies: int = 1):
        self.srv, self.net, self.n_proxies = srv, net, proxies
        self.backends = Backends()
        self.ips: dict[str, str] = {}

    async def __aenter__(self):
        self.client = self.srv.async_client()
        c = self.client
        node = core_pb2.Node()
        node.metadata.name = "node-1"
        node.spec.podCIDR = self.net.cidr
        node.spec.podCIDRs.append(self.net.cidr)
        await c.create(node)
        clock = Clock()
        self.ctx = ControllerContext(c, SharedInformerFactory(c, clock), clock)
        self.ctl = EndpointsController(self.ctx)
        await self.ctx.informers.start_all()
        assert await self.ctx.informers.wait_for_cache_sync(TIMEOUT)
        self.ctl_task = asyncio.create_task(self.ctl.run())
        os.makedirs(os.path.join(self.srv.home, "run"), exist_ok=True)
        lock = os.path.join(self.srv.home, "run", "proxy.lock")
        self.iface = f"mk8s-s{uuid.uuid4().hex[:8]}"
        self.proxies = [ServiceProxy(self.srv.async_client("node-1"), "node-1", iface=self.iface,
                                     lock_path=lock) for _ in range(self.n_proxies)]
        for p in self.proxies:
            await p.start()
        await wait_for(lambda: self.proxies[0].active.is_set(), what="first proxy active")
        return self

    async def pods(self, n: int) -> None:
        for i in range(n):
            name = f"web-{i}"
            ip = self.net.pod_ip(i)
            await self.backends.start(name, ip, 8080)
            await self.client.create(make_pod(name))
            await set_ready(self.client, name, ip, True)
            self.ips[name] = ip

    async def service(self, node_port: int, cluster_ip: str = ""):
        svc = core_pb2.Service()
        svc.metadata.name, svc.metadata.namespace = "web", "default"
        svc.spec.type = "NodePort"
        svc.spec.selector["app"] = "web"
        if cluster_ip:
            svc.spec.clusterIP = cluster_ip
        sp = svc.spec.ports.add(name="http", port=80, nodePort=node_port)
        sp.targetPort.string_value = "http"
        return await self.client.create(svc)

    def route(self, proxy=None):
        return (proxy or self.proxies[0]).routes.get(("default/web", "http"))

    async def __aexit__(self, *exc):
        for p in self.proxies:
            await p.close()
            await p.client.close()
        self.ctl.shutdown()
        self.ctl_task.cancel()
        await asyncio.gather(self.ctl_task, return_exceptions=True)
        await self.ctx.informers.stop_all()
        await self.ctx.stop_events()
        await self.backends.close()
        await self.client.close()


@pytest.fixture
def net():
    n = PodNet()
    yield n
    n.close()


def free_node_port() -> int:
    import socket
    for _ in range(100):
        port = random.randint(30000, 32767)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free node port")


@pytest.mark.root
async def test_nodeport_balances_and_drops_not_ready_pod_at_once(srv, net):
    async with Cluster(srv, net) as cl:
        port = free_node_port()
        await cl.service(port)
        await cl.pods(3)
        proxy = cl.proxies[0]
        await wait_for(lambda: cl.route() is not None and len(cl.route().backends) == 3, what="3 endpoints in the route")
        await wait_for(lambda: ("127.0.0.1", port) in proxy.listeners, what="node port listening")
        got = [await ask("127.0.0.1", port) for _ in range(30)]
        assert {n: got.count(n) for n in set(got)} == {"web-0": 10, "web-1": 10, "web-2": 10}

        # web-1 fails its readiness probe: from the moment the proxy's pod cache has it, no new
        # connection goes there, whether or not the Endpoints object has been rewritten yet
        t0 = time.monotonic()
        written = await set_ready(cl.client, "web-1", cl.ips["web-1"], False)
        await wait_for(lambda: proxy.pods.get("default/web-1").metadata.resourceVersion
                       == written.metadata.resourceVersion, what="pod update seen by the proxy")
        seen_after = time.monotonic() - t0
        got = [await ask("127.0.0.1", port) for _ in range(20)]
        assert "web-1" not in got and "" not in got
        print(f"not-ready pod excluded {seen_after * 1000:.1f} ms after its status was written")
        assert seen_after < 5.0          # a watch hop: milliseconds, unless the machine is swamped
        await wait_for(lambda: len(cl.route().backends) == 2, what="endpoints rewritten without web-1")

        # ready again: back in rotation once the Endpoints object lists it
        await set_ready(cl.client, "web-1", cl.ips["web-1"], True)
        await wait_for(lambda: len(cl.route().backends) == 3, what="web-1 back in the endpoints")
        got = [await ask("127.0.0.1", port) for _ in range(30)]
        assert got.count("web-1") == 10

        # web-2 is being deleted (graceful): excluded as soon as the deletionTimestamp is seen
        deleting = await cl.client.delete("Pod", "web-2", grace_period=30)
        await wait_for(lambda: proxy.pods.get("default/web-2").metadata.deletionTimestamp, what="deletion seen")
        got = [await ask("127.0.0.1", port) for _ in range(20)]
        assert "web-2" not in got and "" not in got
        assert deleting.metadata.deletionTimestamp


@pytest.mark.root
async def test_refused_connection_retried_on_another_ready_endpoint(srv, net):
    async with Cluster(srv, net) as cl:
        port = free_node_port()
        await cl.service(port)
        await cl.pods(3)
        await wait_for(lambda: cl.route() is not None and len(cl.route().backends) == 3, what="3 endpoints")
        await wait_for(lambda: ("127.0.0.1", port) in cl.proxies[0].listeners, what="node port listening")
        await cl.backends.stop("web-0")     # the process died; the pod is still ready in the API
        got = [await ask("127.0.0.1", port) for _ in range(30)]
        assert "" not in got and set(got) == {"web-1", "web-2"}
        assert cl.route().retries >= 10


NETNS_CLIENT = """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"hi\\n")
print(s.makefile().readline().strip())
"""


@pytest.mark.root
async def test_cluster_ip_from_a_pod_network_namespace(srv, net):
    async with Cluster(srv, net) as cl:
        svc = await cl.service(free_node_port())
        ip = svc.spec.clusterIP
        assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/16")
        await cl.pods(2)
        await wait_for(lambda: cl.route() is not None and len(cl.route().backends) == 2, what="2 endpoints")
        await wait_for(lambda: (ip, 80) in cl.proxies[0].listeners, what="cluster IP listening")
        ns = net.client_netns()
        answers = []
        for _ in range(4):
            out = await asyncio.to_thread(subprocess.run, ["ip", "netns", "exec", ns, sys.executable, "-c",
                                                           NETNS_CLIENT, ip, "80"],
                                          capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, out.stderr
            answers.append(out.stdout.strip())
        assert sorted(answers) == ["web-0", "web-0", "web-1", "web-1"]
        # the service goes: its address and listener go with it
        await cl.client.delete("Service", "web")
        await wait_for(lambda: (ip, 80) not in cl.proxies[0].listeners, what="listener closed")
        held = await asyncio.to_thread(subprocess.run, ["ip", "-o", "addr", "show", "dev", cl.iface],
                                       capture_output=True, text=True)
        assert f"{ip}/32" not in held.stdout


@pytest.mark.root
async def test_standby_proxy_takes_over(srv, net):
    async with Cluster(srv, net, proxies=2) as cl:
        a, b = cl.proxies
        port = free_node_port()
        await cl.service(port)
        await cl.pods(2)
        await wait_for(lambda: ("127.0.0.1", port) in a.listeners, what="active proxy listening")
        assert not b.active.is_set() and not b.listeners
        await wait_for(lambda: cl.route(b) is not None and len(cl.route(b).backends) == 2, what="standby warm")
        await a.close()
        await wait_for(lambda: ("127.0.0.1", port) in b.listeners, what="standby took over")
        got = [await ask("127.0.0.1", port) for _ in range(4)]
        assert sorted(got) == ["web-0", "web-0", "web-1", "web-1"]


@pytest.mark.root
async def test_a_stopping_proxy_hands_over_without_refusing_a_connection(srv, net):
    async with Cluster(srv, net, proxies=2) as cl:
        a, b = cl.proxies
        port = free_node_port()
        svc = await cl.service(port)
        await cl.pods(2)
        await wait_for(lambda: ("127.0.0.1", port) in a.listeners and (svc.spec.clusterIP, 80) in a.listeners,
                       what="active proxy listening")
        await wait_for(lambda: cl.route(b) is not None and len(cl.route(b).backends) == 2, what="standby warm")
        # a connection accepted by the leaving proxy, its request not sent yet: it must still be answered
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answers: list[str] = []
        stop = asyncio.Event()

        async def stream():
            while not stop.is_set() or len(answers) < 20:
                answers.append(await ask("127.0.0.1", port))
                await asyncio.sleep(0.005)          # pacing, not waiting for state

        streaming = asyncio.create_task(stream())
        await wait_for(lambda: len(answers) >= 5, what="requests flowing")
        closing = asyncio.create_task(a.close())
        await wait_for(lambda: b.active.is_set() and ("127.0.0.1", port) in b.listeners, what="standby serving")
        await wait_for(lambda: not a.listeners, what="the leaving proxy no longer accepting")
        assert not closing.done()                   # it waits for its open connection to finish
        writer.write(b"late\n")
        await writer.drain()
        assert (await asyncio.wait_for(reader.readline(), 5)).decode().strip() in ("web-0", "web-1")
        writer.close()
        await closing
        stop.set()
        await streaming
        assert "" not in answers, f"{answers.count('')} of {len(answers)} requests failed"
        # the successor holds the same sockets and the cluster IP interface stayed
        assert ("127.0.0.1", port) in b.listeners and (svc.spec.clusterIP, 80) in b.listeners
        held = await asyncio.to_thread(subprocess.run, ["ip", "-o", "addr", "show", "dev", cl.iface],
                                       capture_output=True, text=True)
        assert f"{svc.spec.clusterIP}/32" in held.stdout
        assert sorted([await ask("127.0.0.1", port) for _ in range(4)]) == ["web-0", "web-0", "web-1", "web-1"]
