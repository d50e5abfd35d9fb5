"""Serving container logs from the CRI log files the runtimes write (`<RFC3339Nano> stdout|stderr P|F
<text>` per line, partial lines tagged P), with the options of `kubectl logs`: timestamps, tailLines,
sinceSeconds, limitBytes and follow (until the container stops)."""
from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import AsyncIterator, Awaitable, Callable

from minik8s.api.clock import parse_time

CHUNK = 32 * 1024
FOLLOW_POLL = 0.1


@dataclass
class LogOptions:
    timestamps: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None
    limit_bytes: int | None = None
    follow: bool = False

    @classmethod
    def from_request(cls, req) -> "LogOptions":
        return cls(timestamps=req.timestamps,
                   tail_lines=req.tailLines if req.HasField("tailLines") else None,
                   since_seconds=req.sinceSeconds if req.HasField("sinceSeconds") else None,
                   limit_bytes=req.limitBytes if req.HasField("limitBytes") else None,
                   follow=req.follow)


def parse_cri_line(raw: bytes) -> tuple[str, str, bytes, bytes] | None:
    """One CRI log line -> (timestamp, stream, tag P|F, text); None when it is not one."""
    parts = raw.split(b" ", 3)
    if len(parts) < 3:
        return None
    return (parts[0].decode(errors="replace"), parts[1].decode(errors="replace"), parts[2],
            parts[3] if len(parts) > 3 else b"")


class _Parser:
    """CRI lines -> (timestamp, text) of whole lines; a P line waits for the rest of its line."""

    def __init__(self):
        self._partial: dict[str, tuple[str, bytes]] = {}

    def feed(self, raw: bytes) -> tuple[str, bytes] | None:
        parsed = parse_cri_line(raw)
        if parsed is None:
            return None
        ts, stream, tag, text = parsed
        if tag == b"P":
            prev = self._partial.get(stream)
            self._partial[stream] = (prev[0] if prev else ts, (prev[1] if prev else b"") + text)
            return None
        prev = self._partial.pop(stream, None)
        if prev is not None:
            return prev[0], prev[1] + text
        return ts, text


def _format(ts: str, text: bytes, timestamps: bool) -> bytes:
    return (ts.encode() + b" " + text + b"\n") if timestamps else text + b"\n"


class _Limit:
    def __init__(self, limit: int | None):
        self.left = limit

    def take(self, data: bytes) -> bytes:
        if self.left is None:
            return data
        data = data[:self.left]
        self.left -= len(data)
        return data

    @property
    def done(self) -> bool:
        return self.left is not None and self.left <= 0


async def read_log(path: str, opts: LogOptions, now: float,
                   running: Callable[[], Awaitable[bool]] | None = None) -> AsyncIterator[bytes]:
    """Yield the log at `path` formatted per `opts`; with follow, keep yielding what the container
    writes until `running()` says it has stopped and the file is drained."""
    parser = _Parser()
    since = now - opts.since_seconds if opts.since_seconds is not None else None
    limit = _Limit(opts.limit_bytes)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    try:
        data = f.read()
        offset = len(data)
        *lines, rest = data.split(b"\n")
        entries = [e for e in (parser.feed(ln) for ln in lines) if e is not None]
        if since is not None:
            entries = [e for e in entries if parse_time(e[0]) >= since]
        if opts.tail_lines is not None:
            entries = entries[-opts.tail_lines:] if opts.tail_lines > 0 else []
        buf = bytearray()
        for ts, text in entries:
            buf += _format(ts, text, opts.timestamps)
            if len(buf) >= CHUNK:
                out = limit.take(bytes(buf))
                buf.clear()
                if out:
                    yield out
                if limit.done:
                    return
        if buf:
            out = limit.take(bytes(buf))
            if out:
                yield out
            if limit.done:
                return
        if not opts.follow:
            return
        inode = os.fstat(f.fileno()).st_ino
        next_check = 0.0
        loop = asyncio.get_running_loop()
        while True:
            chunk = f.read()
            if chunk:
                offset += len(chunk)
                data = rest + chunk
                *lines, rest = data.split(b"\n")
                out = b"".join(_format(*e, opts.timestamps) for e in (parser.feed(ln) for ln in lines)
                               if e is not None)
                out = limit.take(out)
                if out:
                    yield out
                if limit.done:
                    return
                continue
            try:
                st = os.stat(path)
            except FileNotFoundError:
                st = None
            if st is not None and (st.st_ino != inode or st.st_size < offset):
                f.close()                       # rotated: carry on in the new file
                f = open(path, "rb")
                inode, offset, rest = os.fstat(f.fileno()).st_ino, 0, b""
                continue
            if running is not None and loop.time() >= next_check:
                next_check = loop.time() + 0.5
                if not await running():
                    chunk = f.read()            # whatever it wrote last
                    if chunk:
                        f.seek(-len(chunk), os.SEEK_CUR)
                        continue
                    return
            await asyncio.sleep(FOLLOW_POLL)
    finally:
        f.close()
