"""The REST port listens from the API server's start and builds its front end at the first
connection: the connections that arrive before it is built, plain or still in their TLS handshake
when it is, are all answered."""
from __future__ import annotations

import asyncio

import aiohttp

from rest_support import rest_url, ssl_context

FIRST = 30


async def test_the_first_connections_all_get_answers(srv):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_context(srv), limit=0)) as http:
        async def version(i: int):
            headers = {"Authorization": f"Bearer {srv.tokens['admin']}"} if i % 2 else {}
            async with http.get(f"{rest_url(srv)}/version", headers=headers,
                                timeout=aiohttp.ClientTimeout(total=60)) as r:
                return r.status, (await r.json())["major"]

        answers = await asyncio.gather(*(version(i) for i in range(FIRST)))
    assert answers == [(200, "1")] * FIRST
