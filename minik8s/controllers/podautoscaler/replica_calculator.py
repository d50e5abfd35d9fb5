"""The replica math of the HorizontalPodAutoscaler, after upstream's replica_calculator.go: from the
pods a target selects and their usage samples, the replica count one Resource metric proposes.

Pods are grouped first: deleted and Failed pods are ignored, Pending ones count as unready, pods
without a sample are missing, and for cpu a pod still starting (within the cpu initialization period
and not yet ready, or not sampled for a whole window since it turned ready) or one that never became
ready is unready. The usage ratio is taken over the ready pods' samples; missing pods then count as
using their whole request (or the target) when that ratio says scale down and nothing when it says
scale up, unready pods count as nothing on a scale up, and the ratio is taken again: a second ratio
inside the tolerance, or on the other side of 1, keeps the current count. Everything here is a pure
function of its arguments; `now` comes from the caller's clock."""
from __future__ import annotations

import math
from dataclasses import dataclass

from minik8s.api.clock import parse_time
from minik8s.api.quantity import parse_quantity

DEFAULT_TOLERANCE = 0.1                 # upstream --horizontal-pod-autoscaler-tolerance
CPU_INITIALIZATION_PERIOD = 300.0       # upstream --horizontal-pod-autoscaler-cpu-initialization-period
INITIAL_READINESS_DELAY = 30.0          # upstream --horizontal-pod-autoscaler-initial-readiness-delay


class MetricError(Exception):
    """A metric could not give a replica count; the message is upstream's."""


@dataclass(frozen=True)
class PodMetric:
    value: int              # milli-units of the resource summed over the pod's containers
    timestamp: float        # when the sample was taken (seconds since the epoch)
    window: float           # the period the sample covers (seconds)


@dataclass(frozen=True)
class Tolerances:
    scale_down: float = DEFAULT_TOLERANCE
    scale_up: float = DEFAULT_TOLERANCE

    def is_within(self, ratio: float) -> bool:
        return 1.0 - self.scale_down <= ratio <= 1.0 + self.scale_up


@dataclass(frozen=True)
class Proposal:
    replicas: int
    utilization: int | None     # percent of request (Utilization targets only)
    average_value: int          # milli-units per pod, over the pods that had a usable sample


@dataclass(frozen=True)
class PodGroups:
    ready_count: int
    unready: frozenset
    missing: frozenset
    ignored: frozenset


def _condition(pod, type_: str):
    return next((c for c in pod.status.conditions if c.type == type_), None)


def _cpu_unready(pod, metric: PodMetric, now: float, cpu_initialization_period: float,
                 initial_readiness_delay: float) -> bool:
    ready = _condition(pod, "Ready")
    if ready is None or not pod.status.startTime:
        return True
    start = parse_time(pod.status.startTime)
    transition = parse_time(ready.lastTransitionTime)
    if start + cpu_initialization_period > now:
        # still starting: only a sample taken a whole window after it turned ready says anything
        return ready.status == "False" or metric.timestamp < transition + metric.window
    # later on, a pod is left out only if it never became ready
    return ready.status == "False" and start + initial_readiness_delay > transition


def group_pods(pods: list, metrics: dict[str, PodMetric], resource: str, now: float,
               cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD,
               initial_readiness_delay: float = INITIAL_READINESS_DELAY) -> PodGroups:
    ready_count = 0
    unready, missing, ignored = set(), set(), set()
    for pod in pods:
        name = pod.metadata.name
        if pod.metadata.deletionTimestamp or pod.status.phase == "Failed":
            ignored.add(name)
            continue
        if pod.status.phase == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu" and _cpu_unready(pod, metric, now, cpu_initialization_period,
                                               initial_readiness_delay):
            unready.add(name)
            continue
        ready_count += 1
    return PodGroups(ready_count, frozenset(unready), frozenset(missing), frozenset(ignored))


def pod_requests(pods: list, resource: str, container: str = "") -> dict[str, int]:
    """Each pod's request of `resource` in milli-units (regular containers and sidecars); a container
    without one is an error, as a utilization cannot be computed."""
    out = {}
    for pod in pods:
        total = 0
        containers = list(pod.spec.containers) + [c for c in pod.spec.initContainers
                                                  if c.HasField("restartPolicy") and c.restartPolicy == "Always"]
        for c in containers:
            if container and c.name != container:
                continue
            request = c.resources.requests.get(resource)
            if request is None:
                raise MetricError(f"missing request for {resource} in container {c.name} "
                                  f"of Pod {pod.metadata.name}")
            total += parse_quantity(request).milli_value()
        out[pod.metadata.name] = total
    return out


