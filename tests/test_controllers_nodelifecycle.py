"""The node lifecycle controller against a real API server, with the test playing the kubelets (Lease
renewals, node status) and a fake clock driving the grace period: a silent node goes Unknown, is
tainted unreachable, its pods turn not ready; a node back to Ready loses the taints. End to end with the
taint eviction manager and the ReplicaSet controller: the pods are evicted after their
tolerationSeconds and replaced on a healthy node."""
from __future__ import annotations

import contextlib

from minik8s.api.clock import FakeClock, rfc3339, rfc3339_micro
from minik8s.api.pb import apps_pb2, coordination_pb2, core_pb2
from minik8s.client.informer import copy
from minik8s.controllers.controller_utils import controller_ref
from minik8s.controllers.nodelifecycle import MESSAGE_UNKNOWN
from minik8s.scheduler.framework import CycleState
from minik8s.scheduler.nodeinfo import NodeInfo, PodInfo
from minik8s.scheduler.plugins.taint_toleration import TaintToleration

from support.controllers import FakeKubelet, running_manager, set_running
from support.wait import wait_for

NS = "default"
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"


@contextlib.asynccontextmanager
async def controllers(srv, names, clock, **settings):
    async with srv.async_client() as admin, srv.async_client("controller-manager") as cm, \
            running_manager(cm, names, clock, settings=settings) as mgr:
        yield admin, mgr


def node_obj(name: str, clock, ready: str | None = "True", **conditions) -> core_pb2.Node:
    n = core_pb2.Node()
    n.metadata.name = name
    ts = rfc3339(clock.now())
    if ready is not None:
        n.status.conditions.add(type="Ready", status=ready, reason="KubeletReady", lastHeartbeatTime=ts,
                                lastTransitionTime=ts)
        for t in ("MemoryPressure", "DiskPressure", "PIDPressure"):
            n.status.conditions.add(type=t, status=conditions.get(t, "False"), lastHeartbeatTime=ts,
                                    lastTransitionTime=ts)
    return n


async def renew_lease(client, name: str, clock):
    """What a kubelet's lease loop does: create or renew kube-node-lease/NAME."""
    try:
        lease = await client.get("Lease", name, "kube-node-lease")
    except Exception:
        lease = coordination_pb2.Lease()
        lease.metadata.name, lease.metadata.namespace = name, "kube-node-lease"
        lease.spec.holderIdentity, lease.spec.leaseDurationSeconds = name, 40
        lease.spec.renewTime = rfc3339_micro(clock.now())
        return await client.create(lease)
    lease.spec.renewTime = rfc3339_micro(clock.now())
    return await client.update(lease)


def managed_taints(node) -> set[tuple[str, str]]:
    return {(t.key, t.effect) for t in node.spec.taints if t.key.startswith("node.kubernetes.io/")}


def cond(obj, type_):
    return next((c for c in obj.status.conditions if c.type == type_), None)


def bound_pod(name: str, node: str, **labels) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, NS
    p.metadata.labels.update(labels or {"app": name})
    p.spec.nodeName = node
    c = p.spec.containers.add()
    c.name, c.image = "app", "nginx:1.25"
    return p


async def make_running(client, pod, clock, node):
    pod = await client.create(pod)
    new = copy(pod)
    set_running(new, True, clock.now(), node)
    return await client.update_status(new)


