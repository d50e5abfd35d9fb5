"""A node whose pod network cannot be set up says so, as upstream's kubelet does: Ready=False, reason
KubeletNotReady, message "container runtime network not ready: NetworkReady=false
reason:NetworkPluginNotReady message:<the cause>"; and it starts no pod outside the host network
(each waits, with a NetworkNotReady event) until the network is there. The scheduler keeps pods off
such a node by its not-ready taint (tests/scheduler/test_scheduler_taint_toleration.py)."""
from __future__ import annotations

import os
import secrets

import pytest

from kubelet.runtime.fake import FakeRuntime
from kubelet.runtime.process import ProcessRuntime
from support.wait import wait_for
from test_kubelet_harness import cstatus, kubelet, phase_is, pod, wait_event, wait_pod

NOT_READY = "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:"


async def ready_condition(client, node: str):
    n = await client.get("Node", node)
    return next(c for c in n.status.conditions if c.type == "Ready")


async def test_node_without_a_pod_network_is_not_ready_and_runs_only_host_network_pods(srv, tmp_path):
    rt = FakeRuntime("node-1", "10.246.1.0/24")
    rt.network_problem = "cannot create bridge mk8s-1: Operation not permitted"
    async with kubelet(srv, str(tmp_path), runtime_obj=rt), srv.async_client("admin") as c:
        ready = await ready_condition(c, "node-1")
        assert (ready.status, ready.reason, ready.message) == \
            ("False", "KubeletNotReady", NOT_READY + "cannot create bridge mk8s-1: Operation not permitted")
        await wait_event(c, "node-1", "NodeNotReady", "Node node-1 status is now: NodeNotReady")

        await c.create(pod("web", containers=[{"name": "web", "image": "nginx"}]))
        await c.create(pod("host", containers=[{"name": "agent", "image": "agent"}], hostNetwork=True))
        await wait_event(c, "web", "NetworkNotReady", "network is not ready: " + NOT_READY + "cannot create bridge")
        web = await wait_pod(c, "web", lambda p: cstatus(p, "web").state.HasField("waiting"))
        assert web.status.phase == "Pending" and not web.status.podIP
        assert cstatus(web, "web").state.waiting.reason == "ContainerCreating"
        assert not [s for s in await rt.list_sandboxes() if s.name == "web"], "a sandbox was tried"
        await wait_pod(c, "host", phase_is("Running"))

        rt.network_problem = None           # the network comes up: the node is Ready, the pod starts
        ready = await wait_for(lambda: _ready_true(c), what="node-1 Ready again")
        assert (ready.reason, ready.message) == ("KubeletReady", "kubelet is posting ready status")
        await wait_pod(c, "web", phase_is("Running"))


async def _ready_true(c):
    ready = await ready_condition(c, "node-1")
    return ready if ready.status == "True" else None


async def test_process_runtime_without_root_names_the_cause(tmp_path, monkeypatch):
    rt = ProcessRuntime(str(tmp_path / "state"), "node-1", "10.246.1.0/24")
    monkeypatch.setattr("kubelet.network.os.geteuid", lambda: 1000)
    assert await rt.network_ready() == "pod networking needs root (network namespaces, veth pairs, a bridge)"


@pytest.mark.root
async def test_process_node_whose_bridge_the_kernel_refuses_is_not_ready(srv, tmp_path):
    home = str(tmp_path)
    rt = ProcessRuntime(os.path.join(home, "kubelet", "node-1", "runtime"), "node-1", "10.246.1.0/24")
    rt.network.bridge_name = "mk8s-" + "x" * 20     # longer than a Linux interface name may be
    assert (await rt.network_ready()).startswith(f"cannot set up bridge {rt.network.bridge_name}: ")
    async with kubelet(srv, home, runtime="process", runtime_obj=rt), srv.async_client("admin") as c:
        ready = await ready_condition(c, "node-1")
        assert ready.status == "False" and ready.reason == "KubeletNotReady"
        assert ready.message.startswith(NOT_READY + f"cannot set up bridge {rt.network.bridge_name}: ")


@pytest.mark.docker
async def test_docker_network_on_another_subnet_is_named_as_the_cause(tmp_path):
    import docker

    from kubelet.runtime.docker import DockerRuntime
    from test_runtime_docker import _free_subnet

    client = docker.from_env(timeout=30)
    name = f"nr{secrets.token_hex(3)}"
    subnet = _free_subnet(client)
    first = DockerRuntime(name, subnet, str(tmp_path / "a"), client=client)
    other = DockerRuntime(name, "10.199.99.0/24", str(tmp_path / "b"), client=client)
    try:
        assert await first.network_ready() is None           # made on first sight
        assert client.networks.get(f"minik8s-{name}")
        assert await other.network_ready() == (f"network minik8s-{name} has subnet ['{subnet}'], not the node's "
                                               "pod CIDR 10.199.99.0/24; remove it to recreate it")
    finally:
        await first.close()
        await other.close()
        try:
            client.networks.get(f"minik8s-{name}").remove()
        except docker.errors.NotFound:
            pass
        client.close()
