"""Informers against a real API server: the initial list, handler order, resuming a watch across a
server restart, and relisting when the resourceVersion has left the server's watch window. A scripted
client pins the relist diff and the reconnect backoff exactly."""
from __future__ import annotations

import asyncio

import pytest

from minik8s.api.clock import FakeClock
from minik8s.api.errors import Expired, Unavailable
from minik8s.api.pb import core_pb2
from minik8s.client.informer import (LABEL_INDEX, NODE_NAME_INDEX, Indexer, Informer, SharedInformerFactory,
                                     copy, key_of)
from minik8s.client.transport import ObjectList, WatchEvent
from support import wait_for

# a hung watch fails its test instead of the run
pytestmark = pytest.mark.timeout(120)

TIMEOUT = 30.0


def pod(name: str, namespace: str = "default", **labels) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, namespace
    p.metadata.labels.update(labels)
    c = p.spec.containers.add()
    c.name, c.image = "app", "nginx"
    return p


async def reachable(client) -> None:
    """Wait out the gRPC channel's reconnect backoff after a server restart (channels to one address
    share their connection state, so a new client would wait just the same)."""
    async def answers():
        await client.version()
        return True
    await wait_for(answers, TIMEOUT, what="the server reachable after restart", interval=0.05,
                   ignoring=(Unavailable,))


class Recorder:
    """Handlers that log every call as (what, key, resourceVersion[s])."""

    def __init__(self):
        self.calls: list[tuple] = []

    def on_add(self, obj):
        self.calls.append(("add", key_of(obj), obj.metadata.resourceVersion))

    def on_update(self, old, new):
        self.calls.append(("update", key_of(new), rv(old), rv(new)))

    def on_delete(self, obj):
        self.calls.append(("delete", key_of(obj)))

    def register(self, informer):
        informer.add_event_handler(self.on_add, self.on_update, self.on_delete)
        return self


def rv(obj) -> str:
    return obj.metadata.resourceVersion


async def test_initial_list_fills_the_cache_and_its_indexes(srv):
    async with srv.async_client() as c:
        a = await c.create(pod("a", app="web"))
        await c.create(pod("b", app="db"))
        await c.create(pod("c", "kube-system", app="web"))
        await c.bind("default", "a", "node-1")
        a = await c.get("Pod", "a")
        inf = Informer(c, "Pod")
        assert not inf.has_synced
        await inf.start()
        assert await inf.wait_synced(TIMEOUT)
        assert inf.has_synced
        assert sorted(key_of(p) for p in inf.list()) == ["default/a", "default/b", "kube-system/c"]
        assert rv(inf.get("default/a")) == rv(a)
        assert inf.get_by("kube-system", "c").metadata.labels["app"] == "web"
        assert inf.get_by("default", "missing") is None
        assert [key_of(p) for p in inf.list_namespace("default")] == ["default/a", "default/b"]
        assert [key_of(p) for p in inf.by_index(LABEL_INDEX, "app=web")] == ["default/a", "kube-system/c"]
        assert [key_of(p) for p in inf.by_index(NODE_NAME_INDEX, "node-1")] == ["default/a"]
        assert [key_of(p) for p in inf.by_index(NODE_NAME_INDEX, "")] == ["default/b", "kube-system/c"]
        inf.add_indexer("image", lambda p: [x.image for x in p.spec.containers])
        assert len(inf.by_index("image", "nginx")) == 3
        mine = copy(inf.get("default/b"))
        mine.metadata.labels["app"] = "changed"
        assert inf.get("default/b").metadata.labels["app"] == "db"
        await inf.stop()


async def test_handlers_fire_in_event_order_and_a_raising_handler_is_contained(srv):
    async with srv.async_client() as c:
        inf = Informer(c, "Pod", namespace="default")
        failing_calls = []

        def failing(obj):
            failing_calls.append(key_of(obj))
            raise RuntimeError("handler bug")

        inf.add_event_handler(on_add=failing)
        first = Recorder().register(inf)
        seen_async = []

        async def async_add(obj):
            await asyncio.sleep(0)
            seen_async.append(key_of(obj))

        inf.add_event_handler(on_add=async_add)
        await inf.start()
        await inf.wait_synced(TIMEOUT)

        a1 = await c.create(pod("a", tier="x"))
        p = copy(a1)
        p.metadata.labels["tier"] = "y"
        a2 = await c.update(p)
        b1 = await c.create(pod("b"))
        a3 = await c.delete("Pod", "a")
        expected = [("add", "default/a", rv(a1)), ("update", "default/a", rv(a1), rv(a2)),
                    ("add", "default/b", rv(b1)), ("delete", "default/a")]
        await wait_for(lambda: len(first.calls) >= 4)
        assert first.calls == expected
        assert int(rv(a3)) > int(rv(b1))
        assert failing_calls == ["default/a", "default/b"]
        assert seen_async == ["default/a", "default/b"]

        late = Recorder().register(inf)          # replays the cache as adds
        await wait_for(lambda: len(late.calls) >= 1)
        assert late.calls == [("add", "default/b", rv(b1))]
        await inf.stop()


