"""`minictl images build | ls` against the Docker engine: the busybox image is built from the host's static
busybox and runs its applets; a present image is left alone; ls shows what is built and what is not;
the process runtime needs no image; an image minictl does not build is an error naming it."""
from __future__ import annotations

import secrets
import subprocess

import pytest

from minik8s.cli import imagecmds

from support.minictl import Ctl

pytestmark = pytest.mark.docker


@pytest.fixture
def ctl(tmp_path):
    return Ctl(str(tmp_path / "home"))


@pytest.fixture
def scratch_tag():
    """An image name of this test's own, so the build runs for real without touching the shared image."""
    tag = f"minik8s-test/busybox-{secrets.token_hex(4)}:latest"
    yield tag
    subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)


def test_the_busybox_image_is_built_from_the_hosts_static_busybox(scratch_tag, capsys):
    imagecmds.build_busybox(scratch_tag)
    assert f"images: building {scratch_tag} from /bin/busybox" in capsys.readouterr().out
    out = subprocess.run(["docker", "run", "--rm", "--network", "none", scratch_tag, "sh", "-c", "echo $((6 * 7))"],
                         capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout) == (0, "42\n"), out.stderr


def test_build_leaves_a_present_image_alone_and_ls_lists_both(ctl):
    ok = ctl("images", "build", imagecmds.BUSYBOX)
    assert ok.returncode == 0, ok.stderr
    before = imagecmds.image_id(imagecmds.BUSYBOX)
    again = ctl("images", "build", imagecmds.BUSYBOX)
    assert again.returncode == 0 and again.stdout == f"images: {imagecmds.BUSYBOX} exists\n"
    assert imagecmds.image_id(imagecmds.BUSYBOX) == before

    out = ctl("images", "ls")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["IMAGE", "IMAGE", "ID", "CREATED", "SIZE"]
    busybox = next(line for line in lines if line.startswith(imagecmds.BUSYBOX))
    assert before.split(":")[-1][:12] in busybox
    python = next(line for line in lines if line.startswith(imagecmds.PYTHON))
    assert ("<not built>" in python) == (imagecmds.image_id(imagecmds.PYTHON) is None)


def test_the_process_runtime_needs_no_image_and_unknown_images_are_refused(ctl):
    out = ctl("images", "build", "--runtime", "process")
    assert out.returncode == 0 and out.stdout.strip() == imagecmds.NO_IMAGES
    out = ctl("images", "build", "busybox:latest")
    assert out.returncode == 1
    assert out.stderr == ("error: unknown image 'busybox:latest': minictl builds minik8s/busybox:latest, "
                          "minik8s/python:3.11, perl:5.34.0\n")
