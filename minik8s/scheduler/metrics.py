"""The scheduler's metrics, named as upstream's: scheduling attempts by result, the duration of each
extension point and of whole attempts, and the depth of each part of the queue. `render()` gives the
Prometheus text format; `serve()` answers it over HTTP (`--metrics-port`)."""
from __future__ import annotations

import asyncio
import bisect
from collections import defaultdict
from typing import Callable

BUCKETS = tuple(0.0001 * 2 ** i for i in range(15))     # 0.1 ms .. 1.6 s


class Histogram:
    __slots__ = ("counts", "count", "sum")

    def __init__(self):
        self.counts = [0] * len(BUCKETS)
        self.count = 0
        self.sum = 0.0

    def observe(self, v: float) -> None:
        self.count += 1
        self.sum += v
        i = bisect.bisect_left(BUCKETS, v)
        if i < len(BUCKETS):
            self.counts[i] += 1


def _labels(names: tuple[str, ...], values: tuple) -> str:
    return ",".join(f'{n}="{v}"' for n, v in zip(names, values))


class Metrics:
    def __init__(self, queue_depth: Callable | None = None):
        self.attempts: dict[tuple[str, str], int] = defaultdict(int)            # (result, profile)
        self.attempt_duration: dict[tuple[str, str], Histogram] = defaultdict(Histogram)
        self.extension_points: dict[tuple[str, str], Histogram] = defaultdict(Histogram)  # (profile, point)
        self.preemption_victims = 0
        self.queue_depth = queue_depth

    def attempt(self, result: str, profile: str, seconds: float) -> None:
        """result: scheduled, unschedulable or error (upstream's schedule_attempts_total labels)."""
        self.attempts[(result, profile)] += 1
        self.attempt_duration[(result, profile)].observe(seconds)

    def observe_extension_point(self, profile: str, point: str, seconds: float) -> None:
        self.extension_points[(profile, point)].observe(seconds)

    def extension_point(self, profile: str, point: str) -> Histogram:
        """The histogram of one extension point, for a caller that observes it on every attempt."""
        return self.extension_points[(profile, point)]

    def render(self) -> str:
        out = ["# TYPE scheduler_schedule_attempts_total counter"]
        for key, n in sorted(self.attempts.items()):
            out.append(f"scheduler_schedule_attempts_total{{{_labels(('result', 'profile'), key)}}} {n}")
        out += _histogram("scheduler_scheduling_attempt_duration_seconds", ("result", "profile"),
                          self.attempt_duration)
        out += _histogram("scheduler_framework_extension_point_duration_seconds", ("profile", "extension_point"),
                          self.extension_points)
        out.append("# TYPE scheduler_preemption_victims_total counter")
        out.append(f"scheduler_preemption_victims_total {self.preemption_victims}")
        if self.queue_depth is not None:
            depth = self.queue_depth()
            out.append("# TYPE scheduler_pending_pods gauge")
            for q in ("active", "backoff", "unschedulable"):
                out.append(f'scheduler_pending_pods{{queue="{q}"}} {getattr(depth, q)}')
        return "\n".join(out) + "\n"

    async def serve(self, host: str, port: int) -> asyncio.AbstractServer:
        async def handle(reader, writer):
            try:
                await reader.readuntil(b"\r\n\r\n")
                body = self.render().encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
                await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                pass
            finally:
                writer.close()
        return await asyncio.start_server(handle, host, port)


def _histogram(name: str, label_names: tuple[str, ...], hists: dict) -> list[str]:
    out = [f"# TYPE {name} histogram"]
    for key, h in sorted(hists.items()):
        labels = _labels(label_names, key)
        cumulative = 0
        for b, c in zip(BUCKETS, h.counts):
            cumulative += c
            out.append(f'{name}_bucket{{{labels},le="{b:g}"}} {cumulative}')
        out.append(f'{name}_bucket{{{labels},le="+Inf"}} {h.count}')
        out.append(f"{name}_sum{{{labels}}} {h.sum:.6f}")
        out.append(f"{name}_count{{{labels}}} {h.count}")
    return out
