"""The metrics.k8s.io kinds, NodeMetrics and PodMetrics: usage a node's kubelet publishes and `minictl
top` reads. Read-only reports with no spec, so upstream has neither defaults nor validation for them."""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo
from minik8s.api.pb import metrics_pb2

NODE_METRICS = KindInfo("NodeMetrics", "metrics.k8s.io", "v1beta1", "nodes", (), False, metrics_pb2.NodeMetrics,
                        has_status=False)
POD_METRICS = KindInfo("PodMetrics", "metrics.k8s.io", "v1beta1", "pods", (), True, metrics_pb2.PodMetrics,
                       has_status=False)