async def test_silent_node_goes_unknown_is_tainted_and_its_pods_turn_not_ready(srv):
    clock = FakeClock()
    async with controllers(srv, "node-lifecycle", clock) as (admin, mgr):
        ctl = mgr.controllers["node-lifecycle"]
        await admin.create(node_obj("node-1", clock))
        await renew_lease(admin, "node-1", clock)
        await healthy_node(admin, ctl, clock)
        pod = await make_running(admin, bound_pod("web", "node-1"), clock, "node-1")

        # a kubelet renewing its lease every 10 s keeps the node Ready well past the grace period
        await advance(admin, ctl, clock, 80, healthy=("healthy", "node-1"), step=10)
        node = await admin.get("Node", "node-1")
        assert cond(node, "Ready").status == "True" and not managed_taints(node)

        # silence for longer than the 50 s grace period
        await advance(admin, ctl, clock, 51)
        node = await wait_for(lambda: _with_taints(admin, "node-1", {(UNREACHABLE, "NoSchedule"),
                                                                     (UNREACHABLE, "NoExecute")}),
                              what="unreachable taints")
        for t in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
            c = cond(node, t)
            assert (c.status, c.reason, c.message) == ("Unknown", "NodeStatusUnknown", MESSAGE_UNKNOWN), t
            assert c.lastTransitionTime == rfc3339(clock.now())
        no_execute = next(t for t in node.spec.taints if t.effect == "NoExecute")
        assert no_execute.timeAdded == rfc3339(clock.now())

        pod = await wait_for(lambda: _pod_not_ready(admin, "web"), what="the pod marked not ready")
        events = await wait_for(lambda: _events(admin, "web", "NodeNotReady"), what="NodeNotReady event")
        assert events[0].message == "Node is not ready" and events[0].type == "Warning"

        # the scheduler keeps new pods off the tainted node
        info = NodeInfo("node-1")
        info.set_node(node)
        plugin, state, newcomer = TaintToleration({}), CycleState(), PodInfo(bound_pod("new", ""))
        plugin.pre_filter(state, newcomer, None)
        status = plugin.filter(state, newcomer, info)
        assert status is not None and f"untolerated taint {{{UNREACHABLE}: }}" in status.message

        # the kubelet is back: status posted, lease renewed -> Ready, taints gone
        await advance(admin, ctl, clock, 5)
        back = await admin.get("Node", "node-1")
        ts = rfc3339(clock.now())
        for c in back.status.conditions:
            c.status = "True" if c.type == "Ready" else "False"
            c.reason, c.message, c.lastHeartbeatTime, c.lastTransitionTime = "KubeletReady", "", ts, ts
        await admin.update_status(back)
        await renew_lease(admin, "node-1", clock)
        await wait_for(lambda: _with_taints(admin, "node-1", set()), what="taints removed")


