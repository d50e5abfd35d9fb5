"""Calls that arrive faster than the API server's loop takes them wait their turn: none is dropped.

gRPC core keeps the calls the server has not taken yet and, past its default backlog (1,000 waiting,
all arrivals past 3,000, any waiting over 30 s), cancels them: the caller got CANCELLED with nothing
logged on either side. A thousand kubelets on a busy server pass that, as a burst from one client does."""
from __future__ import annotations

import asyncio

BURST = 4_000


async def test_a_burst_of_calls_beyond_the_default_backlog_is_served_not_cancelled(admin):
    async def get():
        return (await admin.get("Namespace", "default")).metadata.name

    outcomes = await asyncio.gather(*(get() for _ in range(BURST)), return_exceptions=True)
    failed = [repr(o) for o in outcomes if isinstance(o, BaseException)]
    assert failed == [], f"{len(failed)} of {BURST} calls failed, e.g. {failed[:3]}"
    assert outcomes.count("default") == BURST
