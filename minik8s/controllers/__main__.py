"""`python -m minik8s.controllers --home HOME --token-file FILE [--controllers replicaset,deployment,...]`

The controller-manager process `minictl up` starts. The server address and CA come from
HOME/config.yaml (minik8s.client.config), the bearer token from --token-file. Settings may also come
from the `controllerManager` section of HOME/cluster.yaml:

    controllerManager:
      controllers: "*,-garbagecollector"   # as --controllers
      leaderElect: true
      leaseDuration: 15                      # seconds, as upstream's defaults
      renewDeadline: 10
      retryPeriod: 2
      workers: {replicaset: 5, deployment: 5, garbagecollector: 20}
      nodeMonitorGracePeriod: 50             # node lifecycle: seconds without a heartbeat [50]
      nodeStartupGracePeriod: 60             # ... for a node that never posted Ready [60]
      nodeMonitorPeriod: 5                   # ... how often each node is looked at [5]
      nodeEvictionRate: 0.1                  # ... nodes per second tainted NoExecute in a zone [0.1]
      secondaryNodeEvictionRate: 0.01        # ... in a large zone partly down [0.01]
      unhealthyZoneThreshold: 0.55           # ... share of not-Ready nodes that makes a zone partly down [0.55]
      largeClusterSizeThreshold: 50          # ... nodes above which a zone is large [50]
      terminatedPodGCThreshold: 12500        # pod GC: finished pods kept (0: no limit) [12500]
      podGCPeriod: 20                        # ... how often it runs [20]
      horizontalPodAutoscalerSyncPeriod: 15  # HPA: how often each HPA is reconciled [15]
      horizontalPodAutoscalerTolerance: 0.1  # ... usage ratio change ignored [0.1]
      horizontalPodAutoscalerDownscaleStabilizationWindow: 300    # ... seconds [300]
      horizontalPodAutoscalerCPUInitializationPeriod: 300         # ... seconds [300]
      horizontalPodAutoscalerInitialReadinessDelay: 30            # ... seconds [30]

Flags win over the file. SIGTERM or SIGINT stops the controllers and releases the leader Lease."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

# cluster.yaml controllerManager keys handed to the controllers as settings
CONTROLLER_SETTINGS = ("nodeMonitorGracePeriod", "nodeStartupGracePeriod", "nodeMonitorPeriod",
                       "nodeEvictionRate", "secondaryNodeEvictionRate", "unhealthyZoneThreshold",
                       "largeClusterSizeThreshold",
                       "terminatedPodGCThreshold", "podGCPeriod",
                       "horizontalPodAutoscalerSyncPeriod", "horizontalPodAutoscalerTolerance",
                       "horizontalPodAutoscalerDownscaleStabilizationWindow",
                       "horizontalPodAutoscalerCPUInitializationPeriod", "horizontalPodAutoscalerInitialReadinessDelay")


def _cluster_settings(home: str) -> dict:
    path = os.path.join(home, "cluster.yaml")
    try:
        import yaml
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    except FileNotFoundError:
        return {}
    section = data.get("controllerManager") if isinstance(data, dict) else None
    return section if isinstance(section, dict) else {}


def _bool(text: str) -> bool:
    v = text.lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m minik8s.controllers",
                                description="minik8s controller manager")
    p.add_argument("--home", help="cluster home (default $MINIK8S_HOME or ~/.minik8s)")
    p.add_argument("--token-file", help="file holding this component's bearer token")
    p.add_argument("--server", help="API server address (default: from HOME/config.yaml)")
    p.add_argument("--root-ca-file", help="the CA published as ConfigMap kube-root-ca.crt in every namespace "
                   "(default: HOME/pki/ca.crt, else the REST API's self-signed certificate)")
    p.add_argument("--controllers", help="comma-separated: * (all), NAME, -NAME (default *)")
    p.add_argument("--leader-elect", type=_bool, default=None, help="take the leader Lease first (default true)")
    p.add_argument("--leader-elect-lease-duration", type=float, default=None)
    p.add_argument("--leader-elect-renew-deadline", type=float, default=None)
    p.add_argument("--leader-elect-retry-period", type=float, default=None)
    p.add_argument("--identity", help="leader election identity (default hostname_uuid)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p.parse_args(argv)


async def _main(args) -> int:
    from minik8s.client.aio import AsyncClient
    from minik8s.client.config import ClientConfig, home_dir
    from minik8s.client.home import rest_ca_file
    from minik8s.controllers.manager import ControllerManager

    home = home_dir(args.home)
    cfg = ClientConfig.for_component(home, args.token_file, args.server)
    file_settings = _cluster_settings(home)

    def pick(flag, key, default):
        return flag if flag is not None else file_settings.get(key, default)

    settings = {"home": home,          # where provisioned volumes live: HOME/volumes
                "root-ca-file": args.root_ca_file or rest_ca_file(home)}
    for name, n in (file_settings.get("workers") or {}).items():
        settings[f"{name}.workers"] = int(n)
    for name in CONTROLLER_SETTINGS:
        if name in file_settings:
            settings[name] = float(file_settings[name])
    client = AsyncClient(config=cfg)
    manager = ControllerManager(
        client, controllers=pick(args.controllers, "controllers", "*"), settings=settings,
        leader_elect=bool(pick(args.leader_elect, "leaderElect", True)), identity=args.identity,
        lease_duration=float(pick(args.leader_elect_lease_duration, "leaseDuration", 15)),
        renew_deadline=float(pick(args.leader_elect_renew_deadline, "renewDeadline", 10)),
        retry_period=float(pick(args.leader_elect_retry_period, "retryPeriod", 2)))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, manager.stop)
    logging.getLogger("minik8s.controllers").info(
        "controller manager starting: server %s, controllers %s, leader election %s",
        cfg.server, ",".join(manager.names), "on" if manager.leader_elect else "off")
    try:
        await manager.run()
    finally:
        await client.close()
    return 0


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_main(args))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
