"""Whether a pod fits a node: the scheduler's filter rules as pure functions, shared by the scheduler's
plugins and by the cluster autoscaler, which asks the same question of nodes that do not exist yet.

- requests: a pod's effective requests as upstream's resource.PodRequests adds them up, as ints
  (milli-cpu for cpu, whole units for the rest), and whether they fit what a node has left;
- taints: a node's effective taints (its own plus the not-ready / unreachable NoSchedule taint of a
  node that is not Ready) and upstream's ToleratesTaint;
- node affinity: `nodeSelector` and required NodeSelectorTerms compiled to predicates on
  (labels, node name).

`fit_reasons` puts them together with upstream's messages (`Insufficient cpu`, `node(s) had untolerated
taint {k: v}`, ...), for a node given as a `NodeShape`: what the rules look at, nothing else."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from minik8s.api.quantity import QuantityError, parse_quantity

CPU = "cpu"
MEMORY = "memory"
PODS = "pods"
GPU = "nvidia.com/gpu"
DEFAULT_MILLI_CPU_REQUEST = 100                 # what a container that requests no cpu counts as in scores
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024      # ... and no memory

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE = "NoSchedule", "NoExecute", "PreferNoSchedule"

TOO_MANY_PODS = "Too many pods"
NODE_AFFINITY_MISMATCH = "node(s) didn't match Pod's node affinity/selector"
NODE_UNSCHEDULABLE = "node(s) were unschedulable"


# ---------------------------------------------------------------- requests
@lru_cache(maxsize=4096)
def quantity(resource: str, text: str) -> int:
    """A resource quantity as the int the scheduler adds up: milli-cpu, else whole units (rounded up).
    An unparsable quantity (the API server rejects those) counts as 0."""
    try:
        q = parse_quantity(text)
    except QuantityError:
        return 0
    return q.milli_value() if resource == CPU else q.value()


def _resource_order(name: str) -> tuple[int, str]:
    return ({CPU: 0, MEMORY: 1, "ephemeral-storage": 2}.get(name, 3), name)


def _add(into: dict, reqs) -> None:
    for name, text in reqs.items():
        into[name] = into.get(name, 0) + quantity(name, text)


def _max_into(into: dict, other: dict) -> None:
    for name, v in other.items():
        if v > into.get(name, 0):
            into[name] = v


def _container_requests(c, nonzero: bool) -> dict:
    out: dict = {}
    _add(out, c.resources.requests)
    if nonzero:
        out.setdefault(CPU, DEFAULT_MILLI_CPU_REQUEST)      # missing, not an explicit 0, as upstream
        out.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST)
    return out


def pod_requests(spec, nonzero: bool = False) -> dict[str, int]:
    """The pod's effective requests, as upstream's resource.PodRequests. With `nonzero`, a container
    that does not request cpu (memory) counts 100m (200Mi), as scoring does; only cpu and memory then."""
    reqs: dict = {}
    for c in spec.containers:
        for name, v in _container_requests(c, nonzero).items():
            reqs[name] = reqs.get(name, 0) + v
    sidecars: dict = {}       # restartable init containers started so far keep running beside the rest
    init_peak: dict = {}
    for c in spec.initContainers:
        own = _container_requests(c, nonzero)
        if c.HasField("restartPolicy") and c.restartPolicy == "Always":
            for name, v in own.items():
                reqs[name] = reqs.get(name, 0) + v
                sidecars[name] = sidecars.get(name, 0) + v
            running = dict(sidecars)
        else:
            running = dict(own)
            for name, v in sidecars.items():
                running[name] = running.get(name, 0) + v
        _max_into(init_peak, running)
    _max_into(reqs, init_peak)
    if spec.overhead:
        _add(reqs, spec.overhead)
    if nonzero:
        return {CPU: reqs.get(CPU, 0), MEMORY: reqs.get(MEMORY, 0)}
    # upstream's order, which is the order of a node's `Insufficient ...` reasons
    return {k: reqs[k] for k in sorted(reqs, key=_resource_order) if reqs[k]}


def insufficient(requests: dict[str, int], allocatable: dict[str, int], requested: dict[str, int]) -> list[str]:
    """`Insufficient R` for each resource the pod asks more of than the node has left."""
    return [f"Insufficient {r}" for r, v in requests.items() if v > allocatable.get(r, 0) - requested.get(r, 0)]


# ---------------------------------------------------------------- taints and tolerations
def _condition(node, type_: str) -> str:
    for c in node.status.conditions:
        if c.type == type_:
            return c.status
    return ""


def effective_taints(node) -> list[tuple[str, str, str]]:
    """The node's taints as (key, value, effect), plus the NoSchedule taint upstream's node lifecycle
    controller puts on a node that is not Ready (Ready=Unknown: unreachable; False or absent: not-ready),
    unless it is there already."""
    taints = [(t.key, t.value, t.effect) for t in node.spec.taints]
    ready = _condition(node, "Ready")
    if ready != "True":
        key = TAINT_UNREACHABLE if ready == "Unknown" else TAINT_NOT_READY
        if not any(k == key and e == NO_SCHEDULE for k, _, e in taints):
            taints.append((key, "", NO_SCHEDULE))
    return taints


def pod_tolerations(pod) -> tuple[tuple[str, str, str, str], ...]:
    """(key, operator, value, effect) of each of the pod's tolerations."""
    return tuple((t.key, t.operator or "Equal", t.value, t.effect) for t in pod.spec.tolerations)


