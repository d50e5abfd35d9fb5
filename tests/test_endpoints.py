"""The endpoints controller against a real API server: pods marked ready or not (update_status as
admin, as a kubelet would), services with numeric and named target ports, and the Endpoints object
the controller keeps."""
from __future__ import annotations

import asyncio

import pytest

from minik8s.api.clock import Clock, rfc3339
from minik8s.api.errors import NotFound
from minik8s.api.pb import core_pb2
from minik8s.client.informer import SharedInformerFactory, copy
from minik8s.controllers.base import ControllerContext
from minik8s.controllers.endpoints import (OVER_CAPACITY_ANNOTATION, EndpointsController, find_port, repack,
                                           truncate)
from support import wait_for

# a hung watch fails its test instead of the run
pytestmark = pytest.mark.timeout(120)

TIMEOUT = 30.0


# ---------------------------------------------------------------- objects
def make_pod(name, labels, ports=(), ns="default", node="node-1", hostname="", subdomain=""):
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, ns
    p.metadata.labels.update(labels)
    c = p.spec.containers.add()
    c.name, c.image = "app", "busybox"
    for pname, num in ports:
        cp = c.ports.add()
        cp.name, cp.containerPort = pname, num
    if node:
        p.spec.nodeName = node
    if hostname:
        p.spec.hostname = hostname
    if subdomain:
        p.spec.subdomain = subdomain
    return p


def make_service(name, selector, ports, ns="default", **spec):
    """ports: (name, port, targetPort int|str|None)."""
    s = core_pb2.Service()
    s.metadata.name, s.metadata.namespace = name, ns
    s.spec.selector.update(selector)
    for pname, port, target in ports:
        sp = s.spec.ports.add()
        sp.name, sp.port = pname, port
        if isinstance(target, str):
            sp.targetPort.string_value = target
        elif target is not None:
            sp.targetPort.number_value = target
    for k, v in spec.items():
        setattr(s.spec, k, v)
    return s


async def set_status(client, name, ip, ready, ns="default", phase="Running"):
    pod = copy(await client.get("Pod", name, ns))
    pod.status.phase = phase
    pod.status.podIP = ip
    del pod.status.podIPs[:]
    pod.status.podIPs.add().ip = ip
    del pod.status.conditions[:]
    cond = pod.status.conditions.add()
    cond.type, cond.status = "Ready", "True" if ready else "False"
    cond.lastTransitionTime = rfc3339(Clock().now())
    return await client.update_status(pod)


class Harness:
    """The controller in this event loop, talking to the real server."""

    def __init__(self, client):
        self.client = client
        clock = Clock()
        self.ctx = ControllerContext(client, SharedInformerFactory(client, clock), clock)
        self.ctl = EndpointsController(self.ctx)
        self.task = None

    async def __aenter__(self):
        await self.ctx.informers.start_all()
        assert await self.ctx.informers.wait_for_cache_sync(TIMEOUT)
        self.task = asyncio.create_task(self.ctl.run())
        return self

    async def __aexit__(self, *exc):
        self.ctl.shutdown()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.ctx.informers.stop_all()
        await self.ctx.stop_events()


async def endpoints_until(client, name, cond, ns="default", timeout=TIMEOUT):
    """Wait until the Endpoints object satisfies `cond` (None stands for 'absent'); returns it."""
    async def check():
        try:
            ep = await client.get("Endpoints", name, ns)
        except NotFound:
            ep = None
        return (ep,) if cond(ep) else None       # a tuple, so that an absent object is an answer too
    (ep,) = await wait_for(check, timeout, what=f"endpoints {ns}/{name} to satisfy the condition")
    return ep


def drained(h) -> bool:
    """The controller's queue holds nothing and works on nothing."""
    m = h.ctl.queue.metrics()
    return not m.depth and not m.processing


def addrs(ep, field="addresses"):
    """{(ip, pod name)} across subsets."""
    return {(a.ip, a.targetRef.name) for s in (ep.subsets if ep else ()) for a in getattr(s, field)}


