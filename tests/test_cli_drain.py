"""minictl cordon, uncordon, drain and taint against a real API server, with the ReplicaSet and
disruption controllers and a fake kubelet in the test's loop: kubectl's output; a drain a budget blocks
retries every 5 s, saying so, and completes once a replacement is Ready; pods kubectl refuses to drain
(no controller, emptyDir, DaemonSet) fail the drain and leave the node cordoned; DaemonSet pods stay
with --ignore-daemonsets. (minik8s has no DaemonSet controller: the DaemonSet pod here is a pod whose
controller reference names a DaemonSet, which is all drain looks at.)"""
from __future__ import annotations

import asyncio
import contextlib
import sys

from minik8s.api import disruption as rules
from minik8s.api.clock import FakeClock
from minik8s.api.pb import apps_pb2, core_pb2, policy_pb2
from minik8s.client.config import ClientConfig

from cluster import ROOT
from support.controllers import FakeKubelet, running_manager
from support.wait import wait_for

NS = "default"


async def minictl(srv, *args, stderr_lines=None):
    """Run minictl to the end; stderr lines are also appended to `stderr_lines` as they come."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "minik8s.cli.main", "--home", srv.home, *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    err = [] if stderr_lines is None else stderr_lines

    async def read_err():
        async for line in proc.stderr:
            err.append(line.decode().rstrip("\n"))
    reader = asyncio.create_task(read_err())
    out = (await proc.stdout.read()).decode()
    await reader
    return await proc.wait(), out, "\n".join(err)


def node(name):
    n = core_pb2.Node()
    n.metadata.name = name
    return n


def replica_set(name, replicas):
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name, rs.metadata.namespace, rs.spec.replicas = name, NS, replicas
    rs.spec.selector.matchLabels["app"] = name
    rs.spec.template.metadata.labels["app"] = name
    c = rs.spec.template.spec.containers.add()
    c.name, c.image = "app", "busybox"
    return rs


def bare_pod(name, node_name, owner_kind="", empty_dir=False):
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, NS
    p.spec.nodeName = node_name
    c = p.spec.containers.add()
    c.name, c.image = "app", "busybox"
    if owner_kind:
        p.metadata.ownerReferences.add(apiVersion="apps/v1", kind=owner_kind, name="agent",
                                       uid="0f0f0f0f-0000-4000-8000-000000000000", controller=True)
    if empty_dir:
        v = p.spec.volumes.add(name="scratch")
        v.emptyDir.SetInParent()
    return p


@contextlib.asynccontextmanager
async def cluster(srv):
    ClientConfig(server=srv.address, token=srv.tokens["admin"]).save(srv.home)
    clock = FakeClock()
    async with srv.async_client() as admin, srv.async_client("controller-manager") as cm, \
            running_manager(cm, "replicaset,disruption", clock):
        for n in ("node-1", "node-2"):
            await admin.create(node(n))
        kubelet = await FakeKubelet(admin, clock, node="node-1").start()
        try:
            yield admin, kubelet
        finally:
            await kubelet.stop()


async def pods_on(client, node_name, app="web"):
    pods = (await client.list("Pod", NS, label_selector=f"app={app}")).items
    return sorted(p.metadata.name for p in pods if p.spec.nodeName == node_name and rules.is_pod_ready(p)
                  and not p.metadata.deletionTimestamp)


async def test_cordon_uncordon_and_unknown_nodes(srv):
    ClientConfig(server=srv.address, token=srv.tokens["admin"]).save(srv.home)
    async with srv.async_client() as admin:
        await admin.create(node("n1"))
        assert (await minictl(srv, "cordon", "n1"))[:2] == (0, "node/n1 cordoned\n")
        assert (await admin.get("Node", "n1")).spec.unschedulable
        assert (await minictl(srv, "cordon", "n1"))[:2] == (0, "node/n1 already cordoned\n")
        assert (await minictl(srv, "uncordon", "n1"))[:2] == (0, "node/n1 uncordoned\n")
        assert not (await admin.get("Node", "n1")).spec.unschedulable
        assert (await minictl(srv, "uncordon", "n1"))[:2] == (0, "node/n1 already uncordoned\n")
        for verb in ("cordon", "uncordon", "drain"):
            code, _, err = await minictl(srv, verb, "ghost")
            assert (code, err) == (1, 'Error from server (NotFound): nodes "ghost" not found'), verb


async def test_taint_add_remove_and_bad_effect(srv):
    ClientConfig(server=srv.address, token=srv.tokens["admin"]).save(srv.home)
    async with srv.async_client() as admin:
        await admin.create(node("n1"))
        assert (await minictl(srv, "taint", "nodes", "n1", "gpu=a100:NoSchedule"))[:2] == (0, "node/n1 tainted\n")
        code, _, err = await minictl(srv, "taint", "nodes", "n1", "gpu=h100:NoSchedule")
        assert (code, err) == (1, "error: node n1 already has gpu taint(s) with same effect(s) and "
                                  "--overwrite is false")
        assert (await minictl(srv, "taint", "node/n1", "gpu=h100:NoSchedule", "--overwrite"))[0] == 0
        taints = (await admin.get("Node", "n1")).spec.taints
        assert [(t.key, t.value, t.effect) for t in taints] == [("gpu", "h100", "NoSchedule")]

        code, _, err = await minictl(srv, "taint", "nodes", "n1", "gpu=a100:Sometimes")
        assert (code, err) == (1, "error: invalid taint effect: Sometimes, unsupported taint effect")
        assert len((await admin.get("Node", "n1")).spec.taints) == 1      # nothing half-done

        assert (await minictl(srv, "taint", "nodes", "n1", "gpu:NoSchedule-"))[:2] == (0, "node/n1 untainted\n")
        assert not (await admin.get("Node", "n1")).spec.taints
        code, _, err = await minictl(srv, "taint", "nodes", "n1", "gpu:NoSchedule-")
        assert (code, err) == (1, 'error: taint "gpu:NoSchedule" not found')


async def test_drain_waits_for_the_budget_then_moves_every_pod(srv):
    async with cluster(srv) as (admin, kubelet):
        await admin.create(replica_set("web", 2))
        budget = policy_pb2.PodDisruptionBudget()
        budget.metadata.name, budget.metadata.namespace = "web", NS
        budget.spec.selector.matchLabels["app"] = "web"
        budget.spec.minAvailable.number_value = 2
        await admin.create(budget)
        first = await wait_for(lambda: _len(pods_on(admin, "node-1"), 2), what="2 ready pods on node-1")
        await admin.create(bare_pod("agent-x", "node-1", owner_kind="DaemonSet"))
        kubelet.node = "node-2"          # from now on new pods land on node-2

        err_lines: list[str] = []
        drain = asyncio.create_task(minictl(srv, "drain", "node-1", "--ignore-daemonsets", "--timeout", "120s",
                                            stderr_lines=err_lines))
        blocked = 'error when evicting pods/"{}" -n "default" (will retry after 5s): Cannot evict pod as ' \
                  "it would violate the pod's disruption budget."
        await wait_for(lambda: any(blocked.format(p) in line for line in err_lines for p in first),
                       timeout=60, what="drain blocked by the budget")
        assert (await admin.get("Node", "node-1")).spec.unschedulable
        # a third replica Ready elsewhere frees one disruption at a time
        await admin.patch("ReplicaSet", "web", {"spec": {"replicas": 3}}, NS)
        code, out, err = await asyncio.wait_for(drain, 120)
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0] == "node/node-1 cordoned"
        assert {f"evicting pod default/{p}" for p in first} <= set(lines)
        assert {f"pod/{p} evicted" for p in first} <= set(lines)
        assert lines[-1] == "node/node-1 drained"
        assert "Warning: ignoring DaemonSet-managed Pods: default/agent-x" in err
        assert "The disruption budget web needs 2 healthy pods and has 2 currently" in err
        # every web pod now runs on node-2; node-1 keeps only its DaemonSet pod
        assert len(await wait_for(lambda: _len(pods_on(admin, "node-2"), 3), what="3 pods on node-2")) == 3
        left = [p.metadata.name for p in (await admin.list("Pod", NS, field_selector="spec.nodeName=node-1")).items]
        assert left == ["agent-x"]


async def _len(coro, n):
    items = await coro
    return items if len(items) == n else None


async def test_drain_refuses_what_kubectl_refuses_and_leaves_the_node_cordoned(srv):
    async with cluster(srv) as (admin, kubelet):
        await admin.create(bare_pod("bare", "node-1"))
        await admin.create(bare_pod("cache", "node-1", owner_kind="ReplicaSet", empty_dir=True))
        await admin.create(bare_pod("agent", "node-1", owner_kind="DaemonSet"))
        code, out, err = await minictl(srv, "drain", "node-1")
        assert code == 1 and out == "node/node-1 cordoned\n"
        assert ('error: unable to drain node "node-1" due to error: cannot delete DaemonSet-managed Pods '
                "(use --ignore-daemonsets to ignore): default/agent, cannot delete Pods declare no controller "
                "(use --force to override): default/bare, cannot delete Pods with local storage "
                "(use --delete-emptydir-data to override): default/cache, continuing command...") in err
        assert "There are pending nodes to be drained:\n node-1" in err
        assert "left cordoned: node-1" in err
        assert (await admin.get("Node", "node-1")).spec.unschedulable
        assert len((await admin.list("Pod", NS)).items) == 3          # nothing evicted

        code, out, err = await minictl(srv, "drain", "node-1", "--force", "--delete-emptydir-data",
                                       "--ignore-daemonsets", "--grace-period", "0")
        assert code == 0, err
        assert out.splitlines()[0] == "node/node-1 already cordoned" and out.splitlines()[-1] == "node/node-1 drained"
        assert [p.metadata.name for p in (await admin.list("Pod", NS)).items] == ["agent"]
