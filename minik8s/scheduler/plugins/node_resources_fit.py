"""NodeResourcesFit: a pod fits a node when its requests (cpu, memory, any extended resource such as
`nvidia.com/gpu`) fit in the node's allocatable minus what the node's pods, bound and assumed, already
request, and the node has room for one more pod (Filter: `Insufficient cpu`, `Too many pods`).

Score, by the configured strategy over weighted resources, each resource scored 0..100 from the
node's requests with this pod added (containers that request nothing count 100m cpu and 200Mi memory):
- MostAllocated: requested / allocatable: fill nodes up before starting another (bin packing),
- LeastAllocated: (allocatable - requested) / allocatable: spread pods out,
- RequestedToCapacityRatio: a piecewise linear function of utilization given as `shape` points
  (utilization 0..100, score 0..10)."""
from __future__ import annotations

from minik8s.api.nodefit import CPU, MEMORY, TOO_MANY_PODS
from minik8s.scheduler.framework import MAX_NODE_SCORE, Status, unschedulable

NAME = "NodeResourcesFit"
STRATEGIES = ("MostAllocated", "LeastAllocated", "RequestedToCapacityRatio")
MAX_CUSTOM_SCORE = 10       # shape scores are 0..10, scaled to 0..100


def least_allocated(requested: int, capacity: int) -> int:
    if requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def most_allocated(requested: int, capacity: int) -> int:
    # requests may pass capacity: containers without requests count the non-zero defaults
    return min(requested, capacity) * MAX_NODE_SCORE // capacity


def broken_linear(shape: list[tuple[int, int]]):
    """Upstream's BuildBrokenLinearFunction over (utilization, score) points sorted by utilization."""
    def f(p: int) -> int:
        for i, (x, y) in enumerate(shape):
            if p <= x:
                if i == 0:
                    return shape[0][1]
                x0, y0 = shape[i - 1]
                return y0 + (y - y0) * (p - x0) // (x - x0)
        return shape[-1][1]
    return f


def requested_to_capacity_ratio(shape: list[tuple[int, int]]):
    scaled = broken_linear([(u, s * (MAX_NODE_SCORE // MAX_CUSTOM_SCORE)) for u, s in shape])

    def score(requested: int, capacity: int) -> int:
        if requested > capacity:
            return scaled(100)
        return scaled(requested * 100 // capacity)
    return score


def parse_resources(args: dict, plugin: str) -> list[tuple[str, int]]:
    resources = args.get("resources")
    if resources is None:
        return [(CPU, 1), (MEMORY, 1)]
    out = []
    for i, r in enumerate(resources):
        name, weight = (r or {}).get("name"), (r or {}).get("weight", 1)
        if not name:
            raise ValueError(f"{plugin}: resources[{i}].name: Required value")
        if not isinstance(weight, int) or not 1 <= weight <= 100:
            raise ValueError(f"{plugin}: resources[{i}].weight: Invalid value: {weight!r}: must be in the range [1, 100]")
        out.append((name, weight))
    return out


def _scorer(strategy: dict):
    kind = strategy.get("type", "MostAllocated")
    if kind == "MostAllocated":
        return most_allocated
    if kind == "LeastAllocated":
        return least_allocated
    if kind == "RequestedToCapacityRatio":
        points = ((strategy.get("requestedToCapacityRatio") or {}).get("shape")) or []
        shape = []
        for i, p in enumerate(points):
            u, s = p.get("utilization"), p.get("score")
            if not isinstance(u, int) or not 0 <= u <= 100:
                raise ValueError(f"{NAME}: shape[{i}].utilization: Invalid value: {u!r}: must be in the range [0, 100]")
            if not isinstance(s, int) or not 0 <= s <= MAX_CUSTOM_SCORE:
                raise ValueError(f"{NAME}: shape[{i}].score: Invalid value: {s!r}: must be in the range [0, 10]")
            if shape and u <= shape[-1][0]:
                raise ValueError(f"{NAME}: shape[{i}].utilization: Invalid value: {u}: utilization values must be "
                                 "sorted in increasing order")
            shape.append((u, s))
        if not shape:
            raise ValueError(f"{NAME}: requestedToCapacityRatio.shape: Required value")
        return requested_to_capacity_ratio(shape)
    raise ValueError(f'{NAME}: scoringStrategy.type: Unsupported value: "{kind}": supported values: '
                     + ", ".join(f'"{s}"' for s in STRATEGIES))


class NodeResourcesFit:
    name = NAME
    node_local = True
    normalize_score = None
    events = frozenset({"NodeAdd", "NodeUpdate", "PodDelete", "PodUpdate"})

    def __init__(self, args: dict, handle=None):
        strategy = args.get("scoringStrategy") or {}
        self.strategy = strategy.get("type", "MostAllocated")
        self.resources = parse_resources(strategy, NAME)
        self._score = _scorer(strategy)
        self._statuses: dict[tuple[str, ...], Status] = {}

    def filter(self, state, pod, node):
        reasons = None
        if len(node.pods) + 1 > node.allowed_pods:
            reasons = [TOO_MANY_PODS]
        if pod.requests:
            alloc, used = node.allocatable, node.requested
            for r, v in pod.requests.items():
                if v > alloc.get(r, 0) - used.get(r, 0):
                    if reasons is None:
                        reasons = []
                    reasons.append(f"Insufficient {r}")
        if reasons is None:
            return None
        key = tuple(reasons)
        st = self._statuses.get(key)
        if st is None:
            st = self._statuses[key] = unschedulable(NAME, *key)
        return st

    def score(self, state, pod, node) -> int:
        total = weights = 0
        for r, w in self.resources:
            capacity = node.allocatable.get(r, 0)
            if not capacity:
                continue
            if r == CPU:
                requested = node.nonzero_cpu + pod.nonzero_cpu
            elif r == MEMORY:
                requested = node.nonzero_mem + pod.nonzero_mem
            else:
                requested = node.requested.get(r, 0) + pod.requests.get(r, 0)
            total += self._score(requested, capacity) * w
            weights += w
        return total // weights if weights else 0
