"""The cluster log archive: a container's lines reach the API server as they are written, keyed by
namespace/pod/uid/container/restart with the pod's labels; a node writes only its own pods' logs; the
size and age budget removes the oldest first; a restarted kubelet resends nothing and loses nothing;
and a kill -9 of the API server keeps every acknowledged line."""
from __future__ import annotations

import os
import signal
import threading

import pytest

from minik8s.api.clock import FakeClock
from minik8s.api.errors import Forbidden
from minik8s.api.pb import api_pb2

from apiserver.logarchive import LogArchive
from kubelet.logshipper import LogShipper
from kubelet.runtime.base import (LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID, ContainerStatus,
                                  cri_timestamp)
from support import wait_for, wait_for_sync
from test_kubelet_harness import kubelet, phase_is, pod, sh, wait_pod


def key(p, container: str = "app", restart: int = 0) -> api_pb2.LogStreamKey:
    return api_pb2.LogStreamKey(namespace=p.metadata.namespace, pod=p.metadata.name, uid=p.metadata.uid,
                                container=container, restart=restart)


def entries(lines: list[str], start: int = 0) -> list[api_pb2.LogEntry]:
    """LogEntries as a shipper makes them, each ending 100 bytes after the last."""
    return [api_pb2.LogEntry(time=cri_timestamp(), stream="stdout", text=ln.encode(), offset=start + 100 * (i + 1))
            for i, ln in enumerate(lines)]


async def archived(client, k: api_pb2.LogStreamKey) -> list[str]:
    return b"".join([c.data async for c in client.read_logs(k)]).decode().splitlines()


# ---------------------------------------------------------------- a container's lines reach the archive
async def test_a_containers_lines_reach_the_archive_with_the_pods_labels(srv, admin, tmp_path):
    async with kubelet(srv, str(tmp_path), runtime="process"):
        p = await admin.create(pod("chatty", [sh("app", "for i in 1 2 3; do echo line $i; done; echo oops >&2")],
                                   restartPolicy="Never", labels={"job-name": "nightly"}))
        await wait_pod(admin, "chatty", phase_is("Succeeded"))

        async def ended():
            streams = (await admin.list_log_streams("default", "chatty")).streams
            return streams if streams and streams[0].ended else None
        streams = await wait_for(ended, what="the archived stream to end")
        assert [(s.key.uid, s.key.container, s.key.restart, s.node) for s in streams] == \
            [(p.metadata.uid, "app", 0, "node-1")]
        assert streams[0].labels["job-name"] == "nightly"
        assert sorted(await archived(admin, key(p))) == ["line 1", "line 2", "line 3", "oops"]
        by_label = (await admin.list_log_streams("", label_selector="job-name=nightly")).streams
        assert [s.key.pod for s in by_label] == ["chatty"]


# ---------------------------------------------------------------- node identity
async def test_a_node_cannot_write_another_nodes_pod_logs(srv, admin):
    mine = await admin.create(pod("mine", node="node-1"))
    async with srv.async_client("node-1") as node1, srv.async_client("node-2") as node2:
        with pytest.raises(Forbidden, match='node "node-2" can only write the logs of pods bound to it'):
            await node2.append_logs([api_pb2.LogBatch(key=key(mine), entries=entries(["forged"]))])
        forged_uid = key(mine)
        forged_uid.uid = "not-the-pods-uid"
        with pytest.raises(Forbidden):
            await node1.append_logs([api_pb2.LogBatch(key=forged_uid, entries=entries(["forged"]))])
        assert await node1.append_logs([api_pb2.LogBatch(key=key(mine), entries=entries(["real"]))]) == [100]
        # once a stream is node-1's, node-2 cannot add to it either
        with pytest.raises(Forbidden):
            await node2.append_logs([api_pb2.LogBatch(key=key(mine), entries=entries(["more"], 100))])
        with pytest.raises(Forbidden, match="only kubelets ship logs"):
            await admin.append_logs([api_pb2.LogBatch(key=key(mine), entries=entries(["admin"]))])
    assert await archived(admin, key(mine)) == ["real"]


# ---------------------------------------------------------------- budget
def _stream(n: int) -> api_pb2.LogStreamKey:
    return api_pb2.LogStreamKey(namespace="default", pod=f"p{n}", uid=f"uid-{n}", container="app")


async def test_budget_eviction_removes_the_oldest_first(tmp_path):
    clock = FakeClock()
    archive = LogArchive(str(tmp_path / "archive.db"), clock, max_bytes=10_000, max_age=3600)
    await archive.start()
    try:
        line = "x" * 1000
        for n in range(4):                              # four streams of ~4 KB each, oldest first
            await archive.append("node-1", [api_pb2.LogBatch(key=_stream(n), entries=entries([line] * 4))], [{}])
            clock.advance(60)
        kept = [s.key[1] for s in archive.list()]
        assert kept == ["p2", "p3"], kept               # 10 KB hold the two newest only
        assert archive.used <= 10_000
        # a new line of the oldest kept stream does not save it from the age budget
        clock.advance(3600 - 60)
        await archive.prune()
        assert [s.key[1] for s in archive.list()] == ["p3"]
        clock.advance(120)
        await archive.prune()
        assert archive.list() == [] and archive.used == 0
    finally:
        await archive.stop()


