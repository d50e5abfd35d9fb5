"""The process runtime against the real machine: pod network namespaces on a bridge, cgroups, the
shim that outlives the kubelet. Every network, process and cgroup a test makes is removed by the
`runtime` fixture's finalizer; traffic goes only to loopback and to the test's own pod IPs."""
from __future__ import annotations

import asyncio
import ipaddress
import itertools
import os
import random
import re
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from kubelet.cgroups import cpu_shares, shares_to_weight
from kubelet.network import PodNetwork
from kubelet.runtime.base import (
    LABEL_CONTAINER_NAME, LABEL_POD_UID, ContainerConfig, CreateContainerError, Mount, RuntimeError_,
    SandboxConfig,
)
from kubelet.runtime.process import ProcessRuntime
from kubelet.runtime.shim import STARTED_FILE, alive, read_json
from support.wait import wait_for

CRI_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) (F|P) (.*)$")
_names = itertools.count()


def _free_pod_cidr() -> str:
    """A /24 in 10.244.0.0/16 that no route on this machine overlaps."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        taken = [ipaddress.IPv4Network(f"{r.get('RTA_DST')}/{r['dst_len']}", strict=False)
                 for r in ipr.get_routes(family=2) if r.get("RTA_DST")]
    for n in random.sample(range(100, 250), 150):
        cidr = ipaddress.IPv4Network(f"10.244.{n}.0/24")
        if not any(cidr.overlaps(t) for t in taken):
            return str(cidr)
    raise AssertionError("no free test pod CIDR")


@pytest.fixture
async def runtime(tmp_path):
    # pyroute2's synchronous calls run a loop of their own: never in this one's thread
    cidr = await asyncio.to_thread(_free_pod_cidr)
    rt = ProcessRuntime(str(tmp_path / "state"), f"test-{os.getpid()}-{next(_names)}", cidr)
    yield rt
    for sb in await rt.list_sandboxes():
        await rt.remove_sandbox(sb.id)
    for c in await rt.list_containers():
        await rt.remove_container(c.id)
    await asyncio.to_thread(rt.network.remove_bridge)
    rt.cgroups.prune()


def sandbox_config(uid: str = "pod-uid-1", **kw) -> SandboxConfig:
    return SandboxConfig(pod_uid=uid, namespace="default", name=f"pod-{uid}", hostname=f"host-{uid}",
                         labels={LABEL_POD_UID: uid}, **kw)


def container(name: str, *command: str, **kw) -> ContainerConfig:
    return ContainerConfig(name=name, image="ignored:latest", command=list(command),
                           labels={LABEL_CONTAINER_NAME: name}, **kw)


async def start(rt: ProcessRuntime, sandbox_id: str, cfg: ContainerConfig) -> str:
    cid = await rt.create_container(sandbox_id, cfg)
    await rt.start_container(cid)
    return cid


async def exited(rt: ProcessRuntime, cid: str, timeout: float = 10.0):
    return await wait_for(lambda: _if_exited(rt, cid), timeout, f"exit of {cid}")


async def _if_exited(rt, cid):
    s = await rt.container_status(cid)
    return s if s.state == "exited" else None


def log_text(rt: ProcessRuntime, cid: str) -> str:
    path = os.path.join(rt.state_dir, "containers", cid, "container.log")
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def http_get(url: str) -> bytes:
    """One GET, never through a proxy, as the URL is always one of our pods."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=2) as r:
        return r.read()


async def listening(rt: ProcessRuntime, server_cid: str) -> None:
    """Until SERVER has said it listens: from then on a connection is accepted."""
    await wait_for(lambda: "stdout F listening" in log_text(rt, server_cid), what="the server listening")


# A one-reply HTTP server (http.server would look its address up in DNS, which pods must not reach).
SERVER = textwrap.dedent("""
    import socket, sys
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], 8080))
    s.listen()
    print("listening", flush=True)
    body = sys.argv[2].encode()
    while True:
        c, _ = s.accept()
        c.recv(65536)
        c.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n%s" % (len(body), body))
        c.close()
""")

