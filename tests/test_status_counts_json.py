"""Workload status counts in Kubernetes JSON: the counts upstream declares without omitempty
(ReplicaSet and StatefulSet `replicas`, StatefulSet `availableReplicas`, a DaemonSet's four node
counts, a Scale's `replicas`, an HPA's `desiredReplicas`) print as 0, the omitempty ones
(`readyReplicas`, a Deployment's counts) stay out, as `kubectl get -o yaml` shows them; and a
ReplicaSet scaled to zero by its controller reads back `replicas: 0`."""
from __future__ import annotations

import pytest

from minik8s.api import codec
from minik8s.api.manifest import load_text
from minik8s.api.pb import apps_pb2, autoscaling_pb2
from support import running_manager, wait_for


@pytest.mark.parametrize("message, status, printed", [
    (apps_pb2.ReplicaSet, {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0}, {"replicas": 0}),
    (apps_pb2.StatefulSet, {"replicas": 0, "readyReplicas": 0, "currentReplicas": 0, "availableReplicas": 0},
     {"replicas": 0, "availableReplicas": 0}),
    (apps_pb2.DaemonSet, {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                          "numberReady": 0, "numberAvailable": 0},
     {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0}),
    (apps_pb2.Deployment, {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0}, {}),
    (autoscaling_pb2.Scale, {"replicas": 0}, {"replicas": 0}),
    (autoscaling_pb2.HorizontalPodAutoscaler, {"currentReplicas": 0, "desiredReplicas": 0}, {"desiredReplicas": 0}),
])
def test_counts_upstream_never_omits_print_as_zero(message, status, printed):
    obj = codec.from_dict(message, {"status": status})
    assert codec.to_dict(obj).get("status") == printed


RS = """\
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: idle}
spec:
  replicas: 0
  selector: {matchLabels: {app: idle}}
  template:
    metadata: {labels: {app: idle}}
    spec:
      containers: [{name: app, image: busybox}]
"""


async def test_a_replicaset_of_zero_reads_back_replicas_zero(srv):
    async with srv.async_client() as admin, srv.async_client("controller-manager") as cm, \
            running_manager(cm, "replicaset"):
        (m,) = load_text(RS, "rs.yaml")
        await admin.create(m.obj)

        async def observed():
            rs = await admin.get("ReplicaSet", "idle", "default")
            return rs if rs.status.observedGeneration else None
        rs = await wait_for(observed, what="status written")
        assert codec.to_dict(rs)["status"] == {"replicas": 0, "observedGeneration": 1}
