"""Shipping this node's container logs to the API server's log archive, so they outlive the pod, the node
and the Job (apiserver/logarchive.py keeps them).

Every period (about a second) the shipper asks the runtime for its containers, opens the CRI log of each
new one (and keeps it open: a pod deleted right after its container exits still has its last lines read
from the open file after its log directory is removed), reads what was appended, and sends every
container's new whole lines in one AppendLogs call. A node that dies loses at most one period of output.

Each line carries where it ends in the container's log (an offset counted across rotations). After the
server acknowledges a batch, the resume point (file inode, position, offset) is written to
`NODE/logshipper/offsets.json`; a restarted kubelet resumes from there, so nothing is sent twice or lost
(and the server drops lines at or before a stream's durable offset, should an ack have been lost)."""
from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from minik8s.api.clock import Clock
from minik8s.api.errors import ApiError, Forbidden
from minik8s.api.pb import api_pb2

from kubelet.logs import parse_cri_line
from kubelet.runtime.base import LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID, ContainerStatus

log = logging.getLogger("kubelet.logshipper")

PERIOD = 0.5                    # seconds between two shipments
READ_MAX = 1024 * 1024          # bytes read from a log at a time
UNSENT_MAX = 1024 * 1024        # per log: lines held unacknowledged before reading stops
REQUEST_MAX = 4 * 1024 * 1024   # bytes of lines in one AppendLogs call (the server takes 8 MiB messages)


@dataclass
class _Tail:
    key: api_pb2.LogStreamKey
    path: str
    container_id: str
    f: object = None
    inode: int = 0
    pos: int = 0                  # read position in the open file (after the last whole line)
    base: int = 0                 # the stream offset at which the open file begins
    partial: dict = field(default_factory=dict)      # stream -> (time, text) of a P line awaiting its F
    unsent: list = field(default_factory=list)       # LogEntry not yet acknowledged
    unsent_bytes: int = 0
    resume: tuple[int, int, int] = (0, 0, 0)         # (inode, pos, offset) of the last unsent entry
    gone: bool = False            # the container exited or was removed: drain, then send ended
    ended_sent: bool = False


def _requests(tails: list[_Tail]):
    """The tails in groups of at most REQUEST_MAX bytes of lines, one AppendLogs call each."""
    group, size = [], 0
    for t in tails:
        if group and size + t.unsent_bytes > REQUEST_MAX:
            yield group
            group, size = [], 0
        group.append(t)
        size += t.unsent_bytes
    if group:
        yield group


def _key_id(k: api_pb2.LogStreamKey) -> str:
    return f"{k.namespace}/{k.pod}/{k.uid}/{k.container}/{k.restart}"