async def test_the_archive_keeps_its_streams_and_budget_across_a_restart(tmp_path):
    path = str(tmp_path / "archive.db")
    archive = LogArchive(path, FakeClock())
    await archive.start()
    await archive.append("node-1", [api_pb2.LogBatch(key=_stream(1), entries=entries(["a", "b"]), ended=True)],
                         [{"app": "x"}])
    used = archive.used
    await archive.stop()
    again = LogArchive(path, FakeClock())
    [s] = again.list()
    assert (s.key, s.node, s.labels, s.offset, s.ended, again.used) == \
        (("default", "p1", "uid-1", "app", 0), "node-1", {"app": "x"}, 200, True, used)
    again._db.close()
    again._reader.close()


# ---------------------------------------------------------------- kubelet restart
class _Log:
    """A container's CRI log file written the way the runtimes write it."""

    def __init__(self, path: str):
        self.path = path
        os.makedirs(os.path.dirname(path), exist_ok=True)

    def write(self, *lines: str, tag: str = "F") -> None:
        with open(self.path, "ab") as f:
            for ln in lines:
                f.write(f"{cri_timestamp()} stdout {tag} {ln}\n".encode())


async def test_a_kubelet_restart_resends_nothing_and_loses_nothing(srv, admin, tmp_path):
    p = await admin.create(pod("worker", node="node-1"))
    log = _Log(str(tmp_path / "logs" / "worker" / "0.log"))
    container = ContainerStatus(id="c1", name="app", sandbox_id="s1", state="running", log_path=log.path,
                                labels={LABEL_POD_NAMESPACE: "default", LABEL_POD_NAME: "worker",
                                        LABEL_POD_UID: p.metadata.uid})
    sent: list[str] = []
    async with srv.async_client("node-1") as node1:
        async def append(batches):
            sent.extend(e.text.decode() for b in batches for e in b.entries)
            return await node1.append_logs(batches)

        async def containers():
            return [container]

        state = str(tmp_path / "kubelet" / "logshipper")
        first = LogShipper(append, containers, state)
        log.write("one", "two")
        log.write("thr", tag="P")                      # half a line: not shipped before its end
        assert await first.ship_once() == 2
        log.write("ee")
        log.write("four")
        # the kubelet stops here; the new one starts from the acknowledged offset on disk
        second = LogShipper(append, containers, state)
        log.write("five")
        assert await second.ship_once() == 3
        container.state = "exited"
        assert await second.ship_once() == 0
        third = LogShipper(append, containers, state)
        assert await third.ship_once() == 0 and not third.tails    # an ended stream is not reopened
    assert sent == ["one", "two", "three", "four", "five"]
    assert await archived(admin, key(p)) == ["one", "two", "three", "four", "five"]
    assert (await admin.list_log_streams("default", "worker")).streams[0].ended


async def test_lines_after_a_rotation_and_an_unreachable_server_are_shipped_once(srv, admin, tmp_path):
    p = await admin.create(pod("rotor", node="node-1"))
    log = _Log(str(tmp_path / "rotor.log"))
    container = ContainerStatus(id="c1", name="app", sandbox_id="s1", state="running", log_path=log.path,
                                labels={LABEL_POD_NAMESPACE: "default", LABEL_POD_NAME: "rotor",
                                        LABEL_POD_UID: p.metadata.uid})
    down = {"now": False}
    async with srv.async_client("node-1") as node1:
        async def append(batches):
            if down["now"]:
                from minik8s.api.errors import Unavailable
                raise Unavailable("connection refused")
            return await node1.append_logs(batches)

        async def containers():
            return [container]
        shipper = LogShipper(append, containers, str(tmp_path / "state"))
        log.write("a", "b")
        down["now"] = True
        assert await shipper.ship_once() == 0
        os.replace(log.path, log.path + ".1")          # the runtime rotates: one old file kept
        log.write("c")
        down["now"] = False
        assert await shipper.ship_once() == 3
        log.write("d")
        assert await shipper.ship_once() == 1
    assert await archived(admin, key(p)) == ["a", "b", "c", "d"]


# ---------------------------------------------------------------- kill -9
def test_kill_9_of_the_api_server_keeps_every_acknowledged_line(srv):
    admin = srv.client()
    pods = [admin.create(pod(f"w{i}", node="node-1")) for i in range(4)]
    acked: dict[int, int] = {}
    stop = threading.Event()

    def writer(i: int):
        c = srv.client("node-1", timeout=5)
        k, n = key(pods[i]), 0
        while not stop.is_set():
            batch = api_pb2.LogBatch(key=k, entries=entries([f"{i}-{n + j}" for j in range(20)], 100 * n))
            try:
                c.append_logs([batch])
            except Exception:
                return
            n += 20
            acked[i] = n

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    wait_for_sync(lambda: sum(acked.values()) >= 2000, what="2000 lines acknowledged")
    srv.kill(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join()
    srv.start()
    admin = srv.client()
    for i, p in enumerate(pods):
        lines = b"".join(c.data for c in admin.read_logs(key(p))).decode().splitlines()
        assert lines[:acked[i]] == [f"{i}-{n}" for n in range(acked[i])], f"stream {i} lost acknowledged lines"
        assert len(lines) == len(set(lines))
