"""`python -m minik8s.scheduler --home HOME --token-file FILE [--config scheduler-config.yaml]`

The server address and CA come from HOME/config.yaml, the identity from --token-file. The
configuration comes from --config, else from the `scheduler:` section of HOME/cluster.yaml (the same
KubeSchedulerConfiguration fields), else the defaults."""
from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys

import yaml

from minik8s.client.config import ClientConfig, home_dir
from minik8s.scheduler.config import ConfigError, SchedulerConfig, load_file, parse

log = logging.getLogger("minik8s.scheduler")

# Every pod scheduled allocates many short-lived containers (its watch events, cycle state, the bind
# call's futures). With Python's default young generation of 700 objects a collection ran every few
# pods, and collections took about a tenth of the scheduler's CPU on a backlog of 3,000 pods; with
# 20,000 a quarter of that.
GC_THRESHOLDS = (20_000, 10, 10)


def load_config(args) -> SchedulerConfig:
    if args.config:
        return load_file(args.config)
    cluster = os.path.join(home_dir(args.home), "cluster.yaml")
    if os.path.exists(cluster):
        with open(cluster) as f:
            section = (yaml.safe_load(f) or {}).get("scheduler")
        if section:
            try:
                return parse(section)
            except ConfigError as e:
                raise ConfigError(f"{cluster}: scheduler: {e}") from None
    return SchedulerConfig()


async def serve(args, config: SchedulerConfig) -> None:
    from minik8s.client.aio import AsyncClient
    from minik8s.scheduler.scheduler import Scheduler

    gc.set_threshold(*GC_THRESHOLDS)
    client = AsyncClient(config=ClientConfig.for_component(args.home, args.token_file))
    sched = Scheduler(client, config, record_decisions=not args.no_decision_record)
    server = await sched.metrics.serve(args.metrics_address, args.metrics_port) if args.metrics_port else None
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main.cancel)
    try:
        await sched.run()
    except asyncio.CancelledError:
        log.info("stopping")
    finally:
        await sched.stop()
        if server is not None:
            server.close()
        await client.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m minik8s.scheduler", description="the minik8s scheduler")
    p.add_argument("--home", help="cluster state directory (default: $MINIK8S_HOME or ~/.minik8s)")
    p.add_argument("--token-file", help="bearer token of the scheduler's identity (default: config.yaml's)")
    p.add_argument("--config", help="a KubeSchedulerConfiguration file")
    p.add_argument("--metrics-port", type=int, default=0, help="serve Prometheus metrics on this port (0: off)")
    p.add_argument("--metrics-address", default="127.0.0.1")
    p.add_argument("--no-decision-record", action="store_true",
                   help="do not write the decision record annotation on scheduled pods")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args)
    except (ConfigError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        asyncio.run(serve(args, config))
    except (FileNotFoundError, ValueError) as e:      # no cluster config; a plugin's bad args
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
