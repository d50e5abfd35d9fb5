"""`python -m minik8s.dns --home HOME --token-file FILE [--cluster-ip IP] [--listen ADDR]...`

The cluster DNS server. The server address and CA come from HOME/config.yaml, the bearer token from
--token-file. With --cluster-ip it puts that address on its own interface (root) and serves it on
--port (53); --listen adds addresses (127.0.0.1 for the host itself). SIGTERM or SIGINT stops it and
removes its interface."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

log = logging.getLogger("minik8s.dns")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m minik8s.dns", description="minik8s cluster DNS")
    p.add_argument("--home", help="cluster home (default $MINIK8S_HOME or ~/.minik8s)")
    p.add_argument("--token-file", help="file holding this component's bearer token")
    p.add_argument("--server", help="API server address (default: from HOME/config.yaml)")
    p.add_argument("--cluster-domain", default="cluster.local", help="the cluster zone (default cluster.local)")
    p.add_argument("--cluster-ip", help="the kube-dns Service's ClusterIP, held on an interface of our own")
    p.add_argument("--listen", action="append", default=[], help="another address to serve (repeatable)")
    p.add_argument("--port", type=int, default=53, help="UDP and TCP port (default 53)")
    p.add_argument("--resolv-conf", default="/etc/resolv.conf", help="where the upstream resolvers are read")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p.parse_args(argv)


async def _main(args) -> int:
    from minik8s.client.aio import AsyncClient
    from minik8s.client.config import ClientConfig, home_dir
    from minik8s.dns import address
    from minik8s.dns.app import ClusterDNS

    home = os.path.abspath(home_dir(args.home))
    client = AsyncClient(config=ClientConfig.for_component(home, args.token_file, args.server))
    hosts = ([args.cluster_ip] if args.cluster_ip else []) + args.listen
    dns = ClusterDNS(client, args.cluster_domain, resolv_conf=args.resolv_conf, own_addresses=tuple(hosts))
    ifname = address.dns_iface(home)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        if args.cluster_ip:
            await asyncio.to_thread(address.hold, ifname, args.cluster_ip)
        while not stop.is_set():
            try:
                await dns.start()
                break
            except TimeoutError:
                log.warning("still waiting for the API server to list services, endpoints and pods")
        for host in hosts:
            await dns.listen(host, args.port)
        await stop.wait()
    finally:
        await dns.close()
        await client.close()
        if args.cluster_ip:
            await asyncio.to_thread(address.release, ifname)
    return 0


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
