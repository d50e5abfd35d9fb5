"""What every controller shares: the context the manager hands it (client, shared informers, clock,
event recorders, settings) and the base class that owns its work queue and runs its workers.

A controller subclasses `Controller`, registers informer handlers in `__init__` that only enqueue
keys, and implements `sync(key)`. The manager starts the informers, waits for their caches, then
calls `run()`; `shutdown()` lets the workers finish the key in hand and return."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Hashable

from minik8s.api.clock import Clock
from minik8s.api.errors import Conflict
from minik8s.client.events import EventRecorder
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.workqueue import WorkQueue, run_workers

log = logging.getLogger("minik8s.controllers")


@dataclass
class ControllerContext:
    client: object                       # minik8s.client.AsyncClient
    informers: SharedInformerFactory
    clock: Clock
    settings: dict = field(default_factory=dict)
    _recorders: dict = field(default_factory=dict)

    def recorder(self, component: str) -> EventRecorder:
        """The event recorder for `component` (upstream's event source names, e.g.
        `replicaset-controller`), one per component."""
        rec = self._recorders.get(component)
        if rec is None:
            rec = self._recorders[component] = EventRecorder(self.client, component, clock=self.clock)
        return rec

    def setting(self, name: str, default):
        return self.settings.get(name, default)

    async def flush_events(self) -> None:
        for rec in self._recorders.values():
            await rec.flush()

    async def stop_events(self) -> None:
        for rec in self._recorders.values():
            await rec.stop()


class Controller:
    """A named controller with one work queue; `workers` keys are synced concurrently, never the same
    key twice at once (the queue guarantees it)."""

    name = "controller"
    default_workers = 1

    def __init__(self, ctx: ControllerContext):
        self.ctx = ctx
        self.client = ctx.client
        self.clock = ctx.clock
        self.queue = WorkQueue(ctx.clock, self.name)
        self.workers = int(ctx.setting(f"{self.name}.workers", self.default_workers))

    def enqueue(self, key: Hashable) -> None:
        self.queue.add(key)

    def enqueue_after(self, key: Hashable, delay: float) -> None:
        self.queue.add_after(key, delay)

    async def sync(self, key: Hashable) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        """Run the workers until `shutdown()`."""
        log.info("starting %s controller (%d workers)", self.name, self.workers)
        await run_workers(self.queue, self._sync_quietly, self.workers)

    async def _sync_quietly(self, key: Hashable) -> None:
        # A conflict means the object moved on while we worked from the cache: routine, so no
        # traceback; the key is retried (with backoff) against a fresher cache.
        try:
            await self.sync(key)
        except Conflict as e:
            log.debug("%s: %r: %s; retrying", self.name, key, e)
            self.queue.add_rate_limited(key)

    def shutdown(self) -> None:
        self.queue.shutdown()


def split_key(key: str) -> tuple[str, str]:
    """`namespace/name` -> (namespace, name); a key without `/` is cluster-scoped."""
    ns, sep, name = key.partition("/")
    return (ns, name) if sep else ("", ns)


async def gather_cancelled(tasks) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
