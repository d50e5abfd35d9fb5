"""Names outside the cluster zone go to the host's resolvers: the `nameserver` lines of its resolv.conf
(read at start), tried in order, each for at most `timeout` seconds, over the transport the question
came by (a UDP answer cut short, TC set, is passed on as it is: the client asks again over TCP and so
do we). The cluster's own addresses are never upstreams, so a node whose resolv.conf names the
cluster DNS cannot make a loop. No upstream answering is SERVFAIL."""
from __future__ import annotations

import asyncio
import logging
import struct

log = logging.getLogger("minik8s.dns")

DEFAULT_TIMEOUT = 2.0          # per upstream, as glibc's resolver waits before it tries the next


def nameservers(path: str = "/etc/resolv.conf") -> list[str]:
    """The `nameserver` addresses of a resolv.conf, in order ([] when it cannot be read)."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            out.append(fields[1])
    return out


class _Exchange(asyncio.DatagramProtocol):
    def __init__(self, query: bytes):
        self.query = query
        self.answer: asyncio.Future = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        transport.sendto(self.query)

    def datagram_received(self, data: bytes, addr) -> None:
        # an answer to another question (a stale or forged one) is not ours
        if data[:2] == self.query[:2] and not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


async def _ask_udp(server: str, port: int, query: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(lambda: _Exchange(query),
                                                           remote_addr=(server, port))
    try:
        return await proto.answer
    finally:
        transport.close()


async def _ask_tcp(server: str, port: int, query: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(server, port)
    try:
        writer.write(struct.pack("!H", len(query)) + query)
        await writer.drain()
        size = struct.unpack("!H", await reader.readexactly(2))[0]
        return await reader.readexactly(size)
    finally:
        writer.close()


class Forwarder:
    """Asks the upstream resolvers a question in wire format and returns their answer (bytes), or
    None when none answered in time."""

    def __init__(self, servers: list[str], port: int = 53, timeout: float = DEFAULT_TIMEOUT,
                 exclude: tuple[str, ...] = ()):
        self.servers = [s for s in servers if s not in exclude]
        self.port = port
        self.timeout = timeout

    async def forward(self, query: bytes, tcp: bool = False) -> bytes | None:
        ask = _ask_tcp if tcp else _ask_udp
        for server in self.servers:
            try:
                return await asyncio.wait_for(ask(server, self.port, query), self.timeout)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, struct.error) as e:
                log.debug("upstream %s:%d did not answer: %s", server, self.port, type(e).__name__)
        return None
