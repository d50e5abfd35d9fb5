"""What the scheduler knows about a pod and a node, worked out once per object version so that filters
and scores are a few dict lookups.

`PodInfo` holds a pod's requests (summed as upstream's PodRequests does: app containers and sidecars
together, an ordinary init container alone, the largest of the two, plus overhead), the "non-zero"
cpu/memory that scores use for containers that request nothing, its host ports, its priority and its
required pod (anti-)affinity terms.

`NodeInfo` holds a node's allocatable, its effective taints (the node's own, plus the `not-ready` or
`unreachable` taint upstream's node lifecycle controller would add for a node that is not Ready), the
pods on it (bound or assumed), their summed requests and the host ports they use. Quantities are ints:
milli-cpu for cpu, whole units (bytes, devices) for everything else."""
from __future__ import annotations

from collections import Counter, OrderedDict

from minik8s.api.clock import parse_time
# the requests and taints rules are shared with the cluster autoscaler; re-exported for the plugins
from minik8s.api.nodefit import (CPU, MEMORY, NO_EXECUTE, NO_SCHEDULE, PODS, PREFER_NO_SCHEDULE,  # noqa: F401
                                 effective_taints, pod_requests, pod_tolerations, quantity)
from minik8s.api.selectors import SelectorError, from_label_selector_obj


DERIVED_KEPT = 256      # pod specs whose derived parts are kept (a spec per template, usually)


def host_ports(spec) -> tuple[tuple[str, str, int], ...]:
    """(protocol, hostIP, hostPort) of every container port that asks for a host port."""
    out = []
    for c in list(spec.initContainers) + list(spec.containers):
        for p in c.ports:
            if p.hostPort > 0:
                out.append((p.protocol or "TCP", p.hostIP or "0.0.0.0", p.hostPort))
    return tuple(out)


class AffinityTerm:
    """A required pod (anti-)affinity term, compiled: which pods it selects and over what topology."""
    __slots__ = ("selector", "namespaces", "topology_key")

    def __init__(self, term, own_namespace: str):
        self.selector = from_label_selector_obj(term.labelSelector if term.HasField("labelSelector") else None)
        self.topology_key = term.topologyKey
        if term.HasField("namespaceSelector") and not (term.namespaceSelector.matchLabels
                                                       or term.namespaceSelector.matchExpressions):
            self.namespaces = None          # an empty namespaceSelector means every namespace
        else:
            self.namespaces = frozenset(term.namespaces) or frozenset((own_namespace,))

    def matches(self, pod_info: "PodInfo") -> bool:
        return ((self.namespaces is None or pod_info.namespace in self.namespaces)
                and self.selector.matches(pod_info.labels))


def _terms(terms, namespace: str) -> tuple[AffinityTerm, ...]:
    out = []
    for t in terms:
        try:
            out.append(AffinityTerm(t, namespace))
        except SelectorError:
            continue            # the API server validates selectors; a bad one selects nothing
    return tuple(out)


def as_dict(labels) -> dict[str, str]:
    """A protobuf map as a dict: indexing by key is a few times quicker than `dict(m)`, which goes
    through the Mapping protocol in Python."""
    return {k: labels[k] for k in labels}


def _same_but_node(spec, other) -> bool:
    """Whether two pod specs are equal but for spec.nodeName."""
    if spec.nodeName == other.nodeName:
        return spec == other
    copy = type(spec)()
    copy.CopyFrom(spec)
    copy.nodeName = other.nodeName
    return copy == other


def _derive(pod) -> tuple:
    spec, namespace = pod.spec, pod.metadata.namespace
    priority = spec.priority if spec.HasField("priority") else 0
    requests = pod_requests(spec)
    nz = pod_requests(spec, nonzero=True)
    ports = host_ports(spec)
    aff = spec.affinity
    affinity = _terms(aff.podAffinity.requiredDuringSchedulingIgnoredDuringExecution,
                      namespace) if aff.HasField("podAffinity") else ()
    anti_affinity = _terms(aff.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution,
                           namespace) if aff.HasField("podAntiAffinity") else ()
    tolerations = pod_tolerations(pod)
    footprint = (priority, tuple(sorted(requests.items())), nz[CPU], nz[MEMORY], ports,
                 aff.SerializeToString(deterministic=True) if spec.HasField("affinity") else b"")
    return priority, requests, nz[CPU], nz[MEMORY], ports, affinity, anti_affinity, tolerations, footprint


_derived: OrderedDict[tuple[str, bytes], tuple] = OrderedDict()


def _from_spec(pod) -> tuple:
    """What `PodInfo` works out from a pod's spec (its affinity terms read the namespace too). Pods of
    one template have byte-equal specs, so a scheduler receiving a thousand replicas works it out once;
    equal bytes are an equal spec, so a hit is always right (a miss only costs the work)."""
    key = (pod.metadata.namespace, pod.spec.SerializeToString())
    out = _derived.get(key)
    if out is None:
        out = _derived[key] = _derive(pod)
        if len(_derived) > DERIVED_KEPT:
            _derived.popitem(last=False)
    else:
        _derived.move_to_end(key)
    return out


