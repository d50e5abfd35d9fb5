"""The node maintenance commands of `minictl`, after kubectl's pkg/cmd/drain and pkg/drain: `cordon`,
`uncordon`, `drain` and `taint nodes`, with kubectl's flags, output and messages.

`drain` cordons the node, lists its pods, refuses those kubectl refuses (DaemonSet pods without
--ignore-daemonsets, pods with emptyDir without --delete-emptydir-data, pods no controller owns without
--force; mirror pods are skipped, finished pods always go), then evicts each through the Eviction API
(or deletes it with --disable-eviction), retrying every 5 s while a disruption budget answers 429, and
waits for each pod to be gone. A drain that fails leaves the node cordoned."""
from __future__ import annotations

import threading
import time

from minik8s.cli.common import CliError, Failed, api_error_line, client_for, duration, report, selector_flags

EVICT_RETRY_DELAY = 5.0        # upstream EvictErrorRetryDelay
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

DAEMONSET_FATAL = "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
DAEMONSET_WARNING = "ignoring DaemonSet-managed Pods"
LOCAL_STORAGE_FATAL = "Pods with local storage (use --delete-emptydir-data to override)"
LOCAL_STORAGE_WARNING = "deleting Pods with local storage"
UNMANAGED_FATAL = "Pods declare no controller (use --force to override)"
UNMANAGED_WARNING = "deleting Pods that declare no controller"


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


def set_unschedulable(client, node, value: bool) -> str:
    """kubectl's cordon helper: the line it prints (`node/x cordoned`, `node/x already cordoned`)."""
    word = "cordoned" if value else "uncordoned"
    if node.spec.unschedulable == value:
        return f"node/{node.metadata.name} already {word}"
    client.patch("Node", node.metadata.name, {"spec": {"unschedulable": value}})
    return f"node/{node.metadata.name} {word}"


def _cordon(args, value: bool) -> int:
    with client_for(args) as client:
        for node in _nodes(client, args):
            print(set_unschedulable(client, node, value))
    return 0


def cmd_cordon(args) -> int:
    return _cordon(args, True)


def cmd_uncordon(args) -> int:
    return _cordon(args, False)


# ---------------------------------------------------------------- drain: which pods go
def _controller(pod):
    return next((r for r in pod.metadata.ownerReferences if r.controller), None)


def _finished(pod) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


def classify(pod, args) -> tuple[bool, str, str]:
    """kubectl's filters for one pod: (evict it?, warning, fatal error), in kubectl's order."""
    ref = _controller(pod)
    if ref is not None and ref.kind == "DaemonSet":
        if not args.ignore_daemonsets:
            return False, "", DAEMONSET_FATAL
        return False, DAEMONSET_WARNING, ""
    if "kubernetes.io/config.mirror" in pod.metadata.annotations:
        return False, "", ""
    warning = ""
    if not _finished(pod) and any(v.HasField("emptyDir") for v in pod.spec.volumes):
        if not args.delete_emptydir_data:
            return False, "", LOCAL_STORAGE_FATAL
        warning = LOCAL_STORAGE_WARNING
    if not _finished(pod) and ref is None:
        if not args.force:
            return False, "", UNMANAGED_FATAL
        warning = UNMANAGED_WARNING
    return True, warning, ""


def _grouped(found: dict[str, list[str]], word: str = "") -> list[str]:
    return [f"{word}{msg}: {', '.join(pods)}" for msg, pods in found.items()]


def pods_to_drain(client, node: str, args) -> list:
    """The node's pods to evict; raises CliError with kubectl's list of what cannot be deleted."""
    pods = client.list("Pod", field_selector=f"spec.nodeName={node}", label_selector=args.pod_selector).items
    chosen, warnings, errors = [], {}, {}
    for pod in sorted(pods, key=lambda p: (p.metadata.namespace, p.metadata.name)):
        ok, warning, fatal = classify(pod, args)
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        if fatal:
            errors.setdefault(fatal, []).append(key)
        if warning:
            warnings.setdefault(warning, []).append(key)
        if ok:
            chosen.append(pod)
    if errors:
        raise CliError(", ".join(_grouped(errors, "cannot delete ")))
    if warnings:
        report("Warning: " + "; ".join(_grouped(warnings)))
    return chosen


