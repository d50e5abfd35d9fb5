"""The fake runtime: instant pods, completions and usage simulated from annotations on a FakeClock."""
from __future__ import annotations

import asyncio
import ipaddress

import pytest

from kubelet.runtime.base import ContainerConfig, CreateContainerError, RuntimeError_, SandboxConfig
from kubelet.runtime.fake import (
    ANNOTATION_CPU_MILLIS, ANNOTATION_EXIT_AFTER, ANNOTATION_EXIT_CODE, ANNOTATION_MEMORY_BYTES, FakeRuntime,
)
from minik8s.api.clock import FakeClock

# a hung watch fails its test instead of the run
pytestmark = pytest.mark.timeout(30)

CIDR = "10.244.7.0/24"


def sandbox(uid: str = "uid-1", **kw) -> SandboxConfig:
    return SandboxConfig(pod_uid=uid, namespace="default", name=f"pod-{uid}", hostname=f"pod-{uid}", **kw)


async def started(rt: FakeRuntime, annotations: dict[str, str] | None = None, name: str = "main",
                  log_path: str = "", uid: str = "uid-1") -> str:
    sb = await rt.run_sandbox(sandbox(uid))
    cid = await rt.create_container(sb.id, ContainerConfig(name=name, image="busybox", annotations=annotations or {},
                                                           log_path=log_path))
    await rt.start_container(cid)
    return cid


async def test_lifecycle_runs_at_once_logs_and_stops(tmp_path):
    clock = FakeClock()
    rt = FakeRuntime("node-1", CIDR, clock)
    sb = await rt.run_sandbox(sandbox())
    assert sb.ready and ipaddress.IPv4Address(sb.ip) in ipaddress.IPv4Network(CIDR) and sb.ip != "10.244.7.1"
    log = tmp_path / "main.log"
    cid = await rt.create_container(sb.id, ContainerConfig(name="main", image="busybox", log_path=str(log)))
    assert (await rt.container_status(cid)).state == "created"
    await rt.start_container(cid)
    s = await rt.container_status(cid)
    assert (s.state, s.started_at) == ("running", clock.now())
    assert log.read_text().endswith(" stdout F fake runtime: container main started\n")
    assert [c.id for c in await rt.list_containers(sb.id)] == [cid]

    await rt.stop_sandbox(sb.id)
    s = await rt.container_status(cid)
    assert (s.state, s.exit_code, s.reason) == ("exited", 143, "Error")
    assert [x.ready for x in await rt.list_sandboxes()] == [False]
    await rt.remove_sandbox(sb.id)
    assert await rt.list_sandboxes() == [] and await rt.list_containers() == []
    assert (await rt.run_sandbox(sandbox("uid-2"))).ip == sb.ip     # the released IP is handed out again


@pytest.mark.parametrize("annotations, code, reason", [
    ({ANNOTATION_EXIT_AFTER: "5"}, 0, "Completed"),
    ({ANNOTATION_EXIT_AFTER: "5", ANNOTATION_EXIT_CODE: "1"}, 1, "Error"),
    ({ANNOTATION_EXIT_AFTER: "5", ANNOTATION_EXIT_CODE: "0", f"{ANNOTATION_EXIT_CODE}.main": "42"}, 42, "Error"),
    ({f"{ANNOTATION_EXIT_AFTER}.main": "5", ANNOTATION_EXIT_AFTER: "1000"}, 0, "Completed"),
])
async def test_containers_exit_when_the_clock_passes_exit_after(annotations, code, reason):
    clock = FakeClock()
    rt = FakeRuntime("node-1", CIDR, clock)
    cid = await started(rt, annotations)
    start = clock.now()
    clock.advance(4.9)
    assert (await rt.container_status(cid)).state == "running"
    clock.advance(0.1)
    s = await rt.container_status(cid)
    assert (s.state, s.exit_code, s.reason, s.finished_at) == ("exited", code, reason, start + 5)


async def test_statuses_are_snapshots_that_do_not_change_under_the_caller():
    clock = FakeClock()
    rt = FakeRuntime("node-1", CIDR, clock)
    cid = await started(rt, {ANNOTATION_EXIT_AFTER: "1"})
    before = await rt.container_status(cid)
    clock.advance(1)
    assert before.state == "running" and (await rt.container_status(cid)).state == "exited"


async def test_usage_comes_from_annotations_and_the_clock():
    clock = FakeClock()
    rt = FakeRuntime("node-1", CIDR, clock)
    cid = await started(rt, {ANNOTATION_CPU_MILLIS: "250", ANNOTATION_MEMORY_BYTES: "64Mi"})
    clock.advance(4)
    s = await rt.stats(cid)
    assert (s.cpu_usage_ns, s.memory_bytes, s.timestamp) == (1_000_000_000, 64 << 20, clock.now())
    await rt.stop_container(cid, 30)
    assert await rt.stats(cid) is None


@pytest.mark.parametrize("key, value", [
    (ANNOTATION_EXIT_AFTER, "soon"), (ANNOTATION_EXIT_CODE, "-1"), (ANNOTATION_MEMORY_BYTES, "lots"),
    (ANNOTATION_CPU_MILLIS, "1.5"),
])
async def test_a_bad_annotation_fails_the_create(key, value):
    rt = FakeRuntime("node-1", CIDR, FakeClock())
    with pytest.raises(CreateContainerError, match=key):
        await started(rt, {key: value})


async def test_exec_echoes_the_command_and_refuses_stopped_containers():
    rt = FakeRuntime("node-1", CIDR, FakeClock())
    cid = await started(rt)
    assert await rt.exec_sync(cid, ["cat", "/etc/hostname"], 1) == (0, b"cat /etc/hostname\n")
    session = await rt.exec(cid, ["sh"], stdin=True, tty=True)
    assert [c async for c in session.output()] == [("stdout", b"sh\n")] and await session.wait() == 0
    await rt.stop_container(cid, 0)
    with pytest.raises(RuntimeError_, match="not running"):
        await rt.exec_sync(cid, ["true"], 1)


async def test_host_network_pods_take_no_pod_ip_and_the_cidr_runs_out():
    rt = FakeRuntime("node-1", "10.244.9.0/29", FakeClock())     # .2 to .6 for pods
    assert (await rt.run_sandbox(sandbox("host", host_network=True))).ip == "127.0.0.1"
    ips = [(await rt.run_sandbox(sandbox(f"u{i}"))).ip for i in range(5)]
    assert ips == [f"10.244.9.{i}" for i in range(2, 7)]
    with pytest.raises(RuntimeError_, match="no free pod IP"):
        await rt.run_sandbox(sandbox("one-too-many"))


async def test_many_pods_cost_no_tasks_and_finish_from_one_heap():
    clock = FakeClock()
    nodes = [FakeRuntime(f"node-{n}", f"10.{n // 256}.{n % 256}.0/24", clock) for n in range(50)]
    tasks_before = len(asyncio.all_tasks())
    for rt in nodes:
        for i in range(100):
            await started(rt, {ANNOTATION_EXIT_AFTER: str(1 + i % 10)}, uid=f"{rt.node_name}-{i}")
    assert len(asyncio.all_tasks()) == tasks_before
    clock.advance(5)
    states = [c.state for rt in nodes for c in await rt.list_containers()]
    assert states.count("exited") == 50 * 50 and states.count("running") == 50 * 50
    clock.advance(5)
    assert {c.state for rt in nodes for c in await rt.list_containers()} == {"exited"}