async def test_watch_resumes_after_a_server_restart_without_loss_or_duplicates(srv):
    client = srv.async_client()
    inf = Informer(client, "Pod", namespace="default")
    events = Recorder().register(inf)
    await inf.start()
    await inf.wait_synced(TIMEOUT)
    async with srv.async_client() as c:
        p1 = await c.create(pod("p1"))
        p2 = await c.create(pod("p2"))
    await wait_for(lambda: len(events.calls) == 2)

    await asyncio.to_thread(srv.restart)

    async with srv.async_client() as c:
        await reachable(c)
        p3 = await c.create(pod("p3"))
        upd = copy(p1)
        upd.metadata.labels["v"] = "2"
        p1b = await c.update(upd)
        await c.delete("Pod", "p2")
    expected = [("add", "default/p1", rv(p1)), ("add", "default/p2", rv(p2)),
                ("add", "default/p3", rv(p3)), ("update", "default/p1", rv(p1), rv(p1b)),
                ("delete", "default/p2")]
    await wait_for(lambda: len(events.calls) >= len(expected))
    assert events.calls == expected
    assert inf.lists == 1                      # resumed from its resourceVersion, never relisted
    assert sorted(key_of(p) for p in inf.list()) == ["default/p1", "default/p3"]
    await inf.stop()
    await client.close()


@pytest.mark.apiserver_args("--watch-window", "5")
async def test_expired_resource_version_relists_and_diffs_against_the_cache(srv):
    await _expired(srv)


async def _expired(srv):
    clock = FakeClock()            # the informer cannot reconnect until the test moves time
    client = srv.async_client()
    inf = Informer(client, "Pod", namespace="default", clock=clock)
    events = Recorder().register(inf)
    async with srv.async_client() as c:
        keep = await c.create(pod("keep"))
        change = await c.create(pod("change"))
        await c.create(pod("gone"))
        await inf.start()
        await inf.wait_synced(TIMEOUT)
        await wait_for(lambda: len(events.calls) == 3)
        last_seen = int(inf.last_sync_resource_version)

    await asyncio.to_thread(srv.restart)           # drops the stream; the informer waits on the clock

    async with srv.async_client() as c:
        await reachable(c)
        upd = copy(change)
        upd.metadata.labels["v"] = "2"
        changed = await c.update(upd)
        await c.delete("Pod", "gone")
        new = [await c.create(pod(f"new{i}")) for i in range(5)]
        assert int(rv(new[-1])) - 5 > last_seen    # the informer's version has left the window
        with pytest.raises(Expired):
            async for _ in c.watch("Pod", "default", str(last_seen)):
                break

        await wait_for(lambda: len(events.calls) >= 3 + 7, tick=lambda: clock.advance(1.0))
        after = events.calls[3:]
        expected = [("update", "default/change", rv(change), rv(changed)), ("delete", "default/gone")] + \
                   [("add", f"default/new{i}", rv(p)) for i, p in enumerate(new)]
        assert sorted(after) == sorted(expected)
        assert after[-1] == ("delete", "default/gone")     # deletes follow the listed items, as upstream
        assert inf.lists == 2
        server_view = await c.list("Pod", "default")
        assert {key_of(p): rv(p) for p in inf.list()} == {key_of(p): rv(p) for p in server_view}
        assert rv(inf.get("default/keep")) == rv(keep)
        later = await c.create(pod("later"))       # and the informer watches on from the new list
        await wait_for(lambda: len(events.calls) == 11)
        assert events.calls[-1] == ("add", "default/later", rv(later))
    await inf.stop()
    await client.close()


async def test_shared_informer_factory_hands_out_one_informer_per_kind_and_selectors(srv):
    async with srv.async_client() as c:
        await c.create(pod("a", app="web"))
        f = SharedInformerFactory(c)
        pods = f.informer("Pod")
        assert f.informer("pods") is pods
        assert f.informer(core_pb2.Pod) is pods
        web = f.informer("Pod", label_selector="app=web")
        assert web is not pods
        nodes = f.informer("Node", namespace="ignored")
        assert f.informer("Node") is nodes
        await f.start_all()
        assert await f.wait_for_cache_sync(TIMEOUT)
        assert [key_of(p) for p in web.list()] == ["default/a"]
        await c.create(pod("b", app="db"))
        await wait_for(lambda: len(pods.list()) == 2)
        assert len(web.list()) == 1
        await f.stop_all()