# ---------------------------------------------------------------- drain: evicting
class _Deadline:
    def __init__(self, timeout: float):
        self.timeout = timeout
        self.end = time.monotonic() + timeout if timeout > 0 else None

    def left(self) -> float | None:
        return None if self.end is None else self.end - time.monotonic()

    def check(self, pod) -> None:
        left = self.left()
        if left is not None and left <= 0:
            raise CliError(f'error when evicting pods/"{pod.metadata.name}" -n "{pod.metadata.namespace}": '
                           f"global timeout reached: {_seconds(self.timeout)}")


def _seconds(t: float) -> str:
    return f"{int(t)}s" if t == int(t) else f"{t}s"


def _evict_one(client, pod, args, deadline: _Deadline, lock: threading.Lock) -> None:
    from minik8s.api.errors import NotFound, TooManyRequests
    meta = pod.metadata
    grace = args.grace_period if args.grace_period >= 0 else None
    while True:
        deadline.check(pod)
        try:
            if args.disable_eviction:
                client.delete("Pod", meta.name, meta.namespace, grace_period=grace)
            else:
                client.evict(meta.namespace, meta.name, grace_period=grace)
            break
        except NotFound:
            return
        except TooManyRequests as e:
            detail = "".join(f" ({m})" for _, m in e.causes)
            with lock:
                report(f'error when evicting pods/"{meta.name}" -n "{meta.namespace}" (will retry after '
                       f'{_seconds(EVICT_RETRY_DELAY)}): {e.message}{detail}')
            left = deadline.left()
            time.sleep(EVICT_RETRY_DELAY if left is None else max(0.0, min(EVICT_RETRY_DELAY, left)))
    _wait_deleted(client, pod, deadline)
    with lock:
        print(f"pod/{meta.name} {'deleted' if args.disable_eviction else 'evicted'}", flush=True)


def _wait_deleted(client, pod, deadline: _Deadline) -> None:
    """Until the pod is gone (or a new pod of the same name stands in its place)."""
    from minik8s.api.errors import NotFound
    while True:
        try:
            cur = client.get("Pod", pod.metadata.name, pod.metadata.namespace)
        except NotFound:
            return
        if cur.metadata.uid != pod.metadata.uid:
            return
        deadline.check(pod)
        time.sleep(0.2)


def evict_pods(client, pods: list, args) -> list[str]:
    """Evict every pod at once, as kubectl does (a thread each); the errors, one line each."""
    deadline, lock, errors = _Deadline(args.timeout), threading.Lock(), []
    if not args.disable_eviction:
        for pod in pods:
            print(f"evicting pod {pod.metadata.namespace}/{pod.metadata.name}", flush=True)

    def run(pod):
        from minik8s.api.errors import ApiError
        try:
            _evict_one(client, pod, args, deadline, lock)
        except CliError as e:
            errors.append(str(e))
        except ApiError as e:
            errors.append(f'error when evicting pods/"{pod.metadata.name}" -n "{pod.metadata.namespace}": '
                          f"{e.message}")

    threads = [threading.Thread(target=run, args=(p,), daemon=True) for p in pods]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


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
def parse_taint(spec: str) -> tuple[str, str, str, bool]:
    """`key=value:Effect`, `key:Effect`, `key:Effect-` or `key-` -> (key, value, effect, remove)."""
    remove = spec.endswith("-")
    body = spec[:-1] if remove else spec
    key_value, _, effect = body.partition(":")
    key, _, value = key_value.partition("=")
    if not key or (not effect and not remove):
        raise CliError(f"invalid taint spec: {spec}")
    if effect and effect not in EFFECTS:
        raise CliError(f"invalid taint effect: {effect}, unsupported taint effect")
    return key, value, effect, remove


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
