"""`minictl cp`, run as the real command line against a real API server and a process-runtime kubelet:
files and directories into a container (kubectl's tar through exec) and back, `-c` choosing the
container, and kubectl's errors for a missing remote path and for two local paths."""
from __future__ import annotations

import asyncio
import os

import pytest

from test_kubelet_cli import minictl
from test_kubelet_harness import kubelet, pod, running, sh, wait_pod

pytestmark = pytest.mark.root


async def test_cp_copies_files_and_directories_both_ways(srv, tmp_path):
    local = tmp_path / "local"
    (local / "site" / "css").mkdir(parents=True)
    (local / "site" / "index.html").write_text("<h1>hello</h1>\n")
    (local / "site" / "css" / "main.css").write_text("h1 { color: teal }\n")
    (local / "note.txt").write_text("a note\n")
    volume = [{"name": "data", "emptyDir": {}}]
    async with kubelet(srv, str(tmp_path / "node"), runtime="process") as k, srv.async_client("admin") as c:
        await c.create(pod("box", [sh("app", "exec sleep 600", volumeMounts=[{"name": "data", "mountPath": "/data"}]),
                                   sh("side", "exec sleep 600", volumeMounts=[{"name": "data", "mountPath": "/side"}])],
                           volumes=volume))
        await wait_pod(c, "box", running("app"))
        await wait_pod(c, "box", running("side"))
        await asyncio.wait_for(k.tunnel.connected.wait(), 10)

        # a file to a path, a directory into a directory that exists in the container
        assert (await minictl(srv, "cp", str(local / "note.txt"), "box:/data/note.txt"))[0] == 0
        assert (await minictl(srv, "cp", str(local / "site"), "default/box:/data"))[0] == 0
        code, out, _ = await minictl(srv, "exec", "box", "-c", "app", "--", "cat", "/data/note.txt",
                                     "/data/site/index.html", "/data/site/css/main.css")
        assert (code, out) == (0, "a note\n<h1>hello</h1>\nh1 { color: teal }\n")
        assert not os.path.exists("/data/site/index.html")         # the container's mount, not the host's

        # -c: the other container sees the volume at its own path
        code, _, err = await minictl(srv, "cp", str(local / "note.txt"), "box:/side/from-side.txt", "-c", "side")
        assert (code, err) == (0, "")
        code, out, _ = await minictl(srv, "exec", "box", "-c", "app", "--", "cat", "/data/from-side.txt")
        assert out == "a note\n"

        # back: a directory's contents land under the destination, a file at the destination path
        back = tmp_path / "back"
        code, _, err = await minictl(srv, "cp", "box:/data/site", str(back))
        assert (code, err) == (0, 'Defaulted container "app" out of: app, side\n')
        assert (back / "index.html").read_text() == "<h1>hello</h1>\n"
        assert (back / "css" / "main.css").read_text() == "h1 { color: teal }\n"
        assert (await minictl(srv, "cp", "box:/data/note.txt", str(tmp_path / "copy.txt")))[0] == 0
        assert (tmp_path / "copy.txt").read_text() == "a note\n"

        code, _, err = await minictl(srv, "cp", "box:/data/missing", str(tmp_path / "missing"))
        assert code != 0 and "No such file" in err and err.endswith(f"command terminated with exit code {code}\n")
        assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("args, message", [
    (["a", "b"], "error: one of src or dest must be a remote file specification\n"),
    (["p:a", "q:b"], "error: one of src or dest must be a local file specification\n"),
    (["a/b/c:x", "y"], "error: filespec must match the canonical format: [[namespace/]pod:]file/path\n"),
    (["p:", "y"], "error: filepath can not be empty\n"),
    (["/no/such/file", "p:/tmp"], "error: /no/such/file doesn't exist in local filesystem\n"),
])
async def test_cp_rejects_what_kubectl_rejects(srv, args, message):
    assert await minictl(srv, "cp", *args) == (1, "", message)
