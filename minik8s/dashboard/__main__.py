"""`python -m minik8s.dashboard` (what `minictl dashboard` runs): serve the dashboard on loopback for the
cluster in --home, print its address with the home's token (or $MINIK8S_TOKEN) and, with --open, open
it in the user's browser. The token only travels in that address: the server itself holds none."""
from __future__ import annotations

import argparse
import asyncio
import os
import sys

from minik8s.client.aio import AsyncClient
from minik8s.client.config import ClientConfig

DEFAULT_PORT = 8080
TOKEN_ENV = "MINIK8S_TOKEN"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m minik8s.dashboard", description=__doc__)
    p.add_argument("--home", help="the cluster home (default $MINIK8S_HOME, ~/.minik8s)")
    p.add_argument("--server", help="the API server's address, instead of the home's")
    p.add_argument("--certificate-authority", help="the CA to check the API server against")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port on 127.0.0.1 (0: a free one)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from minik8s.dashboard.server import serve
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        cfg = ClientConfig.load(args.home)
    except FileNotFoundError as e:
        if not args.server:
            print(f"error: {e}", file=sys.stderr)
            return 1
        cfg = ClientConfig(server=args.server, token="")
    server, ca = args.server or cfg.server, args.certificate_authority or cfg.ca_file
    token = os.environ.get(TOKEN_ENV) or cfg.token

    def connect(page_token: str) -> AsyncClient:
        return AsyncClient(server, page_token, ca, insecure_skip_tls_verify=cfg.insecure_skip_tls_verify)

    def ready(port: int) -> None:
        url = f"http://127.0.0.1:{port}/?token={token}"
        print(f"Dashboard at {url}\n(read-only; Ctrl-C to stop)", flush=True)
        if args.open:
            import webbrowser
            webbrowser.open(url)

    try:
        asyncio.run(serve(connect, args.port, ready))
    except KeyboardInterrupt:
        return 0
    except OSError as e:         # the port is taken
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
