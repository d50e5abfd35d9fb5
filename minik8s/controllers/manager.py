"""The controller manager: one process hosting the controllers, after kube-controller-manager.

With leader election on (the default), the manager first takes the Lease `kube-controller-manager`
in `kube-system`; a second manager waits as a standby, retrying, and takes over when the leader
releases the Lease (a clean stop) or stops renewing it (a crash) for a lease duration. Only the
leader runs controllers: it starts one shared informer factory, builds the enabled controllers from
the registry in `minik8s.controllers.CONTROLLERS`, waits for the caches, and runs their workers. A
leader that loses its Lease stops every controller and becomes a candidate again."""
from __future__ import annotations

import asyncio
import logging

from minik8s.api.clock import Clock
from minik8s.client.events import EventRecorder
from minik8s.client.informer import SharedInformerFactory

from minik8s.controllers import CONTROLLERS, controller_class
from minik8s.controllers.base import ControllerContext, gather_cancelled
from minik8s.controllers.leaderelection import (LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD,
                                                LeaderElector)

log = logging.getLogger("minik8s.controllers.manager")

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kube-controller-manager"
CACHE_SYNC_TIMEOUT = 120.0


def enabled_controllers(spec: str | list[str] | None) -> list[str]:
    """upstream --controllers: `*` is every controller, `name` enables one, `-name` disables one.
    Unknown names are an error (ValueError)."""
    if spec is None or spec == "":
        spec = ["*"]
    if isinstance(spec, str):
        spec = [s.strip() for s in spec.split(",") if s.strip()]
    known = list(CONTROLLERS)
    on: list[str] = []
    off: set[str] = set()
    for word in spec:
        if word == "*":
            on.extend(n for n in known if n not in on)
            continue
        name = word[1:] if word.startswith("-") else word
        if name not in CONTROLLERS:
            raise ValueError(f'"{name}" is not in the list of known controllers ({", ".join(known)})')
        if word.startswith("-"):
            off.add(name)
        elif name not in on:
            on.append(name)
    return [n for n in on if n not in off]


class ControllerManager:
    def __init__(self, client, controllers: str | list[str] | None = None, clock: Clock | None = None,
                 settings: dict | None = None, leader_elect: bool = True, identity: str | None = None,
                 lease_duration: float = LEASE_DURATION, renew_deadline: float = RENEW_DEADLINE,
                 retry_period: float = RETRY_PERIOD, lease_namespace: str = LEASE_NAMESPACE,
                 lease_name: str = LEASE_NAME, release_on_cancel: bool = True):
        self.client = client
        self.names = enabled_controllers(controllers)
        self.clock = clock or Clock()
        self.settings = dict(settings or {})
        self.leader_elect = leader_elect
        self.release_on_cancel = release_on_cancel
        self.recorder = EventRecorder(client, "kube-controller-manager", clock=self.clock)
        self.elector = LeaderElector(client, lease_namespace, lease_name, identity, self.clock,
                                     lease_duration, renew_deadline, retry_period, self.recorder) \
            if leader_elect else None
        self.controllers: dict[str, object] = {}
        self.context: ControllerContext | None = None
        self.running = asyncio.Event()      # set while this manager leads and its controllers run
        self._stop = asyncio.Event()

    @property
    def identity(self) -> str | None:
        return self.elector.identity if self.elector else None

    @property
    def is_leader(self) -> bool:
        return self.running.is_set()

    def stop(self) -> None:
        """Ask `run()` to stop controllers, release the Lease, and return."""
        self._stop.set()

    async def run(self) -> None:
        try:
            while not self._stop.is_set():
                if self.elector is not None:
                    if not await self._until_stopped(self.elector.acquire()):
                        break
                await self._lead()
        except asyncio.CancelledError:
            if self.release_on_cancel and self.elector is not None:
                await asyncio.shield(self.elector.release())
            raise
        finally:
            self.running.clear()
        if self.elector is not None:
            await self.elector.release()
        await self.recorder.flush()
        await self.recorder.stop()

    async def _until_stopped(self, coro) -> bool:
        """Run `coro` unless stop() comes first; True when it finished."""
        task = asyncio.ensure_future(coro)
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (task, stopper):
                if not t.done():
                    t.cancel()
            await asyncio.gather(task, stopper, return_exceptions=True)
        if task in done and not task.cancelled():
            task.result()
            return True
        return False

    async def _lead(self) -> None:
        """Run the controllers until stop(), a lost lease, or a controller crashing."""
        factory = SharedInformerFactory(self.client, self.clock)
        ctx = self.context = ControllerContext(self.client, factory, self.clock, self.settings)
        self.controllers = {}
        for name in self.names:
            try:
                self.controllers[name] = controller_class(name)(ctx)
            except Exception:
                log.exception("cannot start controller %s", name)
        tasks: list[asyncio.Task] = []
        waiters: list[asyncio.Task] = []
        try:
            await factory.start_all()
            timeout = float(self.settings.get("cacheSyncTimeout", CACHE_SYNC_TIMEOUT))
            synced: list[bool] = []

            async def sync_caches():
                synced.append(await factory.wait_for_cache_sync(timeout))
            if not await self._until_stopped(sync_caches()):
                return
            if not synced[0]:
                log.error("caches did not sync within %g s; starting over", timeout)
                return
            log.info("caches synced; running controllers: %s", ", ".join(self.controllers))
            tasks = [asyncio.create_task(c.run(), name=f"controller-{n}") for n, c in self.controllers.items()]
            waiters.append(asyncio.create_task(self._stop.wait(), name="manager-stop"))
            if self.elector is not None:
                waiters.append(asyncio.create_task(self.elector.hold(), name="manager-lease"))
            self.running.set()
            done, _ = await asyncio.wait(tasks + waiters, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t in tasks and not t.cancelled() and t.exception() is not None:
                    log.error("controller task %s failed: %r", t.get_name(), t.exception())
        finally:
            self.running.clear()
            await gather_cancelled(waiters)
            for c in self.controllers.values():
                c.shutdown()
            await gather_cancelled(tasks)
            await factory.stop_all()
            try:
                await asyncio.wait_for(ctx.flush_events(), 2.0)
            except (asyncio.TimeoutError, Exception):
                pass
            await ctx.stop_events()
