"""The scheduler: informers feed the cache and the queue; one loop takes the next pod, runs its
profile's framework, and either assumes the pod on the chosen node and hands the bind to a task, or
records why it fits nowhere.

Informer handlers only update the cache and the queue. Pods bound to a node (by anyone) are counted
in the cache; pending pods whose `schedulerName` names one of our profiles are queued; others are left
alone. A scheduling cycle runs without awaiting, so it sees one consistent cache; binds, events and
status writes run as tasks, so the next cycle starts at once (at most MAX_BINDS_IN_FLIGHT binds wait
at a time); events go out paced, as upstream's event client sends them (`events.py`).

What a cycle leaves behind, in upstream's words:
- scheduled: a `Scheduled` event (`Successfully assigned default/web-1 to node-2`) and, on the pod, the
  decision record (annotation scheduler.minik8s.io/decision; see `Framework.record`);
- unschedulable: a `FailedScheduling` event with the FitError message, the pod's PodScheduled
  condition False with reason Unschedulable, and the pod in the unschedulable queue until a cluster
  event could help it;
- a bind that fails: the assumed pod is forgotten and the pod retried after backoff."""
from __future__ import annotations

import asyncio
import logging
import time

from minik8s.api.clock import Clock
from minik8s.api.errors import ApiError, Conflict, NotFound
from minik8s.api.quantity import QuantityError, bytes_value, cpu_millis
from minik8s.client.events import EventRecorder
from minik8s.client.informer import SharedInformerFactory
from minik8s.scheduler.cache import SchedulerCache
from minik8s.scheduler.config import SchedulerConfig
from minik8s.scheduler.events import PacedEvents
from minik8s.scheduler.framework import Failure, Framework, Handle
from minik8s.scheduler.metrics import Metrics
from minik8s.scheduler.nodeinfo import PodInfo, effective_taints
from minik8s.scheduler.plugins import REGISTRY
from minik8s.scheduler.podstatus import patch_status
from minik8s.scheduler.queue import QueueClosed, QueuedPod, SchedulingQueue

log = logging.getLogger("minik8s.scheduler")

DECISION_ANNOTATION = "scheduler.minik8s.io/decision"
MAX_BINDS_IN_FLIGHT = 256
ANNOTATION_WRITERS = 2
TERMINAL = ("Succeeded", "Failed")
STORAGE_KINDS = ("PersistentVolumeClaim", "PersistentVolume", "StorageClass")     # what VolumeBinding reads
_perf = time.perf_counter


def _terminal(pod) -> bool:
    return pod.status.phase in TERMINAL


def _usage(metrics) -> tuple[int, int] | None:
    try:
        return cpu_millis(metrics.usage.get("cpu", "0")), bytes_value(metrics.usage.get("memory", "0"))
    except QuantityError:
        return None


def _node_changed(old, new) -> bool:
    """Whether a node update could let a pod fit that did not (kubelet heartbeats do not)."""
    return (old.status.allocatable != new.status.allocatable or old.metadata.labels != new.metadata.labels
            or old.spec.unschedulable != new.spec.unschedulable
            or effective_taints(old) != effective_taints(new))