class PodInfo:
    """A pod and what the scheduler derived from it. Shared and read-only, like the pod itself."""
    __slots__ = ("pod", "uid", "key", "namespace", "name", "labels", "priority", "requests", "nonzero_cpu",
                 "nonzero_mem", "host_ports", "affinity_terms", "anti_affinity_terms", "node_name",
                 "fingerprint", "tolerations", "signature")

    def __init__(self, pod):
        meta, spec = pod.metadata, pod.spec
        self.pod = pod
        self.uid = meta.uid
        self.namespace, self.name = meta.namespace, meta.name
        self.key = f"{meta.namespace}/{meta.name}"
        self.labels = as_dict(meta.labels)
        (self.priority, self.requests, self.nonzero_cpu, self.nonzero_mem, self.host_ports, self.affinity_terms,
         self.anti_affinity_terms, self.tolerations, footprint) = _from_spec(pod)
        self.node_name = spec.nodeName
        self.signature = None           # the framework's pod_signature, worked out on first use
        # what, if it changes, changes the pod's footprint on a node
        self.fingerprint = (footprint, tuple(sorted(self.labels.items())))

    def updated(self, pod) -> "PodInfo":
        """The PodInfo of `pod`, this pod's next version, reusing what was derived here when all that
        changed is the node it is bound to (a bind landing), else worked out afresh."""
        if (pod.metadata.uid != self.uid or as_dict(pod.metadata.labels) != self.labels
                or not _same_but_node(pod.spec, self.pod.spec)):
            return PodInfo(pod)
        pi = PodInfo.__new__(PodInfo)
        for attr in PodInfo.__slots__:
            setattr(pi, attr, getattr(self, attr))
        pi.pod, pi.node_name = pod, pod.spec.nodeName
        return pi

    @property
    def start_time(self) -> float:
        """When the pod started (its creation when it has not): preemption spares older pods."""
        return parse_time(self.pod.status.startTime or self.pod.metadata.creationTimestamp)

    @property
    def terminating(self) -> bool:
        return bool(self.pod.metadata.deletionTimestamp)


class NodeInfo:
    """A node and the pods the scheduler counts on it. Changed only by the SchedulerCache."""
    __slots__ = ("name", "node", "labels", "unschedulable", "taints", "prefer_taints", "allocatable",
                 "allowed_pods", "pods", "requested", "nonzero_cpu", "nonzero_mem", "ports",
                 "affinity_pods", "usage", "generation")

    def __init__(self, name: str):
        self.name = name
        self.node = None            # None while pods name a node the cache has not seen
        self.labels: dict[str, str] = {}
        self.unschedulable = False
        self.taints: tuple = ()         # NoSchedule and NoExecute: filters
        self.prefer_taints: tuple = ()  # PreferNoSchedule: scores
        self.allocatable: dict[str, int] = {}
        self.allowed_pods = 0
        self.pods: dict[str, PodInfo] = {}
        self.requested: dict[str, int] = {}
        self.nonzero_cpu = 0
        self.nonzero_mem = 0
        self.ports: Counter = Counter()          # (protocol, hostIP, port) -> pods using it
        self.affinity_pods: dict[str, PodInfo] = {}   # pods with required (anti-)affinity terms
        self.usage: tuple[int, int] | None = None    # (milli-cpu, bytes) the kubelet last reported
        self.generation = 0

    def set_node(self, node) -> None:
        self.node = node
        self.labels = as_dict(node.metadata.labels)
        self.unschedulable = node.spec.unschedulable
        taints = effective_taints(node)
        self.taints = tuple(t for t in taints if t[2] in (NO_SCHEDULE, NO_EXECUTE))
        self.prefer_taints = tuple(t for t in taints if t[2] == PREFER_NO_SCHEDULE)
        alloc = {name: quantity(name, text) for name, text in node.status.allocatable.items()}
        self.allowed_pods = alloc.pop(PODS, 0)
        self.allocatable = alloc

    def add_pod(self, pi: PodInfo) -> None:
        self.pods[pi.uid] = pi
        req = self.requested
        for name, v in pi.requests.items():
            req[name] = req.get(name, 0) + v
        self.nonzero_cpu += pi.nonzero_cpu
        self.nonzero_mem += pi.nonzero_mem
        for p in pi.host_ports:
            self.ports[p] += 1
        if pi.affinity_terms or pi.anti_affinity_terms:
            self.affinity_pods[pi.uid] = pi

    def remove_pod(self, pi: PodInfo) -> bool:
        if self.pods.pop(pi.uid, None) is None:
            return False
        req = self.requested
        for name, v in pi.requests.items():
            req[name] = req.get(name, 0) - v
        self.nonzero_cpu -= pi.nonzero_cpu
        self.nonzero_mem -= pi.nonzero_mem
        for p in pi.host_ports:
            self.ports[p] -= 1
            if self.ports[p] <= 0:
                del self.ports[p]
        self.affinity_pods.pop(pi.uid, None)
        return True

    def clone(self) -> "NodeInfo":
        """A copy whose pods can be added and removed without touching this one (preemption's what-if)."""
        c = NodeInfo(self.name)
        for attr in ("node", "labels", "unschedulable", "taints", "prefer_taints", "allocatable", "allowed_pods",
                     "nonzero_cpu", "nonzero_mem", "usage", "generation"):
            setattr(c, attr, getattr(self, attr))
        c.pods = dict(self.pods)
        c.requested = dict(self.requested)
        c.ports = Counter(self.ports)
        c.affinity_pods = dict(self.affinity_pods)
        return c
