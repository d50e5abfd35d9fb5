"""NodeResourcesBalancedAllocation: prefer the node where, with this pod added, the requested
fractions of its resources (cpu and memory by default) are closest to each other, so no resource runs
out while the others sit idle. Score (1 - standard deviation of the fractions) * 100."""
from __future__ import annotations

import math

from minik8s.scheduler.framework import MAX_NODE_SCORE, SKIP
from minik8s.scheduler.plugins.node_resources_fit import parse_resources

NAME = "NodeResourcesBalancedAllocation"


def balanced_score(fractions: list[float]) -> int:
    if len(fractions) < 2:
        return MAX_NODE_SCORE
    if len(fractions) == 2:
        std = abs(fractions[0] - fractions[1]) / 2
    else:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    return int((1 - std) * MAX_NODE_SCORE)


class BalancedAllocation:
    name = NAME
    node_local = True
    normalize_score = None

    def __init__(self, args: dict, handle=None):
        self.resources = [r for r, _ in parse_resources(args, NAME)]

    def pre_score(self, state, pod, snapshot):
        # a pod that requests none of the resources changes no fraction (upstream skips BestEffort pods)
        return None if any(pod.requests.get(r) for r in self.resources) else SKIP

    def score(self, state, pod, node) -> int:
        fractions = []
        for r in self.resources:
            capacity = node.allocatable.get(r, 0)
            if capacity:
                f = (node.requested.get(r, 0) + pod.requests.get(r, 0)) / capacity
                fractions.append(f if f < 1 else 1.0)
        return balanced_score(fractions)
