"""The controllers' work queue, after client-go's workqueue: a FIFO of keys that is fair (keys come out
in the order they went in), stingy (a key added many times before a worker takes it is processed once)
and never hands one key to two workers at once (a key added while being processed goes back on the
queue when its worker calls `done`). On top: delayed adds (`add_after`) and per-key exponential
backoff for failed keys (`add_rate_limited`, `forget`), all timed by an injected Clock, and
`run_workers`, the usual worker loop around a `sync(key)` coroutine."""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Awaitable, Callable, Hashable

from minik8s.api.clock import Clock

log = logging.getLogger("minik8s.client.workqueue")


class ShutDown(Exception):
    """`get` on a queue that is shut down and drained: the worker should exit."""


class ItemExponentialFailureRateLimiter:
    """Per-key backoff base * 2**failures, capped (client-go's default per-item limiter: 5 ms .. 1000 s)."""

    def __init__(self, base: float = 0.005, cap: float = 1000.0):
        self.base, self.cap = base, cap
        self._failures: dict[Hashable, int] = {}

    def when(self, key: Hashable) -> float:
        """The delay before `key`'s next retry; each call counts one more failure."""
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        if n > 64:   # 2**n overflows a float long before; the cap has applied for ages anyway
            return self.cap
        return min(self.base * 2 ** n, self.cap)

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        return self._failures.get(key, 0)


@dataclass(frozen=True)
class QueueMetrics:
    depth: int          # keys waiting for a worker
    adds: int           # keys put on the queue (duplicates of a queued key are not counted)
    retries: int        # add_rate_limited calls
    processing: int     # keys held by workers


class WorkQueue:
    def __init__(self, clock: Clock | None = None, name: str = "",
                 rate_limiter: ItemExponentialFailureRateLimiter | None = None):
        self.clock = clock or Clock()
        self.name = name
        self.rate_limiter = rate_limiter or ItemExponentialFailureRateLimiter()
        self._queue: deque = deque()
        self._dirty: set = set()         # keys that need processing (queued, or re-added while processing)
        self._processing: set = set()
        self._getters: deque[asyncio.Future] = deque()
        self._waiting: dict[Hashable, tuple[float, asyncio.Task]] = {}   # add_after: key -> (ready at, timer)
        self._shutting_down = False
        self._adds = 0
        self._retries = 0

    # ------------------------------------------------------------------ the queue
    def add(self, key: Hashable) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        self._adds += 1
        if key in self._processing:
            return          # `done` puts it back, so no two workers ever hold one key
        self._queue.append(key)
        self._wake_one()

    async def get(self) -> Hashable:
        """The next key; the caller must call `done(key)` when finished. Raises ShutDown once the
        queue is shut down and empty."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(self.name)
            fut = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut in self._getters:
                    self._getters.remove(fut)
                elif fut.done() and not fut.cancelled() and self._queue:
                    self._wake_one()     # we were woken for a key we will not take: pass it on
                raise
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: Hashable) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake_one()

    def shutdown(self) -> None:
        """Refuse new keys; workers drain what is queued, then `get` raises ShutDown."""
        self._shutting_down = True
        for _, timer in self._waiting.values():
            timer.cancel()
        self._waiting.clear()
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def __len__(self) -> int:
        return len(self._queue)

    def metrics(self) -> QueueMetrics:
        return QueueMetrics(len(self._queue), self._adds, self._retries, len(self._processing))

    def _wake_one(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    # ------------------------------------------------------------------ delays
    def add_after(self, key: Hashable, delay: float) -> None:
        """Add `key` once `delay` seconds have passed on the clock. A key already waiting keeps the
        earlier of its two deadlines."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        ready = self.clock.monotonic() + delay
        waiting = self._waiting.get(key)
        if waiting is not None:
            if waiting[0] <= ready:
                return
            waiting[1].cancel()
        timer = asyncio.get_running_loop().create_task(self._add_when_ready(key, ready),
                                                       name=f"workqueue-{self.name}-after")
        self._waiting[key] = (ready, timer)

    async def _add_when_ready(self, key: Hashable, ready: float) -> None:
        # the deadline was fixed at add time: time that passes before this task first runs counts
        await self.clock.sleep(ready - self.clock.monotonic())
        self._waiting.pop(key, None)
        self.add(key)

    # ------------------------------------------------------------------ rate limiting
    def add_rate_limited(self, key: Hashable) -> None:
        """Re-add `key` after its backoff: 5 ms, 10 ms, 20 ms, ... per consecutive failure."""
        if self._shutting_down:
            return
        self._retries += 1
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: Hashable) -> None:
        """`key` succeeded: its next failure starts the backoff over."""
        self.rate_limiter.forget(key)

    def num_requeues(self, key: Hashable) -> int:
        return self.rate_limiter.num_requeues(key)


async def run_workers(queue: WorkQueue, sync: Callable[[Hashable], Awaitable[None]],
                      n: int = 1) -> None:
    """Run `n` workers until the queue shuts down. A worker takes a key and awaits `sync(key)`:
    success forgets the key's failures, an exception is logged and the key retried with backoff."""

    async def worker() -> None:
        while True:
            try:
                key = await queue.get()
            except ShutDown:
                return
            try:
                await sync(key)
            except Exception:
                log.exception("%s: sync %r failed (retry %d)", queue.name or "workqueue", key,
                              queue.num_requeues(key) + 1)
                queue.add_rate_limited(key)
            else:
                queue.forget(key)
            finally:
                queue.done(key)

    await asyncio.gather(*(worker() for _ in range(n)))
