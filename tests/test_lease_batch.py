"""UpdateLeases, the batched Lease renewal of a host of many fake nodes, against a real API server:
each item is its own node's Update (its own token, its own authorization, its own resourceVersion
precondition, its own answer), bad input is refused naming the field, and the node lifecycle
controller sees a fake node host's batched renewals as it sees a kubelet's."""
from __future__ import annotations

import pytest

from minik8s.api.clock import FakeClock, rfc3339_micro
from minik8s.api.errors import BadRequest, Conflict, Forbidden, Invalid, Unauthenticated
from minik8s.api.pb import coordination_pb2

from kubelet.fakenodes import FakeNodeHost
from support.controllers import running_manager
from support.wait import wait_for

NS = "kube-node-lease"
NODES = ("node-1", "node-2")


def lease(name: str, renew: str = "2026-01-01T00:00:00.000000Z") -> coordination_pb2.Lease:
    obj = coordination_pb2.Lease()
    obj.metadata.name, obj.metadata.namespace = name, NS
    obj.spec.holderIdentity, obj.spec.leaseDurationSeconds, obj.spec.renewTime = name, 40, renew
    return obj


async def leases(admin) -> dict[str, coordination_pb2.Lease]:
    return {n: await admin.create(lease(n)) for n in NODES}


def renewed(obj: coordination_pb2.Lease, renew: str) -> coordination_pb2.Lease:
    out = coordination_pb2.Lease()
    out.CopyFrom(obj)
    out.spec.renewTime = renew
    return out


async def test_each_item_is_renewed_as_its_own_token_and_only_a_nodes_own_lease(srv, admin):
    current = await leases(admin)
    tokens = srv.tokens
    answers = await admin.update_leases([(tokens["node-1"], renewed(current["node-1"], "2026-01-01T00:00:10.000000Z")),
                                         (tokens["node-2"], renewed(current["node-2"], "2026-01-01T00:00:10.000000Z"))])
    assert all(isinstance(a, str) and a for a in answers), answers
    for name, rv in zip(NODES, answers):
        stored = await admin.get("Lease", name, NS)
        assert (stored.spec.renewTime, stored.metadata.resourceVersion) == ("2026-01-01T00:00:10.000000Z", rv)

    # a node's token on another node's lease, and a call as node-1 with no item token: node-1's own
    # lease is renewed, node-2's is refused, each on its own
    as_node1 = admin.with_token(tokens["node-1"])
    current = {n: await admin.get("Lease", n, NS) for n in NODES}
    mine, theirs = await as_node1.update_leases([("", renewed(current["node-1"], "2026-01-01T00:00:20.000000Z")),
                                                 ("", renewed(current["node-2"], "2026-01-01T00:00:20.000000Z"))])
    assert isinstance(mine, str)
    assert isinstance(theirs, Forbidden) and "node 'node-1' may only use its own Lease" in theirs.message
    [wrong] = await admin.update_leases([(tokens["node-2"], renewed(current["node-1"], "2026-01-01T00:00:30.000000Z"))])
    assert isinstance(wrong, Forbidden) and "node 'node-2'" in wrong.message
    assert (await admin.get("Lease", "node-1", NS)).spec.renewTime == "2026-01-01T00:00:20.000000Z"
    assert (await admin.get("Lease", "node-2", NS)).spec.renewTime == "2026-01-01T00:00:10.000000Z"


async def test_a_stale_resource_version_fails_only_its_own_item(srv, admin):
    current = await leases(admin)
    stale = renewed(current["node-1"], "2026-01-01T00:00:10.000000Z")
    await admin.update(renewed(current["node-1"], "2026-01-01T00:00:05.000000Z"))    # another writer first
    conflict, ok = await admin.update_leases([
        (srv.tokens["node-1"], stale),
        (srv.tokens["node-2"], renewed(current["node-2"], "2026-01-01T00:00:10.000000Z"))])
    assert isinstance(conflict, Conflict) and "the object has been modified" in conflict.message
    assert isinstance(ok, str)
    assert (await admin.get("Lease", "node-1", NS)).spec.renewTime == "2026-01-01T00:00:05.000000Z"
    assert (await admin.get("Lease", "node-2", NS)).spec.renewTime == "2026-01-01T00:00:10.000000Z"


class Malformed:
    """Bytes that are no Lease, where a Lease is expected."""

    def SerializeToString(self) -> bytes:
        return b"\x0a\xff\xff"


async def test_bad_items_are_refused_naming_the_field_and_the_good_ones_still_renewed(srv, admin):
    current = await leases(admin)
    bad_duration = renewed(current["node-2"], "2026-01-01T00:00:10.000000Z")
    bad_duration.spec.leaseDurationSeconds = -1
    malformed, unknown_token, invalid, ok = await admin.update_leases([
        (srv.tokens["node-1"], Malformed()),
        ("not-a-token", renewed(current["node-1"], "2026-01-01T00:00:10.000000Z")),
        (srv.tokens["node-2"], bad_duration),
        (srv.tokens["node-1"], renewed(current["node-1"], "2026-01-01T00:00:10.000000Z"))])
    assert isinstance(malformed, BadRequest) and malformed.message.startswith("items[0].lease: cannot decode Lease")
    assert isinstance(unknown_token, Unauthenticated) and unknown_token.message.startswith("items[1].token: ")
    assert isinstance(invalid, Invalid) and "spec.leaseDurationSeconds" in invalid.message
    assert isinstance(ok, str)
    assert (await admin.get("Lease", "node-2", NS)).spec.leaseDurationSeconds == 40

    with pytest.raises(BadRequest, match=r"^items: Too many: 2001: must have at most 2000 items"):
        await admin.update_leases([("", lease("node-1"))] * 2001)
    assert (await admin.get("Lease", "node-1", NS)).metadata.resourceVersion == ok


async def test_the_node_lifecycle_controller_sees_a_fake_node_hosts_batched_renewals(srv, tmp_path):
    clock = FakeClock()
    host = FakeNodeHost(str(tmp_path), list(NODES), clock=clock, base_client=srv.async_client("admin"),
                        tokens={n: srv.tokens[n] for n in NODES})
    async with srv.async_client() as admin, srv.async_client("controller-manager") as cm, \
            running_manager(cm, "node-lifecycle", clock) as mgr:
        await host.start()
        try:
            ctl = mgr.controllers["node-lifecycle"]
            # the leases as created at the start, then a minute and a half of renewals: past the lease
            # duration (40 s) and the grace period (50 s) several times
            for _ in range(10):
                now = rfc3339_micro(clock.now())
                # seen by the controller, and answered: the nodes wait for their next renewal
                await wait_for(lambda: all((h := ctl.health.get(n)) and h.lease_renew_time == now for n in NODES)
                               and host.leases.idle(), what=f"both renewals at {now} seen by the controller")
                clock.advance(10)
            for n in NODES:
                node = await admin.get("Node", n)
                ready = next(c for c in node.status.conditions if c.type == "Ready")
                assert ready.status == "True" and not [t for t in node.spec.taints if "unreachable" in t.key]
        finally:
            await host.stop()
