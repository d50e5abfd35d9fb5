"""`python -m kubelet`: run one node's agent (or, with --fake-nodes N, N fake nodes in one process).

    python -m kubelet --home HOME --node-name NAME --token-file FILE [--runtime auto|docker|process|fake]
                      [--config HOME/cluster.yaml] [--address IP]
    python -m kubelet --home HOME --fake-nodes 1000 [--first-node 1]
    python -m kubelet --home HOME --node-name NAME --remove-all      (for `minictl down` / `node fail`)

The server address and CA come from HOME/config.yaml, the node's identity from its token file; the
node's shape (capacity, labels, taints, GPUs, pod CIDR, runtime) and the kubelet settings from the
cluster file (kubelet/config.py). SIGTERM stops the agent and leaves the containers running: a kubelet
started again adopts them. `--remove-all` (no API server needed) kills and removes every sandbox and
container the node's runtime holds (with --remove-network, the node's pod network too): what is left
when a cluster goes away."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from kubelet import config as kconfig
from kubelet.app import build_kubelet, make_runtime, read_token, resolve_runtime


async def _serve(kubelets, stop: asyncio.Event) -> None:
    for k in kubelets:
        await k.start()
    await stop.wait()
    await asyncio.gather(*(k.stop() for k in kubelets), return_exceptions=True)
    for k in kubelets:
        await k.client.close()


async def remove_all(home: str, node: str, runtime_kind: str | None = None, config_path: str | None = None,
                     network: bool = False) -> int:
    """Kill and remove everything node `node` runs, and with `network` its pod network too; returns how
    many sandboxes and containers went."""
    cfg, settings = kconfig.load(home, node, config_path, runtime_kind)
    kind = resolve_runtime(cfg.runtime)
    if kind == "fake":
        return 0                       # nothing outlives a fake node's process
    rt = make_runtime(kind, home, node, cfg.pod_cidr or kconfig.default_pod_cidr(kind, cfg.index), settings)
    from kubelet.paths import LABEL_CLUSTER, cluster_id
    mine = cluster_id(home)
    n = 0
    for s in await rt.list_sandboxes():
        if s.labels.get(LABEL_CLUSTER) == mine:
            await rt.remove_sandbox(s.id)
            n += 1
    for c in await rt.list_containers():
        if c.labels.get(LABEL_CLUSTER) == mine:
            await rt.remove_container(c.id)
            n += 1
    if network:
        # the bridge (process) or Docker network is named after the node alone: it stays while another
        # cluster's node of that name uses it
        await rt.remove_network()
    close = getattr(rt, "close", None)
    if close is not None:
        await close()
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="kubelet", description="the minik8s node agent")
    p.add_argument("--home", default=os.environ.get("MINIK8S_HOME"), help="cluster home ($MINIK8S_HOME)")
    p.add_argument("--node-name", help="this node's name")
    p.add_argument("--token-file", help="file holding this node's bearer token")
    p.add_argument("--runtime", choices=("auto", "docker", "process", "fake"),
                   help="container runtime (default: the cluster file's, else auto)")
    p.add_argument("--config", help="cluster file (default HOME/cluster.yaml)")
    p.add_argument("--address", help="the node's InternalIP (default: the host's)")
    p.add_argument("--fake-nodes", type=int, default=0, help="run N fake nodes node-1..node-N in this process")
    p.add_argument("--first-node", type=int, default=1, help="with --fake-nodes: the first node's number")
    p.add_argument("--remove-all", action="store_true",
                   help="kill and remove every container and sandbox of the node, then exit")
    p.add_argument("--remove-network", action="store_true",
                   help="with --remove-all: also the node's pod network (bridge or Docker network), "
                        "unless another cluster's node of the same name uses it")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from minik8s.client.config import home_dir
    home = os.path.abspath(home_dir(args.home))

    async def run() -> int:
        if args.remove_all:
            if not args.node_name:
                p.error("--remove-all needs --node-name")
            n = await remove_all(home, args.node_name, args.runtime, args.config, args.remove_network)
            print(f"node {args.node_name}: removed {n} sandboxes and containers")
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if args.fake_nodes:
            from kubelet.fakenodes import FakeNodeHost
            host = FakeNodeHost(home, [f"node-{i}" for i in range(args.first_node, args.first_node + args.fake_nodes)],
                                config_path=args.config)
            await host.start()
            await stop.wait()
            await host.stop()
            return 0
        if not args.node_name or not args.token_file:
            p.error("--node-name and --token-file are required (or --fake-nodes N)")
        k = build_kubelet(home, args.node_name, read_token(args.token_file), args.runtime, args.config, args.address)
        await _serve([k], stop)
        return 0

    try:
        return asyncio.run(run())
    except (OSError, ValueError, TimeoutError) as e:
        print(f"kubelet: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
