"""Node groups: the `nodeGroups` of a cluster file, read and checked once, for `minictl up` (which
refuses a bad one before anything starts) and the cluster autoscaler (which grows and shrinks them).

    nodeGroups:
    - name: cpu                  # nodes are named cpu-1, cpu-2, ... and labelled minik8s.io/node-group=cpu
      min: 0
      max: 10
      template: {cpu: "4", memory: 8Gi, gpus: 0, labels: {pool: batch}, taints: [{key: k, value: v, effect: NoSchedule}]}
      runtime: fake              # the group's nodes' runtime (default: the cluster's)
      price: 4                   # relative cost of one node per second, for the cheapest expander

A group's `price` defaults to its template's size (cpu cores, plus a core per 4Gi of memory, plus 8 per
GPU, the proportions of common cloud instance prices)."""
from __future__ import annotations

from dataclasses import dataclass, field

from minik8s.api.nodefit import CPU, GPU, MEMORY, NO_EXECUTE, NO_SCHEDULE, NodeShape, quantity
from minik8s.api.quantity import QuantityError, parse_quantity
from minik8s.api.selectors import validate_dns1123_label, validate_label_key, validate_label_value

GROUP_LABEL = "minik8s.io/node-group"
STATUS_CONFIGMAP = "cluster-autoscaler-status"        # in kube-system, key `status`, as upstream
STATUS_NAMESPACE = "kube-system"
STATUS_LAST_UPDATED = "cluster-autoscaler.kubernetes.io/last-updated"
RUNTIMES = ("auto", "docker", "process", "fake")
TAINT_EFFECTS = (NO_SCHEDULE, "PreferNoSchedule", NO_EXECUTE)
MAX_PODS = 110                       # the kubelet's default pod capacity
GPU_PRICE = 8                        # a GPU costs about as much as 8 cores
GIB_PER_CORE_PRICE = 4


@dataclass(frozen=True)
class NodeGroup:
    name: str
    min: int
    max: int
    cpu: str
    memory: str
    gpus: int = 0
    labels: dict = field(default_factory=dict)
    taints: tuple = ()               # ({key, value, effect}, ...)
    runtime: str = ""                # "": the cluster's
    price: float = 0.0

    def node_name(self, index: int) -> str:
        return f"{self.name}-{index}"

    def node_labels(self) -> dict:
        return {**self.labels, GROUP_LABEL: self.name}

    def template_shape(self, name: str = "") -> NodeShape:
        """The node a scale-up would add, empty, as the fit rules see it."""
        alloc = {CPU: quantity(CPU, self.cpu), MEMORY: quantity(MEMORY, self.memory)}
        if self.gpus:
            alloc[GPU] = self.gpus
        name = name or self.node_name(0)
        labels = {**self.node_labels(), "kubernetes.io/hostname": name}
        taints = tuple((t["key"], t.get("value", ""), t["effect"]) for t in self.taints
                       if t["effect"] in (NO_SCHEDULE, NO_EXECUTE))
        return NodeShape(name, labels, taints, False, alloc, MAX_PODS)


class NodeGroupError(ValueError):
    """A bad node group; the message names the field (`nodeGroups[1].max: ...`)."""


