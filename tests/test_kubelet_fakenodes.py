"""Many identities over one connection, as the fake node host runs them: `with_token` on the sync and
asyncio clients sends another bearer token on the same channel, and each fake node then writes as
itself (the server's node authorization tells them apart)."""
from __future__ import annotations

import grpc
import pytest

from minik8s.api.errors import Forbidden, NotFound
from minik8s.api.pb import core_pb2

from kubelet.fakenodes import FakeNodeHost
from support.wait import wait_for
from test_kubelet_harness import phase_is, pod, wait_gone, wait_pod


def node(name: str) -> core_pb2.Node:
    n = core_pb2.Node()
    n.metadata.name = name
    return n


def test_with_token_acts_as_the_other_identity_on_the_same_channel(srv):
    admin = srv.client("admin")
    as_node1 = admin.with_token(srv.tokens["node-1"])
    as_node1.create(node("node-1"))
    with pytest.raises(Forbidden, match="node-2"):
        as_node1.create(node("node-2"))
    admin.create(node("node-2"))              # the client it came from is still the admin
    admin.close()
    with pytest.raises(ValueError, match="closed channel"):   # one channel: closed for both
        as_node1.get("Node", "node-1")


async def test_async_with_token_acts_as_the_other_identity_on_the_same_channel(srv):
    admin = srv.async_client("admin")
    as_node1 = admin.with_token(srv.tokens["node-1"])
    await as_node1.create(node("node-1"))
    with pytest.raises(Forbidden, match="node-2"):
        await as_node1.create(node("node-2"))
    await admin.create(node("node-2"))
    await admin.close()
    with pytest.raises(grpc.aio.UsageError, match="Channel is closed"):
        await as_node1.get("Node", "node-1")


async def test_each_fake_node_writes_its_own_node_with_its_own_token(srv, tmp_path):
    host = FakeNodeHost(str(tmp_path), ["node-1", "node-2"], base_client=srv.async_client("admin"),
                        tokens={n: srv.tokens[n] for n in ("node-1", "node-2")})
    await host.start()
    try:
        async with srv.async_client("admin") as admin:
            lease1 = await wait_for(lambda: admin.get("Lease", "node-1", "kube-node-lease"),
                                    what="node-1's lease", ignoring=(NotFound,))
            await wait_for(lambda: admin.get("Lease", "node-2", "kube-node-lease"),
                           what="node-2's lease", ignoring=(NotFound,))
        # the host's node-2 kubelet cannot touch node-1's lease: it is not sending node-1's token
        with pytest.raises(Forbidden):
            await host.kubelets["node-2"].client.update(lease1)
    finally:
        await host.stop()


async def test_a_hosted_node_left_idle_still_sees_its_pods_containers_exit(srv, tmp_path):
    """The host stops looking at a node with nothing on it; a pod bound to it brings it back, and the
    relist sees the container exit (the pod completes) and its removal once the pod is deleted."""
    host = FakeNodeHost(str(tmp_path), ["node-1", "node-2"], base_client=srv.async_client("admin"),
                        tokens={n: srv.tokens[n] for n in ("node-1", "node-2")})
    await host.start()
    try:
        idle = host.kubelets["node-2"]
        await wait_for(lambda: idle not in host._active, what="node-2 no longer looked at")
        async with srv.async_client("admin") as admin:
            await admin.create(pod("job", node="node-2", restartPolicy="Never",
                                   annotations={"fake.minik8s.io/exit-after-seconds": "1"}))
            await wait_pod(admin, "job", phase_is("Succeeded"))
            await admin.delete("Pod", "job")
            await wait_gone(admin, "job")
        await wait_for(lambda: idle not in host._active, what="node-2 idle again")
    finally:
        await host.stop()