def tolerates(toleration: tuple[str, str, str, str], taint: tuple[str, str, str]) -> bool:
    """Upstream's ToleratesTaint: an empty effect matches every effect, an empty key with Exists every
    key; Equal compares values, Exists does not."""
    key, op, value, effect = toleration
    if effect and effect != taint[2]:
        return False
    if key and key != taint[0]:
        return False
    if op == "Exists":
        return True
    return op == "Equal" and value == taint[1]


def untolerated(tolerations, taints) -> tuple[str, str, str] | None:
    for taint in taints:
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def untolerated_message(taint: tuple[str, str, str]) -> str:
    return f"node(s) had untolerated taint {{{taint[0]}: {taint[1]}}}"


# ---------------------------------------------------------------- node affinity
def _int(s: str) -> int | None:
    try:
        return int(s)
    except (TypeError, ValueError):
        return None


def _requirement(req, field: bool):
    """A predicate on (labels, node name) for one NodeSelectorRequirement; None if it is malformed."""
    key, op, values = req.key, req.operator, frozenset(req.values)
    if field:
        if key != "metadata.name" or op not in ("In", "NotIn") or len(values) != 1:
            return None
        return (lambda labels, name: name in values) if op == "In" else (lambda labels, name: name not in values)
    if op == "In":
        return lambda labels, name: labels.get(key) in values
    if op == "NotIn":
        return lambda labels, name: labels.get(key) not in values
    if op == "Exists":
        return lambda labels, name: key in labels
    if op == "DoesNotExist":
        return lambda labels, name: key not in labels
    if op in ("Gt", "Lt") and len(req.values) == 1 and _int(req.values[0]) is not None:
        bound = _int(req.values[0])
        if op == "Gt":
            return lambda labels, name: (v := _int(labels.get(key))) is not None and v > bound
        return lambda labels, name: (v := _int(labels.get(key))) is not None and v < bound
    return None


def compile_term(term):
    """A predicate for a NodeSelectorTerm: all its requirements hold. Empty or malformed: never."""
    preds = [_requirement(r, False) for r in term.matchExpressions] + \
            [_requirement(r, True) for r in term.matchFields]
    if not preds or any(p is None for p in preds):
        return lambda labels, name: False
    if len(preds) == 1:
        return preds[0]
    return lambda labels, name: all(p(labels, name) for p in preds)


def required_node_terms(spec):
    """The compiled required node affinity terms of a pod spec, or None when it has none."""
    aff = spec.affinity
    if aff.HasField("nodeAffinity") and aff.nodeAffinity.HasField("requiredDuringSchedulingIgnoredDuringExecution"):
        return [compile_term(t) for t in aff.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms]
    return None


def matches_node_selector(spec, labels: dict, node_name: str) -> bool:
    """`nodeSelector` and required node affinity both hold for a node with these labels."""
    if any(labels.get(k) != v for k, v in spec.nodeSelector.items()):
        return False
    terms = required_node_terms(spec)
    return terms is None or any(t(labels, node_name) for t in terms)


# ---------------------------------------------------------------- all together
@dataclass
class NodeShape:
    """What the fit rules look at on a node: its name and labels, its NoSchedule/NoExecute taints,
    whether it is cordoned, its allocatable (pods apart) and what its pods already request."""
    name: str
    labels: dict = field(default_factory=dict)
    taints: tuple = ()
    unschedulable: bool = False
    allocatable: dict = field(default_factory=dict)
    allowed_pods: int = 110
    requested: dict = field(default_factory=dict)
    pod_count: int = 0

    @classmethod
    def of_node(cls, node) -> "NodeShape":
        alloc = {name: quantity(name, text) for name, text in node.status.allocatable.items()}
        return cls(node.metadata.name, dict(node.metadata.labels),
                   tuple(t for t in effective_taints(node) if t[2] in (NO_SCHEDULE, NO_EXECUTE)),
                   node.spec.unschedulable, alloc, alloc.pop(PODS, 0))

    def add(self, requests: dict[str, int]) -> None:
        for r, v in requests.items():
            self.requested[r] = self.requested.get(r, 0) + v
        self.pod_count += 1

    def remove(self, requests: dict[str, int]) -> None:
        for r, v in requests.items():
            self.requested[r] = self.requested.get(r, 0) - v
        self.pod_count -= 1

    def copy(self) -> "NodeShape":
        return NodeShape(self.name, self.labels, self.taints, self.unschedulable, self.allocatable,
                         self.allowed_pods, dict(self.requested), self.pod_count)


def fit_reasons(pod, node: NodeShape, requests: dict[str, int] | None = None) -> list[str]:
    """Why `pod` does not fit `node` in the scheduler's words (empty: it fits): cordon, taints, node
    selector and affinity, then pod count and resources, as the filter plugins run."""
    spec = pod.spec
    tolerations = pod_tolerations(pod)
    if node.unschedulable and not any(tolerates(t, (TAINT_UNSCHEDULABLE, "", NO_SCHEDULE)) for t in tolerations):
        return [NODE_UNSCHEDULABLE]
    taint = untolerated(tolerations, node.taints)
    if taint is not None:
        return [untolerated_message(taint)]
    if not matches_node_selector(spec, node.labels, node.name):
        return [NODE_AFFINITY_MISMATCH]
    reasons = [TOO_MANY_PODS] if node.pod_count + 1 > node.allowed_pods else []
    reqs = pod_requests(spec) if requests is None else requests
    return reasons + insufficient(reqs, node.allocatable, node.requested)
