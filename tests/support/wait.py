"""The one way a test waits for state: poll a predicate with a deadline (async and sync variants).

A predicate returns something truthy once the state is there; that value is handed back, so a wait
can also fetch what it waited for. On timeout the AssertionError names what was awaited and the last
value seen. Never sleep a fixed time to let something happen: wait on what shows it happened."""
from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

DEFAULT_TIMEOUT = 30.0


def _timed_out(what: str, timeout: float, last: Any) -> AssertionError:
    return AssertionError(f"{what} not reached within {timeout:g} s (last: {last!r})")


async def wait_for(predicate: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT, what: str = "condition",
                   interval: float = 0.01, tick: Callable[[], None] | None = None,
                   ignoring: tuple[type[BaseException], ...] = ()) -> Any:
    """Poll `predicate` (a plain or coroutine function) until it returns something truthy, which is
    returned. `tick` runs between polls (to advance a fake clock); exceptions in `ignoring` (NotFound
    while an object is still being made) count as a falsy answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            last = predicate()
            if asyncio.iscoroutine(last):
                last = await last
        except ignoring as e:
            last = e
        else:
            if last:
                return last
        if loop.time() > deadline:
            raise _timed_out(what, timeout, last)
        if tick is not None:
            tick()
        await asyncio.sleep(interval)


def wait_for_sync(predicate: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT, what: str = "condition",
                  interval: float = 0.02, ignoring: tuple[type[BaseException], ...] = ()) -> Any:
    """`wait_for` for plain code (CLI and process tests): poll `predicate` until truthy."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            last = predicate()
        except ignoring as e:
            last = e
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise _timed_out(what, timeout, last)
        time.sleep(interval)
