"""Driving `minictl` as a user does, on a cluster home of a test's own: `Ctl` runs the command line in a
subprocess and reads the home's pid files; `free_port` and `alive` for the cluster's processes."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class Ctl:
    def __init__(self, home: str):
        self.home = home
        self.env = dict(os.environ, MINIK8S_HOME=home,
                        PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "minik8s.cli.main", "--home", self.home, *args],
                              env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)

    def pids(self) -> dict[str, int]:
        run = os.path.join(self.home, "run")
        out = {}
        for name in os.listdir(run) if os.path.isdir(run) else []:
            if name.endswith(".pid"):
                with open(os.path.join(run, name)) as f:
                    out[name[:-4]] = int(f.read())
        return out

    def client(self):
        from minik8s.client.client import Client
        from minik8s.client.config import ClientConfig
        return Client(config=ClientConfig.load(self.home), timeout=5.0)