def ports_of(ep):
    return sorted({(p.name, p.port, p.protocol) for s in (ep.subsets if ep else ()) for p in s.ports})


# ---------------------------------------------------------------- tests against the server
async def test_ready_and_not_ready_addresses_with_targetref_and_node(module_srv):
    async with module_srv.async_client() as c, Harness(c):
        await c.create(make_service("web", {"app": "web"}, [("", 80, 8080)]))
        for i in range(3):
            await c.create(make_pod(f"web-{i}", {"app": "web"}))
        await c.create(make_pod("other", {"app": "other"}))
        await set_status(c, "web-0", "10.244.1.10", True)
        await set_status(c, "web-1", "10.244.1.11", False)
        # web-2 has no IP yet: not listed at all
        ep = await endpoints_until(c, "web", lambda e: e is not None and addrs(e) and addrs(e, "notReadyAddresses"))
        assert addrs(ep) == {("10.244.1.10", "web-0")}
        assert addrs(ep, "notReadyAddresses") == {("10.244.1.11", "web-1")}
        assert ports_of(ep) == [("", 8080, "TCP")]
        a = ep.subsets[0].addresses[0]
        pod = await c.get("Pod", "web-0")
        assert (a.targetRef.kind, a.targetRef.namespace, a.targetRef.uid) == ("Pod", "default", pod.metadata.uid)
        assert a.nodeName == "node-1"

        # readiness flips move the pod between the lists
        await set_status(c, "web-1", "10.244.1.11", True)
        await set_status(c, "web-0", "10.244.1.10", False)
        ep = await endpoints_until(c, "web", lambda e: addrs(e) == {("10.244.1.11", "web-1")})
        assert addrs(ep, "notReadyAddresses") == {("10.244.1.10", "web-0")}

        # a relabelled pod leaves; a terminating pod leaves; a finished pod leaves
        await set_status(c, "web-2", "10.244.1.12", True)
        await endpoints_until(c, "web", lambda e: ("10.244.1.12", "web-2") in addrs(e))
        await c.patch("Pod", "web-2", {"metadata": {"labels": {"app": "moved"}}})
        await endpoints_until(c, "web", lambda e: ("10.244.1.12", "web-2") not in addrs(e))
        await c.delete("Pod", "web-1", grace_period=30)     # stays, with a deletionTimestamp
        assert (await c.get("Pod", "web-1")).metadata.deletionTimestamp
        await endpoints_until(c, "web", lambda e: not addrs(e) and addrs(e, "notReadyAddresses") ==
                              {("10.244.1.10", "web-0")})
        await set_status(c, "web-0", "10.244.1.10", False, phase="Failed")
        ep = await endpoints_until(c, "web", lambda e: e is not None and not e.subsets)
        assert list(ep.subsets) == []


async def test_named_target_port_and_multiple_ports(module_srv):
    async with module_srv.async_client() as c, Harness(c):
        await c.create(make_service("multi", {"app": "multi"},
                                    [("http", 80, "web"), ("metrics", 9100, 9100)]))
        await c.create(make_pod("m-a", {"app": "multi"}, ports=[("web", 8080)]))
        await c.create(make_pod("m-b", {"app": "multi"}, ports=[("web", 8081)]))
        await c.create(make_pod("m-c", {"app": "multi"}))            # no port named `web`
        for name, ip in (("m-a", "10.244.2.1"), ("m-b", "10.244.2.2"), ("m-c", "10.244.2.3")):
            await set_status(c, name, ip, True)
        ep = await endpoints_until(c, "multi", lambda e: e is not None and len(addrs(e)) == 3)
        by_ip = {}
        for s in ep.subsets:
            for a in s.addresses:
                by_ip[a.ip] = sorted((p.name, p.port) for p in s.ports)
        assert by_ip == {"10.244.2.1": [("http", 8080), ("metrics", 9100)],
                         "10.244.2.2": [("http", 8081), ("metrics", 9100)],
                         "10.244.2.3": [("metrics", 9100)]}
        assert len(ep.subsets) == 3        # one subset per distinct port set


