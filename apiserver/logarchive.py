"""The cluster log archive: every container's log, shipped by its kubelet as it is written, kept by the
control plane so it can be read after the pod, its node or its Job is gone.

A stream is one container instance, keyed namespace/pod/uid/container/restart; beside it the node that
wrote it and the pod's labels at its first write (job-name, controller-uid, ...), so `logs job/NAME` and
`logs -l` find the streams of pods that no longer exist.

Storage is one SQLite file (`$MINIK8S_HOME/data/logs/archive.db`, WAL, synchronous=FULL) rather than
per-container files plus an index: a batch's lines, its stream's resume offset and the budget's
evictions land in one transaction, so after a kill -9 the data and its index can never disagree, and
there is no file-length reconciliation to write. It is a file apart from the registry's, so log traffic
never queues behind object writes.

The write path keeps the registry's promise: appends are queued to one writer, which stages them against
what is committed (lines at or before a stream's durable offset are dropped, so a resent batch is never
stored twice), commits every queued batch in one fsynced transaction, and only then updates memory,
wakes followers and answers the callers. The budget (bytes of log data and age) is enforced in the same
transaction, the oldest chunks going first."""
from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
from dataclasses import dataclass, field, replace
from typing import AsyncIterator, Callable

from minik8s.api.clock import Clock, parse_time
from minik8s.api.errors import Forbidden, NotFound
from minik8s.api.pb import api_pb2

DEFAULT_MAX_BYTES = 1 << 30           # 1 GiB of log data
DEFAULT_MAX_AGE = 7 * 24 * 3600       # 7 days
PRUNE_EVERY = 60.0                    # seconds between two age sweeps when nothing is written
FOLLOW_RECHECK = 1.0                  # a follower re-asks whether its pod is gone at least this often

StreamKey = tuple[str, str, str, str, int]     # namespace, pod, uid, container, restart


def stream_key(k: api_pb2.LogStreamKey) -> StreamKey:
    return (k.namespace or "default", k.pod, k.uid, k.container, k.restart)


@dataclass
class Stream:
    id: int
    key: StreamKey
    node: str
    labels: dict[str, str] = field(default_factory=dict)
    offset: int = 0               # where the last durable line ends in the container's log
    bytes: int = 0
    first_time: str = ""
    last_time: str = ""
    ended: bool = False
    written: float = 0.0          # when the archive last took lines for it (its clock)

    def message(self) -> api_pb2.ArchivedLogStream:
        ns, pod, uid, container, restart = self.key
        return api_pb2.ArchivedLogStream(
            key=api_pb2.LogStreamKey(namespace=ns, pod=pod, uid=uid, container=container, restart=restart),
            node=self.node, labels=self.labels, bytes=self.bytes, firstTime=self.first_time,
            lastTime=self.last_time, ended=self.ended)


@dataclass
class _Append:
    node: str
    batches: list
    labels: list[dict[str, str] | None]
    done: asyncio.Future


_SCHEMA = """
    CREATE TABLE IF NOT EXISTS streams (
        id INTEGER PRIMARY KEY, namespace TEXT NOT NULL, pod TEXT NOT NULL, uid TEXT NOT NULL,
        container TEXT NOT NULL, restart INTEGER NOT NULL, node TEXT NOT NULL, labels TEXT NOT NULL,
        offset INTEGER NOT NULL, bytes INTEGER NOT NULL, first_time TEXT NOT NULL, last_time TEXT NOT NULL,
        ended INTEGER NOT NULL, written REAL NOT NULL, UNIQUE (uid, container, restart));
    CREATE TABLE IF NOT EXISTS chunks (
        id INTEGER PRIMARY KEY, stream INTEGER NOT NULL, written REAL NOT NULL, lines INTEGER NOT NULL,
        data BLOB NOT NULL);
    CREATE INDEX IF NOT EXISTS chunks_by_stream ON chunks (stream, id);
"""


def archive_path(home: str) -> str:
    return os.path.join(home, "data", "logs", "archive.db")


