"""The watch hub: a window of recent changes and the live watchers.

Every committed change is appended to the window and offered to the watchers of its kind. A watch
starts from a resourceVersion: the window replays what came after it, then live changes follow, with
no await in between, so nothing is lost or repeated. A resourceVersion older than the window is
Expired (the client relists). Each change is encoded once per event type and shared by all watchers:
a watcher's stream message is the concatenation of those pre-encoded entries.

Client watches are bounded: a watcher whose queue holds more than `max_bytes` of events, or that has
taken nothing for `stall_seconds` while events wait, is cut off: its queue is dropped and its stream
ends with Expired (410), so the client lists again, as upstream's watch cache does with a watcher
that cannot keep up. A slow reader thus costs a relist, never the server's memory or other watchers'
latency."""
from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

from minik8s.api.errors import Expired


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def encode_entry(kind: str, type_: str, raw: bytes) -> bytes:
    """A WatchEvent as one element of WatchResponse.events (field 1)."""
    ev = field_bytes(1, type_.encode()) + field_bytes(2, raw) + field_bytes(3, kind.encode())
    return field_bytes(1, ev)


class Change:
    """One committed change, with the labels and fields before and after, for selector matching."""
    __slots__ = ("rv", "type", "kind", "namespace", "raw", "labels", "fields", "old_labels",
                 "old_fields", "_enc")

    def __init__(self, rv, type_, kind, namespace, raw, labels, fields, old_labels=None, old_fields=None):
        self.rv, self.type, self.kind, self.namespace, self.raw = rv, type_, kind, namespace, raw
        self.labels, self.fields = labels, fields
        self.old_labels, self.old_fields = old_labels, old_fields
        self._enc: dict[str, bytes] | None = {}

    def encoded(self, type_: str) -> bytes:
        """The change as a stream entry of this type: encoded once for all the watchers it is published
        to; once published (kept only for replay, one watcher at a time), encoded again when asked."""
        if self._enc is None:
            return encode_entry(self.kind, type_, self.raw)
        enc = self._enc.get(type_)
        if enc is None:
            enc = self._enc[type_] = encode_entry(self.kind, type_, self.raw)
        return enc

    def published(self) -> None:
        """Drop the encodings: the window would otherwise keep a second copy of every change's bytes."""
        self._enc = None


@dataclass(frozen=True)
class WatchLimits:
    """How far a client watch may fall behind before it is cut off (apiserver flags
    --watch-max-queue-bytes and --watch-stall-seconds; 0 turns a limit off)."""
    max_bytes: int = 64 * 1024 * 1024
    stall_seconds: float = 60.0


class EventQueue(asyncio.Queue):
    """An asyncio.Queue that counts the bytes it holds and remembers when an item was last taken
    (or, while it was empty, when it last had nothing waiting)."""

    def __init__(self, now=time.monotonic):
        self._now = now
        super().__init__()

    def _init(self, maxsize):
        super()._init(maxsize)
        self.nbytes = 0
        self.taken_at = self._now()

    def _put(self, item):
        if not self._queue:
            self.taken_at = self._now()    # nothing was waiting: the reader was not behind
        super()._put(item)
        self.nbytes += len(item) if isinstance(item, bytes) else 0

    def _get(self):
        item = super()._get()
        self.nbytes -= len(item) if isinstance(item, bytes) else 0
        self.taken_at = self._now()
        return item