CLIENT = textwrap.dedent("""
    import urllib.request
    print(urllib.request.urlopen("http://127.0.0.1:8080/", timeout=2).read().decode())
""")


@pytest.mark.root
async def test_a_pods_containers_share_one_ip_and_reach_each_other_on_localhost(runtime):
    sb = await runtime.run_sandbox(sandbox_config())
    assert ipaddress.IPv4Address(sb.ip) in runtime.network.cidr and sb.ready
    server = await start(runtime, sb.id, container("server", "python3", "-c", SERVER, "127.0.0.1",
                                                   "hello from the pod"))
    await listening(runtime, server)
    client = await start(runtime, sb.id, container("client", "python3", "-c", CLIENT))
    done = await exited(runtime, client, 30)
    assert (done.exit_code, done.reason) == (0, "Completed")
    assert "stdout F hello from the pod" in log_text(runtime, client)
    sibling = await start(runtime, sb.id, container("sibling", "sleep", "600"))
    for cid in (server, sibling):
        code, out = await runtime.exec_sync(cid, ["ip", "-4", "-o", "addr", "show", "eth0"], 10)
        assert code == 0 and f"inet {sb.ip}/" in out.decode()


@pytest.mark.root
async def test_the_host_reaches_the_pod_ip(runtime):
    sb = await runtime.run_sandbox(sandbox_config())
    web = await start(runtime, sb.id, container("web", "python3", "-c", SERVER, "0.0.0.0", "pod says hi"))
    await listening(runtime, web)
    assert await asyncio.to_thread(http_get, f"http://{sb.ip}:8080/") == b"pod says hi"


@pytest.mark.root
def test_pod_traffic_off_the_node_meets_the_forward_filter(runtime):
    """Asks the kernel's routing decision for a pod's packets and reads the filter rules: nothing is
    sent. The bridge forwards (pods on other nodes' bridges are reachable), so a packet for anywhere
    else is routed out of a non-mk8s interface, where MINIK8S-FORWARD, first in FORWARD, drops it."""
    from kubelet.network import FORWARD_CHAIN

    ip = runtime.network.setup("route-uid")

    def route(dst: str) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "route", "get", dst, "from", ip, "iif", runtime.network.bridge_name],
                              capture_output=True, text=True)
    try:
        assert "local" in route(runtime.network.gateway).stdout
        off = route("198.51.100.7")
        out_dev = re.search(r" dev (\S+)", off.stdout)
        # no route at all, or one out of an interface that is not the project's
        assert "No route to host" in off.stderr or "unreachable" in off.stderr + off.stdout or \
            (out_dev and not out_dev.group(1).startswith("mk8s-"))
        rules = subprocess.run(["iptables", "-S", FORWARD_CHAIN], capture_output=True, text=True, check=True)
        assert rules.stdout.splitlines()[1:4] == [f"-A {FORWARD_CHAIN} -i mk8s-+ -o mk8s-+ -j ACCEPT",
                                                  f"-A {FORWARD_CHAIN} -i mk8s-+ -j DROP",
                                                  f"-A {FORWARD_CHAIN} -o mk8s-+ -j DROP"]
        assert_forward_filter_comes_first()
    finally:
        runtime.network.teardown("route-uid")


@pytest.mark.root
@pytest.mark.parametrize("script, code, reason", [
    ("exit 0", 0, "Completed"),
    ("exit 3", 3, "Error"),
    ("kill -KILL $$", 137, "Error"),
    ("kill -TERM $$", 143, "Error"),
])
async def test_exit_codes_and_reasons(runtime, script, code, reason):
    sb = await runtime.run_sandbox(sandbox_config())
    s = await exited(runtime, await start(runtime, sb.id, container("c", "sh", "-c", script)))
    assert (s.exit_code, s.reason) == (code, reason)
    assert s.finished_at >= s.started_at > 0


