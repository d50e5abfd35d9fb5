"""`python -m apiserver`: run the API server until SIGTERM/SIGINT."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from apiserver.auth import TokenAuthenticator
from apiserver.registry import Registry
from apiserver.server import serve
from apiserver.storage import SQLiteStorage


def main(argv=None) -> int:
    home = os.environ.get("MINIK8S_HOME", os.path.expanduser("~/.minik8s"))
    p = argparse.ArgumentParser(prog="apiserver", description="minik8s API server")
    p.add_argument("--home", default=home, help="state directory (default $MINIK8S_HOME or ~/.minik8s)")
    p.add_argument("--address", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=6443, help="listen port; 0 picks a free one")
    p.add_argument("--data", help="SQLite file (default HOME/data/state.db)")
    p.add_argument("--token-file", help="static token CSV (default HOME/pki/tokens.csv)")
    p.add_argument("--tls-cert-file")
    p.add_argument("--tls-private-key-file")
    p.add_argument("--port-file", help="write the bound port here once serving")
    p.add_argument("--watch-window", type=int, default=20_000, help="changes kept for watch resume")
    p.add_argument("--service-cluster-ip-range", default="10.96.0.0/16", help="ClusterIP range")
    p.add_argument("--bookmark-interval", type=float, default=60.0, help="seconds between watch bookmarks")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data = args.data or os.path.join(args.home, "data", "state.db")
    tokens = args.token_file or os.path.join(args.home, "pki", "tokens.csv")
    if not os.path.exists(tokens):
        print(f"apiserver: token file {tokens} not found (minictl up creates it)", file=sys.stderr)
        return 1
    return asyncio.run(_run(args, data, tokens))


async def _run(args, data: str, tokens: str) -> int:
    registry = Registry(SQLiteStorage(data), window=args.watch_window,
                        service_cidr=args.service_cluster_ip_range)
    try:
        server, port = await serve(registry, TokenAuthenticator(tokens), args.address, args.port,
                                   args.tls_cert_file, args.tls_private_key_file, args.bookmark_interval)
    except ValueError as e:
        print(f"apiserver: {e}", file=sys.stderr)
        return 1
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.replace(tmp, args.port_file)
    logging.getLogger("apiserver").info("serving on %s:%d (resourceVersion %d)", args.address, port, registry.rv)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(grace=2)
    await registry.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
