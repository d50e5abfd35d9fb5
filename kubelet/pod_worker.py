"""Pod workers, after upstream's pod_workers.go: one asyncio task per pod, so a pod is synced by one
sync at a time while different pods sync in parallel. A worker sleeps until something about its pod
changes (the informer saw a new version, the runtime saw a container change, a probe result moved) or
until its requeue time passes (a backoff ends, the periodic resync), then runs the pod's sync.

A pod that is deleted while its worker is busy gets its sync cancelled when that shortens its grace
period (a force delete must not wait out a 30 s SIGTERM grace), and a pod that disappears from the API
altogether is torn down at once."""
from __future__ import annotations

import asyncio
import logging

from minik8s.api.clock import Clock

from kubelet.sync import PodState, PodSyncer, SyncResult, grace_period

log = logging.getLogger("kubelet.pod_worker")

ERROR_BACKOFF_BASE = 0.5
ERROR_BACKOFF_CAP = 10.0


class PodWorker:
    def __init__(self, workers: "PodWorkers", uid: str):
        self.workers = workers
        self.uid = uid
        self.pod = None
        self.removed = False
        self.state = PodState(uid=uid)
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.current: asyncio.Task | None = None
        self._terminating_grace: float | None = None
        self._error_delay = ERROR_BACKOFF_BASE

    def update(self, pod) -> None:
        self.pod = pod
        if pod.metadata.deletionTimestamp:
            grace = grace_period(pod)
            if self._terminating_grace is not None and grace < self._terminating_grace:
                self._interrupt()
        self.wake.set()

    def remove(self) -> None:
        self.removed = True
        self._interrupt()
        self.wake.set()

    def _interrupt(self) -> None:
        if self.current is not None and not self.current.done():
            self.current.cancel()

    async def _wait(self, delay: float | None, clock: Clock) -> None:
        if self.wake.is_set():
            return
        waiters = [asyncio.ensure_future(self.wake.wait())]
        if delay is not None:
            waiters.append(asyncio.ensure_future(clock.sleep(max(delay, 0.0))))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    async def run(self) -> None:
        syncer, clock = self.workers.syncer, self.workers.clock
        delay: float | None = 0.0
        try:
            while True:
                await self._wait(delay, clock)
                self.wake.clear()
                if self.removed:
                    self.current = asyncio.ensure_future(self.workers.teardown(self))
                else:
                    pod = self.pod
                    if pod.metadata.deletionTimestamp:
                        self._terminating_grace = grace_period(pod)
                    self.current = asyncio.ensure_future(syncer.sync(pod, self.state))
                try:
                    result = await self.current
                except asyncio.CancelledError:
                    if asyncio.current_task().cancelling():
                        raise
                    delay = 0.0          # interrupted by a shorter grace period or a removal: go again
                    continue
                except Exception:
                    log.exception("sync of pod %s failed; retrying in %.1fs", self._name(), self._error_delay)
                    delay = self._error_delay
                    self._error_delay = min(self._error_delay * 2, ERROR_BACKOFF_CAP)
                    continue
                finally:
                    self.current = None
                self._error_delay = ERROR_BACKOFF_BASE
                if result.done or self.removed:
                    if self.removed and not result.done:
                        delay = 0.0
                        self.wake.set()
                        continue
                    return
                delay = result.requeue if result.requeue is not None else self.workers.resync_period
        finally:
            self.workers.finished(self)

    def _name(self) -> str:
        if self.pod is None:
            return self.uid
        return f"{self.pod.metadata.namespace}/{self.pod.metadata.name}"


class PodWorkers:
    """The workers of a node's pods. `syncer` syncs and tears down a pod; `metrics` forgets the usage
    of a pod that is gone."""

    def __init__(self, syncer: PodSyncer, metrics, clock: Clock, resync_period: float):
        self.syncer = syncer
        self.metrics = metrics
        self.clock = clock
        self.resync_period = resync_period
        self.workers: dict[str, PodWorker] = {}
        self._done: dict[str, None] = {}     # pods whose deletion this kubelet finished (recent ones)

    def update(self, pod) -> None:
        uid = pod.metadata.uid
        if uid in self._done:
            return                   # a late event about a pod already deleted
        w = self.workers.get(uid)
        if w is None:
            w = self.workers[uid] = PodWorker(self, uid)
            w.update(pod)
            w.task = asyncio.get_running_loop().create_task(w.run(), name=f"pod-{pod.metadata.name}")
        else:
            w.update(pod)

    def remove(self, uid: str) -> None:
        w = self.workers.get(uid)
        if w is not None:
            w.remove()

    def trigger(self, uid: str) -> None:
        w = self.workers.get(uid)
        if w is not None:
            w.wake.set()

    def evict(self, pod, message: str) -> None:
        """Node-pressure eviction of `pod`: its worker kills it and reports it Evicted."""
        w = self.workers.get(pod.metadata.uid)
        if w is not None:
            w.state.evicted = message
            w.wake.set()

    def state(self, uid: str) -> PodState | None:
        w = self.workers.get(uid)
        return w.state if w else None

    async def teardown(self, w: PodWorker) -> SyncResult:
        """The pod is gone from the API: stop and remove everything it had, at once."""
        pod = w.pod
        grace = 1.0
        if pod is not None:
            await self.syncer.stop_pod(pod, w.state, min(grace, grace_period(pod)), reason="")
            await self.metrics.forget_pod(pod)
        await self.syncer.cleanup(w.uid, pod)
        return SyncResult(done=True)

    def finished(self, w: PodWorker) -> None:
        if self.workers.get(w.uid) is w:
            del self.workers[w.uid]
            if w.removed or (w.pod is not None and w.pod.metadata.deletionTimestamp):
                self._done[w.uid] = None
                while len(self._done) > 10000:
                    del self._done[next(iter(self._done))]

    async def stop(self) -> None:
        tasks = [w.task for w in self.workers.values() if w.task]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
