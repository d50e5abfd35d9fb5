"""`pods/log` and `pods/exec` over HTTP, through the same node tunnels as gRPC (apiserver/tunnel.py).

Exec speaks the WebSocket remote-command protocol kubectl 1.32 uses (`v5.channel.k8s.io`, and v4):
each binary message starts with its channel, 0 stdin, 1 stdout, 2 stderr, 3 the closing Status, 4 a
terminal resize, and (v5) 255 closes a channel, which ends stdin. SPDY is not served; a request that is
not a WebSocket upgrade gets 400."""
from __future__ import annotations

import asyncio
import json

from aiohttp import WSMsgType, web

from minik8s.api.errors import BadRequest, NotFound
from minik8s.api.pb import api_pb2

from apiserver.registry import Registry
from apiserver.rest.status import SUCCESS
from apiserver.rest.target import Target
from apiserver.server import pod_container
from apiserver.tunnel import TunnelRegistry

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def _int(request, name: str) -> int | None:
    v = request.query.get(name)
    if v is None:
        return None
    try:
        return int(v)
    except ValueError:
        raise BadRequest(f'invalid {name} "{v}"') from None


def _flag(request, name: str) -> bool:
    return request.query.get(name, "false").lower() in ("true", "1")


async def logs(request, t: Target, registry: Registry, tunnels: TunnelRegistry) -> web.StreamResponse:
    if t.info.kind != "Pod":
        raise NotFound("the server could not find the requested resource")
    pod, container = pod_container(registry, t.namespace, t.name, request.query.get("container", ""))
    req = api_pb2.LogsRequest(namespace=pod.metadata.namespace, name=t.name, container=container,
                              follow=_flag(request, "follow"), previous=_flag(request, "previous"),
                              timestamps=_flag(request, "timestamps"))
    for field in ("tailLines", "sinceSeconds", "limitBytes"):
        v = _int(request, field)
        if v is not None:
            setattr(req, field, v)
    tunnel, sid, q = tunnels.open(pod.spec.nodeName, api_pb2.TunnelFrame(logs=req))
    ended = False
    resp = None
    try:
        while True:
            frame = await q.get()
            if frame.error and resp is None:
                ended = True
                raise BadRequest(frame.error)
            if frame.stdout:
                if resp is None:
                    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
                    await resp.prepare(request)
                await resp.write(frame.stdout)
            if frame.close or frame.error:
                ended = True
                break
    finally:
        tunnels.finish(tunnel, sid, notify=not ended)
    if resp is None:
        return web.Response(text="", content_type="text/plain")
    return resp


async def exec_(request, t: Target, ident, registry: Registry, tunnels: TunnelRegistry) -> web.StreamResponse:
    if t.info.kind != "Pod":
        raise NotFound("the server could not find the requested resource")
    command = request.query.getall("command", [])
    if not command:
        raise BadRequest("you must specify at least one command for the container")
    pod, container = pod_container(registry, t.namespace, t.name, request.query.get("container", ""))
    ws = web.WebSocketResponse(protocols=PROTOCOLS)
    if not ws.can_prepare(request).ok:
        raise BadRequest("Upgrade request required: minik8s serves exec over WebSocket "
                         f"({', '.join(PROTOCOLS)}) only")
    await ws.prepare(request)
    first = api_pb2.ExecRequest(namespace=pod.metadata.namespace, name=t.name, container=container,
                                command=command, stdin=_flag(request, "stdin"), tty=_flag(request, "tty"))
    try:
        tunnel, sid, q = tunnels.open(pod.spec.nodeName, api_pb2.TunnelFrame(exec=first))
    except Exception as e:  # noqa: BLE001 - after the upgrade an error travels on the error channel
        await _finish(ws, {**SUCCESS, "status": "Failure", "message": str(e), "reason": "InternalError"})
        return ws

    async def pump_stdin():
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            ch, data = msg.data[0], msg.data[1:]
            if ch == STDIN and data:
                frame = api_pb2.ExecRequest(stdinData=data)
            elif ch == RESIZE:
                size = json.loads(data or b"{}")
                frame = api_pb2.ExecRequest(resize=api_pb2.TerminalSize(width=int(size.get("Width", 0)),
                                                                       height=int(size.get("Height", 0))))
            elif ch == CLOSE and data[:1] == bytes([STDIN]):
                frame = api_pb2.ExecRequest(stdinClose=True)
            else:
                continue
            tunnel.outgoing.put_nowait(api_pb2.TunnelFrame(session=sid, exec=frame))

    pump = asyncio.create_task(pump_stdin())
    ended = False
    try:
        while True:
            frame = await q.get()
            if frame.stdout:
                await ws.send_bytes(bytes([STDOUT]) + frame.stdout)
            if frame.stderr:
                await ws.send_bytes(bytes([STDERR]) + frame.stderr)
            if frame.error and not frame.HasField("exitCode"):
                ended = True
                await _finish(ws, {**SUCCESS, "status": "Failure", "message": frame.error, "reason": "InternalError"})
                break
            if frame.HasField("exitCode"):
                ended = True
                await _finish(ws, _exit_status(frame.exitCode))
                break
            if frame.close:
                ended = True
                await _finish(ws, SUCCESS)
                break
    except ConnectionResetError:
        pass
    finally:
        pump.cancel()
        tunnels.finish(tunnel, sid, notify=not ended)
    return ws


def _exit_status(code: int) -> dict:
    if code == 0:
        return SUCCESS
    return {**SUCCESS, "status": "Failure", "reason": "NonZeroExitCode",
            "message": f"command terminated with non-zero exit code: exit status {code}",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


async def _finish(ws: web.WebSocketResponse, status: dict) -> None:
    await ws.send_bytes(bytes([ERROR]) + json.dumps(status).encode())
    await ws.close()
