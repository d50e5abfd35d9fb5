"""The kubelet's end of its node tunnel (apiserver/tunnel.py has the other): one Tunnel stream dialled
out to the API server, over which the server opens sessions, each a session id:

    server -> kubelet   TunnelFrame{logs}            open a log session (LogsRequest)
                        TunnelFrame{exec}            open an exec session (the first ExecRequest), then
                                                     stdinData / stdinClose / resize for it
                        TunnelFrame{portForward}     open a connection to a pod's port, then the
                                                     client's bytes (data) and half-close (close) for it
                        TunnelFrame{close}           the client went away: stop the session
    kubelet -> server   TunnelFrame{stdout|stderr}   output (a forwarded port's bytes in stdout)
                        TunnelFrame{error, close}    the session failed (the client sees the message)
                        TunnelFrame{exitCode}        an exec session ended
                        TunnelFrame{close}           a log session ended

The stream is redialled with backoff whenever it drops; sessions alive at that moment are cancelled."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

import grpc

from minik8s.api.pb import api_pb2

from kubelet.logs import CHUNK, LogOptions, read_log
from kubelet.runtime.base import RuntimeError_
from kubelet.sync import observe

log = logging.getLogger("kubelet.tunnel")

RECONNECT_BASE = 0.2
RECONNECT_CAP = 5.0


class SessionError(Exception):
    """A session cannot be served; the message goes back to the client."""


class TunnelServer:
    """The node's tunnel: dialled with `client`, serving the containers of `runtime`; `pod_by_name`
    finds a pod of this node (None when it has none of that name)."""

    def __init__(self, client, runtime, pod_by_name: Callable[[str, str], object | None]):
        self.client = client
        self.runtime = runtime
        self.pod_by_name = pod_by_name
        self.connected = asyncio.Event()
        self._out: asyncio.Queue | None = None
        self._sessions: dict[str, asyncio.Task] = {}
        self._exec: dict[str, asyncio.Queue] = {}

    # ------------------------------------------------------------------ the stream
    async def run(self) -> None:
        delay = RECONNECT_BASE
        while True:
            try:
                await self._serve_once()
                delay = RECONNECT_BASE
            except asyncio.CancelledError:
                raise
            except grpc.RpcError as e:
                log.info("tunnel dropped: %s", e.details() if hasattr(e, "details") else e)
            except Exception:
                log.exception("tunnel failed")
            finally:
                self.connected.clear()
                self._stop_sessions()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_CAP)

    async def _serve_once(self) -> None:
        out: asyncio.Queue = asyncio.Queue()
        self._out = out

        async def frames():
            while True:
                f = await out.get()
                if f is None:
                    return
                yield f

        call = self.client.tunnel(frames())
        try:
            self.connected.set()
            async for frame in call:
                self._dispatch(frame)
        finally:
            out.put_nowait(None)
            call.cancel()

    def _send(self, frame: api_pb2.TunnelFrame) -> None:
        if self._out is not None:
            self._out.put_nowait(frame)

    def _stop_sessions(self) -> None:
        for t in self._sessions.values():
            t.cancel()
        self._sessions.clear()
        self._exec.clear()

    def _dispatch(self, frame: api_pb2.TunnelFrame) -> None:
        sid = frame.session
        if frame.close and not frame.HasField("logs") and not frame.HasField("exec") \
                and not frame.HasField("portForward"):
            t = self._sessions.pop(sid, None)
            if t is not None:
                t.cancel()
            self._exec.pop(sid, None)
            return
        if frame.HasField("logs"):
            self._start(sid, self._logs_session(sid, frame.logs))
        elif frame.HasField("exec") or frame.HasField("portForward"):
            req = frame.exec if frame.HasField("exec") else frame.portForward
            q = self._exec.get(sid)
            if q is not None:
                q.put_nowait(req)
            else:
                self._exec[sid] = asyncio.Queue()
                session = self._exec_session if frame.HasField("exec") else self._port_forward_session
                self._start(sid, session(sid, req))

    def _start(self, sid: str, coro) -> None:
        async def run():
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except SessionError as e:
                self._send(api_pb2.TunnelFrame(session=sid, error=str(e), close=True))
            except Exception as e:
                log.exception("session %s failed", sid)
                self._send(api_pb2.TunnelFrame(session=sid, error=f"kubelet: {e}", close=True))
            finally:
                self._sessions.pop(sid, None)
                self._exec.pop(sid, None)
        self._sessions[sid] = asyncio.get_running_loop().create_task(run(), name=f"tunnel-{sid}")

    # ------------------------------------------------------------------ finding the container
    def _pod(self, namespace: str, name: str):
        pod = self.pod_by_name(namespace, name)
        if pod is None:
            raise SessionError(f'pods "{name}" not found')
        return pod

    async def _history(self, pod, container: str):
        _, history = await observe(self.runtime, pod.metadata.uid)
        return history.get(container, [])

    @staticmethod
    def _waiting_reason(pod, container: str) -> str:
        for cs in list(pod.status.containerStatuses) + list(pod.status.initContainerStatuses):
            if cs.name == container and cs.state.HasField("waiting"):
                return cs.state.waiting.reason or "ContainerCreating"
        return "ContainerCreating"

    # ------------------------------------------------------------------ logs
    async def _logs_session(self, sid: str, req: api_pb2.LogsRequest) -> None:
        pod = self._pod(req.namespace, req.name)
        hist = await self._history(pod, req.container)
        if req.previous:
            if len(hist) < 2:
                raise SessionError(f'previous terminated container "{req.container}" in pod "{req.name}" '
                                   "not found")
            target = hist[1]
        else:
            if not hist:
                raise SessionError(f'container "{req.container}" in pod "{req.name}" is waiting to start: '
                                   f"{self._waiting_reason(pod, req.container)}")
            target = hist[0]
        path = target.log_path
        rt = self.runtime

        async def running() -> bool:
            cs = await rt.container_status(target.id)
            return cs is not None and cs.state == "running"

        async for chunk in read_log(path, LogOptions.from_request(req), time.time(),
                                    running if req.follow else None):
            self._send(api_pb2.TunnelFrame(session=sid, stdout=chunk))
        self._send(api_pb2.TunnelFrame(session=sid, close=True))

    # ------------------------------------------------------------------ exec
    async def _exec_session(self, sid: str, req: api_pb2.ExecRequest) -> None:
        pod = self._pod(req.namespace, req.name)
        hist = await self._history(pod, req.container)
        if not hist or hist[0].state != "running":
            raise SessionError(f'unable to upgrade connection: container not found ("{req.container}")')
        if not req.command:
            raise SessionError("you must specify at least one command for the container")
        try:
            session = await self.runtime.exec(hist[0].id, list(req.command), stdin=req.stdin, tty=req.tty)
        except RuntimeError_ as e:
            raise SessionError(e.message) from None
        inbox = self._exec.get(sid) or asyncio.Queue()

        async def pump_in():
            while True:
                msg = await inbox.get()
                if msg.stdinData:
                    await session.write_stdin(msg.stdinData)
                if msg.HasField("resize"):
                    await session.resize(msg.resize.width, msg.resize.height)
                if msg.stdinClose:
                    await session.close_stdin()

        async def pump_out():
            async for stream, data in session.output():
                for i in range(0, len(data), CHUNK):
                    part = data[i:i + CHUNK]
                    frame = api_pb2.TunnelFrame(session=sid)
                    if stream == "stderr":
                        frame.stderr = part
                    else:
                        frame.stdout = part
                    self._send(frame)

        feeder = asyncio.ensure_future(pump_in())
        try:
            await pump_out()
            code = await session.wait()
        except asyncio.CancelledError:
            await session.kill()
            raise
        finally:
            feeder.cancel()
        self._send(api_pb2.TunnelFrame(session=sid, exitCode=code))

    # ------------------------------------------------------------------ port forwarding
    async def _port_forward_session(self, sid: str, req: api_pb2.PortForwardRequest) -> None:
        """A TCP connection to the pod's port at its IP (the node reaches its pods there), its bytes
        carried both ways until either side closes."""
        pod = self._pod(req.namespace, req.name)
        host = pod.status.podIP or "127.0.0.1"
        try:
            reader, writer = await asyncio.open_connection(host, req.port)
        except OSError as e:
            raise SessionError(f"error forwarding port {req.port} to pod {req.name}: failed to connect to "
                               f"{host}:{req.port}: {e.strerror or e}") from None
        inbox = self._exec.get(sid) or asyncio.Queue()

        async def pump_in():
            msg = req
            while True:
                if msg.data:
                    writer.write(msg.data)
                    await writer.drain()
                if msg.close:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                msg = await inbox.get()

        feeder = asyncio.ensure_future(pump_in())
        try:
            while data := await reader.read(CHUNK):
                self._send(api_pb2.TunnelFrame(session=sid, stdout=data))
        finally:
            feeder.cancel()
            writer.close()
        self._send(api_pb2.TunnelFrame(session=sid, close=True))
