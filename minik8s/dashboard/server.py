"""The dashboard's HTTP side (aiohttp, loopback only): the page and its modules, `/events` (server-sent
events: a snapshot, then batches of changes) and `/api/decision/NAMESPACE/NAME` (a pod's scheduling
decision). Every request needs a bearer token the API server accepts, as the `Authorization` header, as
`?token=` (once: it becomes an HttpOnly cookie and leaves the address bar) or as that cookie; without
one the answer is 401 and no part of the page. Tokens are checked by the API server itself (Version),
never here, and each opens a feed of its own, stopped a while after its last page went away."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Callable

from aiohttp import web

from minik8s.api.errors import ApiError, Unauthenticated
from minik8s.dashboard.feed import END, RESYNC, Feed

log = logging.getLogger("minik8s.dashboard")

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
HEARTBEAT_S = 15.0      # an idle event stream sends a comment this often, so proxies keep it open
FEED_IDLE_S = 60.0      # a feed no page has listened to for this long stops its watches

FEED = web.RequestKey("feed", Feed)      # the request's feed, set once its token is accepted
UNAUTHORIZED = "401: Unauthorized: open the address `minictl dashboard` printed, or send a bearer token\n"


class Feeds:
    """A feed per token the API server accepted; `connect(token)` makes the API client for one."""

    def __init__(self, connect: Callable):
        self.connect = connect
        self._feeds: dict[str, asyncio.Future] = {}      # token -> its feed being opened, or opened
        self._idle_since: dict[str, float] = {}

    def _opened(self, token: str) -> Feed | None:
        fut = self._feeds.get(token)
        return fut.result() if fut is not None and fut.done() and not fut.cancelled() and not fut.exception() \
            else None

    async def get(self, token: str) -> Feed | None:
        """The token's feed, opened on first use; None when the API server does not accept the token."""
        feed = self._opened(token)
        if feed is not None:
            # asked again at every request, so a token taken off the server stops working here too
            if await _accepted(feed.client):
                return feed
            await self._drop(token)
            return None
        fut = self._feeds.get(token)
        if fut is None:
            fut = self._feeds[token] = asyncio.ensure_future(self._open(token))
        try:
            feed = await asyncio.shield(fut)
        finally:
            if self._feeds.get(token) is fut and self._opened(token) is None and fut.done():
                del self._feeds[token]     # refused or failed: the next request asks the server again
        return feed

    async def _open(self, token: str) -> Feed | None:
        client = self.connect(token)
        try:
            version = await client.version()
        except BaseException as e:
            await client.close()
            if isinstance(e, Unauthenticated):
                return None
            raise
        feed = Feed(client)
        feed.user = version.user
        await feed.start()
        return feed

    async def _drop(self, token: str) -> None:
        feed = self._opened(token)
        self._feeds.pop(token, None)
        self._idle_since.pop(token, None)
        if feed is not None:
            await _close(feed)

    async def sweep(self) -> None:
        """Stop the feeds no page has listened to for FEED_IDLE_S."""
        now = time.monotonic()
        for token in list(self._feeds):
            feed = self._opened(token)
            if feed is None:
                continue
            if feed.pages:
                self._idle_since.pop(token, None)
            elif now - self._idle_since.setdefault(token, now) >= FEED_IDLE_S:
                await self._drop(token)

    async def close(self) -> None:
        for token in list(self._feeds):
            fut = self._feeds[token]
            if not fut.done():
                fut.cancel()
            await self._drop(token)


async def _accepted(client) -> bool:
    try:
        await client.version()
    except Unauthenticated:
        return False
    return True


async def _close(feed: Feed) -> None:
    feed.end_pages()
    await feed.stop()
    await feed.client.close()


def _cookie(request) -> str:
    # cookies are shared by every port of a host: the name carries the port
    return f"minik8s-dashboard-{request.url.port}"


def _token(request) -> str:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer "):].strip()
    return request.query.get("token") or request.cookies.get(_cookie(request), "")


def _auth(feeds: Feeds):
    @web.middleware
    async def middleware(request, handler):
        if request.url.host not in LOOPBACK_HOSTS:
            # a page of another site whose name resolves here (DNS rebinding) reads nothing
            return web.Response(status=403, text="403: Forbidden: the dashboard answers on loopback only\n")
        token = _token(request)
        try:
            feed = await feeds.get(token) if token else None
        except (ApiError, OSError, asyncio.TimeoutError) as e:
            return web.Response(status=503, text=f"503: the API server did not answer: {e}\n")
        if feed is None:
            return web.Response(status=401, text=UNAUTHORIZED,
                                headers={"WWW-Authenticate": 'Bearer realm="minik8s dashboard"'})
        if "token" in request.query:
            resp = web.HTTPSeeOther(request.rel_url.with_query({k: v for k, v in request.query.items()
                                                                if k != "token"}))
            resp.set_cookie(_cookie(request), token, httponly=True, samesite="Strict")
            raise resp
        request[FEED] = feed
        return await handler(request)
    return middleware


def _sse(event: str, data) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def index(request):
    return web.FileResponse(os.path.join(STATIC, "index.html"), headers={"Cache-Control": "no-store"})


async def events(request):
    """The page's stream: a snapshot, then each batch of changes queued since the last write."""
    feed = request[FEED]
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    queue = feed.subscribe()
    try:
        await resp.write(_sse("snapshot", feed.snapshot()))
        while True:
            try:
                first = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
            except asyncio.TimeoutError:
                await resp.write(b": keep-alive\n\n")
                continue
            batch = [first]
            while not queue.empty():
                batch.append(queue.get_nowait())
            if any(c is END for c in batch):
                break
            if any(c is RESYNC for c in batch):
                await resp.write(_sse("snapshot", feed.snapshot()))
            else:
                await resp.write(_sse("changes", batch))
    except ConnectionResetError:        # the page went away: its stream ends here
        pass
    finally:
        feed.unsubscribe(queue)
    return resp


async def decision(request):
    record = request[FEED].decision(request.match_info["namespace"], request.match_info["name"])
    if record is None:
        return web.json_response({"message": "no scheduling decision recorded"}, status=404)
    return web.json_response(record)


def build_app(feeds: Feeds) -> web.Application:
    app = web.Application(middlewares=[_auth(feeds)])
    app.router.add_get("/", index)
    app.router.add_get("/events", events)
    app.router.add_get("/api/decision/{namespace}/{name}", decision)
    app.router.add_static("/static/", STATIC)
    return app


async def serve(connect: Callable, port: int, on_ready: Callable[[int], None]) -> None:
    """Serve on 127.0.0.1:`port` (0: a free one) until cancelled; `on_ready(port)` once listening."""
    feeds = Feeds(connect)
    runner = web.AppRunner(build_app(feeds), access_log=None, handle_signals=False, handler_cancellation=True,
                           shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, reuse_address=False)
    await site.start()
    on_ready(site._server.sockets[0].getsockname()[1])
    try:
        while True:
            await asyncio.sleep(FEED_IDLE_S / 4)
            await feeds.sweep()
    finally:
        await feeds.close()
        await runner.cleanup()