async def test_publish_not_ready_and_hostname(module_srv):
    async with module_srv.async_client() as c, Harness(c):
        await c.create(make_service("db", {"app": "db"}, [("", 5432, None)], clusterIP="None",
                                    publishNotReadyAddresses=True))
        await c.create(make_pod("db-0", {"app": "db"}, hostname="db-0", subdomain="db"))
        await set_status(c, "db-0", "10.244.3.1", False)
        ep = await endpoints_until(c, "db", lambda e: e is not None and addrs(e))
        a = ep.subsets[0].addresses[0]
        assert (a.ip, a.hostname) == ("10.244.3.1", "db-0")
        assert ep.metadata.labels["service.kubernetes.io/headless"] == ""
        assert ports_of(ep) == [("", 5432, "TCP")]
        # publishNotReadyAddresses keeps a terminating pod too
        await c.delete("Pod", "db-0", grace_period=30)
        ep = await c.get("Endpoints", "db")
        assert addrs(ep) == {("10.244.3.1", "db-0")}


async def test_deleted_service_deletes_endpoints_and_user_endpoints_kept(module_srv):
    async with module_srv.async_client() as c, Harness(c) as h:
        await c.create(make_service("gone", {"app": "gone"}, [("", 80, 80)]))
        await endpoints_until(c, "gone", lambda e: e is not None)
        await c.delete("Service", "gone")
        await endpoints_until(c, "gone", lambda e: e is None)

        # a service without a selector: its Endpoints object is the user's
        await c.create(make_service("manual", {}, [("", 80, 80)]))
        ep = core_pb2.Endpoints()
        ep.metadata.name, ep.metadata.namespace = "manual", "default"
        sub = ep.subsets.add()
        sub.addresses.add().ip = "10.244.9.9"
        sub.ports.add().port = 80
        await c.create(ep)
        await c.patch("Service", "manual", {"metadata": {"labels": {"touched": "yes"}}})
        await asyncio.wait_for(h.ctx.informers.informer("Service").wait_synced(), TIMEOUT)
        # let the controller see the update: its queue drains, and the object is unchanged
        await wait_for(lambda: drained(h), TIMEOUT, what="the controller's queue drained")
        got = await c.get("Endpoints", "manual")
        assert addrs(got) == {("10.244.9.9", "")}

        # an Endpoints object of one of ours deleted by hand comes back
        await c.create(make_service("back", {"app": "back"}, [("", 80, 80)]))
        first = await endpoints_until(c, "back", lambda e: e is not None)
        await c.delete("Endpoints", "back")
        again = await endpoints_until(c, "back", lambda e: e is not None and e.metadata.uid != first.metadata.uid)
        assert again.metadata.name == "back"


async def test_leftover_endpoints_removed_at_start_and_no_needless_writes(module_srv):
    async with module_srv.async_client() as c:
        ep = core_pb2.Endpoints()
        ep.metadata.name, ep.metadata.namespace = "leftover", "default"
        await c.create(ep)
        await c.create(make_service("steady", {"app": "steady"}, [("", 80, 80)]))
        await c.create(make_pod("steady-0", {"app": "steady"}))
        await set_status(c, "steady-0", "10.244.4.1", True)
        async with Harness(c):
            await endpoints_until(c, "leftover", lambda e: e is None)
            first = await endpoints_until(c, "steady", lambda e: e is not None and addrs(e))
        # a second controller (a restart) finds nothing to change: the object is not rewritten
        async with Harness(c) as h:
            await wait_for(lambda: h.ctl.queue.metrics().adds and drained(h), TIMEOUT,
                           what="the restarted controller's first pass")
            # pod status updates that change nothing the Endpoints depend on do not write either
            pod = copy(await c.get("Pod", "steady-0"))
            pod.status.message = "still fine"
            await c.update_status(pod)
            await c.patch("Pod", "steady-0", {"metadata": {"annotations": {"x": "y"}}})
            await c.patch("Service", "steady", {"metadata": {"annotations": {"x": "y"}}})
            svc_rv = (await c.get("Service", "steady")).metadata.resourceVersion
            inf = h.ctx.informers.informer("Service")
            await wait_for(lambda: inf.last_sync_resource_version >= svc_rv and drained(h), TIMEOUT,
                           what="the service's update seen and handled")
            now = await c.get("Endpoints", "steady")
            assert now.metadata.resourceVersion == first.metadata.resourceVersion


