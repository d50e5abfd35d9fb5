"""`minictl port-forward`: a local port forwarded to a pod's port through the API server and the node's
kubelet tunnel (PortForward streams), for pod/NAME and svc/NAME (the service port mapped to its target
port), with kubectl's `Forwarding from ... -> PORT` and `Handling connection for PORT` lines; a pod that
is not running, a port nothing listens on and a bad mapping are refused with the reason."""
from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import urllib.request

import pytest

from minik8s.api.codec import from_dict
from minik8s.api.kinds import KINDS
from minik8s.client.config import ClientConfig

from support import wait_for
from test_cli import Ctl
from test_kubelet_harness import kubelet, pod, wait_pod


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ctl(srv):
    ClientConfig(server=srv.address, token=srv.tokens["admin"]).save(srv.home)
    return Ctl(srv.home)


def http_server(name: str, port: int, root: str) -> dict:
    return {"name": name, "image": "python", "command": [sys.executable, "-m", "http.server", str(port),
                                                          "--bind", "0.0.0.0", "--directory", root],
            "ports": [{"name": "http", "containerPort": port}]}


def forwarding(proc: subprocess.Popen) -> int:
    """The local port of `Forwarding from 127.0.0.1:PORT -> REMOTE` (and of the IPv6 line after it)."""
    line = proc.stdout.readline()
    assert line.startswith("Forwarding from 127.0.0.1:"), (line, proc.stderr.read() if proc.poll() else "")
    return int(line.split("127.0.0.1:")[1].split()[0])


def next_line(proc: subprocess.Popen) -> str:
    """The next output line that is not the IPv6 listener's `Forwarding from [::1]:...`."""
    while (line := proc.stdout.readline()).startswith("Forwarding from [::1]:"):
        pass
    return line


def fetch(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.txt", timeout=20) as r:
        return r.read().decode()


async def served(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


async def test_port_forward_a_pod_and_a_service(srv, admin, ctl, tmp_path):
    (tmp_path / "hello.txt").write_text("hello through the tunnel\n")
    port = free_port()
    async with kubelet(srv, str(tmp_path / "node"), runtime="process"):
        await admin.create(pod("web", [http_server("web", port, str(tmp_path))], labels={"app": "web"}))
        running = await wait_pod(admin, "web", lambda p: p.status.phase == "Running" and p.status.podIP)
        await wait_for(lambda: served(running.status.podIP, port), what="the pod's http server")

        proc = ctl.popen("port-forward", "pod/web", f":{port}")
        try:
            local = await asyncio.to_thread(forwarding, proc)
            assert await asyncio.to_thread(fetch, local) == "hello through the tunnel\n"
            assert await asyncio.to_thread(fetch, local) == "hello through the tunnel\n"   # a second connection
            assert await asyncio.to_thread(next_line, proc) == f"Handling connection for {local}\n"
        finally:
            proc.terminate()
            proc.wait(10)

        svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}}
        await admin.create(from_dict(KINDS["Service"].message, svc))
        proc = ctl.popen("port-forward", "svc/web", ":80")
        try:
            line = await asyncio.to_thread(proc.stdout.readline)
            assert line.endswith(f" -> {port}\n"), line
            local = int(line.split("127.0.0.1:")[1].split()[0])
            assert await asyncio.to_thread(fetch, local) == "hello through the tunnel\n"
        finally:
            proc.terminate()
            proc.wait(10)

        closed = free_port()
        proc = ctl.popen("port-forward", "web", f":{closed}")
        try:
            local = await asyncio.to_thread(forwarding, proc)

            def refused():
                with socket.create_connection(("127.0.0.1", local), timeout=20) as s:
                    return s.recv(10)
            assert await asyncio.to_thread(refused) == b""          # closed at once, nothing sent
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=10)
        assert f"failed to connect to" in err and str(closed) in err

        r = await asyncio.to_thread(ctl, "port-forward", "pod/web", "x:80")
        assert r.returncode == 1 and "Invalid port mapping" in r.stderr
        r = await asyncio.to_thread(ctl, "port-forward", "svc/web", ":81")
        assert r.returncode == 1 and "does not have a service port 81" in r.stderr
        await admin.create(pod("unbound", node=""))
        r = await asyncio.to_thread(ctl, "port-forward", "pod/unbound", "8080:80")
        assert r.returncode == 1 and "pod is not running. Current status=Pending" in r.stderr