@pytest.mark.root
async def test_a_missing_executable_fails_the_start_and_no_command_fails_the_create(runtime):
    sb = await runtime.run_sandbox(sandbox_config())
    cid = await runtime.create_container(sb.id, container("c", "no-such-binary-mk8s"))
    with pytest.raises(RuntimeError_) as e:
        await runtime.start_container(cid)
    assert e.value.reason == "RunContainerError" and "executable file not found" in e.value.message
    s = await runtime.container_status(cid)
    assert (s.state, s.exit_code, s.reason) == ("exited", 128, "StartError")
    with pytest.raises(CreateContainerError, match="no command specified"):
        await runtime.create_container(sb.id, container("empty"))


@pytest.mark.root
async def test_stop_sends_term_and_kills_after_the_timeout(runtime):
    sb = await runtime.run_sandbox(sandbox_config())
    stubborn = await start(runtime, sb.id, container(
        "stubborn", "sh", "-c", 'trap "" TERM; echo ready; while :; do sleep 0.05; done'))
    polite = await start(runtime, sb.id, container("polite", "sleep", "600"))
    await wait_for(lambda: "ready" in log_text(runtime, stubborn), what="trap installed")
    t0 = time.monotonic()
    await runtime.stop_container(polite, 30)
    assert time.monotonic() - t0 < 10
    t0 = time.monotonic()
    await runtime.stop_container(stubborn, 1.0)
    assert time.monotonic() - t0 >= 1.0
    s1, s2 = await runtime.container_status(polite), await runtime.container_status(stubborn)
    assert (s1.state, s1.exit_code) == ("exited", 143)
    assert (s2.state, s2.exit_code, s2.reason) == ("exited", 137, "Error")


@pytest.mark.root
async def test_logs_are_written_in_the_cri_format(runtime):
    sb = await runtime.run_sandbox(sandbox_config())
    cid = await start(runtime, sb.id, container("c", "sh", "-c", "echo out; echo err >&2; printf partial"))
    await exited(runtime, cid)
    lines = [CRI_LINE.match(line).groups() for line in log_text(runtime, cid).splitlines()]
    assert sorted(lines) == [("stderr", "F", "err"), ("stdout", "F", "out"), ("stdout", "P", "partial")]


@pytest.mark.root
async def test_exec_runs_in_the_containers_namespaces_cwd_and_env(runtime, tmp_path):
    sb = await runtime.run_sandbox(sandbox_config())
    cid = await start(runtime, sb.id, container("c", "sleep", "600", working_dir=str(tmp_path), env={"GREETING": "hi"}))
    code, out = await runtime.exec_sync(cid, ["sh", "-c", 'echo "$GREETING"; pwd; hostname; exit 4'], 10)
    assert (code, out.decode().split()) == (4, ["hi", str(tmp_path), "host-pod-uid-1"])
    code, out = await runtime.exec_sync(cid, ["readlink", "/proc/self/ns/net"], 10)
    assert out.decode().strip() != os.readlink("/proc/self/ns/net")

    session = await runtime.exec(cid, ["cat"], stdin=True)
    await session.write_stdin(b"echo me\n")
    await session.close_stdin()
    assert [c async for c in session.output()] == [("stdout", b"echo me\n")]
    assert await session.wait() == 0

    session = await runtime.exec(cid, ["sh", "-c", "tty; stty size; exit 5"], tty=True)
    await session.resize(100, 40)
    out = b"".join([c async for _, c in session.output()]).decode()
    assert out.startswith("/dev/pts/") and "40 100" in out and await session.wait() == 5

    with pytest.raises(TimeoutError):
        await runtime.exec_sync(cid, ["sleep", "30"], 0.5)
    code, out = await runtime.exec_sync(cid, ["no-such-binary-mk8s"], 10)
    assert code == 127 and b"executable file not found" in out
    await runtime.stop_container(cid, 5)
    with pytest.raises(RuntimeError_, match="not running"):
        await runtime.exec_sync(cid, ["true"], 10)


