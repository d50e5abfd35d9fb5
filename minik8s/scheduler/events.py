"""The scheduler's events, paced as kube-scheduler's event client paces them: at most QPS a second
with bursts of BURST (upstream's clientConnection defaults, 50 and 100), with at most MAX_QUEUED
waiting; an event recorded when that many wait is dropped, as upstream's broadcaster drops one when
its queue of 1,000 is full.

A scheduling cycle only appends to the queue: the Event itself (reference, name, correlation with
its repeats) is built when its turn comes, so a burst of thousands of binds costs the cycle an
append each, the events written cost the API server at most QPS writes a second beside the binds,
and a dropped event costs nothing more. A few events (a pod that fits nowhere, a handful of pods
scheduled) go out at once, within the burst."""
from __future__ import annotations

import asyncio
import collections
import logging
import time

log = logging.getLogger("minik8s.scheduler")

QPS = 50.0
BURST = 100
MAX_QUEUED = 1000
DROP_LOG_SECONDS = 10.0


class PacedEvents:
    """`event()` as the EventRecorder has it, handed to `recorder` at most `qps` a second."""

    def __init__(self, recorder, qps: float = QPS, burst: int = BURST, max_queued: int = MAX_QUEUED):
        self.recorder = recorder
        self.qps, self.burst, self.max_queued = qps, burst, max_queued
        self._queue: collections.deque = collections.deque()
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task | None = None
        self._dropped, self._dropped_logged_at = 0, 0.0

    def event(self, obj, type_: str, reason: str, message: str) -> None:
        """Record that `reason` happened to `obj`. Returns at once; never raises."""
        if len(self._queue) >= self.max_queued:
            self._drop(reason)
            return
        self._queue.append((obj, type_, reason, message))
        if self._writer is None or self._writer.done():
            self._wake = asyncio.Event()
            self._writer = asyncio.get_running_loop().create_task(self._write_loop(), name="scheduler-events")
        self._wake.set()

    def _drop(self, reason: str) -> None:
        # logged at most every DROP_LOG_SECONDS with a count: under load the log must not cost what
        # the events would have
        self._dropped += 1
        now = time.monotonic()
        if now - self._dropped_logged_at >= DROP_LOG_SECONDS:
            log.warning("%d events waiting; dropped %d (last: %s)", len(self._queue), self._dropped, reason)
            self._dropped, self._dropped_logged_at = 0, now

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        tokens, last = float(self.burst), loop.time()
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
            now = loop.time()
            tokens, last = min(float(self.burst), tokens + (now - last) * self.qps), now
            if tokens < 1.0:
                await asyncio.sleep((1.0 - tokens) / self.qps)
                continue
            for _ in range(min(int(tokens), len(self._queue))):
                self.recorder.event(*self._queue.popleft())
                tokens -= 1.0
            await self.recorder.flush()

    async def stop(self) -> None:
        """Stop writing; events still waiting are dropped."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        await self.recorder.stop()
