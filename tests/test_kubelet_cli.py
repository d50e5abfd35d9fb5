"""`minictl logs`, `minictl exec` and `minictl top`, run as the real command line against a real API
server and a kubelet."""
from __future__ import annotations

import asyncio
import sys

import pytest

from minik8s.api.clock import FakeClock

from test_kubelet_harness import kubelet, phase_is, pod, running, sh, wait_pod


async def minictl(srv, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "minik8s.cli.main", "--server", srv.address, "--token", srv.tokens["admin"], *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    return proc.returncode, out.decode(), err.decode()


async def test_logs_exec_and_top_with_the_fake_runtime(srv, tmp_path):
    clock = FakeClock()
    async with kubelet(srv, str(tmp_path), clock=clock, capacity={"cpu": "2", "memory": "4Gi"}) as k, \
            srv.async_client("admin") as c:
        await c.create(pod("web", [{"name": "app", "image": "x"}, {"name": "side", "image": "x"}],
                           annotations={"fake.minik8s.io/cpu-millis": "500",
                                        "fake.minik8s.io/memory-bytes": "256Mi"}))
        await wait_pod(c, "web", phase_is("Running"))
        await asyncio.wait_for(k.tunnel.connected.wait(), 10)
        code, out, err = await minictl(srv, "logs", "web")
        assert (code, out) == (0, "fake runtime: container app started\n")
        assert err == 'Defaulted container "app" out of: app, side\n'
        code, out, _ = await minictl(srv, "logs", "pod/web", "-c", "side", "--timestamps")
        assert code == 0 and out.endswith("Z fake runtime: container side started\n")
        code, _, err = await minictl(srv, "logs", "web", "-c", "side", "--previous")
        assert code == 1
        assert err == ('Error from server (BadRequest): previous terminated container "side" in pod "web" '
                       "not found\n")
        code, out, _ = await minictl(srv, "exec", "web", "-c", "app", "--", "echo", "hi there")
        assert (code, out) == (0, "echo hi there\n")
        code, _, err = await minictl(srv, "top", "pods")
        assert code == 0 or "No resources" in err
        await k.metrics.publish_once()
        clock.advance(5)
        await k.metrics.publish_once()
        code, out, _ = await minictl(srv, "top", "pods")
        assert (code, out.splitlines()) == (0, ["NAME   CPU(cores)   MEMORY(bytes)", "web    1000m        512Mi"])
        code, out, _ = await minictl(srv, "top", "pods", "--containers")
        assert out.splitlines() == ["POD   NAME   CPU(cores)   MEMORY(bytes)",
                                    "web   app    500m         256Mi",
                                    "web   side   500m         256Mi"]
        code, out, _ = await minictl(srv, "top", "nodes")
        assert (code, out.splitlines()) == (0, ["NAME     CPU(cores)   CPU%   MEMORY(bytes)   MEMORY%",
                                                "node-1   1000m        50%    512Mi           12%"])


async def test_logs_of_a_pod_that_has_not_started(srv, tmp_path):
    async with srv.async_client("admin") as c:
        await c.create(pod("later", node="node-9"))
        code, _, err = await minictl(srv, "logs", "later")
        assert code == 1 and err.startswith("Error from server")


@pytest.mark.root
async def test_exec_passes_stdin_and_the_exit_code(srv, tmp_path):
    async with kubelet(srv, str(tmp_path), runtime="process") as k, srv.async_client("admin") as c:
        await c.create(pod("box", [sh("app", "exec sleep 600")]))
        await wait_pod(c, "box", running("app"))
        await asyncio.wait_for(k.tunnel.connected.wait(), 10)
        code, out, err = await minictl(srv, "exec", "box", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
        assert (code, out, err) == (3, "out\n", "err\ncommand terminated with exit code 3\n")
        code, out, _ = await minictl(srv, "exec", "-i", "box", "--", "tr", "a-z", "A-Z", stdin=b"shout\n")
        assert (code, out) == (0, "SHOUT\n")


@pytest.mark.root
async def test_exec_it_gives_an_interactive_shell_on_a_terminal(srv, tmp_path):
    import os
    import pty

    async with kubelet(srv, str(tmp_path), runtime="process") as k, srv.async_client("admin") as c:
        await c.create(pod("box", [sh("app", "exec sleep 600")]))
        await wait_pod(c, "box", running("app"))
        await asyncio.wait_for(k.tunnel.connected.wait(), 10)
        master, slave = pty.openpty()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "minik8s.cli.main", "--server", srv.address, "--token", srv.tokens["admin"],
            "exec", "-it", "box", "--", "sh", stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        loop = asyncio.get_running_loop()
        out = bytearray()
        ready = asyncio.Event()

        def readable():
            try:
                chunk = os.read(master, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                loop.remove_reader(master)
            out.extend(chunk)
            if b"# " in out:
                ready.set()      # the remote shell's prompt: minictl has put the terminal in raw mode
        loop.add_reader(master, readable)
        try:
            await asyncio.wait_for(ready.wait(), 15)
            os.write(master, b"echo hi-$((40+2)); tty >/dev/null && echo on-a-tty; exit 5\n")
            code = await asyncio.wait_for(proc.wait(), 15)
        finally:
            loop.remove_reader(master)
            if proc.returncode is None:
                proc.kill()
            os.close(master)
        text = out.decode(errors="replace")
        assert "hi-42" in text and "on-a-tty" in text, text
        assert code == 5
