"""Test support: a real API server process on a free loopback port, with tokens for every identity."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time

from minik8s.client.home import token_csv, write_token_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

IDENTITIES = {
    "admin": ("admin", "system:masters"),
    "scheduler": ("system:kube-scheduler", ""),
    "controller-manager": ("system:kube-controller-manager", ""),
    "node-1": ("system:node:node-1", "system:nodes"),
    "node-2": ("system:node:node-2", "system:nodes"),
}


class ApiServerProcess:
    def __init__(self, home: str, extra_args: tuple[str, ...] = ()):
        self.home = home
        self.extra_args = list(extra_args)
        self.identities = dict(IDENTITIES)
        self.tokens = {name: secrets.token_hex(16) for name in IDENTITIES}
        self._write_tokens()

    def add_identities(self, identities: dict[str, tuple[str, str]]) -> None:
        """More users, name -> (user, groups), each with a token; before `start`."""
        self.identities.update(identities)
        self.tokens.update({name: secrets.token_hex(16) for name in identities})
        self._write_tokens()

    def _write_tokens(self) -> None:
        write_token_file(token_csv(self.home), [(self.tokens[n], user, n, groups)
                                                for n, (user, groups) in self.identities.items()])
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self._clients = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "ApiServerProcess":
        port_file = os.path.join(self.home, "apiserver.port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        log = open(os.path.join(self.home, "apiserver.log"), "ab")
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "apiserver", "--home", self.home, "--port", str(self.port or 0),
             "--port-file", port_file, *self.extra_args], stdout=log, stderr=log, env=env, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while not os.path.exists(port_file):
            if self.proc.poll() is not None:
                raise RuntimeError(f"apiserver exited with {self.proc.returncode}: {self.read_log()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError("apiserver did not start")
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())
        if "--tls-cert-file" in self.extra_args:
            return self      # the caller holds the CA to talk to it
        from minik8s.client.client import Client
        with Client(self.address, self.tokens["admin"], timeout=2.0) as c:
            while True:      # serving once a call goes through, not just once the port is bound
                try:
                    c.version()
                    return self
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)

    def read_log(self) -> str:
        with open(os.path.join(self.home, "apiserver.log"), errors="replace") as f:
            return f.read()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)

    def restart(self) -> "ApiServerProcess":
        self.kill(signal.SIGTERM)
        return self.start()

    def client(self, identity: str = "admin", **kw):
        from minik8s.client.client import Client
        c = Client(self.address, self.tokens.get(identity, identity), **kw)
        self._clients.append(c)
        return c

    def async_client(self, identity: str = "admin", **kw):
        from minik8s.client.aio import AsyncClient
        return AsyncClient(self.address, self.tokens.get(identity, identity), **kw)

    def close(self) -> None:
        for c in self._clients:
            c.close()
        self.kill(signal.SIGTERM)
