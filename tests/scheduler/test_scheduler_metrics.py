"""The scheduler's metrics in Prometheus' text format, over HTTP as `--metrics-port` serves them."""
from __future__ import annotations

import asyncio

from minik8s.scheduler.metrics import Metrics
from minik8s.scheduler.queue import QueueDepth


def test_render():
    m = Metrics(lambda: QueueDepth(active=2, backoff=1, unschedulable=3))
    m.attempt("scheduled", "default-scheduler", 0.0003)
    m.attempt("scheduled", "default-scheduler", 0.002)
    m.attempt("unschedulable", "default-scheduler", 0.001)
    m.observe_extension_point("default-scheduler", "Filter", 0.00005)
    text = m.render()
    assert 'scheduler_schedule_attempts_total{result="scheduled",profile="default-scheduler"} 2' in text
    assert 'scheduler_schedule_attempts_total{result="unschedulable",profile="default-scheduler"} 1' in text
    assert ('scheduler_framework_extension_point_duration_seconds_bucket{profile="default-scheduler",'
            'extension_point="Filter",le="0.0001"} 1') in text
    assert ('scheduler_scheduling_attempt_duration_seconds_bucket{result="scheduled",profile="default-scheduler",'
            'le="0.0004"} 1') in text
    assert ('scheduler_scheduling_attempt_duration_seconds_count{result="scheduled",profile="default-scheduler"} 2'
            in text)
    assert 'scheduler_pending_pods{queue="unschedulable"} 3' in text


async def test_served_over_http():
    m = Metrics()
    m.attempt("error", "p", 0.1)
    server = await m.serve("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    body = (await reader.read()).decode()
    writer.close()
    server.close()
    assert body.startswith("HTTP/1.1 200 OK") and 'result="error",profile="p"} 1' in body
