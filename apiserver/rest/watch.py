"""Watch over HTTP: `?watch=1&resourceVersion=RV` answers a chunked stream of JSON events, one per
line, from the registry's watch hub (the same window, resume and Expired rules as gRPC). Bookmarks
when asked for; an expired resourceVersion is an ERROR event carrying a 410 Expired Status, as upstream."""
from __future__ import annotations

import asyncio
import json

from aiohttp import web

from minik8s.api.errors import ApiError, BadRequest, Expired
from minik8s.api.kinds import KINDS
from minik8s.api.pb import api_pb2

from apiserver.registry import Registry
from apiserver.rest import tables
from apiserver.rest.status import from_error
from apiserver.rest.target import Target, to_json
from apiserver.server import _selectors


def _from_rv(text: str) -> int | None:
    if text in ("", "0"):
        return None
    if not text.isdigit():
        raise BadRequest(f'invalid resource version "{text}"')
    return int(text)


async def watch(request, t: Target, registry: Registry, bookmark_interval: float) -> web.StreamResponse:
    q = request.query
    ls, fs = _selectors(t.info.kind, q.get("labelSelector", ""), q.get("fieldSelector", ""))
    if t.name:      # a watch on one object's URL: upstream's legacy form, a name field selector
        from minik8s.api import selectors
        fs = selectors.parse_field_selector(",".join(filter(None, [f"metadata.name={t.name}",
                                                                      q.get("fieldSelector", "")])))
    from_rv = _from_rv(q.get("resourceVersion", ""))
    timeout = q.get("timeoutSeconds", "")
    if timeout and not timeout.isdigit():
        raise BadRequest(f'invalid timeoutSeconds "{timeout}"')
    bookmarks = q.get("allowWatchBookmarks", "").lower() in ("true", "1")
    as_table = tables.wants_table(request.headers.get("Accept", ""))
    include = q.get("includeObject", "")
    resp = web.StreamResponse(headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    try:
        watcher = registry.watch(t.info, t.namespace, ls, fs, from_rv)
    except ApiError as e:
        await resp.prepare(request)
        await resp.write(_line({"type": "ERROR", "object": from_error(e)}))
        return resp
    await resp.prepare(request)
    deadline = asyncio.get_running_loop().time() + int(timeout) if timeout else None
    headers = True

    def event(type_: str, info, raw: bytes) -> bytes:
        nonlocal headers
        version = t.version if info is t.info else ""
        if as_table:
            obj = tables.table(info, [info.message.FromString(raw)], registry.clock.now(), include, version,
                               headers=headers)
            headers = False
        else:
            obj = to_json(info, raw, version)
        return _line({"type": type_, "object": obj})

    try:
        while True:
            wait = bookmark_interval if bookmarks else None
            if deadline is not None:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                wait = left if wait is None else min(wait, left)
            try:
                item = await asyncio.wait_for(watcher.queue.get(), wait)
            except asyncio.TimeoutError:
                if bookmarks:
                    await resp.write(_line({"type": "BOOKMARK", "object": _bookmark(t, registry.rv)}))
                continue
            if item is watcher.CLOSED:
                if watcher.expired:     # cut off for falling behind: the client lists again
                    await resp.write(_line({"type": "ERROR", "object": from_error(Expired(watcher.expired))}))
                break
            out = []
            for ev in api_pb2.WatchResponse.FromString(item).events:
                out.append(event(ev.type, KINDS[ev.kind], ev.object))
            await resp.write(b"".join(out))
    except ConnectionResetError:
        pass
    finally:
        registry.hub.unsubscribe(watcher)
    return resp


def _bookmark(t: Target, rv: int) -> dict:
    return {"kind": t.info.kind, "apiVersion": t.api_version, "metadata": {"resourceVersion": str(rv)}}


def _line(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"