class LogArchive:
    def __init__(self, path: str, clock: Clock | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_age: float = DEFAULT_MAX_AGE):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.path = path
        self.clock = clock or Clock()
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        os.chmod(path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._reader = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._read_lock = threading.Lock()
        self.streams: dict[StreamKey, Stream] = {}
        for row in self._db.execute("SELECT * FROM streams"):
            s = Stream(row[0], (row[1], row[2], row[3], row[4], row[5]), row[6], json.loads(row[7]), row[8],
                       row[9], row[10], row[11], bool(row[12]), row[13])
            self.streams[s.key] = s
        self._next_id = max((s.id for s in self.streams.values()), default=0) + 1
        self.used = self._db.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM chunks").fetchone()[0]
        self._queue: list[_Append] = []
        self._wake: asyncio.Event | None = None
        self._changed: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._wake, self._changed = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._writer(), name="logarchive-writer"),
                       loop.create_task(self._pruner(), name="logarchive-pruner")]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._db.close()
        self._reader.close()

    # ------------------------------------------------------------------ writing
    def owner(self, key: StreamKey) -> str | None:
        s = self.streams.get(key)
        return s.node if s is not None else None

    async def append(self, node: str, batches: list, labels: list[dict[str, str] | None]) -> list[int]:
        """Store `batches` (LogBatch) for `node`; `labels[i]` are the pod's labels for a batch whose stream
        is new. Returns each batch's durable offset once everything is on disk."""
        done = asyncio.get_running_loop().create_future()
        self._queue.append(_Append(node, batches, labels, done))
        self._wake.set()
        return await done

    async def prune(self) -> None:
        """Apply the age and size budget now (an empty commit)."""
        await self.append("", [], [])

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            queued, self._queue = self._queue, []
            if not queued:
                continue
            try:
                staged, rows, results = self._stage(queued)
                evicted = await asyncio.to_thread(self._commit, staged, rows)
            except Exception as e:          # nothing was stored: every caller hears it
                for a in queued:
                    if not a.done.done():
                        a.done.set_exception(e)
                continue
            self._apply(staged, rows, evicted)
            for a, offsets in zip(queued, results):
                if not a.done.done():
                    a.done.set_result(offsets)
            self._changed.set()
            self._changed = asyncio.Event()

    def _stage(self, queued: list[_Append]):
        """The streams as they will be after this group, the chunk rows to insert, each caller's offsets."""
        staged: dict[StreamKey, Stream] = {}
        rows: list[tuple] = []
        results: list[list[int]] = []
        now = self.clock.now()
        for a in queued:
            offsets = []
            for batch, labels in zip(a.batches, a.labels):
                key = stream_key(batch.key)
                s = staged.get(key)
                if s is None:
                    old = self.streams.get(key)
                    if old is not None:
                        s = replace(old)
                    else:
                        s = Stream(self._next_id, key, a.node, dict(labels or {}), first_time="", written=now)
                        self._next_id += 1
                    staged[key] = s
                fresh = [e for e in batch.entries if e.offset > s.offset]
                if fresh:
                    data = b"".join(b"%s %s %s\n" % (e.time.encode(), e.stream.encode(), e.text) for e in fresh)
                    rows.append((s.id, now, len(fresh), data))
                    s.offset = fresh[-1].offset
                    s.bytes += len(data)
                    s.first_time = s.first_time or fresh[0].time
                    s.last_time = fresh[-1].time
                    s.written = now
                s.ended = s.ended or batch.ended
                offsets.append(s.offset)
            results.append(offsets)
        return staged, rows, results

    def _commit(self, staged: dict[StreamKey, Stream], rows: list[tuple]) -> list[tuple[int, int]]:
        """One transaction: the streams, their chunks and the budget's evictions. Returns the evicted
        chunks as (stream id, bytes)."""
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany("INSERT OR REPLACE INTO streams VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           [(s.id, *s.key, s.node, json.dumps(s.labels), s.offset, s.bytes, s.first_time,
                             s.last_time, int(s.ended), s.written) for s in staged.values()])
            db.executemany("INSERT INTO chunks (stream, written, lines, data) VALUES (?,?,?,?)", rows)
            evicted = self._evict(db, self.used + sum(len(r[3]) for r in rows))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return evicted

    def _evict(self, db, used: int) -> list[tuple[int, int]]:
        """Chunks past the age budget, then the oldest until the data fits the size budget."""
        evicted = db.execute("SELECT stream, LENGTH(data) FROM chunks WHERE written < ?",
                             (self.clock.now() - self.max_age,)).fetchall()
        db.execute("DELETE FROM chunks WHERE written < ?", (self.clock.now() - self.max_age,))
        used -= sum(n for _, n in evicted)
        while used > self.max_bytes:
            oldest = db.execute("SELECT id, stream, LENGTH(data) FROM chunks ORDER BY id LIMIT 64").fetchall()
            if not oldest:
                break
            take = []
            for cid, stream, n in oldest:
                if used <= self.max_bytes:
                    break
                take.append(cid)
                evicted.append((stream, n))
                used -= n
            db.executemany("DELETE FROM chunks WHERE id = ?", [(cid,) for cid in take])
        if evicted:
            # a stream with nothing left goes once it can get no more lines
            db.execute("DELETE FROM streams WHERE (ended = 1 OR written < ?) AND "
                       "NOT EXISTS (SELECT 1 FROM chunks WHERE chunks.stream = streams.id)",
                       (self.clock.now() - self.max_age,))
        return evicted

    def _apply(self, staged: dict[StreamKey, Stream], rows: list[tuple], evicted: list[tuple[int, int]]) -> None:
        self.streams.update(staged)
        self.used += sum(len(r[3]) for r in rows) - sum(n for _, n in evicted)
        if not evicted:
            return
        by_id = {s.id: s for s in self.streams.values()}
        for sid, n in evicted:
            if sid in by_id:
                by_id[sid].bytes -= n
        cutoff = self.clock.now() - self.max_age
        for s in [by_id[sid] for sid in {sid for sid, _ in evicted} if sid in by_id]:
            if s.bytes <= 0 and (s.ended or s.written < cutoff):
                del self.streams[s.key]

    async def _pruner(self) -> None:
        while True:
            await self.clock.sleep(PRUNE_EVERY)
            await self.prune()

    # ------------------------------------------------------------------ reading
    def list(self, namespace: str = "", pod: str = "", selector=None) -> list[Stream]:
        """Streams with lines left, of `namespace` (all when empty), of one pod name, whose labels match
        `selector`; oldest pod first, then container and restart."""
        out = [s for s in self.streams.values() if s.bytes > 0
               and (not namespace or s.key[0] == namespace) and (not pod or s.key[1] == pod)
               and (selector is None or selector.matches(s.labels))]
        first: dict[str, int] = {}
        for st in out:
            first[st.key[2]] = min(first.get(st.key[2], st.id), st.id)
        return sorted(out, key=lambda st: (first[st.key[2]], st.key[3], st.key[4]))

    def _chunks(self, stream_id: int, after: int) -> list[tuple[int, int, bytes]]:
        with self._read_lock:
            return self._reader.execute("SELECT id, lines, data FROM chunks WHERE stream = ? AND id > ? "
                                        "ORDER BY id", (stream_id, after)).fetchall()

    async def read(self, key: StreamKey, tail: int | None = None, since: float | None = None,
                   timestamps: bool = False, follow: bool = False,
                   pod_done: Callable[[], bool] | None = None) -> AsyncIterator[tuple[StreamKey, bytes]]:
        """The lines of stream `key`, formatted as `kubectl logs` prints them, in chunks tagged with their
        stream. With follow, wait for more; once a stream has ended, carry on into the container's next
        restart, and stop when there is none and `pod_done()` says none will come."""
        s = self.streams.get(key)
        if s is None:
            raise NotFound(f'no archived logs for container "{key[3]}" of pod "{key[1]}"')
        rows = await asyncio.to_thread(self._chunks, s.id, 0)
        last = rows[-1][0] if rows else 0
        if tail is not None:
            rows = _last_lines(rows, tail)
        for _, _, data in rows:
            out = _format(data, since, timestamps)
            if out:
                yield s.key, out
        while follow:
            changed = self._changed
            rows = await asyncio.to_thread(self._chunks, s.id, last)
            for cid, _, data in rows:
                last = cid
                out = _format(data, since, timestamps)
                if out:
                    yield s.key, out
            if rows:
                continue
            if s.ended:
                nxt = self.streams.get((*s.key[:4], s.key[4] + 1))
                if nxt is not None:
                    s, last = nxt, 0
                    continue
                if pod_done is not None and pod_done():
                    return
            elif pod_done is not None and pod_done() and s.key not in self.streams:
                return
            try:
                await asyncio.wait_for(changed.wait(), FOLLOW_RECHECK)
            except asyncio.TimeoutError:
                pass
            s = self.streams.get(s.key, s)