async def test_ready_false_taints_not_ready_and_pressure_taints_follow_conditions(srv):
    clock = FakeClock()
    async with controllers(srv, "node-lifecycle", clock) as (admin, mgr):
        await healthy_node(admin, mgr.controllers["node-lifecycle"], clock)
        await admin.create(node_obj("sick", clock, ready="False", MemoryPressure="True"))
        await renew_lease(admin, "sick", clock)
        await wait_for(lambda: _with_taints(admin, "sick", {(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute"),
                                                            ("node.kubernetes.io/memory-pressure", "NoSchedule")}),
                       what="not-ready and memory-pressure taints")
        # the kubelet recovers: Ready True, no pressure -> no taints; a taint of the user's stays
        node = await admin.get("Node", "sick")
        node.spec.taints.add(key="dedicated", value="gpu", effect="NoSchedule")
        node = await admin.update(node)
        for c in node.status.conditions:
            c.status = "True" if c.type == "Ready" else "False"
        await admin.update_status(node)
        node = await wait_for(lambda: _with_taints(admin, "sick", set()), what="taints removed")
        assert [(t.key, t.effect) for t in node.spec.taints] == [("dedicated", "NoSchedule")]


async def test_node_that_never_posted_status_goes_unknown_after_the_startup_grace_period(srv):
    clock = FakeClock()
    async with controllers(srv, "node-lifecycle", clock, nodeStartupGracePeriod=60) as (admin, mgr):
        ctl = mgr.controllers["node-lifecycle"]
        await healthy_node(admin, ctl, clock)
        await admin.create(node_obj("mute", clock, ready=None))
        await wait_for(lambda: "mute" in ctl.health, what="the node seen")
        await advance(admin, ctl, clock, 61)
        node = await wait_for(lambda: _with_taints(admin, "mute", {(UNREACHABLE, "NoSchedule"),
                                                                   (UNREACHABLE, "NoExecute")}),
                              what="unreachable taints")
        c = cond(node, "Ready")
        assert (c.status, c.reason, c.message) == ("Unknown", "NodeStatusNeverUpdated",
                                                   "Kubelet never posted node status.")


async def test_lost_node_pods_are_evicted_after_toleration_and_replaced_on_a_healthy_node(srv):
    clock = FakeClock()
    names = "node-lifecycle,taint-eviction-controller,replicaset"
    async with controllers(srv, names, clock) as (admin, mgr):
        for n in ("node-1", "node-2"):
            await admin.create(node_obj(n, clock))
            await renew_lease(admin, n, clock)
        kubelet1 = await FakeKubelet(admin, clock, node="node-1").start()
        rs = apps_pb2.ReplicaSet()
        rs.metadata.name, rs.metadata.namespace = "train", NS
        rs.spec.replicas = 2
        rs.spec.selector.matchLabels["app"] = "train"
        rs.spec.template.metadata.labels["app"] = "train"
        c = rs.spec.template.spec.containers.add()
        c.name, c.image = "app", "busybox"
        # what the DefaultTolerationSeconds admission gives every pod
        for key in (NOT_READY, UNREACHABLE):
            rs.spec.template.spec.tolerations.add(key=key, operator="Exists", effect="NoExecute",
                                                  tolerationSeconds=300)
        rs = await admin.create(rs)
        first = await wait_for(lambda: _ready_pods(admin, rs, "node-1", 2), what="2 ready pods on node-1")

        # node-1's kubelet dies; node-2's keeps renewing
        kubelet1.pause()
        clock.advance(30)
        await renew_lease(admin, "node-2", clock)
        await wait_for(lambda: mgr.controllers["node-lifecycle"].health["node-2"].lease_renew_time != "",
                       what="node-2 renewal seen")
        clock.advance(25)
        await renew_lease(admin, "node-2", clock)
        await wait_for(lambda: _with_taints(admin, "node-1", {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}),
                       what="node-1 unreachable")
        await wait_for(lambda: _all_not_ready(admin, [p.metadata.name for p in first]), what="pods not ready")
        assert not managed_taints(await admin.get("Node", "node-2"))

        # after the 300 s toleration the pods are deleted, marked as disruption targets
        await kubelet1.stop()
        clock.advance(301)
        await renew_lease(admin, "node-2", clock)
        for p in first:
            gone = await wait_for(lambda: _terminating(admin, p.metadata.name), what=f"{p.metadata.name} terminating")
            dt = cond(gone, "DisruptionTarget")
            assert (dt.status, dt.reason, dt.message) == ("True", "DeletionByTaintManager",
                                                          "Taint manager: deleting due to NoExecute taint")
        # ... and the ReplicaSet replaces them on node-2 (this fake kubelet plays every node's: it also
        # finishes the terminating pods)
        kubelet2 = await FakeKubelet(admin, clock, node="node-2").start()
        await wait_for(lambda: _ready_pods(admin, rs, "node-2", 2), what="2 replacements on node-2")
        await kubelet2.stop()


async def healthy_node(admin, ctl, clock, name: str = "healthy", **labels):
    """A node whose kubelet keeps renewing its lease as `advance` moves the clock: without one that is
    Ready, every zone is fully disrupted and no node gets a NoExecute taint."""
    node = node_obj(name, clock)
    node.metadata.labels.update(labels)
    await admin.create(node)
    lease = await renew_lease(admin, name, clock)
    await wait_for(lambda: (h := ctl.health.get(name)) and h.lease_renew_time == lease.spec.renewTime,
                   what=f"{name} and its lease seen")


async def advance(admin, ctl, clock, seconds: float, healthy=("healthy",), step: float = 20.0):
    """Move the clock `seconds` in steps shorter than the grace period, the healthy nodes' leases renewed
    (and seen by the controller) after each."""
    while seconds > 0:
        d = min(step, seconds)
        clock.advance(d)
        seconds -= d
        for name in healthy:
            lease = await renew_lease(admin, name, clock)
            await wait_for(lambda: ctl.health[name].lease_renew_time == lease.spec.renewTime,
                           what=f"{name}'s renewal seen")


async def _with_taints(client, name, want):
    node = await client.get("Node", name)
    return node if managed_taints(node) == want else None


async def _pod_not_ready(client, name):
    pod = await client.get("Pod", name, NS)
    return pod if cond(pod, "Ready").status == "False" else None


async def _all_not_ready(client, names):
    pods = [await client.get("Pod", n, NS) for n in names]
    return all(cond(p, "Ready").status == "False" for p in pods)


async def _terminating(client, name):
    pod = await client.get("Pod", name, NS)
    return pod if pod.metadata.deletionTimestamp else None


async def _events(client, name, reason):
    evs = (await client.list("Event", NS, field_selector=f"involvedObject.name={name}")).items
    return [e for e in evs if e.reason == reason]


async def _ready_pods(client, rs, node, n):
    pods = [p for p in (await client.list("Pod", NS)).items
            if (r := controller_ref(p)) is not None and r.uid == rs.metadata.uid
            and not p.metadata.deletionTimestamp and p.spec.nodeName == node
            and (c := cond(p, "Ready")) is not None and c.status == "True"]
    return pods if len(pods) == n else None



async def test_lost_nodes_of_a_zone_are_tainted_no_execute_one_per_eviction_period(srv):
    clock = FakeClock()
    async with controllers(srv, "node-lifecycle", clock) as (admin, mgr):
        ctl = mgr.controllers["node-lifecycle"]
        healthy = [f"ok-{i}" for i in range(4)]
        for name in healthy:
            await healthy_node(admin, ctl, clock, name)
        for name in ("lost-1", "lost-2"):
            await healthy_node(admin, ctl, clock, name)
        # 2 of 6 not ready: the zone stays Normal, tainted at --node-eviction-rate 0.1/s, burst 1
        await advance(admin, ctl, clock, 51, healthy=healthy)
        both = {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}
        first = await wait_for(lambda: _first_with(admin, ["lost-1", "lost-2"], both), what="one node tainted")
        second = "lost-2" if first == "lost-1" else "lost-1"
        # NoSchedule and NoExecute are written together: the first without the second stays so
        await wait_for(lambda: _with_taints(admin, second, {(UNREACHABLE, "NoSchedule")}),
                       what="the second node unreachable, NoSchedule only")
        await advance(admin, ctl, clock, 5, healthy=healthy)
        assert managed_taints(await admin.get("Node", second)) == {(UNREACHABLE, "NoSchedule")}
        await advance(admin, ctl, clock, 5, healthy=healthy)
        await wait_for(lambda: _with_taints(admin, second, both), what="the second node tainted 10 s later")


async def test_no_node_is_tainted_no_execute_while_every_node_is_lost(srv):
    clock = FakeClock()
    async with controllers(srv, "node-lifecycle", clock) as (admin, mgr):
        ctl = mgr.controllers["node-lifecycle"]
        for name in ("a", "b"):
            await healthy_node(admin, ctl, clock, name)
        clock.advance(51)
        for name in ("a", "b"):
            # NoSchedule and NoExecute are written together: the first without the second stays so
            node = await wait_for(lambda: _with_taints(admin, name, {(UNREACHABLE, "NoSchedule")}),
                                  what=f"{name} unreachable, NoSchedule only")
            assert cond(node, "Ready").status == "Unknown"
        # a is back: b, still lost, is evicted at the normal rate from then on
        back = await admin.get("Node", "a")
        for c in back.status.conditions:
            c.status, c.lastHeartbeatTime = ("True" if c.type == "Ready" else "False"), rfc3339(clock.now())
        await admin.update_status(back)
        await renew_lease(admin, "a", clock)
        await wait_for(lambda: _with_taints(admin, "a", set()), what="a's taints removed")
        await advance(admin, ctl, clock, 10, healthy=("a",), step=5)
        await wait_for(lambda: _with_taints(admin, "b", {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}),
                       what="b tainted NoExecute")


async def _first_with(client, names, want):
    for name in names:
        if managed_taints(await client.get("Node", name)) == want:
            return name
    return None
