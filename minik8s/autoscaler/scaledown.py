"""Scale-down and consolidation, after upstream's core/scaledown and Karpenter's consolidation: which
nodes of the autoscaled groups could go because every pod they run would fit on the other nodes.

A node is a candidate when it is Ready, its group stays at or above min without it, it is not
annotated `cluster-autoscaler.kubernetes.io/scale-down-disabled: "true"`, none of its pods blocks a
drain (upstream's rules, `blocker`), and its pods fit elsewhere. Its reason is `empty`,
`underutilized` (utilization under the threshold, upstream's rule) or, with consolidation on,
`consolidation` (the pods of N nodes fit on N-1). DaemonSet and mirror pods neither move nor block."""
from __future__ import annotations

from dataclasses import dataclass

from minik8s.api.disruption import budgets_for

from minik8s.autoscaler.simulator import (Snapshot, controller_kind, group_of, is_daemon_or_mirror, is_ready,
                                          is_terminal, place, utilization)

SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
SCALE_DOWN_DISABLED = "cluster-autoscaler.kubernetes.io/scale-down-disabled"
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler"

EMPTY, UNDERUTILIZED, CONSOLIDATION = "empty", "underutilized", "consolidation"


@dataclass
class Candidate:
    node: str
    group: str
    reason: str
    utilization: float
    pods: list              # the pods to evict


def pods_to_move(pods) -> list:
    return [p for p in pods if not is_terminal(p) and not is_daemon_or_mirror(p)]


def _has_local_storage(pod) -> bool:
    return any(v.HasField("emptyDir") or v.HasField("hostPath") for v in pod.spec.volumes)


def blocker(pod, pdbs) -> str | None:
    """Why this pod keeps its node (upstream's drainability rules), or None."""
    ann, key = pod.metadata.annotations, f"{pod.metadata.namespace}/{pod.metadata.name}"
    if ann.get(SAFE_TO_EVICT) == "false":
        return f"pod annotated as not safe to evict present: {key}"
    if ann.get(DO_NOT_DISRUPT) == "true":
        return f"pod annotated {DO_NOT_DISRUPT} present: {key}"
    budgets = budgets_for(pod, pdbs)
    if any(b.status.disruptionsAllowed < 1 for b in budgets):
        return f"not enough pod disruption budget to move {key}"
    if ann.get(SAFE_TO_EVICT) == "true":
        return None
    if not controller_kind(pod):
        return f"{key} is not replicated"
    if pod.metadata.namespace == "kube-system" and not budgets:
        return f"non-daemonset, non-mirrored, non-pdb-assigned kube-system pod present: {key}"
    if _has_local_storage(pod):
        return f"pod with local storage present: {key}"
    return None


def _deleting(node) -> bool:
    return any(t.key == TO_BE_DELETED_TAINT for t in node.spec.taints)


def find_candidates(snap: Snapshot, removable: dict[str, int], pdbs, threshold: float,
                    consolidation: bool) -> tuple[list[Candidate], dict[str, str]]:
    """(candidates, least utilized first; node -> why it cannot go) over the nodes of the groups in
    `removable` (group -> how many nodes it may lose)."""
    out, unremovable = [], {}
    usable = [n for n, node in snap.nodes.items() if is_ready(node) and not _deleting(node)
              and not snap.shapes[n].unschedulable]
    for name, node in snap.nodes.items():
        group = group_of(node)
        if removable.get(group, 0) < 1 or name not in usable:
            continue
        if node.metadata.annotations.get(SCALE_DOWN_DISABLED) == "true":
            unremovable[name] = "scale-down disabled by annotation"
            continue
        util = utilization(snap.shapes[name])
        if util >= threshold and not consolidation:
            continue
        pods = pods_to_move(snap.pods_on[name])
        why = next((b for b in (blocker(p, pdbs) for p in pods) if b), None)
        if why:
            unremovable[name] = why
            continue
        others = [snap.shapes[n].copy() for n in usable if n != name]
        if place(pods, others) is None:
            unremovable[name] = "no place to move pods"
            continue
        reason = EMPTY if not pods else UNDERUTILIZED if util < threshold else CONSOLIDATION
        out.append(Candidate(name, group, reason, util, pods))
    out.sort(key=lambda c: (c.utilization, c.node))
    return out, unremovable