@pytest.mark.root
async def test_volumes_are_shared_between_a_pods_containers_and_invisible_to_the_host(runtime, tmp_path):
    volume, mount_path = tmp_path / "emptydir", tmp_path / "mnt" / "data"
    volume.mkdir()
    sb = await runtime.run_sandbox(sandbox_config())
    writer = await start(runtime, sb.id, container(
        "writer", "sh", "-c", f"echo shared > {mount_path}/note; sleep 600", mounts=[Mount(str(volume), str(mount_path))]))
    reader = await start(runtime, sb.id, container(
        "reader", "sh", "-c", f"while [ ! -e {mount_path}/note ]; do sleep 0.05; done; cat {mount_path}/note; "
                              f"touch {mount_path}/mine || echo read-only; sleep 600",
        mounts=[Mount(str(volume), str(mount_path), read_only=True)]))
    await wait_for(lambda: "stdout F read-only" in log_text(runtime, reader), what="the reader's checks")
    assert "stdout F shared" in log_text(runtime, reader)
    assert (volume / "note").read_text() == "shared\n" and not (volume / "mine").exists()
    assert os.listdir(mount_path) == []     # the binds live only in the containers' namespaces
    # the writer made the mount point; it stays while the reader still mounts on it
    await runtime.remove_container(writer)
    assert await runtime.exec_sync(reader, ["cat", f"{mount_path}/note"], 10) == (0, b"shared\n")
    await runtime.remove_container(reader)
    assert not (tmp_path / "mnt").exists()


@pytest.mark.root
async def test_a_mount_point_taken_away_between_create_and_start_is_made_again(runtime, tmp_path):
    """Runtimes of two clusters on one host share mount points such as /outputs: one may remove it,
    its last container gone, while the other's container is created but not started yet."""
    volume, mount_path = tmp_path / "outputs", tmp_path / "mnt" / "outputs"
    volume.mkdir()
    (volume / "metrics.txt").write_text("loss 0.25\n")
    sb = await runtime.run_sandbox(sandbox_config())
    cid = await runtime.create_container(sb.id, container(
        "train", "sh", "-c", f"cat {mount_path}/metrics.txt; sleep 600", mounts=[Mount(str(volume), str(mount_path))]))
    os.rmdir(mount_path)
    await runtime.start_container(cid)
    await wait_for(lambda: "stdout F loss 0.25" in log_text(runtime, cid), what="the file read through the mount")
    await runtime.remove_container(cid)
    assert not (tmp_path / "mnt").exists()


@pytest.mark.root
async def test_memory_limit_is_enforced_by_an_oom_kill(runtime):
    if runtime.cgroups.available():
        pytest.skip(f"cgroups unusable here: {runtime.cgroups.available()}")
    sb = await runtime.run_sandbox(sandbox_config())
    cid = await start(runtime, sb.id, container("hog", "python3", "-c", "b = b'x' * (512 << 20)",
                                               memory_limit_bytes=32 << 20))
    s = await exited(runtime, cid, 30)
    assert (s.exit_code, s.reason) == (137, "OOMKilled")


@pytest.mark.root
async def test_cpu_limit_caps_usage_and_stats_come_from_the_cgroup(runtime):
    if runtime.cgroups.available():
        pytest.skip(f"cgroups unusable here: {runtime.cgroups.available()}")
    sb = await runtime.run_sandbox(sandbox_config())
    cid = await start(runtime, sb.id, container("spin", "python3", "-c", "while True: pass", cpu_request_millis=200,
                                                cpu_limit_millis=200, memory_limit_bytes=256 << 20))
    first = await wait_for(lambda: _busy_stats(runtime, cid), what="cpu use")
    # a rate needs an interval: measure over at least one second of wall time
    await wait_for(lambda: time.time() - first.timestamp >= 1.0, what="a second")
    second = await runtime.stats(cid)
    cores = (second.cpu_usage_ns - first.cpu_usage_ns) / 1e9 / (second.timestamp - first.timestamp)
    assert 0 < cores < 0.3      # a spinning process held to 200m (less when the machine is busy)
    assert 0 < second.memory_bytes < 256 << 20


