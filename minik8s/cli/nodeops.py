"""What minictl's node commands share (the maintenance verbs in nodecmds.py and the local cluster's
`minictl node` verbs in up.py): cordoning, kubectl's drain (which pods go, evicting them through the
Eviction API with a retry every 5 s while a disruption budget answers 429, waiting until they are
gone) and taint specs (`key=value:Effect`), after kubectl's pkg/drain and pkg/cmd/taint."""
from __future__ import annotations

import threading
import time

from minik8s.cli.common import CliError, report

EVICT_RETRY_DELAY = 5.0        # upstream EvictErrorRetryDelay
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

DAEMONSET_FATAL = "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
DAEMONSET_WARNING = "ignoring DaemonSet-managed Pods"
LOCAL_STORAGE_FATAL = "Pods with local storage (use --delete-emptydir-data to override)"
LOCAL_STORAGE_WARNING = "deleting Pods with local storage"
UNMANAGED_FATAL = "Pods declare no controller (use --force to override)"
UNMANAGED_WARNING = "deleting Pods that declare no controller"


# ---------------------------------------------------------------- cordon
def set_unschedulable(client, node, value: bool) -> str:
    """kubectl's cordon helper: the line it prints (`node/x cordoned`, `node/x already cordoned`)."""
    word = "cordoned" if value else "uncordoned"
    if node.spec.unschedulable == value:
        return f"node/{node.metadata.name} already {word}"
    client.patch("Node", node.metadata.name, {"spec": {"unschedulable": value}})
    return f"node/{node.metadata.name} {word}"


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
