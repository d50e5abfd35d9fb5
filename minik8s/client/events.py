"""The event recorder, after client-go's tools/record: components report what they did to an object
(`Scheduled`, `FailedScheduling`, `SuccessfulCreate`) as core/v1 Events.

Recording never blocks and never fails the caller: events go on a bounded queue that a background
writer drains, and a write that fails is logged. A repeat of an event (same object, type, reason,
message and source) within ten minutes of the last one is not a new Event: the writer patches the
existing one's count and lastTimestamp, as upstream's event correlator does, so a pod that fails to
schedule every second makes one Event with a rising count rather than thousands.

Names are upstream's `<object name>.<hex nanoseconds>`. Two recorders (two components, or two
controllers on one stopped test clock) can pick the same name for the same object name; the one
whose create finds the name taken writes under that name plus a few random hex digits, and its
repeats follow it there, so no event is lost and none is counted into another's."""
from __future__ import annotations

import asyncio
import logging
import queue
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

from minik8s.api.clock import Clock, rfc3339
from minik8s.api.errors import AlreadyExists, NotFound
from minik8s.api.kinds import UnknownKind, for_message
from minik8s.api.pb import core_pb2

log = logging.getLogger("minik8s.client.events")

NORMAL = "Normal"
WARNING = "Warning"

REPEAT_WINDOW = 600.0      # seconds after its last occurrence that a repeat still counts into it
CACHE_SIZE = 4096          # events remembered for counting repeats (least recently seen go first)
MAX_PENDING = 1000         # events waiting to be written; more are dropped (and logged)


def object_reference(obj) -> core_pb2.ObjectReference:
    """The reference an Event's involvedObject holds for `obj` (an API object or an ObjectReference)."""
    if isinstance(obj, core_pb2.ObjectReference):
        ref = core_pb2.ObjectReference()
        ref.CopyFrom(obj)
        return ref
    info = for_message(obj)
    meta = obj.metadata
    return core_pb2.ObjectReference(kind=info.kind, apiVersion=info.api_version, namespace=meta.namespace,
                                    name=meta.name, uid=meta.uid, resourceVersion=meta.resourceVersion)


def _repeat_key(ev: core_pb2.Event) -> tuple:
    ref = ev.involvedObject
    return (ev.source.component, ev.source.host, ref.kind, ref.namespace, ref.name, ref.fieldPath, ref.uid,
            ref.apiVersion, ev.type, ev.reason, ev.message)


@dataclass
class _Seen:
    name: str
    namespace: str
    count: int
    first_timestamp: str
    last_seen: float


_dropped = {"count": 0, "logged_at": 0.0}


def _warn_dropped(ev) -> None:
    """Log dropped events at most once every 10 s, with a count: under load the warning itself must
    not cost what the events would have."""
    import time
    _dropped["count"] += 1
    now = time.monotonic()
    if now - _dropped["logged_at"] >= 10.0:
        log.warning("event queue full; dropped %d events (last: %s for %s)", _dropped["count"], ev.reason,
                    ev.involvedObject.name)
        _dropped["count"], _dropped["logged_at"] = 0, now


class EventCorrelator:
    """Decides whether an event is new (create it) or a repeat of a recent one (patch that one)."""

    def __init__(self, clock: Clock, window: float = REPEAT_WINDOW, size: int = CACHE_SIZE):
        self.clock, self.window, self.size = clock, window, size
        self._seen: OrderedDict[tuple, _Seen] = OrderedDict()

    def correlate(self, ev: core_pb2.Event) -> tuple[_Seen, bool]:
        """The record of the Event that `ev` counts into, and whether `ev` repeats a recent event (it
        then takes that event's name, first timestamp and the next count) or is new (and now
        remembered). The writer names the Event by the record: a rename reaches every repeat."""
        key = _repeat_key(ev)
        now = self.clock.now()
        seen = self._seen.get(key)
        if seen is not None and now - seen.last_seen <= self.window:
            seen.count += 1
            seen.last_seen = now
            self._seen.move_to_end(key)
            ev.metadata.name, ev.metadata.namespace = seen.name, seen.namespace
            ev.count, ev.firstTimestamp = seen.count, seen.first_timestamp
            return seen, True
        seen = self._seen[key] = _Seen(ev.metadata.name, ev.metadata.namespace, ev.count, ev.firstTimestamp, now)
        self._seen.move_to_end(key)
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return seen, False


def _repeat_patch(ev: core_pb2.Event) -> dict:
    return {"count": ev.count, "lastTimestamp": ev.lastTimestamp}


def _rename(ev: core_pb2.Event, seen: _Seen) -> None:
    """Another recorder wrote an Event of this name first: this one takes the name plus a few random hex
    digits, and so do its repeats."""
    seen.name = ev.metadata.name = f"{seen.name}{secrets.token_hex(2)}"


