"""Builders shared by the scheduler tests: Node and Pod objects, the NodeInfo/PodInfo the plugins see,
and a Harness that runs the Scheduler in-process against a real API server."""
from __future__ import annotations

import asyncio

from minik8s.api import codec
from minik8s.api.pb import core_pb2
from minik8s.scheduler.nodeinfo import NodeInfo, PodInfo
from support.wait import wait_for

TIMEOUT = 30.0


def make_node(name: str, cpu: str = "4", memory: str = "8Gi", pods: str = "110", labels: dict | None = None,
              taints: list[dict] = (), ready: str | None = "True", unschedulable: bool = False,
              extra: dict | None = None) -> core_pb2.Node:
    capacity = {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}
    d = {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
         "spec": {"taints": list(taints), "unschedulable": unschedulable},
         "status": {"capacity": capacity, "allocatable": capacity}}
    if ready is not None:
        d["status"]["conditions"] = [{"type": "Ready", "status": ready}]
    return codec.from_dict(core_pb2.Node, d)


def make_pod(name: str, cpu: str | None = None, memory: str | None = None, gpu: str | None = None,
             namespace: str = "default", labels: dict | None = None, priority: int | None = None,
             node_selector: dict | None = None, tolerations: list[dict] | None = None,
             affinity: dict | None = None, host_port: int | None = None, scheduler_name: str | None = None,
             node_name: str | None = None, init_containers: list[dict] | None = None,
             overhead: dict | None = None, grace: int | None = None, **spec) -> core_pb2.Pod:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory), ("nvidia.com/gpu", gpu)) if v}
    container = {"name": "app", "image": "busybox", "resources": {"requests": requests}}
    if gpu:
        container["resources"]["limits"] = {"nvidia.com/gpu": gpu}
    if host_port:
        container["ports"] = [{"containerPort": 80, "hostPort": host_port}]
    spec = {"containers": [container], **spec}
    for key, value in (("nodeSelector", node_selector), ("tolerations", tolerations), ("affinity", affinity),
                       ("schedulerName", scheduler_name), ("nodeName", node_name),
                       ("initContainers", init_containers), ("overhead", overhead),
                       ("terminationGracePeriodSeconds", grace), ("priority", priority)):
        if value is not None:
            spec[key] = value
    return codec.from_dict(core_pb2.Pod, {"metadata": {"name": name, "namespace": namespace,
                                                        "labels": labels or {}}, "spec": spec})


def pod_info(pod: core_pb2.Pod) -> PodInfo:
    """The PodInfo of a pod that was never stored: its uid is its name."""
    if not pod.metadata.uid:
        pod.metadata.uid = pod.metadata.name
    return PodInfo(pod)


def node_info(node: core_pb2.Node, *pods: core_pb2.Pod) -> NodeInfo:
    ni = NodeInfo(node.metadata.name)
    ni.set_node(node)
    for p in pods:
        ni.add_pod(pod_info(p))
    return ni


class Harness:
    """An in-process Scheduler (with the scheduler's identity) and an admin client, both against `srv`."""

    def __init__(self, srv, config=None, **kw):
        from minik8s.scheduler.scheduler import Scheduler
        self.admin = srv.async_client()
        self.client = srv.async_client("scheduler")
        self.scheduler = Scheduler(self.client, config, **kw)
        self._task = None

    async def __aenter__(self) -> "Harness":
        self._task = asyncio.create_task(self.scheduler.run())
        ready = asyncio.create_task(self.scheduler.ready.wait())
        done, _ = await asyncio.wait({ready, self._task}, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if self._task in done:
                self._task.result()
            raise TimeoutError("scheduler did not sync")
        return self

    async def __aexit__(self, *exc) -> None:
        await self.scheduler.stop()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.admin.close()
        await self.client.close()

    async def create(self, *objs) -> None:
        for o in objs:
            await self.admin.create(o)

    async def node_of(self, name: str, namespace: str = "default") -> str:
        async def bound():
            return (await self.admin.get("Pod", name, namespace)).spec.nodeName
        return await wait_for(bound, what=f"pod {name} bound")

    async def events(self, name: str, reason: str) -> list:
        return [e for e in (await self.admin.list("Event")).items
                if e.involvedObject.name == name and e.reason == reason]

    async def event(self, name: str, reason: str):
        async def found():
            evs = await self.events(name, reason)
            return evs[-1] if evs else None
        return await wait_for(found, what=f"{reason} event for {name}")


def cache_with(nodes, pods=()):
    """A SchedulerCache holding `nodes` and the `pods` (each with spec.nodeName set) bound to them."""
    from minik8s.scheduler.cache import SchedulerCache
    cache = SchedulerCache()
    for n in nodes:
        cache.set_node(n)
    for p in pods:
        cache.add_pod(pod_info(p))
    return cache


class RecordingClient:
    """Stands in for the AsyncClient where a test only runs plugins: records binds."""

    def __init__(self):
        self.binds = []

    async def bind(self, namespace, name, node, uid=""):
        self.binds.append((namespace, name, node))


def framework(profile=None, client=None):
    """A Framework for the default profile (or `profile`), with no API behind it."""
    from minik8s.api.clock import FakeClock
    from minik8s.scheduler.config import Profile
    from minik8s.scheduler.framework import Framework, Handle
    from minik8s.scheduler.plugins import REGISTRY
    profile = profile or Profile()
    return Framework(profile, REGISTRY, Handle(client or RecordingClient(), FakeClock(), profile.scheduler_name))