# ---------------------------------------------------------------- scripted client: exact diff and backoff

def scripted_pod(name: str, rv_: int, uid: str = "u") -> core_pb2.Pod:
    p = pod(name)
    p.metadata.resourceVersion, p.metadata.uid = str(rv_), f"{uid}-{name}"
    return p


class ScriptedClient:
    """list() returns the next scripted list; watch() runs the next scripted stream (a list of
    WatchEvents, or an exception to raise)."""

    def __init__(self, lists, streams):
        self.lists, self.streams = list(lists), list(streams)
        self.watch_rvs: list[str] = []
        self.exhausted = asyncio.Event()

    async def list(self, kind, namespace="", label_selector="", field_selector=""):
        return self.lists.pop(0)

    async def watch(self, kind, namespace="", resource_version="", label_selector="", field_selector="",
                    bookmarks=False):
        self.watch_rvs.append(resource_version)
        if not self.streams:
            self.exhausted.set()
            await asyncio.Event().wait()
        step = self.streams.pop(0)
        if isinstance(step, Exception):
            raise step
        for ev in step:
            yield ev


async def test_relist_diff_emits_adds_updates_deletes_and_recreations():
    bookmark = core_pb2.Pod()
    bookmark.metadata.resourceVersion = "12"
    lists = [ObjectList([scripted_pod("same", 1), scripted_pod("changed", 2), scripted_pod("gone", 3),
                         scripted_pod("recreated", 4)], "10"),
             ObjectList([scripted_pod("same", 1), scripted_pod("changed", 20),
                         scripted_pod("recreated", 21, uid="v"), scripted_pod("added", 22)], "30")]
    streams = [[WatchEvent("BOOKMARK", bookmark)], Expired("too old resource version")]
    client = ScriptedClient(lists, streams)
    inf = Informer(client, "Pod", clock=FakeClock())
    events = Recorder().register(inf)
    await inf.start()
    # the first stream ends after a bookmark: the informer waits 0.2 s of clock time, then
    # watches from the bookmark's version, gets Expired and relists at once
    await wait_for(client.exhausted.is_set, tick=lambda: inf.clock.advance(0.2))
    assert client.watch_rvs == ["10", "12", "30"]
    await wait_for(lambda: len(events.calls) == 4 + 5)
    assert events.calls[4:] == [("update", "default/changed", "2", "20"),
                                ("delete", "default/recreated"), ("add", "default/recreated", "21"),
                                ("add", "default/added", "22"), ("delete", "default/gone")]
    await inf.stop()


class RecordingClock(FakeClock):
    def __init__(self):
        super().__init__()
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await super().sleep(seconds)


async def test_reconnect_backoff_doubles_to_the_cap_and_resets_after_a_healthy_stream():
    clock = RecordingClock()
    ev = WatchEvent("ADDED", scripted_pod("x", 11))
    streams = [Unavailable("down")] * 8 + [[ev]] + [Unavailable("down")]
    client = ScriptedClient([ObjectList([], "10")], streams)
    inf = Informer(client, "Pod", clock=clock)
    await inf.start()
    await wait_for(client.exhausted.is_set, tick=lambda: clock.advance(10))
    assert clock.sleeps == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0, 0.2, 0.4]
    assert client.watch_rvs == ["10"] * 9 + ["11", "11"]   # resumes from the last event's version
    await inf.stop()


def test_indexer_keeps_indexes_consistent_through_updates_and_removals():
    idx = Indexer()
    idx.add_indexer("app", lambda p: p.metadata.labels.get("app"))
    idx.set(pod("a", app="web"))
    idx.set(pod("b", app="web"))
    old = idx.set(pod("a", app="db"))
    assert old.metadata.labels["app"] == "web"
    assert [key_of(p) for p in idx.by_index("app", "web")] == ["default/b"]
    assert [key_of(p) for p in idx.by_index("app", "db")] == ["default/a"]
    assert idx.remove("default/b") is not None
    assert idx.by_index("app", "web") == []
    assert idx.remove("default/b") is None
    assert len(idx) == 1 and "default/a" in idx
    with pytest.raises(KeyError):
        idx.by_index("nope", "x")
