"""The proxy's data path: a listening socket per service address, and for each accepted connection a
connection to one backend, the bytes copied both ways by two asyncio protocols.

A `Route` is one service port: the backends its Endpoints object lists as ready, in order, and a
round-robin cursor. Each new connection asks the route for the backends usable right now (the
proxy's `usable` check: the pod still ready and not terminating, the address one the proxy may send
to), starts at the cursor and tries them in turn: a backend that refuses, is unreachable or does not
answer within CONNECT_TIMEOUT is skipped for the next one, so a pod that has just died costs the
client nothing but a little latency. Only when no backend takes the connection is the client's
connection reset.

Connections already established are left alone when their backend leaves the route (upstream's
conntrack entries do the same); only new connections see the change. Half-closes are passed on
(write_eof) and a reset on one side resets the other. Flow control: when one side's write buffer
fills, the other side stops reading until it drains."""
from __future__ import annotations

import asyncio
import errno
import logging
import socket
from dataclasses import dataclass
from typing import Callable, Iterable

log = logging.getLogger("minik8s.proxy")

CONNECT_TIMEOUT = 1.0
BACKLOG = 1024
IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)


@dataclass(frozen=True)
class Backend:
    ip: str
    port: int
    pod: str = ""       # namespace/name of the pod the address belongs to ("" when none is named)
    uid: str = ""

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}" + (f" ({self.pod})" if self.pod else "")


class Route:
    """One service port's ready backends and round-robin cursor, with counters."""

    def __init__(self, name: str):
        self.name = name
        self.backends: tuple[Backend, ...] = ()
        self._cursor = 0
        self.connections = 0        # accepted
        self.served = 0             # handed to a backend
        self.rejected = 0           # reset: no backend would take it
        self.retries = 0            # backends skipped because they refused or did not answer

    def set_backends(self, backends: Iterable[Backend]) -> bool:
        backends = tuple(backends)
        if backends == self.backends:
            return False
        self.backends = backends
        return True

    def pick(self, usable: Callable[[Backend], bool]) -> list[Backend]:
        """The usable backends, in the order a new connection tries them: round robin over the
        usable ones, so skipping a pod does not give its share to one neighbour."""
        ok = [b for b in self.backends if usable(b)]
        if not ok:
            return []
        start = self._cursor % len(ok)
        self._cursor = start + 1
        return ok[start:] + ok[:start]


def _nodelay(transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class _Side(asyncio.Protocol):
    """One end of a proxied connection; `peer` is the other end."""

    def __init__(self, peer: "_Side | None" = None):
        self.transport: asyncio.Transport | None = None
        self.peer = peer
        self.eof = False
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        _nodelay(transport)

    def data_received(self, data: bytes) -> None:
        self.peer.transport.write(data)

    def eof_received(self):
        self.eof = True
        peer = self.peer
        if peer is None or peer.closed or peer.eof:
            return False                # both directions finished: close
        if peer.transport.can_write_eof():
            peer.transport.write_eof()
        return True                     # keep the other direction open

    def connection_lost(self, exc) -> None:
        self.closed = True
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.closed:
            if exc is None:
                peer.transport.close()  # after what is buffered for it
            else:
                peer.transport.abort()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None and not self.peer.closed:
            self.peer.transport.resume_reading()


class _ClientSide(_Side):
    """The accepted connection: reads nothing until a backend has taken it."""

    def __init__(self, listener: "Listener"):
        super().__init__()
        self.listener = listener

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        transport.pause_reading()
        self.listener.opened(self)
        self.listener.route.connections += 1
        asyncio.get_running_loop().create_task(self._dial())

    def connection_lost(self, exc) -> None:
        super().connection_lost(exc)
        self.listener.finished(self)

    async def _dial(self) -> None:
        loop = asyncio.get_running_loop()
        route = self.listener.route
        for backend in route.pick(self.listener.usable):
            if self.closed:
                return
            side = _Side(self)
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    await loop.create_connection(lambda: side, backend.ip, backend.port)
            except (OSError, TimeoutError) as e:
                route.retries += 1
                self.listener.on_backend_failure(backend, e)
                continue
            if self.closed:
                side.transport.close()
                return
            self.peer = side
            route.served += 1
            self.transport.resume_reading()
            return
        route.rejected += 1
        if not self.closed:
            self.transport.abort()


class Listener:
    """A listening socket for one service address (ClusterIP:port or nodeAddress:nodePort) whose
    connections go to `route`. `freebind` lets it bind an address not (yet) on any interface."""

    def __init__(self, address: str, port: int, route: Route, usable: Callable[[Backend], bool],
                 on_backend_failure: Callable[[Backend, Exception], None] | None = None,
                 freebind: bool = False, reuse_port: bool = False):
        self.address, self.port = address, port
        self.route = route
        self.usable = usable
        self.on_backend_failure = on_backend_failure or (lambda b, e: None)
        self.freebind = freebind
        self.reuse_port = reuse_port
        self.socket: socket.socket | None = None
        self._server: asyncio.AbstractServer | None = None
        self._open: set[_ClientSide] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def key(self) -> tuple[str, int]:
        return (self.address, self.port)

    async def start(self, sock: socket.socket | None = None) -> None:
        """Bind and listen, or serve `sock`: a listening socket a leaving proxy handed over."""
        if sock is None:
            sock = self._bind()
        self.socket = sock
        self._server = await asyncio.get_running_loop().create_server(lambda: _ClientSide(self), sock=sock)

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if self.freebind and family == socket.AF_INET:
                sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
            sock.bind((self.address, self.port))
            self.port = sock.getsockname()[1]       # the kernel's pick for port 0
            sock.listen(BACKLOG)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        """Stop accepting (a successor holding the same socket goes on accepting); connections
        already proxied carry on."""
        if self._server is not None:
            self._server.close()
            self._server = None
            self.socket = None

    def opened(self, conn: "_ClientSide") -> None:
        self._open.add(conn)
        self._idle.clear()

    def finished(self, conn: "_ClientSide") -> None:
        self._open.discard(conn)
        if not self._open:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Until every connection this listener accepted has closed."""
        await self._idle.wait()

    def __repr__(self) -> str:
        return f"Listener({self.address}:{self.port} -> {self.route.name})"


def describe_bind_error(e: OSError) -> str:
    if e.errno == errno.EADDRINUSE:
        return "address in use (another process, or another cluster's proxy, holds it)"
    if e.errno == errno.EADDRNOTAVAIL:
        return "address not available on this host"
    if e.errno == errno.EACCES:
        return "permission denied"
    return e.strerror or str(e)