async def _busy_stats(rt, cid):
    s = await rt.stats(cid)
    return s if s and s.cpu_usage_ns > 0 else None


ORIGINAL_KUBELET = textwrap.dedent("""
    import asyncio, json, sys
    from kubelet.runtime.base import ContainerConfig, SandboxConfig
    from kubelet.runtime.process import ProcessRuntime

    async def main(state_dir, node, cidr):
        rt = ProcessRuntime(state_dir, node, cidr)
        sb = await rt.run_sandbox(SandboxConfig(pod_uid="adopt-me", namespace="default", name="p", hostname="p",
                                                labels={"io.kubernetes.pod.uid": "adopt-me"}))
        cid = await rt.create_container(sb.id, ContainerConfig(
            name="ticker", image="ignored", labels={"io.kubernetes.container.name": "ticker"},
            command=["sh", "-c", "echo pid=$$; while :; do echo tick; sleep 0.05; done"]))
        await rt.start_container(cid)
        print(json.dumps({"sandbox": sb.id, "container": cid}))
    asyncio.run(main(*sys.argv[1:]))
""")


@pytest.mark.root
async def test_a_restarted_kubelet_adopts_running_containers_without_restarting_them(runtime):
    # the first kubelet is a process of its own that exits, as a crashed kubelet would
    out = subprocess.run([sys.executable, "-c", ORIGINAL_KUBELET, runtime.state_dir, runtime.network.node_name,
                          str(runtime.network.cidr)], capture_output=True, text=True, timeout=60, check=True)
    ids = __import__("json").loads(out.stdout)
    started = read_json(os.path.join(runtime.state_dir, "containers", ids["container"], STARTED_FILE))
    [sb] = await runtime.list_sandboxes()
    assert (sb.id, sb.ready, sb.labels) == (ids["sandbox"], True, {LABEL_POD_UID: "adopt-me"})
    [c] = await runtime.list_containers(sb.id)
    assert (c.id, c.state, c.labels) == (ids["container"], "running", {LABEL_CONTAINER_NAME: "ticker"})
    assert c.started_at == started["started_at"] and alive(started["pid"], started["pid_start"])
    ticks = log_text(runtime, c.id).count("tick")
    await wait_for(lambda: log_text(runtime, c.id).count("tick") > ticks + 3, what="logs still flowing")
    assert log_text(runtime, c.id).count("pid=") == 1           # started once, never again
    assert f"pid={started['pid']}" in log_text(runtime, c.id)
    await runtime.stop_container(c.id, 5)
    assert (await runtime.container_status(c.id)).exit_code == 143


@pytest.mark.root
async def test_removing_the_sandbox_removes_its_processes_netns_veth_and_ip(runtime):
    from pyroute2 import IPRoute

    sb = await runtime.run_sandbox(sandbox_config("teardown-uid"))
    assert await runtime.run_sandbox(sandbox_config("teardown-uid")) == sb     # one live sandbox per pod
    cid = await start(runtime, sb.id, container("c", "sleep", "600"))
    started = read_json(os.path.join(runtime.state_dir, "containers", cid, STARTED_FILE))
    await runtime.stop_sandbox(sb.id)
    assert not alive(started["pid"], started["pid_start"])
    assert [s.ready for s in await runtime.list_sandboxes()] == [False]
    await runtime.remove_sandbox(sb.id)
    assert await runtime.list_sandboxes() == [] and await runtime.list_containers() == []
    await wait_for(lambda: not alive(started["shim_pid"], started["shim_start"]), what="the shim's exit")
    assert not os.path.exists(runtime.network.netns_path("teardown-uid"))
    assert runtime.network.pod_ip("teardown-uid") is None

    def veth_links():
        with IPRoute() as ipr:
            return ipr.link_lookup(ifname=PodNetwork._veth_names("teardown-uid")[0])
    assert not await asyncio.to_thread(veth_links)


