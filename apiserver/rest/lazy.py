"""The REST port, listening from the API server's start, with its front end (aiohttp and the routes,
about 13 MB of the server's memory) built at the first connection: a cluster no kubectl or other
REST client talks to never loads it. A connection that arrives while the front end is being built
waits, the bytes it sent kept, and is then handed to it whole."""
from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Awaitable, Callable

log = logging.getLogger("apiserver.rest")


def server_ssl_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


class LazyFrontEnd:
    """`build` returns the front end's aiohttp AppRunner, set up (not listening)."""

    def __init__(self, build: Callable[[], Awaitable]):
        self._build = build
        self.runner = None
        self._building: asyncio.Task | None = None
        self._waiting: list[_Waiting] = []
        self._listener: asyncio.AbstractServer | None = None

    async def listen(self, address: str, port: int, ctx: ssl.SSLContext | None) -> int:
        """Bind and listen (as aiohttp's TCPSite does); the bound port."""
        self._listener = await asyncio.get_running_loop().create_server(
            self._protocol, address, port, ssl=ctx, backlog=128, reuse_address=False)
        return self._listener.sockets[0].getsockname()[1]

    def _protocol(self) -> asyncio.Protocol:
        if self.runner is not None:
            return self.runner.server()
        if self._building is None:
            self._building = asyncio.get_running_loop().create_task(self._start(), name="rest-front-end")
        return _Waiting(self)

    async def _start(self) -> None:
        try:
            self.runner = await self._build()
        except Exception:  # noqa: BLE001 - the server stays up; the next connection tries again
            log.exception("building the REST front end failed")
            self._building = None
            for w in self._waiting:
                w.transport.close()
            self._waiting.clear()
            return
        for w in self._waiting:
            w.hand_over(self.runner.server)
        self._waiting.clear()

    async def cleanup(self) -> None:
        if self._listener is not None:
            self._listener.close()
        if self._building is not None:
            await self._building
        if self.runner is not None:
            await self.runner.cleanup()


class _Waiting(asyncio.Protocol):
    """A connection accepted before the front end was built: keeps what it receives until then.
    Under TLS it is made only once the handshake is done, which may be after the front end is."""

    def __init__(self, front: LazyFrontEnd):
        self.front, self.transport = front, None
        self.received: list[bytes] = []
        self.eof = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        if self.front.runner is not None:
            self.hand_over(self.front.runner.server)
        else:
            self.front._waiting.append(self)

    def data_received(self, data: bytes) -> None:
        self.received.append(data)

    def eof_received(self) -> bool:
        self.eof = True
        return True         # kept open (plain TCP): the front end answers, then closes

    def connection_lost(self, exc) -> None:
        if self in self.front._waiting:
            self.front._waiting.remove(self)

    def hand_over(self, make_protocol) -> None:
        protocol = make_protocol()
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        for data in self.received:
            protocol.data_received(data)
        if self.eof:
            protocol.eof_received()
