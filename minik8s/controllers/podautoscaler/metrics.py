"""Resource usage for the HPA, after upstream's metrics client over metrics.k8s.io: the PodMetrics
the kubelets publish, one per pod, turned into a sample per pod (milli-units of one resource summed
over its containers, or of one container, with the sample's timestamp and window). A PodMetrics left
from an earlier pod of the same name (its owner reference names another uid) is no sample of this
one, and a pod whose containers lack the resource has none either."""
from __future__ import annotations

import re

from minik8s.api.clock import parse_time
from minik8s.api.quantity import QuantityError, parse_quantity

from minik8s.controllers.podautoscaler.replica_calculator import MetricError, PodMetric

_DURATION = re.compile(r"(\d+(?:\.\d*)?)(h|ms|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3}


def window_seconds(text: str) -> float:
    """A metrics window as Go prints a duration (`15s`, `1m0s`, `500ms`); 0 when unreadable."""
    return sum(float(n) * _UNIT[u] for n, u in _DURATION.findall(text or ""))


def _belongs_to(metrics, pod) -> bool:
    owners = [r for r in metrics.metadata.ownerReferences if r.kind == "Pod"]
    return not owners or any(r.uid == pod.metadata.uid for r in owners)


def resource_metrics(pods: list, lookup, resource: str, container: str = "") -> dict[str, PodMetric]:
    """Samples of `resource` by pod name for `pods`; `lookup(namespace, name)` returns a pod's
    PodMetrics or None. No PodMetrics at all is an error, as upstream's metrics client says."""
    found = [(pod, m) for pod in pods
             if (m := lookup(pod.metadata.namespace, pod.metadata.name)) is not None and _belongs_to(m, pod)]
    if not found:
        raise MetricError(f"unable to get metrics for resource {resource}: "
                          f"no metrics returned from resource metrics API")
    out = {}
    for pod, m in found:
        containers = [c for c in m.containers if not container or c.name == container]
        if not containers or any(resource not in c.usage for c in containers):
            continue
        try:
            value = sum(parse_quantity(c.usage[resource]).milli_value() for c in containers)
        except QuantityError:
            continue
        out[pod.metadata.name] = PodMetric(value, parse_time(m.timestamp), window_seconds(m.window))
    return out