def _last_lines(rows: list[tuple[int, int, bytes]], n: int) -> list[tuple[int, int, bytes]]:
    """The chunks that hold the last `n` lines, the first one cut to fit."""
    out, have = [], 0
    for cid, lines, data in reversed(rows):
        if have + lines > n:
            keep = n - have
            if keep > 0:
                out.append((cid, keep, b"\n".join(data.split(b"\n")[-keep - 1:])))
            break
        out.append((cid, lines, data))
        have += lines
    return out[::-1]


def _format(data: bytes, since: float | None, timestamps: bool) -> bytes:
    """Stored lines (`TIME STREAM TEXT`) as kubectl prints them: the text, or TIME TEXT."""
    out = []
    for line in data.split(b"\n")[:-1]:
        ts, _, rest = line.partition(b" ")
        if since is not None and parse_time(ts.decode()) < since:
            continue
        text = rest.partition(b" ")[2]
        out.append(ts + b" " + text + b"\n" if timestamps else text + b"\n")
    return b"".join(out)


def authorize_append(node: str | None, user: str, key: StreamKey, archive: LogArchive,
                     pod_of: Callable[[str, str], object | None]) -> dict[str, str] | None:
    """A node may write only the logs of pods bound to it. A stream it already writes stays its own (the
    pod may be gone by the time its last lines arrive); a new one needs the pod, with this uid, bound to
    the node. Returns the pod's labels for a new stream."""
    ns, name, uid = key[0], key[1], key[2]

    def forbidden(why: str) -> Forbidden:
        return Forbidden(f'pods "{name}" is forbidden: User "{user}" cannot create resource "pods/log" '
                         f'in the namespace "{ns}": {why}')

    if node is None:
        raise forbidden("only kubelets ship logs")
    owner = archive.owner(key)
    if owner is not None:
        if owner != node:
            raise forbidden(f'node "{node}" can only write the logs of pods bound to it')
        return None
    pod = pod_of(ns, name)
    if pod is None or pod.metadata.uid != uid or pod.spec.nodeName != node:
        raise forbidden(f'node "{node}" can only write the logs of pods bound to it')
    return dict(pod.metadata.labels)
