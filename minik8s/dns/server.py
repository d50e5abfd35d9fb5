"""The DNS server: UDP and TCP listeners (asyncio) on each address it is given, one question per query,
parsed and answered with dnslib. A name in the cluster zone (or the reverse zone's cluster addresses)
is answered from `ClusterZone`, authoritatively; any other name goes to the `Forwarder` and its answer
goes back unchanged. A UDP answer larger than the client takes (512 bytes, or its EDNS0 size) goes
back empty with TC set, so the client asks again over TCP. A query that does not parse is FORMERR
where its header can be read, else dropped; no query can stop the server."""
from __future__ import annotations

import asyncio
import logging
import struct

from dnslib import QTYPE, RCODE, DNSError, DNSRecord

from minik8s.dns.forward import Forwarder
from minik8s.dns.records import ClusterZone

log = logging.getLogger("minik8s.dns")

UDP_DEFAULT_SIZE = 512
TCP_IDLE_TIMEOUT = 10.0       # a TCP client that sends nothing for this long is dropped


class DNSServer:
    def __init__(self, zone: ClusterZone, forwarder: Forwarder):
        self.zone = zone
        self.forwarder = forwarder
        self._transports: list = []
        self._servers: list[asyncio.AbstractServer] = []

    async def answer(self, data: bytes, tcp: bool = False) -> bytes | None:
        """The wire answer to a wire query (None: nothing can be said, the query is dropped)."""
        try:
            request = DNSRecord.parse(data)
        except (DNSError, struct.error, IndexError, ValueError):
            return _format_error(data)
        if request.header.qr or len(request.questions) != 1:
            reply = request.reply()
            reply.header.rcode = RCODE.FORMERR
            return reply.pack()
        q = request.q
        try:
            found = self.zone.resolve(str(q.qname), q.qtype)
        except Exception:           # a cache in an unexpected shape must not take the server down
            log.exception("answering %s %s", q.qname, QTYPE.get(q.qtype))
            reply = request.reply()
            reply.header.rcode = RCODE.SERVFAIL
            return reply.pack()
        if found is None:
            upstream = await self.forwarder.forward(data, tcp)
            if upstream is not None:
                return upstream
            reply = request.reply()
            reply.header.rcode = RCODE.SERVFAIL
            reply.header.ra = 1
            return reply.pack()
        reply = request.reply()
        reply.header.aa = 1
        reply.header.ra = 1
        reply.header.rcode = found.rcode
        for rr in found.answers:
            reply.add_answer(rr)
        for rr in found.authority:
            reply.add_auth(rr)
        for rr in found.additional:
            reply.add_ar(rr)
        packed = reply.pack()
        limit = _udp_limit(request)
        if not tcp and len(packed) > limit:
            reply = request.reply()
            reply.header.aa = 1
            reply.header.tc = 1
            packed = reply.pack()
        return packed

    # -------------------------------------------------------------- listeners
    async def listen(self, host: str, port: int, reuse_port: bool = False) -> int:
        """UDP and TCP on (host, port); returns the port (chosen by the kernel for port 0)."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _UDP(self), local_addr=(host, port),
                                                           reuse_port=reuse_port or None)
        self._transports.append(transport)
        port = transport.get_extra_info("sockname")[1]
        server = await asyncio.start_server(self._serve_tcp, host, port, reuse_address=True)
        self._servers.append(server)
        log.info("serving DNS on %s:%d (UDP and TCP)", host, port)
        return port

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                size = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_TIMEOUT))[0]
                query = await asyncio.wait_for(reader.readexactly(size), TCP_IDLE_TIMEOUT)
                answer = await self.answer(query, tcp=True)
                if answer is None:
                    break
                writer.write(struct.pack("!H", len(answer)) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    def close(self) -> None:
        for t in self._transports:
            t.close()
        for s in self._servers:
            s.close()
        self._transports, self._servers = [], []


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer):
        self.server = server
        self.transport = None
        self._tasks: set[asyncio.Task] = set()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        # each query on its own task: a slow upstream never holds up the cluster's answers
        task = asyncio.ensure_future(self._reply(data, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reply(self, data: bytes, addr) -> None:
        answer = await self.server.answer(data)
        if answer is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(answer, addr)


def _udp_limit(request: DNSRecord) -> int:
    for rr in request.ar:
        if rr.rtype == QTYPE.OPT:
            return max(UDP_DEFAULT_SIZE, rr.rclass)       # an OPT record's class is its UDP payload size
    return UDP_DEFAULT_SIZE


def _format_error(data: bytes) -> bytes | None:
    """FORMERR echoing the query's id, when there is a header to echo."""
    if len(data) < 12:
        return None
    flags = 0x8000 | (data[2] & 0x78) << 8 | RCODE.FORMERR     # QR, the query's opcode, FORMERR
    return data[:2] + struct.pack("!HHHHH", flags, 0, 0, 0, 0)

