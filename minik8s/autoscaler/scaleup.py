"""Scale-up, after upstream's core/scaleup: the pods the scheduler could not place that would fit on
no node there is or is coming, packed (first fit decreasing) onto new nodes of each group within its
max, and one option chosen by the expander:

- `cheapest` (the default here): the lowest price per pod helped, then fewer nodes;
- `least-waste`: the least cpu (then memory) left idle on the new nodes;
- `most-pods`: the most pods helped.

A pod no group can help gets upstream's `NotTriggerScaleUp` reasons: for each reason, how many groups
gave it ("2 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector")."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from minik8s.api.nodefit import CPU, MEMORY, NodeShape, fit_reasons, pod_requests
from minik8s.api.nodegroups import NodeGroup

from minik8s.autoscaler.simulator import bin_pack, largest_first, utilization


@dataclass
class Option:
    group: NodeGroup
    nodes: int
    pods: list
    waste: tuple = (0.0, 0.0)


@dataclass
class Plan:
    options: list = field(default_factory=list)
    refused: dict = field(default_factory=dict)      # pod key -> Counter(reason -> groups)


def pod_key(pod) -> str:
    return f"{pod.metadata.namespace}/{pod.metadata.name}"


def still_pending(pending: list, shapes: list[NodeShape]) -> list:
    """The pods of `pending` that fit on none of `shapes` (nodes there are and nodes coming, copies:
    they are filled as pods are placed)."""
    rest = []
    for pod in largest_first(pending):
        reqs = pod_requests(pod.spec)
        fits = [s for s in shapes if not fit_reasons(pod, s, reqs)]
        if fits:
            max(fits, key=utilization).add(reqs)
        else:
            rest.append(pod)
    return rest


def _waste(group: NodeGroup, nodes: int, pods: list) -> tuple[float, float]:
    alloc = group.template_shape().allocatable
    used = Counter()
    for p in pods:
        used.update(pod_requests(p.spec))
    return tuple(1 - used[r] / (alloc[r] * nodes) for r in (CPU, MEMORY))


def plan(pending: list, groups: list[NodeGroup], room: dict[str, int]) -> Plan:
    """Every group's option for `pending`, given how many nodes each may still add."""
    out = Plan()
    for group in groups:
        nodes, placed, refused = bin_pack(pending, group.template_shape(), room.get(group.name, 0))
        for reason, pods in refused.items():
            for pod in pods:
                out.refused.setdefault(pod_key(pod), Counter())[reason] += 1
        if nodes:
            out.options.append(Option(group, nodes, placed, _waste(group, nodes, placed)))
    return out


def choose(options: list[Option], expander: str) -> Option | None:
    if not options:
        return None
    if expander == "most-pods":
        return min(options, key=lambda o: (-len(o.pods), o.nodes, o.group.name))
    if expander == "least-waste":
        return min(options, key=lambda o: (o.waste, -len(o.pods), o.group.name))
    return min(options, key=lambda o: (o.group.price * o.nodes / len(o.pods), o.nodes, o.group.name))


def not_triggered_message(reasons: Counter) -> str:
    """Upstream's NotTriggerScaleUp message."""
    return "pod didn't trigger scale-up: " + ", ".join(f"{n} {r}" for r, n in sorted(reasons.items()))
