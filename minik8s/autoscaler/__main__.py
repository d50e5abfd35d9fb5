"""`python -m minik8s.autoscaler --home HOME --token-file FILE`

The cluster autoscaler process `minictl up` starts when HOME/cluster.yaml declares `nodeGroups`. Its
settings come from the file's `clusterAutoscaler` section (upstream's flags in camelCase, upstream's
defaults: minik8s.api.nodegroups.AUTOSCALER_DEFAULTS); nodes come and go through the local provider
(`minictl node add/remove`). SIGTERM or SIGINT stops it."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

import yaml

from minik8s.api.nodegroups import NodeGroupError, parse_autoscaler_settings, parse_node_groups
from minik8s.client.config import ClientConfig, home_dir

log = logging.getLogger("minik8s.autoscaler")


def load(home: str) -> tuple[list, dict]:
    path = os.path.join(home, "cluster.yaml")
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    try:
        return parse_node_groups(data.get("nodeGroups")), parse_autoscaler_settings(data.get("clusterAutoscaler"))
    except NodeGroupError as e:
        raise NodeGroupError(f"{path}: {e}") from None


async def serve(args, groups: list, settings: dict) -> None:
    from minik8s.autoscaler.autoscaler import ClusterAutoscaler
    from minik8s.autoscaler.provider import LocalProvider
    from minik8s.client.aio import AsyncClient

    home = home_dir(args.home)
    client = AsyncClient(config=ClientConfig.for_component(args.home, args.token_file))
    provider = LocalProvider(home, groups)
    autoscaler = ClusterAutoscaler(client, provider, settings)
    main = asyncio.current_task()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, main.cancel)
    log.info("cluster autoscaler: node groups %s", ", ".join(f"{g.name} [{g.min}..{g.max}]" for g in groups))
    try:
        await autoscaler.run()
    except asyncio.CancelledError:
        log.info("stopping")
    finally:
        await provider.close()
        await autoscaler.stop()
        await client.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m minik8s.autoscaler", description="the minik8s cluster autoscaler")
    p.add_argument("--home", help="cluster state directory (default: $MINIK8S_HOME or ~/.minik8s)")
    p.add_argument("--token-file", help="bearer token of the autoscaler's identity (default: config.yaml's)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        groups, settings = load(home_dir(args.home))
    except (OSError, NodeGroupError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    asyncio.run(serve(args, groups, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
