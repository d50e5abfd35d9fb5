"""DockerRuntime against the real engine: pods share one IP and localhost on the node's bridge, the
host reaches pod IPs, exit codes/reasons (OOMKilled too), pull policies, CRI logs, exec, graceful
stop, and adoption by a restarted kubelet. The option arithmetic (cpu shares/quota, GPU requests) is
checked without an engine.

Network: tests talk only to loopback and to pod IPs on the bridge they create; the one pull that
runs names a registry at 127.0.0.1:1, where nothing listens."""
from __future__ import annotations

import asyncio
import contextlib
import http.server
import ipaddress
import os
import re
import secrets
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass

import pytest

from kubelet.runtime.base import (LABEL_ATTEMPT, LABEL_CONTAINER_NAME, LABEL_NODE, LABEL_POD_NAME,
                                  LABEL_POD_NAMESPACE, LABEL_POD_UID, ContainerConfig,
                                  ImageNeverPullError, ImagePullError, Mount, PortMapping,
                                  SandboxConfig)
from kubelet.runtime.docker import (DockerRuntime, container_env, docker_time_ns, exit_reason,
                                    resource_options)
from support.wait import wait_for

BUSYBOX = "minik8s/busybox:latest"
MISSING_LOCAL = "minik8s/never-built:v0"
UNREACHABLE_REGISTRY = "127.0.0.1:1"   # loopback, nothing listens: a pull fails at once
MI = 1024 * 1024
CRI_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) ([FP]) (.*)$")


