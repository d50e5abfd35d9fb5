"""The autoscaler's picture of the cluster and its what-ifs, pure functions over API objects: which pods
wait for a node, what each node's pods request, whether a set of pods fits on some nodes (first fit,
largest pods first, fullest nodes first, as the scheduler's MostAllocated scoring would pack them), and
a node's utilization as upstream computes it (the larger of cpu and memory requests over allocatable;
a GPU node's GPUs alone)."""
from __future__ import annotations

from dataclasses import dataclass, field

from minik8s.api.nodefit import CPU, GPU, MEMORY, NodeShape, fit_reasons, pod_requests
from minik8s.api.nodegroups import GROUP_LABEL

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def is_terminal(pod) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


def is_unschedulable(pod) -> bool:
    """Pending, unbound, and marked by the scheduler PodScheduled=False reason Unschedulable."""
    if pod.spec.nodeName or pod.metadata.deletionTimestamp or is_terminal(pod):
        return False
    return any(c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable"
               for c in pod.status.conditions)


def is_ready(node) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)


def controller_kind(pod) -> str:
    return next((r.kind for r in pod.metadata.ownerReferences if r.controller), "")


def is_daemon_or_mirror(pod) -> bool:
    return controller_kind(pod) == "DaemonSet" or MIRROR_ANNOTATION in pod.metadata.annotations


def group_of(node) -> str:
    return node.metadata.labels.get(GROUP_LABEL, "")


@dataclass
class Snapshot:
    """Nodes by name (as NodeShapes with their pods' requests counted), the live pods on each, and the
    pods waiting for a node."""
    nodes: dict = field(default_factory=dict)          # name -> Node
    shapes: dict = field(default_factory=dict)         # name -> NodeShape
    pods_on: dict = field(default_factory=dict)        # name -> [Pod]
    pending: list = field(default_factory=list)


def take_snapshot(nodes, pods) -> Snapshot:
    snap = Snapshot()
    for node in nodes:
        name = node.metadata.name
        snap.nodes[name] = node
        snap.shapes[name] = NodeShape.of_node(node)
        snap.pods_on[name] = []
    for pod in pods:
        if is_terminal(pod):
            continue
        node = pod.spec.nodeName
        if node in snap.shapes:
            snap.shapes[node].add(pod_requests(pod.spec))
            snap.pods_on[node].append(pod)
        elif is_unschedulable(pod):
            snap.pending.append(pod)
    return snap


def utilization(shape: NodeShape) -> float:
    """Upstream's node utilization: of a GPU node its GPUs alone, else max(cpu, memory)."""
    if shape.allocatable.get(GPU):
        return shape.requested.get(GPU, 0) / shape.allocatable[GPU]
    ratios = [shape.requested.get(r, 0) / shape.allocatable[r] for r in (CPU, MEMORY) if shape.allocatable.get(r)]
    return max(ratios, default=0.0)


def _size(pod) -> tuple:
    reqs = pod_requests(pod.spec)
    return (reqs.get(GPU, 0), reqs.get(CPU, 0), reqs.get(MEMORY, 0))


def largest_first(pods) -> list:
    return sorted(pods, key=_size, reverse=True)


def place(pods, shapes: list[NodeShape]) -> dict | None:
    """Pod key -> node name for every pod of `pods` on the `shapes` (which are changed: the pods'
    requests are added), or None when one fits nowhere."""
    out = {}
    for pod in largest_first(pods):
        reqs = pod_requests(pod.spec)
        fits = [s for s in shapes if not fit_reasons(pod, s, reqs)]
        if not fits:
            return None
        best = max(fits, key=utilization)
        best.add(reqs)
        out[f"{pod.metadata.namespace}/{pod.metadata.name}"] = best.name
    return out


def bin_pack(pods, template: NodeShape, room: int) -> tuple[int, list, dict]:
    """First fit decreasing of `pods` onto at most `room` new nodes shaped as `template`: (nodes
    needed, the pods placed, why each pod that can never fit there does not: reason -> pods)."""
    bins: list[NodeShape] = []
    placed, refused = [], {}
    for pod in largest_first(pods):
        reqs = pod_requests(pod.spec)
        why = fit_reasons(pod, template, reqs)
        if why:
            for reason in why:
                refused.setdefault(reason, []).append(pod)
            continue
        target = next((b for b in bins if not fit_reasons(pod, b, reqs)), None)
        if target is None:
            if len(bins) >= room:
                refused.setdefault("max node group size reached", []).append(pod)
                continue
            target = template.copy()
            target.name = f"{template.name}-new-{len(bins)}"
            bins.append(target)
        target.add(reqs)
        placed.append(pod)
    return len(bins), placed, refused
