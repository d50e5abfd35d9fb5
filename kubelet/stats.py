"""Usage metrics, after the kubelet's summary API and metrics-server: every metricsPeriod the kubelet
samples each running container's cumulative CPU time and working-set memory from the runtime, turns
CPU time into a rate (millicores) between two samples, and publishes it through the API server as
metrics.k8s.io objects: a PodMetrics per pod (its labels copied, so `top pods -l` can select) and the
NodeMetrics named after the node (the sum over its pods: several nodes may share one host, so the
host's own usage would say nothing about one of them). `minictl top`, the scheduler and the autoscalers
read them."""
from __future__ import annotations

import asyncio
import logging
import time

from minik8s.api.clock import Clock, rfc3339
from minik8s.api.errors import Forbidden, NotFound
from minik8s.api.pb import metrics_pb2
from minik8s.api.quantity import format_millicpu

from kubelet.runtime.base import LABEL_POD_UID

log = logging.getLogger("kubelet.stats")

REWRITE_UNCHANGED = 60.0


def memory_text(n: int) -> str:
    return f"{n // 1024}Ki"


def window_text(seconds: float) -> str:
    return f"{int(seconds)}s" if seconds == int(seconds) else f"{seconds:g}s"


class MetricsPublisher:
    def __init__(self, client, runtime, clock: Clock, node: str, period: float, pods_by_uid):
        self.client = client
        self.runtime = runtime
        self.clock = clock
        self.node = node
        self.period = period
        self.pods_by_uid = pods_by_uid              # uid -> the pod object (or None)
        self._prev: dict[str, tuple[int, float]] = {}
        self._published: dict[tuple[str, str], str] = {}   # (namespace, name) -> uid
        self._last: dict[tuple[str, str], tuple[tuple, float]] = {}   # what was written, and when
        self._forgotten: dict[str, None] = {}       # uids of pods being deleted: never publish again

    async def sample(self) -> dict[str, list[tuple[str, int, int]]]:
        """pod uid -> [(container, millicores, memory bytes)] for containers with two samples."""
        containers = [c for c in await self.runtime.list_containers()
                      if c.state == "running" and c.labels.get(LABEL_POD_UID)]
        stats = await asyncio.gather(*(self.runtime.stats(c.id) for c in containers), return_exceptions=True)
        out: dict[str, list[tuple[str, int, int]]] = {}
        seen = set()
        for c, s in zip(containers, stats):
            if s is None or isinstance(s, BaseException):
                continue
            seen.add(c.id)
            ts = s.timestamp or time.time()
            prev = self._prev.get(c.id)
            self._prev[c.id] = (s.cpu_usage_ns, ts)
            if prev is None or ts <= prev[1]:
                continue
            millis = max(0, int((s.cpu_usage_ns - prev[0]) / (ts - prev[1]) / 1e6))
            out.setdefault(c.labels[LABEL_POD_UID], []).append((c.name, millis, s.memory_bytes))
        for cid in [cid for cid in self._prev if cid not in seen]:
            del self._prev[cid]
        return out

    async def publish_once(self) -> None:
        usage = await self.sample()
        now = rfc3339(self.clock.now())
        window = window_text(self.period)
        total_cpu = total_mem = 0
        for uid, conts in usage.items():
            pod = self.pods_by_uid(uid)
            if pod is None or pod.metadata.deletionTimestamp or uid in self._forgotten:
                continue
            m = metrics_pb2.PodMetrics(timestamp=now, window=window)
            m.metadata.name, m.metadata.namespace = pod.metadata.name, pod.metadata.namespace
            m.metadata.labels.update(pod.metadata.labels)
            # owned by the pod: the garbage collector removes it with the pod, however the pod goes
            ref = m.metadata.ownerReferences.add()
            ref.apiVersion, ref.kind, ref.name, ref.uid = "v1", "Pod", pod.metadata.name, pod.metadata.uid
            for name, cpu, mem in sorted(conts):
                cm = m.containers.add(name=name)
                cm.usage["cpu"] = format_millicpu(cpu)
                cm.usage["memory"] = memory_text(mem)
                total_cpu += cpu
                total_mem += mem
            if uid in self._forgotten:      # deleted while we sampled
                continue
            await self._put(m)
            self._published[(pod.metadata.namespace, pod.metadata.name)] = uid
        n = metrics_pb2.NodeMetrics(timestamp=now, window=window)
        n.metadata.name = self.node
        n.usage["cpu"] = format_millicpu(total_cpu)
        n.usage["memory"] = memory_text(total_mem)
        await self._put(n)

    async def _put(self, obj) -> None:
        # unchanged usage is rewritten only once a minute: a thousand fake nodes must not flood the server
        key = (obj.metadata.namespace, obj.metadata.name)
        usage = tuple((c.name, tuple(sorted(c.usage.items()))) for c in obj.containers) \
            if hasattr(obj, "containers") else tuple(sorted(obj.usage.items()))
        last = self._last.get(key)
        now = self.clock.monotonic()
        if last is not None and last[0] == usage and now - last[1] < REWRITE_UNCHANGED:
            return
        self._last[key] = (usage, now)
        try:
            await self.client.update(obj)
        except NotFound:
            await self.client.create(obj)

    async def forget_pod(self, pod) -> None:
        """Delete the pod's PodMetrics (before the pod goes: only then may this node delete them)."""
        key = (pod.metadata.namespace, pod.metadata.name)
        self._forgotten[pod.metadata.uid] = None
        while len(self._forgotten) > 10000:
            del self._forgotten[next(iter(self._forgotten))]
        self._last.pop(key, None)
        self._published.pop(key, None)
        try:
            await self.client.delete("PodMetrics", pod.metadata.name, pod.metadata.namespace)
        except (NotFound, Forbidden):
            pass                # gone already, or the pod went first (then only the server can remove them)
        except Exception as e:
            log.warning("deleting metrics of %s/%s: %s", *key, e)

    async def loop(self) -> None:
        while True:
            try:
                await self.publish_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("publishing metrics failed: %s", e)
            await self.clock.sleep(self.period)