def read_cri_log(path: str) -> list[tuple[str, str, str]]:
    """(stream, F|P, text) per line; every line must be in the CRI format."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = f.read().splitlines()
    parsed = [CRI_LINE.match(line) for line in lines]
    assert all(parsed), f"not CRI format: {lines}"
    return [m.groups() for m in parsed]


def direct_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))   # never via a proxy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- option arithmetic (no engine) -------------------------------------------------------------

@pytest.mark.parametrize("request_m, limit_m, memory, expected", [
    (0, 0, 0, {"cpu_shares": 2}),
    (1, 0, 0, {"cpu_shares": 2}),
    (2000, 0, 0, {"cpu_shares": 2048}),
    (250, 500, 64 * MI, {"cpu_shares": 256, "cpu_period": 100000, "cpu_quota": 50000,
                         "mem_limit": 64 * MI, "memswap_limit": 64 * MI}),
    (0, 5, 0, {"cpu_shares": 2, "cpu_period": 100000, "cpu_quota": 1000}),
    (10**6, 0, 0, {"cpu_shares": 262144}),
])
def test_cpu_and_memory_become_kubelet_cgroup_values(request_m, limit_m, memory, expected):
    cfg = ContainerConfig(name="c", image=BUSYBOX, cpu_request_millis=request_m,
                          cpu_limit_millis=limit_m, memory_limit_bytes=memory)
    assert resource_options(cfg) == expected


def test_gpu_devices_become_an_nvidia_device_request_and_visible_devices_env():
    cfg = ContainerConfig(name="c", image=BUSYBOX, env={"A": "1"}, gpu_devices=["GPU-1a2b", "3"])
    [request] = resource_options(cfg)["device_requests"]
    assert dict(request) == {"Driver": "nvidia", "Count": 0, "DeviceIDs": ["GPU-1a2b", "3"],
                             "Capabilities": [["gpu"]], "Options": {}}
    assert container_env(cfg) == ["A=1", "NVIDIA_VISIBLE_DEVICES=GPU-1a2b,3"]
    plain = ContainerConfig(name="c", image=BUSYBOX)
    assert "device_requests" not in resource_options(plain) and container_env(plain) == []


@pytest.mark.parametrize("state, reason", [
    ({"ExitCode": 0, "OOMKilled": False}, "Completed"),
    ({"ExitCode": 1, "OOMKilled": False}, "Error"),
    ({"ExitCode": 137, "OOMKilled": False}, "Error"),
    ({"ExitCode": 137, "OOMKilled": True}, "OOMKilled"),
])
def test_exit_reason(state, reason):
    assert exit_reason(state) == reason


@pytest.mark.parametrize("text, ns", [
    ("2026-11-28T18:24:09.981389891Z", 1795890249_981389891),
    ("2026-11-28T18:24:09.98Z", 1795890249_980000000),
    ("2026-11-28T18:24:09Z", 1795890249_000000000),
    ("2026-11-28T19:24:09.5+01:00", 1795890249_500000000),
    ("0001-01-01T00:00:00Z", 0),
    ("", 0),
])
def test_docker_time_ns(text, ns):
    assert docker_time_ns(text) == ns


# --- against the engine ------------------------------------------------------------------------

@dataclass
class Node:
    name: str
    pod_cidr: str
    state_dir: str
    client: object

    def runtime(self) -> DockerRuntime:
        return DockerRuntime(self.name, self.pod_cidr, self.state_dir, client=self.client)


def _free_subnet(client) -> str:
    """A /24 that overlaps no docker network and no address on this host."""
    import psutil
    taken = [ipaddress.ip_network(c["Subnet"], strict=False)
             for n in client.networks.list() for c in ((n.attrs.get("IPAM") or {}).get("Config") or [])
             if ":" not in c.get("Subnet", ":")]
    taken += [ipaddress.ip_network(f"{a.address}/{a.netmask}", strict=False)
              for addrs in psutil.net_if_addrs().values() for a in addrs
              if a.family == socket.AF_INET and a.netmask]
    for _ in range(200):
        candidate = ipaddress.ip_network(f"10.{secrets.choice(range(200, 255))}.{secrets.randbelow(256)}.0/24")
        if not any(candidate.overlaps(t) for t in taken):
            return str(candidate)
    raise RuntimeError("no free /24 under 10.200.0.0/13")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    import docker
    client = docker.from_env(timeout=30)
    n = Node(f"rt{secrets.token_hex(3)}", _free_subnet(client), str(tmp_path_factory.mktemp("state")), client)
    yield n
    # everything this module made carries its node label; the network carries its name
    for c in client.containers.list(all=True, filters={"label": f"{LABEL_NODE}={n.name}"}):
        c.remove(force=True, v=True)
    for net in client.networks.list(names=[f"minik8s-{n.name}"]):
        net.remove()
    client.close()


@pytest.fixture
async def rt(node):
    runtime = node.runtime()
    yield runtime
    await runtime.close()


@pytest.fixture
def logs(tmp_path):
    return lambda name: str(tmp_path / "logs" / f"{name}.log")


@contextlib.asynccontextmanager
async def pod(rt: DockerRuntime, name: str, **kwargs):
    sandbox = await rt.run_sandbox(SandboxConfig(pod_uid=f"uid-{secrets.token_hex(4)}", namespace="default",
                                                 name=name, hostname=name, **kwargs))
    try:
        yield sandbox
    finally:
        await rt.remove_sandbox(sandbox.id)


async def start(rt: DockerRuntime, sandbox_id: str, cfg: ContainerConfig) -> str:
    cid = await rt.create_container(sandbox_id, cfg)
    await rt.start_container(cid)
    return cid


async def exited(rt: DockerRuntime, cid: str, timeout: float = 15.0):
    async def probe():
        status = await rt.container_status(cid)
        return status if status.state == "exited" else None
    return await wait_for(probe, timeout, f"{cid[:12]} exited")


async def log_has(path: str, n_lines: int, timeout: float = 15.0):
    async def probe():
        lines = read_cri_log(path)
        return lines if len(lines) >= n_lines else None
    return await wait_for(probe, timeout, f"{n_lines} lines in {path}")


@pytest.mark.docker
async def test_pod_containers_share_one_ip_and_localhost_and_the_host_reaches_the_pod_ip(rt, node, logs):
    async with pod(rt, "web") as sandbox:
        assert sandbox.ready and ipaddress.ip_address(sandbox.ip) in ipaddress.ip_network(node.pod_cidr)
        assert sandbox.labels[LABEL_NODE] == node.name
        server = await start(rt, sandbox.id, ContainerConfig(
            name="server", image=BUSYBOX, log_path=logs("server"), command=["sh", "-c"],
            args=["mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 8080 -h /www"]))

        def get() -> str:
            try:
                with direct_opener().open(f"http://{sandbox.ip}:8080/", timeout=1) as r:
                    return r.read().decode()
            except OSError:
                return ""
        assert await wait_for(lambda: asyncio.to_thread(get), what="host reaches the pod IP") \
            == "hello-from-pod\n"

        fetcher = await start(rt, sandbox.id, ContainerConfig(
            name="fetch", image=BUSYBOX, log_path=logs("fetch"),
            command=["wget", "-qO-", "http://127.0.0.1:8080/"]))
        status = await exited(rt, fetcher)
        assert (status.exit_code, status.reason, status.sandbox_id) == (0, "Completed", sandbox.id)
        assert await log_has(logs("fetch"), 1) == [("stdout", "F", "hello-from-pod")]

        assert await rt.exec_sync(server, ["hostname"], timeout=5) == (0, b"web\n")
        listed = {c.name: c for c in await rt.list_containers(sandbox.id)}
        assert set(listed) == {"server", "fetch"} and listed["server"].state == "running"


@pytest.mark.docker
async def test_exit_codes_and_reasons_including_oom_kill(rt):
    cases = [  # name, shell script, memory limit, exit code, reason
        ("succeeds", "exit 0", 0, 0, "Completed"),
        ("fails", "exit 3", 0, 3, "Error"),
        ("eats-memory", "x=a; while :; do x=$x$x; done", 16 * MI, 137, "OOMKilled"),
    ]
    # Each case waits for /go, made once start has returned: an OOM kill before containerd
    # watches the new cgroup is never reported (docker then says Error, and so would we).
    gate = "while [ ! -f /go ]; do sleep 0.05; done; "
    async with pod(rt, "exits") as sandbox:
        ids = [await start(rt, sandbox.id, ContainerConfig(
            name=name, image=BUSYBOX, command=["sh", "-c", gate + script], memory_limit_bytes=memory))
            for name, script, memory, _, _ in cases]
        for cid in ids:
            assert await rt.exec_sync(cid, ["touch", "/go"], timeout=5) == (0, b"")
        for cid, (name, _, _, code, reason) in zip(ids, cases):
            status = await exited(rt, cid, timeout=30)
            assert (status.name, status.exit_code, status.reason) == (name, code, reason)
            assert 0 < status.created_at <= status.started_at <= status.finished_at


@pytest.mark.docker
async def test_pull_policies_follow_upstream(rt, node):
    present_in_unreachable = f"{UNREACHABLE_REGISTRY}/minik8s/busybox:present-{node.name}"
    node.client.images.get(BUSYBOX).tag(present_in_unreachable)

    try:
        busybox_id = node.client.images.get(BUSYBOX).id
        assert await rt.pull_image(BUSYBOX, "IfNotPresent") == busybox_id
        assert await rt.pull_image(BUSYBOX, "Never") == busybox_id

        with pytest.raises(ImageNeverPullError) as never:
            await rt.pull_image(MISSING_LOCAL, "Never")
        assert never.value.reason == "ErrImageNeverPull"
        assert never.value.message == f'Container image "{MISSING_LOCAL}" is not present with pull policy of Never'

        missing = f"{UNREACHABLE_REGISTRY}/minik8s/missing:v1"
        t0 = time.monotonic()
        with pytest.raises(ImagePullError) as failed:
            await asyncio.wait_for(rt.pull_image(missing, "IfNotPresent"), 30)
        assert failed.value.reason == "ErrImagePull" and time.monotonic() - t0 < 30
        assert failed.value.message.startswith(f'Failed to pull image "{missing}": ')
        assert UNREACHABLE_REGISTRY in failed.value.message   # the daemon's own words

        # Always asks the registry even when the image is here, and fails when it cannot
        with pytest.raises(ImagePullError):
            await asyncio.wait_for(rt.pull_image(present_in_unreachable, "Always"), 30)

        with pytest.raises(ValueError):
            await rt.pull_image(BUSYBOX, "Sometimes")

        async with pod(rt, "pulls") as sandbox:
            with pytest.raises(ImageNeverPullError):
                await rt.create_container(sandbox.id, ContainerConfig(
                    name="c", image=MISSING_LOCAL, image_pull_policy="Never"))
    finally:
        node.client.images.remove(present_in_unreachable, noprune=True)


@pytest.mark.docker
async def test_logs_are_cri_lines_with_stdout_and_stderr_apart(rt, logs):
    async with pod(rt, "talker") as sandbox:
        cid = await start(rt, sandbox.id, ContainerConfig(
            name="talk", image=BUSYBOX, log_path=logs("talk"), command=["sh", "-c"],
            # docker splits a line past 16 KiB into several entries: the CRI log has it whole
            args=["echo out-1; echo err-1 >&2; head -c 40000 /dev/zero | tr '\\0' a; echo; "
                  "echo out-2; printf no-newline"]))
        await exited(rt, cid)
        lines = await log_has(logs("talk"), 5)
        assert [ln for ln in lines if ln[0] == "stdout"] == [
            ("stdout", "F", "out-1"), ("stdout", "F", "a" * 40000), ("stdout", "F", "out-2"),
            ("stdout", "P", "no-newline")]
        assert [ln for ln in lines if ln[0] == "stderr"] == [("stderr", "F", "err-1")]
        assert (await rt.container_status(cid)).log_path == logs("talk")


@pytest.mark.docker
async def test_exec_streams_stdin_tty_exit_codes_and_timeouts(rt):
    async def collect(session) -> dict[str, bytes]:
        out: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        async for stream, chunk in session.output():
            out[stream] += chunk
        return out
    async with pod(rt, "execs") as sandbox:
        cid = await start(rt, sandbox.id, ContainerConfig(name="idle", image=BUSYBOX,
                                                          command=["sleep", "3600"]))
        session = await rt.exec(cid, ["sh", "-c", "echo out; echo err >&2; exit 7"])
        assert await collect(session) == {"stdout": b"out\n", "stderr": b"err\n"}
        assert await session.wait() == 7

        session = await rt.exec(cid, ["cat"], stdin=True)
        await session.write_stdin(b"ping\n")
        await session.close_stdin()
        assert await collect(session) == {"stdout": b"ping\n", "stderr": b""}
        assert await session.wait() == 0

        session = await rt.exec(cid, ["tty"], tty=True)
        await session.resize(100, 30)
        assert (await collect(session))["stdout"].startswith(b"/dev/pts/")
        assert await session.wait() == 0

        code, output = await rt.exec_sync(cid, ["sh", "-c", "echo a; echo b >&2; exit 2"], timeout=5)
        assert code == 2 and sorted(output.split()) == [b"a", b"b"]

        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            await rt.exec_sync(cid, ["sleep", "31"], timeout=0.5)
        assert time.monotonic() - t0 < 5

        async def sleeper_gone():
            _, ps = await rt.exec_sync(cid, ["ps"], timeout=5)
            return b"sleep 31" not in ps
        await wait_for(sleeper_gone, 5, "the timed-out exec killed")


@pytest.mark.docker
async def test_stop_sends_term_then_kill_after_the_grace_period(rt, logs):
    async def stop_timed(cid: str, grace: float) -> float:
        t0 = time.monotonic()
        await rt.stop_container(cid, grace)
        return time.monotonic() - t0
    async with pod(rt, "stops") as sandbox:
        polite = await start(rt, sandbox.id, ContainerConfig(
            name="polite", image=BUSYBOX, log_path=logs("polite"), command=["sh", "-c"],
            args=["trap 'echo bye; exit 0' TERM; echo up; while :; do sleep 1 & wait; done"]))
        # PID 1 with no TERM handler: the kernel drops TERM, only KILL ends it
        stubborn = await start(rt, sandbox.id, ContainerConfig(name="stubborn", image=BUSYBOX,
                                                              command=["sleep", "3600"]))
        await log_has(logs("polite"), 1)   # the trap is set

        async def stubborn_sleeps():   # until runc's init has exec'd, TERM would end it
            _, cmdline = await rt.exec_sync(stubborn, ["cat", "/proc/1/cmdline"], timeout=5)
            return cmdline.startswith(b"sleep")
        await wait_for(stubborn_sleeps, what="sleep is PID 1")
        polite_s, stubborn_s = await asyncio.gather(stop_timed(polite, 10), stop_timed(stubborn, 1))
        assert polite_s < 5 and 1 <= stubborn_s < 8
        p, s = await rt.container_status(polite), await rt.container_status(stubborn)
        assert (p.state, p.exit_code, p.reason) == ("exited", 0, "Completed")
        assert (s.state, s.exit_code, s.reason) == ("exited", 137, "Error")
        assert await log_has(logs("polite"), 2) == [("stdout", "F", "up"), ("stdout", "F", "bye")]


@pytest.mark.docker
async def test_stop_and_remove_sandbox_take_its_containers_along(rt):
    sandbox = await rt.run_sandbox(SandboxConfig(pod_uid="uid-gone", namespace="default",
                                                 name="gone", hostname="gone"))
    cid = await start(rt, sandbox.id, ContainerConfig(name="c", image=BUSYBOX, command=["sleep", "3600"]))
    await rt.stop_sandbox(sandbox.id)
    assert (await rt.container_status(cid)).state == "exited"
    [listed] = [s for s in await rt.list_sandboxes() if s.id == sandbox.id]
    assert not listed.ready and listed.ip == ""

    await rt.remove_sandbox(sandbox.id)
    assert await rt.container_status(cid) is None and await rt.list_containers(sandbox.id) == []
    assert sandbox.id not in {s.id for s in await rt.list_sandboxes()}
    # all idempotent, as the CRI asks
    await rt.remove_sandbox(sandbox.id)
    await rt.stop_sandbox(sandbox.id)
    await rt.stop_container(cid, 1)
    await rt.remove_container(cid)


@pytest.mark.docker
async def test_a_restarted_kubelet_adopts_running_containers_and_resumes_their_logs(node, logs):
    first = node.runtime()
    sandbox = await first.run_sandbox(SandboxConfig(
        pod_uid="uid-adopt", namespace="team", name="survivor", hostname="survivor"))
    cid = await start(first, sandbox.id, ContainerConfig(
        name="worker", image=BUSYBOX, log_path=logs("worker"), attempt=2, command=["sh", "-c"],
        # the long line comes as three log entries sharing one timestamp: resuming must skip all three
        args=["echo first; head -c 40000 /dev/zero | tr '\\0' a; echo; "
              "while [ ! -f /go ]; do sleep 0.1; done; echo second; exec sleep 3600"]))
    await log_has(logs("worker"), 2)
    before = await first.container_status(cid)
    await first.close()   # the kubelet goes away; the pod keeps running

    second = node.runtime()
    try:
        [found] = [s for s in await second.list_sandboxes() if s.id == sandbox.id]
        assert found.ready and (found.namespace, found.name, found.pod_uid) == ("team", "survivor", "uid-adopt")
        [adopted] = await second.list_containers(sandbox.id)
        assert (adopted.id, adopted.name, adopted.state, adopted.attempt) == (cid, "worker", "running", 2)
        assert adopted.started_at == before.started_at   # not restarted
        assert {k: adopted.labels[k] for k in (LABEL_POD_NAMESPACE, LABEL_POD_NAME, LABEL_POD_UID,
                                               LABEL_CONTAINER_NAME, LABEL_ATTEMPT, LABEL_NODE)} == {
            LABEL_POD_NAMESPACE: "team", LABEL_POD_NAME: "survivor", LABEL_POD_UID: "uid-adopt",
            LABEL_CONTAINER_NAME: "worker", LABEL_ATTEMPT: "2", LABEL_NODE: node.name}

        assert await second.exec_sync(cid, ["touch", "/go"], timeout=5) == (0, b"")
        assert await log_has(logs("worker"), 3) == [
            ("stdout", "F", "first"), ("stdout", "F", "a" * 40000), ("stdout", "F", "second")]
    finally:
        await second.remove_sandbox(sandbox.id)
        await second.close()


@pytest.mark.docker
async def test_config_reaches_docker_command_args_env_mounts_and_resources(rt, node, logs, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x").write_text("from-host\n")
    (tmp_path / "out").mkdir()
    async with pod(rt, "configured") as sandbox:
        full = await start(rt, sandbox.id, ContainerConfig(
            name="full", image=BUSYBOX, log_path=logs("full"), command=["sh", "-c"],
            args=['pwd; echo "$GREETING"; cat /in/x; touch /in/y 2>/dev/null || echo read-only; '
                  'echo written > /out/y'],
            working_dir="/tmp", env={"GREETING": "hi"},
            mounts=[Mount(str(tmp_path / "in"), "/in", read_only=True), Mount(str(tmp_path / "out"), "/out")],
            cpu_request_millis=250, cpu_limit_millis=500, memory_limit_bytes=64 * MI))
        args_only = await start(rt, sandbox.id, ContainerConfig(
            name="args-only", image=BUSYBOX, log_path=logs("args"), args=["echo", "args-only"]))
        command_only = await start(rt, sandbox.id, ContainerConfig(
            name="command-only", image=BUSYBOX, log_path=logs("command"), command=["echo", "command-only"]))
        for cid in (full, args_only, command_only):
            assert (await exited(rt, cid)).exit_code == 0
        assert [ln[2] for ln in await log_has(logs("full"), 4)] == ["/tmp", "hi", "from-host", "read-only"]
        # args alone keep the image's entrypoint; a command drops the image's CMD ("sh")
        assert [ln[2] for ln in await log_has(logs("args"), 1)] == ["args-only"]
        assert [ln[2] for ln in await log_has(logs("command"), 1)] == ["command-only"]

        inspected = node.client.api.inspect_container(full)
        host = inspected["HostConfig"]
        assert (host["CpuShares"], host["CpuPeriod"], host["CpuQuota"], host["Memory"]) == \
            (256, 100000, 50000, 64 * MI)
        assert host["NetworkMode"] == host["IpcMode"] == f"container:{sandbox.id}"
        assert inspected["Config"]["Entrypoint"] == ["sh", "-c"]
        assert node.client.api.inspect_container(command_only)["Config"]["Cmd"] is None
    assert (tmp_path / "out" / "y").read_text() == "written\n"


@pytest.mark.docker
async def test_stats_report_cpu_and_working_set(rt):
    async with pod(rt, "measured") as sandbox:
        cid = await start(rt, sandbox.id, ContainerConfig(
            name="busy", image=BUSYBOX, command=["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; "
                                                            "exec sleep 3600"]))
        stats = await wait_for(lambda: rt.stats(cid), what="stats")
        assert stats.cpu_usage_ns > 0 and stats.memory_bytes > 0 and stats.timestamp > 0
        await rt.stop_container(cid, 0)
        assert await rt.stats(cid) is None
    assert await rt.stats(cid) is None


@pytest.mark.docker
async def test_host_network_sandbox_shares_the_host_loopback(rt, logs):
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello-from-host\n")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    try:
        async with pod(rt, "hostnet", host_network=True) as sandbox:
            assert sandbox.ready and sandbox.ip == ""
            cid = await start(rt, sandbox.id, ContainerConfig(
                name="fetch", image=BUSYBOX, log_path=logs("hostnet"),
                command=["wget", "-qO-", f"http://127.0.0.1:{server.server_address[1]}/"]))
            assert (await exited(rt, cid)).exit_code == 0
            assert await log_has(logs("hostnet"), 1) == [("stdout", "F", "hello-from-host")]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.docker
async def test_host_port_is_published_on_loopback_only(rt, node):
    port = free_port()
    async with pod(rt, "ported", port_mappings=[PortMapping(container_port=8080, host_port=port)]) as sandbox:
        await start(rt, sandbox.id, ContainerConfig(
            name="server", image=BUSYBOX, command=["sh", "-c"],
            args=["mkdir -p /www && echo via-host-port > /www/index.html && exec httpd -f -p 8080 -h /www"]))
        bindings = node.client.api.inspect_container(sandbox.id)["HostConfig"]["PortBindings"]
        assert bindings == {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}

        def get() -> str:
            try:
                with direct_opener().open(f"http://127.0.0.1:{port}/", timeout=1) as r:
                    return r.read().decode()
            except OSError:
                return ""
        assert await wait_for(lambda: asyncio.to_thread(get), what="host port answers") == "via-host-port\n"