@pytest.mark.root
async def test_host_network_sandbox_shares_the_hosts_namespace(runtime):
    sb = await runtime.run_sandbox(sandbox_config(host_network=True))
    assert sb.ip == "127.0.0.1"
    cid = await start(runtime, sb.id, container("c", "sleep", "600"))
    _, out = await runtime.exec_sync(cid, ["readlink", "/proc/self/ns/net"], 10)
    assert out.decode().strip() == os.readlink("/proc/self/ns/net")


@pytest.mark.root
def test_pod_network_setup_is_idempotent_and_ips_survive_a_restart(tmp_path):
    state = str(tmp_path / "net")
    net = PodNetwork(f"test-net-{os.getpid()}", _free_pod_cidr(), state)
    try:
        ip_a = net.setup("uid-a")
        assert net.setup("uid-a") == ip_a and ip_a != net.gateway
        restarted = PodNetwork(net.node_name, str(net.cidr), state)
        ip_b = restarted.setup("uid-b")
        assert ip_b != ip_a and restarted.pod_ip("uid-a") == ip_a
        restarted.teardown("uid-a")
        restarted.teardown("uid-a")
        assert restarted.setup("uid-c") not in (ip_a, ip_b)     # a released IP is not handed out at once
    finally:
        for uid in ("uid-a", "uid-b", "uid-c"):
            net.teardown(uid)
        net.remove_bridge()
    assert not any(n.startswith("mk8s-uid") for n in os.listdir("/var/run/netns"))


def _rules(chain: str) -> list[str]:
    out = subprocess.run(["iptables", "-S", chain], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if line.startswith("-A ")] if out.returncode == 0 else []


def assert_forward_filter_comes_first() -> None:
    """FORWARD's first rule jumps to MINIK8S-FORWARD, or to Docker's DOCKER-USER (Docker puts it first
    again when it restarts), whose own first rule jumps to MINIK8S-FORWARD."""
    first = _rules("FORWARD")[0]
    if first == "-A FORWARD -j DOCKER-USER":
        first = _rules("DOCKER-USER")[0].replace("DOCKER-USER", "FORWARD")
    assert first == "-A FORWARD -j MINIK8S-FORWARD"
    if _rules("DOCKER-USER"):
        assert "-A DOCKER-USER -j MINIK8S-FORWARD" in _rules("DOCKER-USER")