class _Recorder:
    """What both recorders share: building an Event and correlating it. Subclasses write it."""

    def __init__(self, component: str, host: str = "", clock: Clock | None = None):
        self.component, self.host = component, host
        self.clock = clock or Clock()
        self.correlator = EventCorrelator(self.clock)
        self._last_nanos = 0

    def event(self, obj, type_: str, reason: str, message: str) -> None:
        """Record that `reason` happened to `obj`. Returns at once; never raises."""
        try:
            ev = self._build(obj, type_, reason, message)
        except (UnknownKind, AttributeError, ValueError) as e:
            log.error("dropping event %s %r: %s", reason, message, e)
            return
        self._enqueue(ev, *self.correlator.correlate(ev))

    def eventf(self, obj, type_: str, reason: str, fmt: str, *args) -> None:
        self.event(obj, type_, reason, fmt % args if args else fmt)

    def _build(self, obj, type_: str, reason: str, message: str) -> core_pb2.Event:
        if type_ not in (NORMAL, WARNING):
            raise ValueError(f"unsupported event type {type_!r}")
        ref = object_reference(obj)
        now = self.clock.now()
        ts = rfc3339(now)
        if len(message) > 1024:     # the API refuses longer messages; keep the start, as upstream does
            message = message[:1021] + "..."
        ev = core_pb2.Event(apiVersion="v1", kind="Event", involvedObject=ref, reason=reason, message=message,
                            source=core_pb2.EventSource(component=self.component, host=self.host),
                            firstTimestamp=ts, lastTimestamp=ts, count=1, type=type_,
                            reportingComponent=self.component, reportingInstance=self.host)
        ev.metadata.name = f"{ref.name}.{self._unique_nanos(now):016x}"
        ev.metadata.namespace = ref.namespace or "default"
        return ev

    def _unique_nanos(self, now: float) -> int:
        # Upstream names an event after the wall clock in nanoseconds; a test clock that stands still
        # would give two events one name, so the stamp only ever moves forward.
        nanos = max(int(now * 1e9), self._last_nanos + 1)
        self._last_nanos = nanos
        return nanos

    def _enqueue(self, ev: core_pb2.Event, seen: _Seen, repeat: bool) -> None:
        raise NotImplementedError


def _log_failure(ev: core_pb2.Event, e: Exception) -> None:
    log.warning("could not write event %s/%s (%s %s): %s", ev.metadata.namespace, ev.metadata.name,
                ev.reason, ev.involvedObject.name, e)


class EventRecorder(_Recorder):
    """The asyncio recorder: `event()` from a coroutine or callback on the loop; a task writes."""

    def __init__(self, client, component: str, host: str = "", clock: Clock | None = None):
        super().__init__(component, host, clock)
        self.client = client
        self._pending: asyncio.Queue | None = None
        self._writer: asyncio.Task | None = None

    def _enqueue(self, ev: core_pb2.Event, seen: _Seen, repeat: bool) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.error("EventRecorder.event called off the event loop; dropping %s (use SyncEventRecorder)",
                      ev.reason)
            return
        if self._pending is None:
            self._pending = asyncio.Queue(MAX_PENDING)
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_loop(), name=f"events-{self.component}")
        try:
            self._pending.put_nowait((ev, seen, repeat))
        except asyncio.QueueFull:
            _warn_dropped(ev)

    async def _write_loop(self) -> None:
        while True:
            ev, seen, repeat = await self._pending.get()
            try:
                await self._write(ev, seen, repeat)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                _log_failure(ev, e)
            finally:
                self._pending.task_done()

    async def _write(self, ev: core_pb2.Event, seen: _Seen, repeat: bool) -> None:
        ev.metadata.name = seen.name
        if repeat:
            try:
                await self.client.patch("Event", ev.metadata.name, _repeat_patch(ev), ev.metadata.namespace)
                return
            except NotFound:
                pass        # deleted (or never written): write it whole
        try:
            await self.client.create(ev)
        except AlreadyExists:
            _rename(ev, seen)
            await self.client.create(ev)

    async def flush(self) -> None:
        """Wait until every event recorded so far has been written (or its failure logged)."""
        if self._pending is not None:
            await self._pending.join()

    def stop(self) -> asyncio.Future:
        """Stop writing; events still queued are dropped. Await the result to wait for the writer."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.cancel()
        return asyncio.gather(*([writer] if writer else []), return_exceptions=True)


class SyncEventRecorder(_Recorder):
    """The same recorder for threaded code, writing through a sync Client from a daemon thread."""

    def __init__(self, client, component: str, host: str = "", clock: Clock | None = None):
        super().__init__(component, host, clock)
        self.client = client
        self._pending: queue.Queue = queue.Queue(MAX_PENDING)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def _enqueue(self, ev: core_pb2.Event, seen: _Seen, repeat: bool) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._write_loop, name=f"events-{self.component}",
                                                daemon=True)
                self._thread.start()
        try:
            self._pending.put_nowait((ev, seen, repeat))
        except queue.Full:
            _warn_dropped(ev)

    def _write_loop(self) -> None:
        while True:
            item = self._pending.get()
            try:
                if item is None:
                    return
                self._write(*item)
            except Exception as e:
                _log_failure(item[0], e)
            finally:
                self._pending.task_done()

    def _write(self, ev: core_pb2.Event, seen: _Seen, repeat: bool) -> None:
        ev.metadata.name = seen.name
        if repeat:
            try:
                self.client.patch("Event", ev.metadata.name, _repeat_patch(ev), ev.metadata.namespace)
                return
            except NotFound:
                pass
        try:
            self.client.create(ev)
        except AlreadyExists:
            _rename(ev, seen)
            self.client.create(ev)

    def flush(self) -> None:
        """Block until every event recorded so far has been written (or its failure logged)."""
        self._pending.join()

    def close(self) -> None:
        """Write what is queued, then stop the writer thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._pending.put(None)
            thread.join()
