"""The taint eviction manager: which NoExecute taints a pod tolerates and for how long (table), and
against a real API server with a fake clock: a pod that does not tolerate the taint is deleted at once,
one tolerating it for N seconds after N seconds, one tolerating it without a limit never; each deleted
pod carries DisruptionTarget and the TaintManagerEviction event; a taint removed in time cancels."""
from __future__ import annotations

import contextlib

import pytest

from minik8s.api.clock import FakeClock
from minik8s.api.pb import core_pb2
from minik8s.controllers.tainteviction import toleration_seconds

from support.controllers import running_manager
from support.wait import wait_for

# pods here carry exactly the tolerations each test gives them, without the 300 s defaults
pytestmark = pytest.mark.apiserver_args("--disable-admission-plugins", "DefaultTolerationSeconds")

NS = "default"
UNREACHABLE = "node.kubernetes.io/unreachable"


def taint(key=UNREACHABLE, value="", effect="NoExecute"):
    return core_pb2.Taint(key=key, value=value, effect=effect)


def tol(key=UNREACHABLE, op="Exists", value="", effect="NoExecute", seconds=None):
    t = core_pb2.Toleration(key=key, operator=op, value=value, effect=effect)
    if seconds is not None:
        t.tolerationSeconds = seconds
    return t


@pytest.mark.parametrize("tolerations,taints,want", [
    ([], [taint()], 0.0),                                             # not tolerated: now
    ([tol()], [taint()], None),                                       # tolerated, no limit: never
    ([tol(seconds=300)], [taint()], 300.0),
    ([tol(seconds=-5)], [taint()], 0.0),                              # <= 0: now
    ([tol(seconds=300), tol(key="", seconds=60)], [taint()], 60.0),   # the least of those used
    ([tol(seconds=300)], [taint(), taint("node.kubernetes.io/not-ready")], 0.0),   # one untolerated
    ([tol(key="", op="Exists", effect="")], [taint(), taint("x", "y")], None),     # tolerates all
    ([tol(key="gpu", op="Equal", value="a")], [taint("gpu", "b")], 0.0),           # value differs
    ([tol(key="gpu", op="", value="a", seconds=10)], [taint("gpu", "a")], 10.0),   # Equal by default
    ([tol(effect="NoSchedule")], [taint()], 0.0),                     # other effect
])
def test_toleration_seconds(tolerations, taints, want):
    assert toleration_seconds(tolerations, taints) == want


@contextlib.asynccontextmanager
async def controllers(srv, clock):
    async with srv.async_client() as admin, srv.async_client("controller-manager") as cm, \
            running_manager(cm, "taint-eviction-controller", clock) as mgr:
        yield admin, mgr


def pod_on(name: str, node: str, *tolerations) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, NS
    p.spec.nodeName = node
    p.spec.tolerations.extend(tolerations)
    c = p.spec.containers.add()
    c.name, c.image = "app", "busybox"
    return p


async def terminating(client, name):
    pod = await client.get("Pod", name, NS)
    return pod if pod.metadata.deletionTimestamp else None


def disruption_target(pod):
    c = next((c for c in pod.status.conditions if c.type == "DisruptionTarget"), None)
    return (c.status, c.reason, c.message) if c is not None else None


async def events(client, name):
    evs = (await client.list("Event", NS, field_selector=f"involvedObject.name={name}")).items
    return [(e.reason, e.message) for e in evs if e.reason == "TaintManagerEviction"]


async def test_pods_are_deleted_as_their_tolerations_allow(srv):
    clock = FakeClock()
    async with controllers(srv, clock) as (admin, mgr):
        node = core_pb2.Node()
        node.metadata.name = "lost"
        node.spec.taints.append(taint())
        await admin.create(node)
        await admin.create(pod_on("plain", "lost"))
        await admin.create(pod_on("patient", "lost", tol(seconds=300)))
        await admin.create(pod_on("daemon", "lost", tol()))

        plain = await wait_for(lambda: terminating(admin, "plain"), what="plain deleted at once")
        assert disruption_target(plain) == ("True", "DeletionByTaintManager",
                                            "Taint manager: deleting due to NoExecute taint")
        assert await wait_for(lambda: events(admin, "plain"), what="the event") == [
            ("TaintManagerEviction", "Marking for deletion Pod default/plain")]
        await wait_for(lambda: "default/patient" in mgr.controllers["taint-eviction-controller"].pending,
                       what="patient's eviction scheduled")
        clock.advance(299)
        assert not (await admin.get("Pod", "patient", NS)).metadata.deletionTimestamp
        clock.advance(1)
        patient = await wait_for(lambda: terminating(admin, "patient"), what="patient deleted after 300 s")
        assert disruption_target(patient)[1] == "DeletionByTaintManager"
        daemon = await admin.get("Pod", "daemon", NS)
        assert not daemon.metadata.deletionTimestamp and disruption_target(daemon) is None


async def test_a_taint_removed_in_time_cancels_the_deletion(srv):
    clock = FakeClock()
    async with controllers(srv, clock) as (admin, mgr):
        node = core_pb2.Node()
        node.metadata.name = "flaky"
        node.spec.taints.append(taint())
        node = await admin.create(node)
        await admin.create(pod_on("web", "flaky", tol(seconds=60)))
        await wait_for(lambda: "default/web" in mgr.controllers["taint-eviction-controller"].pending,
                       what="eviction scheduled")
        clock.advance(30)
        node = await admin.get("Node", "flaky")
        del node.spec.taints[:]
        await admin.update(node)
        assert await wait_for(lambda: events(admin, "web"), what="the cancel event") == [
            ("TaintManagerEviction", "Cancelling deletion of Pod default/web")]
        clock.advance(60)
        # a new taint starts a new count
        node = await admin.get("Node", "flaky")
        node.spec.taints.append(taint())
        await admin.update(node)
        await wait_for(lambda: "default/web" in mgr.controllers["taint-eviction-controller"].pending,
                       what="eviction scheduled again")
        assert not (await admin.get("Pod", "web", NS)).metadata.deletionTimestamp
        clock.advance(60)
        await wait_for(lambda: terminating(admin, "web"), what="deleted 60 s after the new taint")