def _int(value, path: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise NodeGroupError(f"{path}: Invalid value: {value!r}: must be an integer of at least {low}")
    return value


def _positive_quantity(value, path: str) -> str:
    if value is None:
        raise NodeGroupError(f"{path}: Required value")
    try:
        q = parse_quantity(str(value))
    except (QuantityError, ValueError) as e:
        raise NodeGroupError(f"{path}: Invalid value: {value!r}: {e}") from None
    if q.milli_value() <= 0:
        raise NodeGroupError(f"{path}: Invalid value: {value!r}: must be greater than 0")
    return str(value)


def _labels(value, path: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise NodeGroupError(f"{path}: expected a mapping of label keys to values")
    for k, v in value.items():
        errors = validate_label_key(str(k)) + validate_label_value("" if v is None else str(v))
        if errors:
            raise NodeGroupError(f"{path}[{k}]: Invalid value: {v!r}: {errors[0]}")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _taints(value, path: str) -> tuple:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise NodeGroupError(f"{path}: expected a list of taints")
    out = []
    for i, t in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(t, dict) or not t.get("key"):
            raise NodeGroupError(f"{where}.key: Required value")
        errors = validate_label_key(str(t["key"])) + validate_label_value(str(t.get("value", "")))
        if errors:
            raise NodeGroupError(f"{where}: Invalid value: {t!r}: {errors[0]}")
        if t.get("effect") not in TAINT_EFFECTS:
            raise NodeGroupError(f"{where}.effect: Unsupported value: {t.get('effect')!r}: supported values: "
                                 + ", ".join(f'"{e}"' for e in TAINT_EFFECTS))
        out.append({"key": str(t["key"]), "value": str(t.get("value", "")), "effect": t["effect"]})
    return tuple(out)


def default_price(cpu: str, memory: str, gpus: int) -> float:
    return quantity(CPU, cpu) / 1000 + quantity(MEMORY, memory) / 2**30 / GIB_PER_CORE_PRICE + GPU_PRICE * gpus


def parse_node_group(entry, path: str) -> NodeGroup:
    if not isinstance(entry, dict):
        raise NodeGroupError(f"{path}: expected a mapping (name, min, max, template, runtime)")
    unknown = set(entry) - {"name", "min", "max", "template", "runtime", "price"}
    if unknown:
        raise NodeGroupError(f"{path}.{sorted(unknown)[0]}: unknown field")
    name = entry.get("name")
    if not name:
        raise NodeGroupError(f"{path}.name: Required value")
    errors = validate_dns1123_label(str(name))
    if errors:
        raise NodeGroupError(f"{path}.name: Invalid value: {name!r}: {errors[0]}")
    low = _int(entry.get("min", 0), f"{path}.min")
    high = _int(entry.get("max"), f"{path}.max", 1) if "max" in entry else None
    if high is None:
        raise NodeGroupError(f"{path}.max: Required value")
    if low > high:
        raise NodeGroupError(f"{path}.min: Invalid value: {low}: must be less than or equal to max ({high})")
    template = entry.get("template")
    if not isinstance(template, dict):
        raise NodeGroupError(f"{path}.template: Required value: a mapping (cpu, memory, gpus, labels, taints)")
    t = f"{path}.template"
    unknown = set(template) - {"cpu", "memory", "gpus", "labels", "taints"}
    if unknown:
        raise NodeGroupError(f"{t}.{sorted(unknown)[0]}: unknown field")
    cpu = _positive_quantity(template.get("cpu"), f"{t}.cpu")
    memory = _positive_quantity(template.get("memory"), f"{t}.memory")
    gpus = _int(template.get("gpus", 0), f"{t}.gpus")
    labels = _labels(template.get("labels"), f"{t}.labels")
    if GROUP_LABEL in labels:
        raise NodeGroupError(f"{t}.labels[{GROUP_LABEL}]: the group's name is its nodes' {GROUP_LABEL} label")
    runtime = entry.get("runtime") or ""
    if runtime and runtime not in RUNTIMES:
        raise NodeGroupError(f"{path}.runtime: Unsupported value: {runtime!r}: supported values: "
                             + ", ".join(f'"{r}"' for r in RUNTIMES))
    price = entry.get("price")
    if price is None:
        price = default_price(cpu, memory, gpus)
    elif isinstance(price, bool) or not isinstance(price, (int, float)) or price <= 0:
        raise NodeGroupError(f"{path}.price: Invalid value: {price!r}: must be a number greater than 0")
    return NodeGroup(str(name), low, high, cpu, memory, gpus, labels, _taints(template.get("taints"), f"{t}.taints"),
                     runtime, float(price))


def parse_node_groups(value, path: str = "nodeGroups") -> list[NodeGroup]:
    """The cluster file's `nodeGroups`, checked; NodeGroupError names the first bad field."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise NodeGroupError(f"{path}: expected a list of node groups")
    groups = [parse_node_group(e, f"{path}[{i}]") for i, e in enumerate(value)]
    seen: set[str] = set()
    for i, g in enumerate(groups):
        if g.name in seen:
            raise NodeGroupError(f"{path}[{i}].name: Duplicate value: {g.name!r}")
        seen.add(g.name)
    return groups


# ---------------------------------------------------------------- the autoscaler's settings
# cluster.yaml `clusterAutoscaler:` keys, upstream's flag names in camelCase, with upstream's defaults
AUTOSCALER_DEFAULTS = {
    "scanInterval": 10.0,                        # --scan-interval
    "scaleDownUnneededTime": 600.0,              # --scale-down-unneeded-time
    "scaleDownDelayAfterAdd": 600.0,             # --scale-down-delay-after-add
    "scaleDownDelayAfterFailure": 180.0,         # --scale-down-delay-after-failure
    "scaleDownUtilizationThreshold": 0.5,        # --scale-down-utilization-threshold
    "maxGracefulTerminationSec": 600.0,          # --max-graceful-termination-sec
    "maxPodEvictionTime": 120.0,                 # how long 429s are retried before a scale-down fails
    "newPodScaleUpDelay": 0.0,                   # --new-pod-scale-up-delay
    "initialNodeGroupBackoffDuration": 300.0,    # --initial-node-group-backoff-duration
    "consolidation": True,                       # move pods off a node when they fit on the others
    "expander": "cheapest",
}
EXPANDERS = ("cheapest", "least-waste", "most-pods")


def parse_autoscaler_settings(value, path: str = "clusterAutoscaler") -> dict:
    """The `clusterAutoscaler` section over the defaults; NodeGroupError names a bad key."""
    out = dict(AUTOSCALER_DEFAULTS)
    if value is None:
        return out
    if not isinstance(value, dict):
        raise NodeGroupError(f"{path}: expected a mapping")
    for key, v in value.items():
        if key not in AUTOSCALER_DEFAULTS:
            raise NodeGroupError(f"{path}.{key}: unknown field (known: {', '.join(AUTOSCALER_DEFAULTS)})")
        default = AUTOSCALER_DEFAULTS[key]
        if isinstance(default, bool):
            if not isinstance(v, bool):
                raise NodeGroupError(f"{path}.{key}: Invalid value: {v!r}: must be true or false")
        elif isinstance(default, float):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise NodeGroupError(f"{path}.{key}: Invalid value: {v!r}: must be a number of at least 0")
            v = float(v)
        elif v not in EXPANDERS:
            raise NodeGroupError(f"{path}.{key}: Unsupported value: {v!r}: supported values: "
                                 + ", ".join(f'"{e}"' for e in EXPANDERS))
        out[key] = v
    if out["scanInterval"] <= 0:
        raise NodeGroupError(f"{path}.scanInterval: Invalid value: {out['scanInterval']!r}: must be greater than 0")
    if out["scaleDownUtilizationThreshold"] > 1:
        raise NodeGroupError(f"{path}.scaleDownUtilizationThreshold: Invalid value: "
                             f"{out['scaleDownUtilizationThreshold']!r}: must be between 0 and 1")
    return out
