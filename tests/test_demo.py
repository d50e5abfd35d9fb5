"""`scripts/demo` as a new user runs it: it returns once the demo workload is Ready and its URL answers,
and says which URL to open."""
from __future__ import annotations

import os
import subprocess
import urllib.request

import pytest

from support.minictl import ROOT, Ctl


@pytest.mark.root
def test_demo_waits_until_the_workload_answers_and_prints_the_url(tmp_path):
    ctl = Ctl(str(tmp_path / "home"))
    try:
        out = subprocess.run([os.path.join(ROOT, "scripts", "demo"), "--port", "0"], env=ctl.env, cwd=ROOT,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        lines = out.stdout.splitlines()
        assert 'deployment "web" successfully rolled out' in lines
        ready = next(line for line in lines if line.startswith("The demo is Ready: open "))
        url = ready.rsplit(" ", 1)[1]
        port = ctl("get", "service", "web", "-o", "jsonpath={.spec.ports[0].nodePort}").stdout
        assert url == f"http://127.0.0.1:{port}/"
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.read().decode().startswith("hello from web-")
    finally:
        ctl("down", "--purge", timeout=180)