class Watcher:
    CLOSED = object()

    def __init__(self, kind, namespace, label_sel, field_sel, max_queue: int, limits: WatchLimits | None = None,
                 now=time.monotonic):
        self.kind, self.namespace = kind, namespace
        self.label_sel, self.field_sel = label_sel, field_sel
        self.queue = EventQueue(now)
        self.max_queue = max_queue
        self.limits = limits
        self.allowance = limits.max_bytes if limits else 0
        self.closed = False
        self.expired: str | None = None     # why the watcher was cut off, when it was
        self.sees_everything = not namespace and label_sel is None and field_sel is None

    def _matches(self, labels, fields) -> bool:
        if labels is None:
            return False
        if self.label_sel is not None and not self.label_sel.matches(labels):
            return False
        return self.field_sel is None or self.field_sel.matches(fields)

    def offer(self, ch: Change) -> None:
        if self.closed or (self.namespace and ch.namespace != self.namespace):
            return
        now = self._matches(ch.labels, ch.fields)
        if ch.type == "MODIFIED" and (self.label_sel is not None or self.field_sel is not None):
            before = self._matches(ch.old_labels, ch.old_fields)
            type_ = ("MODIFIED" if before else "ADDED") if now else ("DELETED" if before else None)
        else:
            type_ = ch.type if now else None
        if type_ is None:
            return
        self.put(ch.encoded(type_))

    def put(self, entries: bytes) -> None:
        if self.closed:
            return
        behind = self._behind(len(entries))
        if behind:
            self.expire(behind)
        elif self.queue.qsize() >= self.max_queue:
            # Too slow to keep up: end the stream; the client resumes from its last resourceVersion.
            self.closed = True
            self.queue.put_nowait(Watcher.CLOSED)
        else:
            self.queue.put_nowait(entries)

    def _behind(self, more: int) -> str | None:
        lim, q = self.limits, self.queue
        if lim is None or q.empty():
            return None
        if lim.max_bytes and q.nbytes + more > self.allowance:
            return f"the watch fell behind by more than {lim.max_bytes} bytes of events"
        if lim.stall_seconds and q._now() - q.taken_at > lim.stall_seconds:
            return f"the watch read no event for {lim.stall_seconds:g} s"
        return None

    def expire(self, why: str) -> None:
        """Cut the watcher off: drop what it has not read; its stream ends with Expired."""
        self.expired = f"{why}; list again and watch from the list's resourceVersion"
        self.closed = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(Watcher.CLOSED)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(Watcher.CLOSED)


class WatchHub:
    def __init__(self, window: int = 20_000, max_queue: int = 50_000, limits: WatchLimits | None = None,
                 now=time.monotonic):
        self.now = now      # the clock the stall limit is measured on
        self.window: deque[Change] = deque()
        self.window_size = window
        self.window_start = 0        # every change with rv > window_start is in the window
        self.max_queue = max_queue
        self.limits = limits or WatchLimits()     # for client watches (bounded=True)
        self.watchers: dict[str, set[Watcher]] = {}

    def load(self, changes: list[Change], current_rv: int) -> None:
        """Seed the window from storage after a restart."""
        self.window.extend(changes[-self.window_size:])
        self.window_start = self.window[0].rv - 1 if self.window else current_rv

    def publish(self, changes: list[Change]) -> None:
        self.window.extend(changes)
        by_kind: dict[str, list[Change]] = {}
        for ch in changes:
            by_kind.setdefault(ch.kind, []).append(ch)
        for kind, chs in by_kind.items():
            watchers = self.watchers.get(kind)
            if not watchers:
                continue
            joined = None
            for w in watchers:
                if w.sees_everything:
                    # one queue item per batch, encoded once for all such watchers
                    if joined is None:
                        joined = b"".join(ch.encoded(ch.type) for ch in chs)
                    w.put(joined)
                else:
                    for ch in chs:
                        w.offer(ch)
        for ch in changes:
            ch.published()
        while len(self.window) > self.window_size:
            self.window_start = self.window.popleft().rv

    def subscribe(self, kind, namespace, label_sel, field_sel, from_rv: int | None, initial=(),
                  bounded: bool = False) -> Watcher:
        """Register a watcher. With from_rv None, `initial` (current objects as Changes) is sent as
        ADDED first; otherwise the window replays changes after from_rv. A bounded watcher (a
        client's) is cut off when it falls behind the hub's limits; the server's own are not."""
        if from_rv is not None and from_rv < self.window_start:
            raise Expired(f"too old resource version: {from_rv} ({self.window_start + 1})")
        w = Watcher(kind, namespace, label_sel, field_sel, self.max_queue, now=self.now)
        if from_rv is None:
            for ch in initial:
                w.offer(ch)
        else:
            for ch in self.window:
                if ch.rv > from_rv and ch.kind == kind:
                    w.offer(ch)
        if bounded:     # what the watch starts with is owed to it: the bound counts from there
            w.limits, w.allowance = self.limits, self.limits.max_bytes + w.queue.nbytes
        self.watchers.setdefault(kind, set()).add(w)
        return w

    def unsubscribe(self, w: Watcher) -> None:
        self.watchers.get(w.kind, set()).discard(w)
        w.closed = True

    def close_all(self) -> None:
        for ws in self.watchers.values():
            for w in ws:
                w.close()
