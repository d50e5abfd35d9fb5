"""Node tunnels: how `logs` and `exec` reach a kubelet without the server dialling a node.

Each kubelet keeps one Tunnel stream open to the server (it dials out, as a node behind NAT would).
The server multiplexes sessions over it: it sends a frame that opens a log or exec session, and the
kubelet's answers come back tagged with the session id and are routed to the waiting client call."""
from __future__ import annotations

import asyncio
import itertools

from minik8s.api.errors import Unavailable
from minik8s.api.pb import api_pb2


class Tunnel:
    def __init__(self, node: str):
        self.node = node
        self.outgoing: asyncio.Queue = asyncio.Queue()
        self.sessions: dict[str, asyncio.Queue] = {}
        self.closed = False

    def deliver(self, frame: api_pb2.TunnelFrame) -> None:
        q = self.sessions.get(frame.session)
        if q is not None:
            q.put_nowait(frame)

    def close(self) -> None:
        self.closed = True
        for sid, q in self.sessions.items():
            q.put_nowait(api_pb2.TunnelFrame(session=sid, error=f'kubelet on node "{self.node}" disconnected',
                                             close=True))
        self.outgoing.put_nowait(None)


class TunnelRegistry:
    def __init__(self):
        self.tunnels: dict[str, Tunnel] = {}
        self._ids = itertools.count(1)

    def connect(self, node: str) -> Tunnel:
        old = self.tunnels.get(node)
        if old is not None:
            old.close()
        t = self.tunnels[node] = Tunnel(node)
        return t

    def disconnect(self, t: Tunnel) -> None:
        if self.tunnels.get(t.node) is t:
            del self.tunnels[t.node]
        if not t.closed:
            t.close()

    def open(self, node: str, first: api_pb2.TunnelFrame) -> tuple[Tunnel, str, asyncio.Queue]:
        t = self.tunnels.get(node)
        if t is None or t.closed:
            raise Unavailable(f'no kubelet is connected for node "{node}"')
        sid = f"s{next(self._ids)}"
        q: asyncio.Queue = asyncio.Queue()
        t.sessions[sid] = q
        first.session = sid
        t.outgoing.put_nowait(first)
        return t, sid, q

    @staticmethod
    def finish(t: Tunnel, sid: str, notify: bool) -> None:
        t.sessions.pop(sid, None)
        if notify and not t.closed:
            t.outgoing.put_nowait(api_pb2.TunnelFrame(session=sid, close=True))
