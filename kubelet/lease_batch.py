"""The lease renewals of the many nodes one process hosts (kubelet/fakenodes.py), sent together.

Each hosted node keeps its own lease loop, its own slot in the renewal period and its own Lease, as a
kubelet of its own does; only the write differs. Instead of one Update call per node, a renewal joins
the renewals that fall due within the same short slot (SLOT, real time: it is a transport delay, not a
lease timing), and the slot's renewals go out in one UpdateLeases call (apiserver/lease_batch.py),
each as its node's identity and with its node's resourceVersion. Each node gets its own answer: its
new resourceVersion, or the error of its own update (a Conflict drops that node's cached Lease, as
after an Update). So N nodes renewing every 10 s cost 4 calls a second instead of N / 10, and, spread
over their slots as the host spreads them, never arrive as a herd."""
from __future__ import annotations

import asyncio
import functools
import logging

from minik8s.api.pb import coordination_pb2

log = logging.getLogger("kubelet.lease_batch")

SLOT = 0.25             # seconds a renewal waits for others to go out with it
MAX_ITEMS = 2000        # the most one call may carry (the API server's limit)


class LeaseBatcher:
    def __init__(self, client, slot: float = SLOT):
        """`client`: any identity's client on the host's channel (each renewal carries its node's token)."""
        self.client = client
        self.slot = slot
        self._due: list[tuple[str, coordination_pb2.Lease, asyncio.Future]] = []
        self._sender: asyncio.Task | None = None
        self._sending = 0               # calls on their way

    def updater(self, token: str):
        """The `update_lease` of one node (NodeStatusManager): its renewals, sent with its token."""
        return functools.partial(self.update, token)

    async def update(self, token: str, lease: coordination_pb2.Lease) -> coordination_pb2.Lease:
        """Update `lease` as `token`'s identity in the next batch; returns it with its new
        resourceVersion, or raises the error of its own update."""
        fut = asyncio.get_running_loop().create_future()
        self._due.append((token, lease, fut))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_slot(), name="lease-batch")
        lease.metadata.resourceVersion = await fut
        return lease

    async def _send_slot(self) -> None:
        await asyncio.sleep(self.slot)
        due, self._due, self._sender = self._due, [], None
        for start in range(0, len(due), MAX_ITEMS):
            await self._send(due[start:start + MAX_ITEMS])

    async def _send(self, items) -> None:
        self._sending += 1
        try:
            outcomes = await self.client.update_leases([(token, lease) for token, lease, _ in items])
        except asyncio.CancelledError:
            raise
        except Exception as e:          # the call failed as a whole: every renewal in it did
            outcomes = [e] * len(items)
        finally:
            self._sending -= 1
        for (_, _, fut), outcome in zip(items, outcomes):
            if fut.done():              # its node stopped waiting
                continue
            if isinstance(outcome, Exception):
                fut.set_exception(outcome)
            else:
                fut.set_result(outcome)

    def idle(self) -> bool:
        """No renewal waiting for its slot or for its answer."""
        return not self._due and not self._sending

    async def stop(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
        for _, _, fut in self._due:
            fut.cancel()
        self._due = []
