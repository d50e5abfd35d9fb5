"""Test doubles for controllers: a fake kubelet that "runs" pods by writing their status, and a
controller manager running in the test's event loop. Controllers need no kubelet to be tested: a pod
is Running and Ready when its status says so, and FakeKubelet says so the way a kubelet would
(through update_status)."""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from minik8s.api.clock import Clock, rfc3339
from minik8s.api.errors import ApiError, Conflict, NotFound
from minik8s.client.informer import Informer, copy

log = logging.getLogger("tests.support.controllers")


def set_running(pod, ready: bool, now: float, node: str = "") -> None:
    """Mark `pod` (a copy) Running, with Ready and ContainersReady as `ready` says."""
    ts = rfc3339(now)
    st = pod.status
    st.phase = "Running"
    if not st.startTime:
        st.startTime = ts
    if not st.podIP:
        st.podIP = "10.0.0.1"
    if node and not st.hostIP:
        st.hostIP = "127.0.0.1"
    for ctype, value in (("Initialized", "True"), ("ContainersReady", "True" if ready else "False"),
                         ("Ready", "True" if ready else "False")):
        cond = next((c for c in st.conditions if c.type == ctype), None)
        if cond is None:
            cond = st.conditions.add()
            cond.type = ctype
        if cond.status != value:
            cond.status, cond.lastTransitionTime = value, ts
    del st.containerStatuses[:]
    for c in pod.spec.containers:
        cs = st.containerStatuses.add()
        cs.name, cs.image, cs.ready, cs.started = c.name, c.image, ready, True
        cs.state.running.startedAt = ts


class FakeKubelet:
    """Watches pods and plays their kubelet: every pod that `ready(pod)` accepts is marked Running and
    Ready (others Running, not ready); a pod being deleted gracefully is removed (grace 0), as a
    kubelet does once its containers stopped. With `node`, pods are bound to that node first."""

    def __init__(self, client, clock: Clock | None = None, namespace: str = "",
                 ready: Callable[[object], bool] | None = None, node: str = "", paused: bool = False):
        self.client = client
        self.clock = clock or Clock()
        self.node = node
        self.ready = ready or (lambda pod: True)
        self.informer = Informer(client, "Pod", namespace, clock=self.clock)
        self.paused = paused
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.informer.add_event_handler(self._poke, lambda old, new: self._poke(new), None)

    def _poke(self, _pod) -> None:
        self._wake.set()

    async def start(self) -> "FakeKubelet":
        await self.informer.start()
        await self.informer.wait_synced()
        self._task = asyncio.create_task(self._loop(), name="fake-kubelet")
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.informer.stop()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        self._wake.set()

    def kick(self) -> None:
        """Look at every pod again (after changing what `ready` accepts)."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.paused:
                continue
            for pod in self.informer.list():
                try:
                    await self._handle(pod)
                except (Conflict, NotFound):
                    self._wake.set()          # look again once the cache catches up
                except ApiError as e:
                    log.warning("fake kubelet: %s: %s", pod.metadata.name, e)

    async def _handle(self, pod) -> None:
        meta = pod.metadata
        if meta.deletionTimestamp:
            if pod.spec.nodeName:
                await self.client.delete("Pod", meta.name, meta.namespace, grace_period=0,
                                         preconditions={"uid": meta.uid})
            return
        if pod.status.phase in ("Succeeded", "Failed"):
            return
        if self.node and not pod.spec.nodeName:
            await self.client.bind(meta.namespace, meta.name, self.node, meta.uid)
            return                              # the update comes back through the informer
        want_ready = bool(self.ready(pod))
        cur_ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)
        if pod.status.phase == "Running" and cur_ready == want_ready:
            return
        new = copy(pod)
        set_running(new, want_ready, self.clock.now(), self.node)
        await self.client.update_status(new)


class running_manager:
    """`async with running_manager(client, "replicaset,deployment", clock) as mgr:` a controller
    manager (leader election off unless asked) running in this event loop, its controllers started
    and caches synced on entry, stopped on exit."""

    def __init__(self, client, controllers="*", clock: Clock | None = None, **kw):
        from minik8s.controllers.manager import ControllerManager
        kw.setdefault("leader_elect", False)
        self.manager = ControllerManager(client, controllers, clock=clock, **kw)
        self._task: asyncio.Task | None = None

    async def __aenter__(self):
        self._task = asyncio.create_task(self.manager.run(), name="controller-manager")
        waiter = asyncio.create_task(self.manager.running.wait())
        done, _ = await asyncio.wait({self._task, waiter}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            if self._task.done():
                self._task.result()
            raise AssertionError("controller manager did not start")
        return self.manager

    async def __aexit__(self, *exc):
        self.manager.stop()
        try:
            await asyncio.wait_for(self._task, 30)
        except asyncio.TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
