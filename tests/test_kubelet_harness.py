"""The harness the kubelet tests share: a real API server process, kubelets run in the test's own event
loop (so a test can stop one and start another over the same runtime state), pods written as manifest
dicts, and waits that poll the API with a deadline instead of sleeping. Its own tests pin the waits."""
from __future__ import annotations

import contextlib
import os

import pytest

from minik8s.api.codec import from_dict
from minik8s.api.errors import NotFound
from minik8s.api.pb import core_pb2

from kubelet.__main__ import make_runtime
from kubelet.agent import Kubelet
from kubelet.config import NodeConfig, Settings, default_pod_cidr, index_of
from kubelet.paths import LABEL_CLUSTER
import support

DEADLINE = 30.0

# fast settings for tests that run real processes: short backoff and relist
FAST = dict(backoff_base=1.0, backoff_cap=4.0, pleg_period=0.05, metrics_period=0.5, resync_period=2.0,
            node_status_update_period=1.0)


def pod(name: str, containers=None, node: str = "node-1", namespace: str = "default", labels=None,
        annotations=None, **spec) -> core_pb2.Pod:
    """A pod bound to `node` from manifest-shaped dicts: pod("web", containers=[{"name": ..., ...}])."""
    meta = {"name": name, "namespace": namespace, "labels": labels or {}, "annotations": annotations or {}}
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
           "spec": {"nodeName": node, "containers": containers or [{"name": "app", "image": "busybox"}], **spec}}
    return from_dict(core_pb2.Pod, doc)


def sh(name: str, script: str, **extra) -> dict:
    """A container running `sh -c script` (the process runtime runs it on the host, docker in busybox)."""
    return {"name": name, "image": "minik8s/busybox:latest", "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", script], **extra}


async def wait_for(fn, timeout: float = DEADLINE, interval: float = 0.02, what: str = "condition"):
    """The shared wait, where a pod not made yet (NotFound) counts as "not yet"."""
    return await support.wait_for(fn, timeout, what, interval, ignoring=(NotFound,))


def settled(k) -> bool:
    """Every pod worker of kubelet `k` waits with nothing left to do: all it was told has been synced."""
    return all(not w.wake.is_set() and w.current is None for w in k.workers.workers.values())


async def wait_pod(client, name: str, pred, timeout: float = DEADLINE, namespace: str = "default"):
    """Wait until pred(pod) holds for the stored pod; returns the pod."""
    last = [None]

    async def check():
        p = await client.get("Pod", name, namespace)
        last[0] = p
        return p if pred(p) else None
    try:
        return await wait_for(check, timeout, what=f"pod {name}")
    except AssertionError:
        raise AssertionError(f"pod {name} never got there; its status: {last[0].status if last[0] else None}") \
            from None


async def wait_gone(client, name: str, timeout: float = DEADLINE, namespace: str = "default") -> None:
    async def gone():
        try:
            await client.get("Pod", name, namespace)
        except NotFound:
            return True
        return False
    await wait_for(gone, timeout, what=f"pod {name} to be deleted")


def phase_is(phase: str):
    return lambda p: p.status.phase == phase


def condition(p, type_: str) -> str:
    return next((c.status for c in p.status.conditions if c.type == type_), "")


def cstatus(p, name: str):
    return next(c for c in list(p.status.containerStatuses) + list(p.status.initContainerStatuses)
                if c.name == name)


def running(name: str):
    def pred(p):
        try:
            return cstatus(p, name).state.HasField("running")
        except StopIteration:
            return False
    return pred


async def events(client, name: str, namespace: str = "default") -> list[tuple[str, str]]:
    evs = (await client.list("Event", namespace, field_selector=f"involvedObject.name={name}")).items
    evs.sort(key=lambda e: e.metadata.name)
    return [(e.reason, e.message) for e in evs]


async def wait_event(client, name: str, reason: str, contains: str = "", timeout: float = DEADLINE):
    async def find():
        return next(((r, m) for r, m in await events(client, name) if r == reason and contains in m), None)
    return await wait_for(find, timeout, what=f"a {reason} event for {name}")


def node_config(name: str, runtime: str, **kw) -> NodeConfig:
    index = index_of(name)
    return NodeConfig(name=name, runtime=runtime, pod_cidr=default_pod_cidr(runtime, index), index=index, **kw)


@contextlib.asynccontextmanager
async def kubelet(srv, home: str, name: str = "node-1", runtime: str = "fake", settings: Settings | None = None,
                  clock=None, runtime_obj=None, cleanup: bool = True, **node_kw):
    """A started kubelet for `name`; on exit its pods are force-deleted and their containers removed
    (unless cleanup=False: then everything is left running, as a crashed kubelet would)."""
    cfg = node_config(name, runtime, **node_kw)
    settings = settings or Settings(**FAST)
    rt = runtime_obj or make_runtime(runtime, home, name, cfg.pod_cidr, settings, clock)
    client = srv.async_client(name)
    k = Kubelet(client, rt, cfg, home, settings, clock=clock, address="127.0.0.1")
    await k.start()
    try:
        yield k
    finally:
        if cleanup:
            await remove_all(srv, k)
        await k.stop()
        await client.close()


async def remove_all(srv, k: Kubelet) -> None:
    """Delete the node's pods (grace 0) and wait until its runtime holds nothing."""
    async with srv.async_client("admin") as admin:
        for p in (await admin.list("Pod", "", field_selector=f"spec.nodeName={k.node_name}")).items:
            try:
                await admin.delete("Pod", p.metadata.name, p.metadata.namespace, grace_period=0)
            except NotFound:
                pass

    def mine(items):
        return [x for x in items if x.labels.get(LABEL_CLUSTER) == k.cluster_id]

    async def empty():
        return not mine(await k.runtime.list_containers()) and not mine(await k.runtime.list_sandboxes())
    try:
        await wait_for(empty, 30, what="the runtime to be empty")
    except AssertionError:
        for s in mine(await k.runtime.list_sandboxes()):
            await k.runtime.remove_sandbox(s.id)
        for c in mine(await k.runtime.list_containers()):
            await k.runtime.remove_container(c.id)


# ---------------------------------------------------------------- the harness's own tests
async def test_wait_for_returns_the_value_and_times_out():
    box = {"n": 0}

    def step():
        box["n"] += 1
        return box["n"] if box["n"] >= 3 else None
    assert await wait_for(step, 5, interval=0) == 3
    with pytest.raises(AssertionError, match="nothing not reached within 0.05 s"):
        await wait_for(lambda: False, 0.05, what="nothing")


def test_pod_builds_a_bound_pod_from_manifest_dicts():
    p = pod("web", [sh("app", "true", env=[{"name": "A", "value": "1"}])], node="node-2", restartPolicy="Never")
    assert (p.metadata.name, p.spec.nodeName, p.spec.restartPolicy) == ("web", "node-2", "Never")
    assert list(p.spec.containers[0].command) == ["sh", "-c", "true"]
    assert os.path.basename(p.spec.containers[0].image) == "busybox:latest"
