"""The node maintenance commands of `minictl`, after kubectl's pkg/cmd/drain and pkg/drain: `cordon`,
`uncordon`, `drain` and `taint nodes`, with kubectl's flags, output and messages.

`drain` cordons the node, lists its pods, refuses those kubectl refuses (DaemonSet pods without
--ignore-daemonsets, pods with emptyDir without --delete-emptydir-data, pods no controller owns without
--force; mirror pods are skipped, finished pods always go), then evicts each through the Eviction API
(or deletes it with --disable-eviction), retrying every 5 s while a disruption budget answers 429, and
waits for each pod to be gone. A drain that fails leaves the node cordoned. The filters and the
eviction loop live in nodeops.py, which `minictl node remove|rotate` share."""
from __future__ import annotations

from minik8s.cli.common import CliError, Failed, client_for, duration, report, selector_flags
from minik8s.cli.nodeops import evict_pods, parse_taint, pods_to_drain, set_unschedulable


# ---------------------------------------------------------------- flags
def _nodes_flags(p) -> None:
    p.add_argument("nodes", nargs="*", metavar="NODE")
    selector_flags(p, field=False)


def _drain_flags(p) -> None:
    p.add_argument("nodes", nargs="+", metavar="NODE")
    p.add_argument("-l", "--selector", help="label selector of the nodes to drain")
    p.add_argument("--ignore-daemonsets", action="store_true", help="ignore DaemonSet-managed pods")
    p.add_argument("--delete-emptydir-data", action="store_true",
                   help="continue even if there are pods using emptyDir (their data is lost)")
    p.add_argument("--force", action="store_true", help="continue even if there are pods no controller manages")
    p.add_argument("--grace-period", type=int, default=-1,
                   help="seconds each pod is given to terminate (-1: the pod's own)")
    p.add_argument("--timeout", type=duration, default=0.0, help="give up after this long, e.g. 5m (0: never)")
    p.add_argument("--pod-selector", default="", help="label selector of the pods to evict")
    p.add_argument("--disable-eviction", action="store_true",
                   help="delete pods instead of evicting them, bypassing PodDisruptionBudgets")


def _taint_flags(p) -> None:
    p.add_argument("args", nargs="+", metavar="nodes NAME KEY[=VALUE]:EFFECT[-]")
    p.add_argument("--overwrite", action="store_true", help="replace a taint with the same key and effect")


# name, implementation (module:function), help, flags: main.py joins every verb module's COMMANDS
COMMANDS = [
    ("cordon", "nodecmds:cmd_cordon", "Mark node as unschedulable", _nodes_flags),
    ("uncordon", "nodecmds:cmd_uncordon", "Mark node as schedulable", _nodes_flags),
    ("drain", "nodecmds:cmd_drain", "Drain node in preparation for maintenance", _drain_flags),
    ("taint", "nodecmds:cmd_taint", "Update the taints on one or more nodes", _taint_flags),
]


# ---------------------------------------------------------------- cordon, uncordon
def _nodes(client, args) -> list:
    names = list(args.nodes or [])
    if getattr(args, "selector", None):
        names += [n.metadata.name for n in client.list("Node", label_selector=args.selector).items]
    if not names:
        raise CliError("resource(s) were provided, but no name was specified")
    return [client.get("Node", n) for n in names]


def _cordon(args, value: bool) -> int:
    with client_for(args) as client:
        for node in _nodes(client, args):
            print(set_unschedulable(client, node, value))
    return 0


def cmd_cordon(args) -> int:
    return _cordon(args, True)


def cmd_uncordon(args) -> int:
    return _cordon(args, False)


# ---------------------------------------------------------------- drain
def cmd_drain(args) -> int:
    with client_for(args) as client:
        nodes = _nodes(client, args)
        failed = []
        for node in nodes:
            name = node.metadata.name
            print(set_unschedulable(client, node, True), flush=True)
            try:
                errors = evict_pods(client, pods_to_drain(client, name, args), args)
            except CliError as e:
                errors = [str(e)]
            if errors:
                report(f'error: unable to drain node "{name}" due to error: {", ".join(errors)}, '
                       "continuing command...")
                failed.append(name)
                continue
            print(f"node/{name} drained", flush=True)
        if failed:
            report("There are pending nodes to be drained:")
            for name in failed:
                report(f" {name}")
            report(f"(left cordoned: {', '.join(failed)}; `minictl uncordon NODE` makes a node schedulable again)")
            raise Failed()
    return 0


# ---------------------------------------------------------------- taint
def cmd_taint(args) -> int:
    words = list(args.args)
    if words[0] not in ("node", "nodes", "no") and not words[0].startswith(("node/", "nodes/", "no/")):
        raise CliError(f'invalid resource type "{words[0]}": only nodes can be tainted')
    if "/" in words[0]:
        names, specs = [words[0].split("/", 1)[1]], words[1:]
    else:
        if len(words) < 2:
            raise CliError("at least one node and one taint must be given")
        names, specs = [words[1]], words[2:]
    if not specs:
        raise CliError("at least one taint update is required")
    changes = [parse_taint(s) for s in specs]
    with client_for(args) as client:
        for name in names:
            node = client.get("Node", name)
            taints = [dict(key=t.key, value=t.value, effect=t.effect) for t in node.spec.taints]
            taints, word = _apply_taints(name, taints, changes, args.overwrite)
            client.patch("Node", name, {"metadata": {"resourceVersion": node.metadata.resourceVersion},
                                        "spec": {"taints": [{k: v for k, v in t.items() if v} for t in taints]}})
            print(f"node/{name} {word}")
    return 0


def _apply_taints(node: str, taints: list[dict], changes, overwrite: bool) -> tuple[list[dict], str]:
    added = removed = False
    for key, value, effect, remove in changes:
        if remove:
            keep = [t for t in taints if not (t["key"] == key and (not effect or t["effect"] == effect))]
            if len(keep) == len(taints):
                raise CliError(f'taint "{key}{":" + effect if effect else ""}" not found')
            taints, removed = keep, True
            continue
        same = [t for t in taints if t["key"] == key and t["effect"] == effect]
        if same and not overwrite:
            raise CliError(f"node {node} already has {key} taint(s) with same effect(s) and --overwrite is false")
        taints = [t for t in taints if t not in same] + [dict(key=key, value=value, effect=effect)]
        added = True
    return taints, "modified" if added and removed else "tainted" if added else "untainted"