def utilization_ratio(metrics: dict[str, PodMetric], requests: dict[str, int],
                      target_utilization: int) -> tuple[float, int, int]:
    """(usage ratio, utilization percent, average milli-usage) over the pods with a known request."""
    usage = request = n = 0
    for name, metric in metrics.items():
        if name not in requests:
            continue           # a sample of a pod we do not know: extraneous
        usage += metric.value
        request += requests[name]
        n += 1
    if request == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = usage * 100 // request
    return utilization / target_utilization, utilization, usage // n


def usage_ratio(metrics: dict[str, PodMetric], target_usage: int) -> tuple[float, int]:
    """(usage ratio, average milli-usage) of raw values against a per-pod target."""
    average = sum(m.value for m in metrics.values()) // len(metrics)
    return average / target_usage, average


def _usable(pods, metrics, resource, now, periods) -> tuple[PodGroups, dict[str, PodMetric]]:
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, resource, now, *periods)
    usable = {n: m for n, m in metrics.items() if n not in groups.ignored and n not in groups.unready}
    if not usable:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    return groups, usable


def _rebalanced(current: int, ratio: float, groups: PodGroups, usable: dict[str, PodMetric],
                tolerances: Tolerances, missing_value, recompute) -> int:
    """The shared tail of both calculations: fill in missing and unready pods, recompute, and keep
    the current count unless the new ratio still points the same way, outside the tolerance."""
    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.is_within(ratio):
            return current
        return math.ceil(ratio * groups.ready_count)
    filled = dict(usable)
    for name in groups.missing:
        value = missing_value(name, ratio)
        if value is not None:
            filled[name] = PodMetric(value, 0.0, 0.0)
    if scale_up_with_unready:
        for name in groups.unready:
            filled[name] = PodMetric(0, 0.0, 0.0)
    new_ratio = recompute(filled)
    if tolerances.is_within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current
    replicas = math.ceil(new_ratio * len(filled))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current
    return replicas


def resource_replicas(current: int, target_utilization: int, resource: str, pods: list,
                      metrics: dict[str, PodMetric], now: float, tolerances: Tolerances = Tolerances(),
                      container: str = "", periods: tuple[float, float] = (CPU_INITIALIZATION_PERIOD,
                                                                            INITIAL_READINESS_DELAY)) -> Proposal:
    """upstream GetResourceReplicas: a Utilization target (percent of request)."""
    groups, usable = _usable(pods, metrics, resource, now, periods)
    requests = pod_requests(pods, resource, container)
    ratio, utilization, average = utilization_ratio(usable, requests, target_utilization)
    # on a scale down a missing pod is assumed to use its whole request (or the target, if above 100%)
    fallback = max(100, target_utilization)

    def missing_value(name: str, r: float) -> int | None:
        if r < 1.0:
            return requests.get(name, 0) * fallback // 100
        return 0 if r > 1.0 else None

    replicas = _rebalanced(current, ratio, groups, usable, tolerances, missing_value,
                           lambda filled: utilization_ratio(filled, requests, target_utilization)[0])
    return Proposal(replicas, utilization, average)


def raw_resource_replicas(current: int, target_usage: int, resource: str, pods: list,
                          metrics: dict[str, PodMetric], now: float, tolerances: Tolerances = Tolerances(),
                          periods: tuple[float, float] = (CPU_INITIALIZATION_PERIOD,
                                                          INITIAL_READINESS_DELAY)) -> Proposal:
    """upstream GetRawResourceReplicas: an AverageValue target (milli-units per pod)."""
    groups, usable = _usable(pods, metrics, resource, now, periods)
    ratio, average = usage_ratio(usable, target_usage)
    replicas = _rebalanced(current, ratio, groups, usable, tolerances,
                           lambda name, r: target_usage if r < 1.0 else 0,
                           lambda filled: usage_ratio(filled, target_usage)[0])
    return Proposal(replicas, None, average)
