"""The scheduling queue, after upstream's PriorityQueue: three parts.

- active: pods ready to be tried, highest priority first, then first come;
- backoff: pods that failed recently, waiting out 1s, 2s, 4s ... (capped at 10s) per attempt;
- unschedulable: pods no node fits. They leave when something that could make them fit happens: a
  cluster event (node added or changed, an assigned pod deleted...) that one of the plugins that
  rejected the pod registered for, moves them on (to backoff if their backoff has not passed, else to
  active). A pod left unschedulable for five minutes is tried again anyway.

Upstream must also catch a cluster event that arrives while a pod is being tried (moveRequestCycle);
here a scheduling cycle never awaits, so every event that arrived before it ended is already in what it
saw. Time comes from the injected Clock."""
from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass, field
from typing import Callable

from minik8s.api.clock import Clock
from minik8s.scheduler.nodeinfo import PodInfo

MAX_UNSCHEDULABLE_SECONDS = 300.0
FLUSH_INTERVAL = 1.0


class QueueClosed(Exception):
    pass


@dataclass(eq=False)
class QueuedPod:
    info: PodInfo
    attempts: int = 0
    timestamp: float = 0.0              # when it (re-)entered the queue
    first_attempt: float | None = None
    unschedulable_plugins: frozenset[str] = frozenset()
    seq: int = 0                        # identifies its current entry in a heap


@dataclass
class QueueDepth:
    active: int
    backoff: int
    unschedulable: int


@dataclass
class _Heap:
    items: dict = field(default_factory=dict)       # uid -> QueuedPod
    heap: list = field(default_factory=list)        # (key..., seq, uid)


