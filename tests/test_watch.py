"""Watch semantics: start from any resourceVersion in the window, Expired beyond it, selectors turning
MODIFIED into ADDED/DELETED, bookmarks, and resume across a dropped stream and a server restart with
nothing lost or repeated."""
from __future__ import annotations

import threading

import pytest

from minik8s.api.errors import Expired
from test_apiserver import pod


def collect(stream, n: int, timeout: float = 10.0) -> list:
    """The first n events of a watch stream (fails after timeout)."""
    out: list = []
    done = threading.Event()

    def run():
        for ev in stream:
            out.append(ev)
            if len(out) >= n:
                break
        done.set()

    threading.Thread(target=run, daemon=True).start()
    if not done.wait(timeout):
        stream.cancel()
        pytest.fail(f"got {len(out)} of {n} events: {[(e.type, e.object.metadata.name) for e in out]}")
    stream.cancel()
    return out


pytestmark = pytest.mark.apiserver_args("--watch-window", "50", "--bookmark-interval", "0.2")


def test_watch_from_resource_version_replays_then_follows(srv):
    c = srv.client()
    start = c.list("pods").resource_version
    c.create(pod("a"))
    c.patch("pods", "a", {"metadata": {"labels": {"x": "1"}}})
    stream = c.watch("pods", resource_version=start)
    c.delete("pods", "a")
    evs = collect(stream, 3)
    assert [(e.type, e.object.metadata.name) for e in evs] == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    rvs = [int(e.resource_version) for e in evs]
    assert rvs == sorted(rvs)


def test_watch_without_resource_version_starts_with_current_objects(srv):
    c = srv.client()
    c.create(pod("a"))
    c.create(pod("b"))
    evs = collect(c.watch("pods"), 2)
    assert sorted((e.type, e.object.metadata.name) for e in evs) == [("ADDED", "a"), ("ADDED", "b")]


def test_label_selector_watch_sees_objects_enter_and_leave(srv):
    c = srv.client()
    c.create(pod("a", {"app": "web"}))
    start = c.list("pods").resource_version
    stream = c.watch("pods", resource_version=start, label_selector="app=web")
    c.patch("pods", "a", {"metadata": {"labels": {"app": "db"}}})     # leaves: DELETED
    c.create(pod("b", {"app": "db"}))                                 # never matches
    c.patch("pods", "b", {"metadata": {"labels": {"app": "web"}}})    # enters: ADDED
    evs = collect(stream, 2)
    assert [(e.type, e.object.metadata.name) for e in evs] == [("DELETED", "a"), ("ADDED", "b")]


def test_too_old_resource_version_is_expired(srv):
    c = srv.client()
    start = c.list("pods").resource_version
    for i in range(60):
        c.create(pod(f"p{i}"))
    with pytest.raises(Expired, match="too old resource version"):
        list(c.watch("pods", resource_version=start, timeout=5))


def test_bookmarks_carry_the_current_resource_version(srv):
    c = srv.client()
    c.create(pod("a"))
    rv = c.list("pods").resource_version
    evs = collect(c.watch("pods", resource_version=rv, bookmarks=True), 1)
    assert evs[0].type == "BOOKMARK" and int(evs[0].resource_version) >= int(rv)


def _resume_sees_everything(srv, interrupt) -> None:
    c = srv.client()
    rv = c.list("pods").resource_version
    for i in range(5):
        c.create(pod(f"before-{i}"))
    first = collect(c.watch("pods", resource_version=rv), 3)
    last = first[-1].resource_version
    interrupt()
    c = srv.client()
    for i in range(3):
        c.create(pod(f"after-{i}"))
    rest = collect(c.watch("pods", resource_version=last), 5)
    names = [e.object.metadata.name for e in first + rest]
    assert names == [f"before-{i}" for i in range(5)] + [f"after-{i}" for i in range(3)]


def test_resume_after_dropped_stream_loses_and_repeats_nothing(srv):
    _resume_sees_everything(srv, lambda: None)


def test_resume_across_server_restart_loses_and_repeats_nothing(srv):
    _resume_sees_everything(srv, srv.restart)


def test_many_watchers_each_see_every_write_in_order(srv):
    c = srv.client()
    rv = c.list("pods").resource_version
    streams = [c.watch("pods", resource_version=rv) for _ in range(20)]
    for i in range(30):
        c.create(pod(f"p{i}"))
    for s in streams:
        names = [e.object.metadata.name for e in collect(s, 30)]
        assert names == [f"p{i}" for i in range(30)]