class LogShipper:
    """Handed only what it uses: `append` (the client's append_logs), `list_containers` (the runtime's),
    the directory for its resume points, and the clock."""

    def __init__(self, append: Callable[[list], Awaitable[list[int]]],
                 list_containers: Callable[[], Awaitable[list[ContainerStatus]]], state_dir: str,
                 clock: Clock | None = None, period: float = PERIOD):
        self.append = append
        self.list_containers = list_containers
        self.state_path = os.path.join(state_dir, "offsets.json")
        self.clock = clock or Clock()
        self.period = period
        self.tails: dict[str, _Tail] = {}
        self._lock = asyncio.Lock()          # the loop and a pod's termination never read one log at once
        os.makedirs(state_dir, exist_ok=True)
        self.acked: dict[str, dict] = self._load()

    # ------------------------------------------------------------------ resume points
    def _load(self) -> dict[str, dict]:
        try:
            with open(self.state_path) as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):
            return {}

    def _save(self) -> None:
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.acked, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)

    # ------------------------------------------------------------------ the loop
    async def run(self) -> None:
        while True:
            try:
                await self.ship_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("shipping logs failed: %s", e)
            await self.clock.sleep(self.period)

    def idle(self) -> bool:
        """No log open and no container remembered: a shipment would find nothing to do."""
        return not self.tails and not self.acked

    async def ship_once(self) -> int:
        """Discover, read and send; returns the number of lines the server acknowledged. A terminating pod's
        worker calls it too, before the pod is deleted: its last lines get there while it still exists."""
        async with self._lock:
            return await self._ship()

    async def _ship(self) -> int:
        await self._discover()
        sent = 0
        while True:             # a chatty container is read and sent in rounds until it is caught up
            more = [self._read(t) for t in self.tails.values()]
            ready = [t for t in self.tails.values() if t.unsent or (t.gone and not t.ended_sent and not t.partial)]
            acked = 0
            for group in _requests(ready):
                acked = await self._send(group)
                if acked is None:
                    break
                sent += acked
            if acked is None or not any(more):
                break
        for kid in [kid for kid, t in self.tails.items() if t.ended_sent]:
            self.tails.pop(kid).f.close()
        return sent

    async def _discover(self) -> None:
        seen = set()
        for c in await self.list_containers():
            uid = c.labels.get(LABEL_POD_UID)
            if not uid or not c.log_path:
                continue
            key = api_pb2.LogStreamKey(namespace=c.labels.get(LABEL_POD_NAMESPACE, "default"),
                                       pod=c.labels.get(LABEL_POD_NAME, ""), uid=uid, container=c.name,
                                       restart=c.attempt)
            kid = _key_id(key)
            seen.add(kid)
            t = self.tails.get(kid)
            if t is None and not self.acked.get(kid, {}).get("ended"):
                t = self._open(kid, key, c)
            if t is not None:
                t.gone = c.state not in ("running", "created")
        for kid, t in self.tails.items():
            if kid not in seen:
                t.gone = True
        for kid in [kid for kid in self.acked if kid not in seen and kid not in self.tails]:
            del self.acked[kid]             # its container is removed: no resume point is needed again

    def _open(self, kid: str, key, c: ContainerStatus) -> _Tail | None:
        point = self.acked.get(kid)
        t = _Tail(key, c.log_path, c.id)
        for path in ((c.log_path, c.log_path + ".1") if point else (c.log_path,)):
            try:
                f = open(path, "rb")
            except FileNotFoundError:
                continue
            inode = os.fstat(f.fileno()).st_ino
            if point and inode != point["inode"]:
                f.close()
                continue
            t.f, t.inode = f, inode
            if point:
                t.pos, t.base = point["pos"], point["offset"] - point["pos"]
                f.seek(t.pos)
            break
        if t.f is None:
            if not os.path.exists(c.log_path):
                return None          # not written yet: the next look opens it
            t.f = open(c.log_path, "rb")          # the resumed file rotated away: carry on in the new one
            t.inode, t.base = os.fstat(t.f.fileno()).st_ino, point["offset"] if point else 0
        t.resume = (t.inode, t.pos, t.base + t.pos)
        self.tails[kid] = t
        return t

    # ------------------------------------------------------------------ reading
    def _read(self, t: _Tail) -> bool:
        """Read whole lines until the end or UNSENT_MAX; True when it stopped with more to read."""
        while t.unsent_bytes < UNSENT_MAX:
            data = t.f.read(READ_MAX)
            end = data.rfind(b"\n") + 1
            if end:
                self._parse(t, data[:end])
                t.f.seek(t.pos)
            if end == 0 or len(data) < READ_MAX:
                if not self._follow_rotation(t):
                    return False
        return True

    def _parse(self, t: _Tail, data: bytes) -> None:
        pos = t.pos
        for raw in data.split(b"\n")[:-1]:
            pos += len(raw) + 1
            parsed = parse_cri_line(raw)
            if parsed is None:
                continue
            ts, stream, tag, text = parsed
            if tag == b"P":
                prev = t.partial.get(stream)
                t.partial[stream] = (prev[0], prev[1] + text) if prev else (ts, text)
                continue
            prev = t.partial.pop(stream, None)
            if prev is not None:
                ts, text = prev[0], prev[1] + text
            offset = t.base + pos
            t.unsent.append(api_pb2.LogEntry(time=ts, stream=stream, text=text, offset=offset))
            t.unsent_bytes += len(text) + len(ts) + 8
            if not t.partial:
                t.resume = (t.inode, pos, offset)
        t.pos = pos

    def _follow_rotation(self, t: _Tail) -> bool:
        """At the end of the open file: move on to the live file if the runtime rotated it away."""
        try:
            st = os.stat(t.path)
        except FileNotFoundError:
            return False
        if st.st_ino == t.inode:
            return False
        t.f.close()
        t.base += t.pos
        t.f, t.inode, t.pos = open(t.path, "rb"), st.st_ino, 0
        return True

    # ------------------------------------------------------------------ sending
    async def _send(self, tails: list[_Tail]) -> int | None:
        """Lines acknowledged; None when the server could not be reached (kept for the next shipment)."""
        batches = [api_pb2.LogBatch(key=t.key, entries=t.unsent, ended=t.gone and not t.partial) for t in tails]
        try:
            offsets = await self.append(batches)
        except Forbidden:
            return await self._send_each(tails)          # one refused stream must not hold back the rest
        except ApiError as e:
            log.info("log archive unreachable, keeping %d streams' lines: %s", len(tails), e.message)
            return None
        return self._acknowledged(tails, batches, offsets)

    async def _send_each(self, tails: list[_Tail]) -> int:
        sent = 0
        for t in tails:
            batch = api_pb2.LogBatch(key=t.key, entries=t.unsent, ended=t.gone and not t.partial)
            try:
                sent += self._acknowledged([t], [batch], await self.append([batch]))
            except Forbidden as e:
                log.warning("dropping the log of %s: %s", _key_id(t.key), e.message)
                t.unsent, t.unsent_bytes, t.ended_sent = [], 0, True
        return sent

    def _acknowledged(self, tails: list[_Tail], batches: list, offsets: list[int]) -> int:
        for t, b in zip(tails, batches):
            inode, pos, offset = t.resume
            self.acked[_key_id(t.key)] = {"inode": inode, "pos": pos, "offset": offset, "ended": b.ended}
            t.unsent, t.unsent_bytes = [], 0
            t.ended_sent = b.ended
        self._save()
        return sum(len(b.entries) for b in batches)
