"""`python -m minik8s.proxy --home HOME --node-name NODE --token-file FILE`

The service proxy of one node. The server address and CA come from HOME/config.yaml, the bearer token
from --token-file (a node's identity may read everything the proxy reads). SIGTERM or SIGINT stops it:
a standby proxy of the same cluster on this host (if any) is handed its listening sockets and serves
them before this one stops accepting; open connections finish; without a successor the cluster IP
interface is removed."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m minik8s.proxy", description="minik8s service proxy")
    p.add_argument("--home", help="cluster home (default $MINIK8S_HOME or ~/.minik8s)")
    p.add_argument("--node-name", default="", help="the node this proxy runs for (logs only)")
    p.add_argument("--token-file", help="file holding this component's bearer token")
    p.add_argument("--server", help="API server address (default: from HOME/config.yaml)")
    p.add_argument("--nodeport-addresses", default="127.0.0.1",
                   help="comma-separated addresses NodePorts listen on (default 127.0.0.1; 0.0.0.0 = all)")
    p.add_argument("--no-cluster-ips", action="store_true", help="serve NodePorts only")
    p.add_argument("--iface", help="the interface holding cluster IPs (default mk8s-s<hash of HOME>)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    # `minictl up` hands the proxy its node's kubelet flags: those meant for the kubelet alone are ignored
    args, args.ignored = p.parse_known_args(argv)
    return args


async def _main(args) -> int:
    from minik8s.client.aio import AsyncClient
    from minik8s.client.config import ClientConfig, home_dir
    from minik8s.client.hostaddr import iface_name_for
    from minik8s.proxy.hostnet import api_server_endpoint
    from minik8s.proxy.proxier import ServiceProxy

    home = os.path.abspath(home_dir(args.home))
    cfg = ClientConfig.for_component(home, args.token_file, args.server)
    client = AsyncClient(config=cfg)
    addresses = tuple(a.strip() for a in args.nodeport_addresses.split(",") if a.strip())
    proxy = ServiceProxy(client, args.node_name, nodeport_addresses=addresses,
                         cluster_ips=not args.no_cluster_ips, iface=args.iface or iface_name_for(home, "s"),
                         lock_path=os.path.join(home, "run", "proxy.lock"),
                         api_server=api_server_endpoint(home, cfg.server))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, proxy.stop)
    if args.ignored:
        logging.getLogger("minik8s.proxy").info("ignoring kubelet flags: %s", " ".join(args.ignored))
    logging.getLogger("minik8s.proxy").info("service proxy starting: node %s, server %s, node ports on %s",
                                            args.node_name or "-", cfg.server,
                                            ",".join(addresses) or "nothing")
    try:
        await proxy.run()
    finally:
        await client.close()
    return 0


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