class Scheduler:
    def __init__(self, client, config: SchedulerConfig | None = None, clock: Clock | None = None,
                 factory: SharedInformerFactory | None = None, record_decisions: bool = True):
        config = config or SchedulerConfig()
        self.client = client
        self.clock = clock or Clock()
        self.record_decisions = record_decisions
        self.cache = SchedulerCache()
        self.queue = SchedulingQueue(self.clock, config.pod_initial_backoff_seconds,
                                     config.pod_max_backoff_seconds, interested=self._interested)
        self.metrics = Metrics(self.queue.depth)
        self.factory = factory or SharedInformerFactory(client, self.clock)
        self.profiles: dict[str, Framework] = {}
        for prof in config.profiles:
            recorder = PacedEvents(EventRecorder(client, prof.scheduler_name, clock=self.clock))
            handle = Handle(client, self.clock, prof.scheduler_name, recorder, self._annotate,
                            informers=self.factory)
            self.profiles[prof.scheduler_name] = Framework(prof, REGISTRY, handle, self.metrics)
        self._plugin_events = {n: getattr(p, "events", frozenset())
                               for fwk in self.profiles.values() for n, p in fwk.plugins.items()}
        self.pods = self.factory.informer("Pod")
        self.nodes = self.factory.informer("Node")
        self.node_metrics = self.factory.informer("NodeMetrics")
        self.storage = [self.factory.informer(k) for k in STORAGE_KINDS]
        self._binds: asyncio.Semaphore | None = None
        self._annotations: asyncio.Queue | None = None
        self._tasks: set[asyncio.Task] = set()
        self._workers: list[asyncio.Task] = []
        self.ready = asyncio.Event()

    # ---------------------------------------------------------------- lifecycle
    async def run(self) -> None:
        """List and watch, then schedule until cancelled or `stop()`."""
        self._binds = asyncio.Semaphore(MAX_BINDS_IN_FLIGHT)
        self._annotations = asyncio.Queue()
        self.pods.add_event_handler(self._on_pod_add, self._on_pod_update, self._on_pod_delete)
        self.nodes.add_event_handler(self._on_node_add, self._on_node_update, self._on_node_delete)
        self.node_metrics.add_event_handler(self._on_metrics, lambda old, new: self._on_metrics(new),
                                            self._on_metrics_delete)
        for inf, kind in zip(self.storage, STORAGE_KINDS):
            inf.add_event_handler(lambda _o, k=kind: self.queue.move_all(k + "Add"),
                                  lambda _old, _new, k=kind: self.queue.move_all(k + "Update"), None)
        await self.factory.start_all()
        await self.factory.wait_for_cache_sync()
        self._workers = [asyncio.create_task(self.queue.run(), name="scheduler-queue-flush")]
        self._workers += [asyncio.create_task(self._write_annotations(), name="scheduler-annotations")
                          for _ in range(ANNOTATION_WRITERS)]
        self.ready.set()
        log.info("scheduler ready: %d nodes, profiles %s", self.cache.num_nodes, ", ".join(self.profiles))
        try:
            await self._loop()
        finally:
            for t in self._workers:
                t.cancel()

    async def stop(self) -> None:
        self.queue.close()
        for t in list(self._tasks) + self._workers:
            t.cancel()
        await asyncio.gather(*self._tasks, *self._workers, return_exceptions=True)
        await self.factory.stop_all()
        for fwk in self.profiles.values():
            await fwk.handle.recorder.stop()

    async def _loop(self) -> None:
        while True:
            try:
                qp = await self.queue.pop()
            except QueueClosed:
                return
            await self._binds.acquire()
            bound = False
            try:
                bound = self.schedule_one(qp)
            except Exception:
                log.exception("scheduling %s failed", qp.info.key)
                self.queue.add_backoff(qp)
            finally:
                if not bound:
                    self._binds.release()

    # ---------------------------------------------------------------- one cycle
    def schedule_one(self, qp: QueuedPod) -> bool:
        """Decide for one pod; True when a bind task was started (it releases the bind slot)."""
        pi = qp.info
        fwk = self.profiles.get(pi.pod.spec.schedulerName)
        if fwk is None or pi.terminating or self.cache.pod_node(pi.uid) is not None:
            self.queue.done(pi.uid)
            return False
        start = _perf()
        result = fwk.schedule(pi, self.cache)
        if isinstance(result, Failure):
            self._on_unschedulable(fwk, qp, result, start)
            return False
        node = result.node
        self.cache.assume(pi, node)
        st = fwk.reserve(result.state, pi, node)
        if st is not None:
            self.cache.forget(pi.uid)
            self._on_error(fwk, qp, f"running Reserve plugin {st.plugin!r}: {st.message}")
            return False
        self.queue.done(pi.uid)
        annotations = {}
        if self.record_decisions:
            annotations[DECISION_ANNOTATION] = fwk.record_json(result)
        self.metrics.attempt("scheduled", fwk.name, _perf() - start)
        self._spawn(self._bind(fwk, qp, result.state, node, annotations), release=True)
        return True

    async def _bind(self, fwk: Framework, qp: QueuedPod, state, node: str, annotations: dict) -> None:
        pi = qp.info
        try:
            await fwk.pre_bind(state, pi, node)
            await fwk.bind(pi, node, annotations)
        except Exception as e:
            self.cache.forget(pi.uid)
            fwk.unreserve(state, pi, node)
            self.queue.move_all("PodDelete")        # the room it held is free again
            if isinstance(e, NotFound) or (isinstance(e, Conflict) and "already assigned" in str(e)):
                return                              # gone, or bound by someone else: the informer says
            if not isinstance(e, ApiError):
                log.exception("binding %s to %s failed", pi.key, node)
            current = self.pods.get_by(pi.namespace, pi.name)
            if current is not None and current.metadata.uid == pi.uid and not current.spec.nodeName:
                self._on_error(fwk, qp, f"Binding rejected: {e}")
            return
        fwk.handle.recorder.event(pi.pod, "Normal", "Scheduled",
                                  f"Successfully assigned {pi.namespace}/{pi.name} to {node}")

    def _on_unschedulable(self, fwk: Framework, qp: QueuedPod, failure: Failure, start: float) -> None:
        pi = qp.info
        if failure.fit_error is None:           # no nodes at all: upstream treats it as an error
            self._on_error(fwk, qp, failure.message)
            return
        nominated = None
        result = fwk.post_filter(pi, failure, self.cache)
        if result is not None:
            failure.fit_error.post_filter_msg = result.message
            if result.nominated_node:
                nominated = result.nominated_node
                self.cache.nominate(pi, nominated)
                self.metrics.preemption_victims += len(result.victims)
                log.info("pod %s preempts %s on %s", pi.key, ", ".join(v.key for v in result.victims), nominated)
                if result.actions is not None:
                    self._spawn(result.actions())
        message = failure.message
        self.metrics.attempt("unschedulable", fwk.name, _perf() - start)
        self.queue.add_unschedulable(qp, failure.unschedulable_plugins)
        log.info("pod %s is unschedulable: %s", pi.key, message)
        fwk.handle.recorder.event(pi.pod, "Warning", "FailedScheduling", message)
        self._spawn(patch_status(self.client, pi.pod, self.clock, nominated_node=nominated, condition={
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}))

    def _on_error(self, fwk: Framework, qp: QueuedPod, message: str) -> None:
        pi = qp.info
        self.metrics.attempt("error", fwk.name, 0.0)
        self.queue.add_backoff(qp)
        log.info("scheduling %s failed: %s", pi.key, message)
        fwk.handle.recorder.event(pi.pod, "Warning", "FailedScheduling", message)
        self._spawn(patch_status(self.client, pi.pod, self.clock, condition={
            "type": "PodScheduled", "status": "False", "reason": "SchedulerError", "message": message}))

    def _spawn(self, coro, release: bool = False) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)

        def finished(t: asyncio.Task) -> None:
            self._tasks.discard(t)
            if release:
                self._binds.release()
            if not t.cancelled() and t.exception() is not None:
                log.error("scheduler task failed", exc_info=t.exception())
        task.add_done_callback(finished)

    def _interested(self, qp: QueuedPod, event: str) -> bool:
        return any(event in self._plugin_events.get(p, ()) for p in qp.unschedulable_plugins)

    # ---------------------------------------------------------------- the decision record, when a bind cannot carry it
    def _annotate(self, pi: PodInfo, annotations: dict) -> None:
        # the names only: holding the PodInfo would keep the pending version of every pod alive
        self._annotations.put_nowait((pi.namespace, pi.name, annotations))

    async def _write_annotations(self) -> None:
        while True:
            namespace, name, annotations = await self._annotations.get()
            try:
                await self.client.patch("Pod", name, {"metadata": {"annotations": annotations}}, namespace)
            except NotFound:
                pass
            except ApiError as e:
                log.warning("writing the decision record of %s/%s failed: %s", namespace, name, e)

    # ---------------------------------------------------------------- informer handlers
    def _responsible(self, pod) -> bool:
        return pod.spec.schedulerName in self.profiles

    def _on_pod_add(self, pod) -> None:
        if pod.spec.nodeName:
            if not _terminal(pod):
                self.queue.delete(pod.metadata.uid)
                self.cache.add_pod(PodInfo(pod))
                self.queue.move_all("PodAdd")
        elif self._responsible(pod) and not _terminal(pod) and not pod.metadata.deletionTimestamp:
            pi = PodInfo(pod)
            self.queue.add(pi)
            if pod.status.nominatedNodeName:
                self.cache.nominate(pi, pod.status.nominatedNodeName)

    def _on_pod_update(self, old, pod) -> None:
        uid = pod.metadata.uid
        if pod.spec.nodeName:
            if _terminal(pod):
                if self.cache.pod_node(uid) is not None:
                    self.cache.remove_pod(uid)
                    self.queue.move_all("PodDelete")
                return
            self.queue.delete(uid)
            known = self.cache.pod_info(uid)        # usually our own assumed pod, its bind landing
            pi = known.updated(pod) if known is not None else PodInfo(pod)
            before = self.cache.pod_node(uid)
            self.cache.add_pod(pi)
            if before is None:
                self.queue.move_all("PodAdd")
            elif old.spec.nodeName and (old.spec != pod.spec or old.metadata.labels != pod.metadata.labels):
                self.queue.move_all("PodUpdate")
        elif self._responsible(pod):
            if _terminal(pod) or pod.metadata.deletionTimestamp:
                self.queue.delete(uid)
                self.cache.clear_nomination(uid)
                return
            pi = PodInfo(pod)
            self.queue.update(pi)
            if pod.status.nominatedNodeName != old.status.nominatedNodeName:
                self.cache.nominate(pi, pod.status.nominatedNodeName)

    def _on_pod_delete(self, pod) -> None:
        uid = pod.metadata.uid
        self.queue.delete(uid)
        if self.cache.pod_node(uid) is not None:
            self.cache.remove_pod(uid)
            self.queue.move_all("PodDelete")
        else:
            self.cache.clear_nomination(uid)

    def _on_node_add(self, node) -> None:
        self.cache.set_node(node)
        self.queue.move_all("NodeAdd")

    def _on_node_update(self, old, node) -> None:
        self.cache.set_node(node)
        if _node_changed(old, node):
            self.queue.move_all("NodeUpdate")

    def _on_node_delete(self, node) -> None:
        self.cache.remove_node(node.metadata.name)

    def _on_metrics(self, metrics) -> None:
        self.cache.set_usage(metrics.metadata.name, _usage(metrics))

    def _on_metrics_delete(self, metrics) -> None:
        self.cache.set_usage(metrics.metadata.name, None)
