"""NodeBusyness: prefer the node that is least busy by what its kubelet measured (the NodeMetrics
usage of cpu and memory against allocatable), not by what pods requested. Score
(1 - mean used fraction) * 100. A node without metrics scores 50, neither preferred nor avoided; when
no node has metrics the plugin sits out."""
from __future__ import annotations

from minik8s.scheduler.framework import MAX_NODE_SCORE, SKIP
from minik8s.scheduler.nodeinfo import CPU, MEMORY

NAME = "NodeBusyness"
UNKNOWN = MAX_NODE_SCORE // 2


class NodeBusyness:
    name = NAME
    node_local = True
    normalize_score = None

    def __init__(self, args: dict, handle=None):
        pass

    def pre_score(self, state, pod, snapshot):
        return None if snapshot.usage_nodes else SKIP

    def score(self, state, pod, node) -> int:
        if node.usage is None:
            return UNKNOWN
        fractions = []
        for used, r in zip(node.usage, (CPU, MEMORY)):
            capacity = node.allocatable.get(r, 0)
            if capacity:
                fractions.append(min(used / capacity, 1.0))
        if not fractions:
            return UNKNOWN
        return int((1 - sum(fractions) / len(fractions)) * MAX_NODE_SCORE)