async def test_service_labels_copied_and_namespaces_separate(module_srv):
    async with module_srv.async_client() as c, Harness(c):
        ns = core_pb2.Namespace()
        ns.metadata.name = "team-b"
        await c.create(ns)
        svc = make_service("api", {"app": "api"}, [("", 80, 80)], ns="team-b")
        svc.metadata.labels["tier"] = "backend"
        await c.create(svc)
        await c.create(make_pod("api-0", {"app": "api"}, ns="team-b"))
        await c.create(make_pod("api-x", {"app": "api"}, ns="default"))     # other namespace
        await set_status(c, "api-0", "10.244.5.1", True, ns="team-b")
        await set_status(c, "api-x", "10.244.5.2", True, ns="default")
        ep = await endpoints_until(c, "api", lambda e: e is not None and addrs(e), ns="team-b")
        assert addrs(ep) == {("10.244.5.1", "api-0")}
        assert ep.metadata.labels["tier"] == "backend"


# ---------------------------------------------------------------- pure helpers
def test_find_port_by_name_protocol_and_number():
    pod = make_pod("p", {}, ports=[("http", 8080)])
    pod.spec.containers[0].ports[0].protocol = "TCP"
    sp = core_pb2.ServicePort(name="a", port=80, protocol="TCP")
    sp.targetPort.string_value = "http"
    assert find_port(pod, sp) == 8080
    sp.protocol = "UDP"
    assert find_port(pod, sp) is None
    sp.targetPort.number_value = 9000
    assert find_port(pod, sp) == 9000


def test_repack_sorts_and_groups():
    def addr(ip, uid):
        a = core_pb2.EndpointAddress(ip=ip)
        a.targetRef.uid = uid
        return a
    p80 = core_pb2.EndpointPort(name="http", port=80, protocol="TCP")
    p90 = core_pb2.EndpointPort(name="m", port=90, protocol="TCP")
    entries = [(addr("10.0.0.10", "b"), True, p80), (addr("10.0.0.9", "a"), True, p80),
               (addr("10.0.0.9", "a"), True, p90), (addr("10.0.0.2", "c"), False, p80)]
    subsets = repack(entries)
    assert [[a.ip for a in s.addresses] for s in subsets] == [["10.0.0.10"], ["10.0.0.9"]]
    assert [[a.ip for a in s.notReadyAddresses] for s in subsets] == [["10.0.0.2"], []]
    assert [[p.name for p in s.ports] for s in subsets] == [["http"], ["http", "m"]]
    assert repack(list(reversed(entries))) == subsets        # order-independent


def test_truncate_keeps_ready_first():
    subsets = [core_pb2.EndpointSubset(), core_pb2.EndpointSubset()]
    for i in range(8):
        subsets[0].addresses.add().ip = f"10.0.0.{i}"
    for i in range(6):
        subsets[1].notReadyAddresses.add().ip = f"10.0.1.{i}"
    assert not truncate([copy(s) for s in subsets], limit=14)
    assert truncate(subsets, limit=10)
    assert len(subsets[0].addresses) == 8 and len(subsets[1].notReadyAddresses) == 2
    assert OVER_CAPACITY_ANNOTATION == "endpoints.kubernetes.io/over-capacity"