def _free_pod_cidrs(n: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        cidr = _free_pod_cidr()
        if cidr not in out:
            out.append(cidr)
    return out


@pytest.mark.root
def test_pods_on_two_bridges_reach_each_other_and_nothing_else_is_forwarded(tmp_path):
    """Two nodes' bridges on one host: a pod on one connects to a pod on the other through the host.
    What keeps everything else in is checked on the rules themselves: nothing is sent anywhere else."""
    import socket

    from kubelet import network

    cidr_a, cidr_b = _free_pod_cidrs(2)
    a = PodNetwork(f"test-xa-{os.getpid()}", cidr_a, str(tmp_path / "a"))
    b = PodNetwork(f"test-xb-{os.getpid()}", cidr_b, str(tmp_path / "b"))
    socks = []
    try:
        ip_a, ip_b = a.setup("uid-server"), b.setup("uid-client")
        assert ipaddress.ip_address(ip_a) in a.cidr and ipaddress.ip_address(ip_b) in b.cidr
        server = network._in_netns(a.netns_path("uid-server"), lambda: socket.create_server((ip_a, 0)))
        client = network._in_netns(b.netns_path("uid-client"), socket.socket)
        socks += [server, client]
        server.settimeout(10)
        client.settimeout(10)
        client.connect((ip_a, server.getsockname()[1]))
        conn, (peer, _) = server.accept()
        socks.append(conn)
        assert peer == ip_b                  # routed between the bridges as it is: no NAT
        client.sendall(b"ping")
        assert conn.recv(4) == b"ping"
        for net in (a, b):
            with open(f"/proc/sys/net/ipv4/conf/{net.bridge_name}/forwarding") as f:
                assert f.read().strip() == "1"
    finally:
        for s in socks:
            s.close()
        a.teardown("uid-server")
        b.teardown("uid-client")
        a.remove_bridge()
        b.remove_bridge()
    rules = subprocess.run(["iptables", "-S", network.FORWARD_CHAIN], capture_output=True, text=True, check=True)
    assert [line for line in rules.stdout.splitlines() if line.startswith("-A ")] [:3] == [
        "-A MINIK8S-FORWARD -i mk8s-+ -o mk8s-+ -j ACCEPT",
        "-A MINIK8S-FORWARD -i mk8s-+ -j DROP",
        "-A MINIK8S-FORWARD -o mk8s-+ -j DROP"]
    assert_forward_filter_comes_first()
    network.ensure_forward_rules()          # idempotent: nothing added twice
    assert subprocess.run(["iptables", "-S", network.FORWARD_CHAIN], capture_output=True, text=True,
                          check=True).stdout == rules.stdout


@pytest.mark.root
def test_two_clusters_nodes_of_one_name_share_the_bridge_and_never_an_address(tmp_path):
    name, cidr = f"test-twin-{os.getpid()}", _free_pod_cidr()
    one = PodNetwork(name, cidr, str(tmp_path / "cluster-1"))
    two = PodNetwork(name, cidr, str(tmp_path / "cluster-2"))
    assert one.bridge_name == two.bridge_name
    try:
        ips = {one.setup("uid-one-a"), two.setup("uid-two-a"), one.setup("uid-one-b"), two.setup("uid-two-b")}
        assert len(ips) == 4
        assert two.pod_ip("uid-one-a") == one.pod_ip("uid-one-a")   # one address book for the bridge
    finally:
        for net, uid in ((one, "uid-one-a"), (two, "uid-two-a"), (one, "uid-one-b"), (two, "uid-two-b")):
            net.teardown(uid)
        one.remove_bridge()
    assert not os.path.exists(one._ipam.state_dir)


def test_ipam_reclaims_only_old_leftovers_and_starts_over_once_empty(tmp_path):
    from kubelet.network import IPAM

    cidr = ipaddress.IPv4Network("10.244.250.0/29")          # .1 the gateway, .2 - .6 for pods
    gone = set()
    ipam = IPAM(cidr, str(tmp_path / "ipam"), {ipaddress.IPv4Address("10.244.250.1")}, is_stale=gone.__contains__)
    assert [ipam.allocate(f"p{i}") for i in range(5)] == [f"10.244.250.{i}" for i in range(2, 7)]
    gone.add("p1")
    with pytest.raises(OSError, match="no free address"):
        ipam.allocate("new")                                  # p1's file is too young to be a leftover
    old = time.time() - IPAM.STALE_AFTER_S - 1
    os.utime(os.path.join(ipam.state_dir, "10.244.250.3"), (old, old))
    assert ipam.allocate("new") == "10.244.250.3" and ipam.lookup("p1") is None
    for owner in ("p0", "p2", "p3", "p4"):
        ipam.release(owner)
    assert ipam.allocate("next") == "10.244.250.4"           # round-robin while an address is held
    ipam.release("new")
    ipam.release("next")
    assert ipam.allocate("fresh") == "10.244.250.2"          # nothing held: from the first again


@pytest.mark.parametrize("request_millis, shares, weight", [
    (0, 2, 1), (1, 2, 1), (100, 102, 4), (1000, 1024, 39), (4000, 4096, 157),
])
def test_cpu_requests_become_shares_and_weights_as_upstream(request_millis, shares, weight):
    assert cpu_shares(request_millis) == shares and shares_to_weight(shares) == weight

