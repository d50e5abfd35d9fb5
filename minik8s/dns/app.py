"""The DNS component put together: informers on Services, Endpoints and Pods feeding a `ClusterZone`,
a `Forwarder` to the host's resolvers, and a `DNSServer` listening on the addresses it is given."""
from __future__ import annotations

import logging

from minik8s.client.informer import SharedInformerFactory

from minik8s.dns.forward import DEFAULT_TIMEOUT, Forwarder, nameservers
from minik8s.dns.records import ClusterZone
from minik8s.dns.server import DNSServer

log = logging.getLogger("minik8s.dns")


class ClusterDNS:
    def __init__(self, client, domain: str = "cluster.local", upstreams: list[str] | None = None,
                 upstream_port: int = 53, resolv_conf: str = "/etc/resolv.conf",
                 upstream_timeout: float = DEFAULT_TIMEOUT, own_addresses: tuple[str, ...] = ()):
        self.factory = SharedInformerFactory(client)
        self.zone = ClusterZone(self.factory.informer("Service"), self.factory.informer("Endpoints"),
                                self.factory.informer("Pod"), domain)
        servers = nameservers(resolv_conf) if upstreams is None else upstreams
        self.forwarder = Forwarder(servers, upstream_port, upstream_timeout, exclude=own_addresses)
        self.server = DNSServer(self.zone, self.forwarder)

    async def start(self, cache_timeout: float | None = 60.0) -> None:
        """Informers started and synced: no answer is given from an empty cache."""
        await self.factory.start_all()
        if not await self.factory.wait_for_cache_sync(cache_timeout):
            raise TimeoutError("the DNS server's caches did not sync")
        log.info("cluster zone %s ready; forwarding other names to %s", self.zone.domain,
                 ", ".join(self.forwarder.servers) or "nobody (SERVFAIL)")

    async def listen(self, host: str, port: int) -> int:
        return await self.server.listen(host, port)

    async def close(self) -> None:
        self.server.close()
        await self.factory.stop_all()
