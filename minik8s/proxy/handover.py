"""Handing the host over from a leaving proxy to a standby without a moment when nothing accepts.

A standby proxy listens on a unix socket of its own beside the lock file (`proxy-PID.sock`). A
leaving active proxy connects to one of them and passes it, over SCM_RIGHTS, the file descriptor
that holds the host lock and every listening socket with its address, while it goes on accepting.
The standby becomes the active proxy with those very sockets (so connections already queued in them
are accepted, not reset), answers `serving`, and only then the leaving proxy stops accepting and
lets its open connections finish. An flock belongs to the open file, so the passed descriptor carries
the lock: no third proxy can take it in between. A proxy that dies instead of stopping still just
drops the lock, and a standby takes over as before (binding the addresses afresh)."""
from __future__ import annotations

import asyncio
import glob
import json
import logging
import os
import socket

log = logging.getLogger("minik8s.proxy")

TRANSFER_TIMEOUT = 5.0     # a hand-over that stalls this long is given up (the sender keeps serving)
MAX_MESSAGE = 64 * 1024
SERVING = b"serving"
END = b"end"


def _socket_dir(lock_path: str) -> str:
    return os.path.dirname(lock_path)


def standby_socket_path(lock_path: str) -> str:
    return os.path.join(_socket_dir(lock_path), f"proxy-{os.getpid()}.sock")


class Listeners(dict):
    """(address, port) -> a listening socket, and the descriptor holding the host lock."""

    def __init__(self, lock_fd: int):
        super().__init__()
        self.lock_fd = lock_fd


def _send(conn: socket.socket, payload, fd: int) -> None:
    socket.send_fds(conn, [json.dumps(payload).encode()], [fd])


def offer(lock_path: str, lock_fd: int, listeners: dict[tuple[str, int], socket.socket]) -> socket.socket | None:
    """Blocking: pass the lock and `listeners` to the first standby that takes them; returns the
    connection its `serving` will come on, or None when no standby is there. Once this returns a
    connection, the caller no longer holds the lock alone: it closes its own descriptor of it."""
    for path in sorted(glob.glob(os.path.join(_socket_dir(lock_path), "proxy-*.sock"))):
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        conn.settimeout(TRANSFER_TIMEOUT)
        try:
            conn.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            conn.close()
            _unlink(path)                   # a standby that died without removing it
            continue
        except OSError as e:
            conn.close()
            log.warning("cannot reach the standby proxy at %s: %s", path, e)
            continue
        try:
            _send(conn, {"listeners": len(listeners)}, lock_fd)
            for (address, port), sock in listeners.items():
                _send(conn, [address, port], sock.fileno())
            conn.send(END)
        except OSError as e:
            conn.close()
            log.warning("handing over to the standby proxy at %s failed: %s", path, e)
            continue
        return conn
    return None


def wait_serving(conn: socket.socket, timeout: float) -> bool:
    """Blocking: has the standby said it serves, within `timeout` seconds?"""
    conn.settimeout(timeout)
    try:
        return conn.recv(len(SERVING)) == SERVING
    except OSError:
        return False
    finally:
        conn.close()


def _receive(conn: socket.socket) -> Listeners | None:
    """Blocking: what one leaving proxy passes, or None when it broke off half-way."""
    conn.setblocking(True)
    conn.settimeout(TRANSFER_TIMEOUT)
    got: Listeners | None = None
    try:
        while True:
            data, fds, _, _ = socket.recv_fds(conn, MAX_MESSAGE, 1)
            if data == END and got is not None:
                return got
            if not data or len(fds) != 1:
                break
            if got is None:
                got = Listeners(fds[0])
                continue
            address, port = json.loads(data)
            got[(address, int(port))] = socket.socket(fileno=fds[0])
    except (OSError, ValueError) as e:
        log.warning("a hand-over from the leaving proxy broke off: %s", e)
    if got is not None:
        os.close(got.lock_fd)
        for sock in got.values():
            sock.close()
    return None


class Standby:
    """The unix socket a standby proxy is offered the host on."""

    def __init__(self, lock_path: str):
        self.path = standby_socket_path(lock_path)
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        _unlink(self.path)
        self._server.bind(self.path)
        self._server.listen(4)
        self._server.setblocking(False)
        self.conn: socket.socket | None = None      # where to say `serving`

    async def receive(self) -> Listeners:
        """Wait for a leaving proxy's hand-over."""
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(self._server)
            got = await loop.run_in_executor(None, _receive, conn)
            if got is not None:
                self.conn = conn
                return got
            conn.close()

    def close(self) -> None:
        self._server.close()
        _unlink(self.path)
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    async def say_serving(self) -> None:
        if self.conn is None:
            return
        conn, self.conn = self.conn, None
        try:
            await asyncio.get_running_loop().run_in_executor(None, conn.sendall, SERVING)
        except OSError as e:
            log.warning("could not tell the leaving proxy that this one serves: %s", e)
        finally:
            conn.close()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
