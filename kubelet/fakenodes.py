"""Many fake nodes in one process (`python -m kubelet --fake-nodes 1000`, `minictl up --nodes 1000
--runtime fake`), for the scale and scheduler benchmarks.

Each node is a whole Kubelet with the fake runtime and its own identity (its token from
HOME/pki/node-<i>.token, as `minictl up` writes them), so the API server authorizes every node's
writes as that node's. What they share is what would otherwise multiply by N: one gRPC channel (each
node sends its own token on it) and one pod informer over all pods, whose events this host routes to
the kubelet of the pod's node (and one service informer, for the service env vars).

Idle nodes should cost next to nothing, as KWOK's do. So the host drives the relist and log shipping
of all its nodes from one task each, over the nodes that have something to look at (instead of every
node waking twice a second to find nothing): a node leaves that set once quiet with no pod and no pod
worker, and a pod event for it brings it back. It spreads the nodes' lease renewals and status ticks
evenly over the period, so that they do not reach the API server all at once after a start. The
renewals that fall due in the same quarter second go out in one call, each as its own node
(kubelet/lease_batch.py): one unary call per node every 10 s would cost more than all the rest."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from minik8s.client.informer import Informer

from kubelet import config as kconfig
from kubelet.agent import Kubelet, add_uid_index
from kubelet.app import make_runtime, read_token, token_file_for
from kubelet.lease_batch import LeaseBatcher
from kubelet.logshipper import PERIOD as LOG_SHIPPING_PERIOD

log = logging.getLogger("kubelet.fakenodes")


class FakeNodeHost:
    def __init__(self, home: str, names: list[str], config_path: str | None = None, clock=None,
                 base_client=None, tokens: dict[str, str] | None = None, start_concurrency: int = 50):
        from minik8s.client.aio import AsyncClient
        from minik8s.client.config import ClientConfig
        self.home = home
        self.names = names
        self.start_concurrency = start_concurrency
        tokens = tokens or {n: read_token(token_file_for(home, n)) for n in names}
        if base_client is None:
            cc = ClientConfig.load(home)
            base_client = AsyncClient(cc.server, tokens[names[0]], cc.ca_file)
        self._own_client = base_client
        reader = base_client.with_token(tokens[names[0]])
        self.informer = Informer(reader, "Pod", clock=clock)
        self.services = Informer(reader, "Service", clock=clock)
        add_uid_index(self.informer)
        self.leases = LeaseBatcher(reader)
        self.kubelets: dict[str, Kubelet] = {}
        self._active: set[Kubelet] = set()      # the nodes the relists and log shipping look at
        self._tasks: list[asyncio.Task] = []
        configs = kconfig.load_all(home, names, config_path, "fake")
        for i, name in enumerate(names):
            cfg, settings = configs[name]
            cfg.runtime = "fake"
            cfg.pod_cidr = cfg.pod_cidr or kconfig.default_pod_cidr("fake", cfg.index)
            runtime = make_runtime("fake", home, name, cfg.pod_cidr, settings, clock)
            k = self.kubelets[name] = Kubelet(base_client.with_token(tokens[name]), runtime, cfg, home, settings,
                                              clock=clock, informer=self.informer, services=self.services,
                                              address="127.0.0.1", hosted=True)
            k.node_status.heartbeat_offset = settings.lease_renew_period * i / len(names)
            k.node_status.update_lease = self.leases.updater(tokens[name])
        self.informer.add_event_handler(on_add=self._route, on_update=lambda old, new: self._route(new),
                                        on_delete=self._route_delete)

    def _route(self, pod) -> None:
        k = self.kubelets.get(pod.spec.nodeName)
        if k is not None:
            self._active.add(k)
            k.on_pod(pod)

    def _route_delete(self, pod) -> None:
        k = self.kubelets.get(pod.spec.nodeName)
        if k is not None:
            self._active.add(k)
            k.on_pod_deleted(pod)

    async def start(self) -> None:
        await self.services.start()
        await self.informer.start()
        sem = asyncio.Semaphore(self.start_concurrency)

        async def start_one(k: Kubelet):
            async with sem:
                await k.start()

        await asyncio.gather(*(start_one(k) for k in self.kubelets.values()))
        self._active.update(self.kubelets.values())     # each looked at once, whatever its runtime kept
        any_node = next(iter(self.kubelets.values()), None)
        if any_node is not None:
            self._tasks = [
                # the paces each loop keeps in a kubelet of its own: relists on real time, shipping on the clock
                asyncio.create_task(self._every(any_node.settings.pleg_period, Kubelet.relist_turn, asyncio.sleep),
                                    name="relists"),
                asyncio.create_task(self._every(LOG_SHIPPING_PERIOD, lambda k, _n: k.logshipper.ship_once(),
                                                any_node.clock.sleep), name="log-shipping")]
        log.info("%d fake nodes started", len(self.kubelets))

    async def _every(self, period: float, turn: Callable[[Kubelet, int], Awaitable],
                     sleep: Callable[[float], Awaitable]) -> None:
        """`turn(kubelet, n)` for every active node that is not quiet, then `sleep(period)`, forever."""
        n = 0
        while True:
            for k in list(self._active):
                if k.quiet():
                    # nothing can start a container on it now but a pod event, which brings it back
                    if not k.my_pods() and not k.workers.workers:
                        self._active.discard(k)
                    continue
                try:
                    await turn(k, n)
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    log.warning("node %s: %s", k.node_name, e)
            n += 1
            await sleep(period)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(k.stop() for k in self.kubelets.values()), return_exceptions=True)
        await self.leases.stop()
        await self.informer.stop()
        await self.services.stop()
        await self._own_client.close()
