"""`minictl get nodegroups` (also `minictl nodegroups`): the cluster autoscaler's node groups as its
status ConfigMap (kube-system/cluster-autoscaler-status) reports them: min, max, the nodes registered
and Ready, the target the provider was asked for, scale-up activity, scale-down candidates, the
node-seconds the group has used and the last decision with its reason."""
from __future__ import annotations

from minik8s.cli.common import CliError, client_for

WORDS = ("nodegroups", "nodegroup", "ng")       # what follows `get` to mean this command


def _flags(p) -> None:
    p.add_argument("names", nargs="*", metavar="NAME", help="node groups to show (default: all)")


# name, implementation (module:function), help, flags: main.py joins every verb module's COMMANDS
COMMANDS = [
    ("nodegroups", "nodegroupcmds:cmd_nodegroups",
     "Show the cluster autoscaler's node groups (also: get nodegroups)", _flags),
]


def cmd_nodegroups(args) -> int:
    import yaml
    from minik8s.api.errors import NotFound
    from minik8s.api.nodegroups import STATUS_CONFIGMAP, STATUS_NAMESPACE
    from minik8s.cli.printers import render_table
    with client_for(args) as client:
        try:
            cm = client.get("ConfigMap", STATUS_CONFIGMAP, STATUS_NAMESPACE)
        except NotFound:
            raise CliError("no node groups: the cluster autoscaler has not reported "
                           f"({STATUS_NAMESPACE}/{STATUS_CONFIGMAP} not found)") from None
    doc = yaml.safe_load(cm.data.get("status", "")) or {}
    groups = [g for g in doc.get("nodeGroups") or [] if not args.names or g.get("name") in args.names]
    missing = set(args.names) - {g.get("name") for g in groups}
    if missing:
        raise CliError(f'node group "{sorted(missing)[0]}" not found')
    rows = []
    for g in groups:
        health = g.get("health") or {}
        counts = (health.get("nodeCounts") or {}).get("registered") or {}
        rows.append([g.get("name", ""), str(health.get("minSize", "")), str(health.get("maxSize", "")),
                     str(counts.get("total", 0)), str(counts.get("ready", 0)), str(health.get("cloudProviderTarget", "")),
                     (g.get("scaleUp") or {}).get("status", ""), str((g.get("scaleDown") or {}).get("candidates", 0)),
                     str(g.get("nodeSeconds", 0)), g.get("lastDecision") or "<none>"])
    print(render_table(["NAME", "MIN", "MAX", "CURRENT", "READY", "TARGET", "SCALE-UP", "CANDIDATES",
                        "NODE-SECONDS", "LAST DECISION"], rows))
    return 0
