"""`python -m apiserver`: run the API server until SIGTERM/SIGINT."""
from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import signal
import sys

from minik8s.api.quantity import bytes_value
from minik8s.client.home import token_csv

from apiserver import kubernetes_service
from apiserver.admission import DEFAULT_TOLERATION_SECONDS, default_admission
from apiserver.auth import TokenAuthenticator
from apiserver.authorizer import DEFAULT_MODES, Authorizer, parse_modes
from apiserver.logarchive import DEFAULT_MAX_AGE, LogArchive, archive_path
from apiserver.registry import Registry
from apiserver.server import VERSION, serve
from apiserver.serviceaccount_token import ServiceAccountTokens, signing_key
from apiserver.tunnel import TunnelRegistry
from apiserver.storage import SQLiteStorage
from apiserver.watch import WatchLimits


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
    p.add_argument("--rest-port", type=int, default=-1,
                   help="Kubernetes REST API port; 0 picks a free one; default: the port after --port if free, "
                        "else a free one")
    p.add_argument("--rest-port-file", help="write the REST API's bound port here (default HOME/run/rest.port)")
    p.add_argument("--watch-max-queue-bytes", type=int, default=WatchLimits.max_bytes,
                   help="a watch whose unread events exceed this many bytes is cut off with Expired "
                        "and its client lists again (0: no limit)")
    p.add_argument("--watch-stall-seconds", type=float, default=WatchLimits.stall_seconds,
                   help="a watch that reads no event for this long while events wait is cut off (0: never)")
    p.add_argument("--bookmark-interval", type=float, default=60.0, help="seconds between watch bookmarks")
    p.add_argument("--default-not-ready-toleration-seconds", type=int, default=DEFAULT_TOLERATION_SECONDS,
                   help="tolerationSeconds of the not-ready:NoExecute toleration added to every pod that has none")
    p.add_argument("--default-unreachable-toleration-seconds", type=int, default=DEFAULT_TOLERATION_SECONDS,
                   help="tolerationSeconds of the unreachable:NoExecute toleration added to every pod that has none")
    p.add_argument("--disable-admission-plugins", default="",
                   help="comma-separated admission plugins to turn off (DefaultTolerationSeconds, ServiceAccount)")
    p.add_argument("--log-archive-max-size", default="1Gi",
                   help="bytes of container logs the archive keeps (a quantity, e.g. 1Gi); the oldest go first")
    p.add_argument("--log-archive-max-age", type=int, default=DEFAULT_MAX_AGE,
                   help="seconds the archive keeps a container's log lines (default 7 days)")
    p.add_argument("--disable-log-archive", action="store_true", help="keep no container logs on the server")
    p.add_argument("--authorization-mode", default=",".join(DEFAULT_MODES),
                   help="authorizers tried in order, of AlwaysAllow, Node, RBAC (default Node,RBAC)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data = args.data or os.path.join(args.home, "data", "state.db")
    tokens = args.token_file or token_csv(args.home)
    if not os.path.exists(tokens):
        print(f"apiserver: token file {tokens} not found (minictl up creates it)", file=sys.stderr)
        return 1
    try:
        admission = default_admission(args.default_not_ready_toleration_seconds,
                                      args.default_unreachable_toleration_seconds,
                                      [n for n in args.disable_admission_plugins.split(",") if n])
    except ValueError as e:
        print(f"apiserver: --disable-admission-plugins: {e}", file=sys.stderr)
        return 1
    try:
        args.log_archive_max_bytes = bytes_value(args.log_archive_max_size)
    except ValueError as e:
        print(f"apiserver: --log-archive-max-size: {e}", file=sys.stderr)
        return 1
    try:
        args.authorization_modes = parse_modes(args.authorization_mode)
    except ValueError as e:
        print(f"apiserver: --authorization-mode: {e}", file=sys.stderr)
        return 1
    return asyncio.run(_run(args, data, tokens, admission))


async def _run(args, data: str, tokens: str, admission) -> int:
    registry = Registry(SQLiteStorage(data), window=args.watch_window,
                        service_cidr=args.service_cluster_ip_range,
                        admission=admission,
                        watch_limits=WatchLimits(args.watch_max_queue_bytes, args.watch_stall_seconds))
    admission.attach(registry)
    service_accounts = ServiceAccountTokens(registry, functools.partial(signing_key, os.path.join(args.home, "pki")))
    auth = TokenAuthenticator(tokens, service_accounts)
    tunnels, authz = TunnelRegistry(), Authorizer(registry, args.authorization_modes)
    archive = None if args.disable_log_archive else LogArchive(
        archive_path(args.home), max_bytes=args.log_archive_max_bytes, max_age=args.log_archive_max_age)
    try:
        server, port = await serve(registry, auth, args.address, args.port, args.tls_cert_file,
                                   args.tls_private_key_file, args.bookmark_interval, tunnels, archive, authz)
        rest, rest_port = await _serve_rest(args, registry, auth, tunnels, port, authz)
    except (ValueError, OSError) as e:
        print(f"apiserver: {e}", file=sys.stderr)
        return 1
    _write_port(args.rest_port_file or os.path.join(args.home, "run", "rest.port"), rest_port)
    if args.port_file:
        _write_port(args.port_file, port)
    logging.getLogger("apiserver").info("serving gRPC on %s:%d, REST on %s:%d (resourceVersion %d)",
                                        args.address, port, args.address, rest_port, registry.rv)
    master = kubernetes_service.start(registry, args.address, rest_port, args.service_cluster_ip_range)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    master.cancel()
    await rest.cleanup()
    await server.stop(grace=2)
    if archive is not None:
        await archive.stop()
    await registry.stop()
    return 0


async def _serve_rest(args, registry, auth, tunnels, grpc_port: int, authz):
    """The Kubernetes REST API in this process: the port asked for, else the one after gRPC's when
    free, else any free one. It listens now; its front end is built at the first connection."""
    from apiserver.rest.lazy import LazyFrontEnd, server_ssl_context
    tls = (args.tls_cert_file, args.tls_private_key_file)
    if not all(tls):
        from apiserver.rest.certs import in_child
        tls = in_child(os.path.join(args.home, "pki"), args.address,
                       kubernetes_service.service_ip(args.service_cluster_ip_range))
    ctx = server_ssl_context(*tls)

    async def build():
        from apiserver.rest.app import build_app, make_runner
        return await make_runner(build_app(registry, auth, tunnels, args.bookmark_interval, VERSION, authz))
    front = LazyFrontEnd(build)
    if args.rest_port >= 0:
        return front, await front.listen(args.address, args.rest_port, ctx)
    if args.port:
        try:
            return front, await front.listen(args.address, grpc_port + 1, ctx)
        except OSError:
            pass
    return front, await front.listen(args.address, 0, ctx)


def _write_port(path: str, port: int) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