class SchedulingQueue:
    def __init__(self, clock: Clock | None = None, initial_backoff: float = 1.0, max_backoff: float = 10.0,
                 interested: Callable[[QueuedPod, str], bool] | None = None):
        self.clock = clock or Clock()
        self.initial_backoff, self.max_backoff = initial_backoff, max_backoff
        self.interested = interested or (lambda qp, event: True)
        self._active = _Heap()
        self._backoff = _Heap()
        self._unschedulable: dict[str, QueuedPod] = {}
        self._in_flight: dict[str, QueuedPod] = {}
        self._seq = itertools.count()
        self._nonempty = asyncio.Event()
        self._closed = False

    # ---------------------------------------------------------------- informer side
    def add(self, pi: PodInfo) -> None:
        """A pending pod appeared (or its update made it new to us)."""
        if self._find(pi.uid) is not None:
            self.update(pi)
            return
        self._push_active(QueuedPod(pi, timestamp=self.clock.monotonic()))

    def update(self, pi: PodInfo) -> None:
        qp = self._find(pi.uid)
        if qp is None:
            self.add(pi)
            return
        old, qp.info = qp.info, pi
        if pi.uid in self._unschedulable and _may_schedule_now(old, pi):
            del self._unschedulable[pi.uid]
            self._requeue(qp)

    def delete(self, uid: str) -> None:
        self._active.items.pop(uid, None)
        self._backoff.items.pop(uid, None)
        self._unschedulable.pop(uid, None)
        self._in_flight.pop(uid, None)

    def move_all(self, event: str) -> None:
        """A cluster event happened: unschedulable pods it could help are tried again."""
        for uid, qp in list(self._unschedulable.items()):
            if not qp.unschedulable_plugins or self.interested(qp, event):
                del self._unschedulable[uid]
                self._requeue(qp)

    def activate(self, uid: str) -> None:
        """Try a waiting pod now (its preemption's evictions are done, say)."""
        qp = self._unschedulable.pop(uid, None) or self._backoff.items.pop(uid, None)
        if qp is not None:
            self._push_active(qp)

    # ---------------------------------------------------------------- scheduler side
    async def pop(self) -> QueuedPod:
        while True:
            heap, items = self._active.heap, self._active.items
            while heap:
                *_, seq, uid = heapq.heappop(heap)
                qp = items.get(uid)
                if qp is None or qp.seq != seq:
                    continue
                del items[uid]
                qp.attempts += 1
                if qp.first_attempt is None:
                    qp.first_attempt = self.clock.monotonic()
                self._in_flight[uid] = qp
                return qp
            if self._closed:
                raise QueueClosed()
            self._nonempty.clear()
            await self._nonempty.wait()

    def done(self, uid: str) -> None:
        """The pod's cycle ended with it scheduled (or dropped)."""
        self._in_flight.pop(uid, None)

    def add_unschedulable(self, qp: QueuedPod, plugins: frozenset[str]) -> None:
        """No node fit the pod in the cycle that popped it; `plugins` rejected it."""
        if self._in_flight.pop(qp.info.uid, None) is None:
            return              # deleted (or scheduled elsewhere) meanwhile
        qp.unschedulable_plugins = plugins
        qp.timestamp = self.clock.monotonic()
        self._unschedulable[qp.info.uid] = qp

    def add_backoff(self, qp: QueuedPod) -> None:
        """The attempt failed for another reason (an API error, a lost bind): retry after backoff."""
        self._in_flight.pop(qp.info.uid, None)
        if self._find(qp.info.uid) is not None:
            return              # the informer queued it again meanwhile
        qp.timestamp = self.clock.monotonic()
        self._push_backoff(qp)

    def flush(self) -> None:
        """Move pods whose backoff has passed to active, and pods unschedulable for too long on."""
        now = self.clock.monotonic()
        heap, items = self._backoff.heap, self._backoff.items
        while heap and heap[0][0] <= now:
            _, seq, uid = heapq.heappop(heap)
            qp = items.get(uid)
            if qp is not None and qp.seq == seq:
                del items[uid]
                self._push_active(qp)
        for uid, qp in list(self._unschedulable.items()):
            if now - qp.timestamp > MAX_UNSCHEDULABLE_SECONDS:
                del self._unschedulable[uid]
                self._requeue(qp)

    async def run(self) -> None:
        """Flush on the clock until cancelled."""
        while True:
            heap = self._backoff.heap
            wait = FLUSH_INTERVAL
            if heap:
                wait = min(wait, max(heap[0][0] - self.clock.monotonic(), 0.001))
            await self.clock.sleep(wait)
            self.flush()

    def close(self) -> None:
        self._closed = True
        self._nonempty.set()

    # ---------------------------------------------------------------- reads
    def depth(self) -> QueueDepth:
        return QueueDepth(len(self._active.items), len(self._backoff.items), len(self._unschedulable))

    def __contains__(self, uid: str) -> bool:
        return self._find(uid) is not None

    def backoff_seconds(self, qp: QueuedPod) -> float:
        d = self.initial_backoff
        for _ in range(1, qp.attempts):
            d *= 2
            if d >= self.max_backoff:
                return self.max_backoff
        return d

    # ---------------------------------------------------------------- internals
    def _find(self, uid: str) -> QueuedPod | None:
        return (self._active.items.get(uid) or self._backoff.items.get(uid) or self._unschedulable.get(uid)
                or self._in_flight.get(uid))

    def _requeue(self, qp: QueuedPod) -> None:
        if qp.timestamp + self.backoff_seconds(qp) > self.clock.monotonic() and qp.attempts:
            self._push_backoff(qp)
        else:
            self._push_active(qp)

    def _push_active(self, qp: QueuedPod) -> None:
        qp.seq = next(self._seq)
        self._active.items[qp.info.uid] = qp
        heapq.heappush(self._active.heap, (-qp.info.priority, qp.seq, qp.info.uid))
        self._nonempty.set()

    def _push_backoff(self, qp: QueuedPod) -> None:
        qp.seq = next(self._seq)
        self._backoff.items[qp.info.uid] = qp
        heapq.heappush(self._backoff.heap, (qp.timestamp + self.backoff_seconds(qp), qp.seq, qp.info.uid))


def _may_schedule_now(old: PodInfo, new: PodInfo) -> bool:
    """An update to an unschedulable pod that changes what the scheduler looks at earns a new try
    (a status-only update does not)."""
    return old.pod.spec != new.pod.spec or old.labels != new.labels
