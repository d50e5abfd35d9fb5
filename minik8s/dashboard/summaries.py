"""What the page draws of each kind: an object reduced to a small JSON dict (a node's allocatable and
marks, a pod's requests, phase and owner, a ReplicaSet's revision, a Service's ready endpoints, a Job's counts, an HPA's
metric against its target), so that a cluster of thousands of pods stays light in the browser. `SUMMARIES`
maps each watched kind's record to its function; a kind the page does not draw is not watched."""
from __future__ import annotations

from minik8s.api import kinds
from minik8s.api.nodefit import CPU, GPU, MEMORY, pod_requests, quantity
from minik8s.api.printing.autoscaling import hpa_metrics
from minik8s.api.workloads import REVISION_ANNOTATION, controller_ref

DECISION_ANNOTATION = "scheduler.minik8s.io/decision"     # the scheduler's record (Framework.record)
JOB_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"


def _condition(conditions, type_: str) -> str:
    return next((c.status for c in conditions if c.type == type_), "")


def _owner(obj) -> dict | None:
    ref = controller_ref(obj)
    return {"kind": ref.kind, "name": ref.name, "uid": ref.uid} if ref else None


def _base(obj) -> dict:
    m = obj.metadata
    return {"ns": m.namespace, "name": m.name, "uid": m.uid, "created": m.creationTimestamp}


def node(n) -> dict:
    alloc = n.status.allocatable or n.status.capacity
    return {**_base(n), "cpu": quantity(CPU, alloc.get(CPU, "0")), "memory": quantity(MEMORY, alloc.get(MEMORY, "0")),
            "gpu": quantity(GPU, alloc.get(GPU, "0")), "ready": _condition(n.status.conditions, "Ready") or "Unknown",
            "unschedulable": n.spec.unschedulable,
            "taints": [f"{t.key}{'=' + t.value if t.value else ''}:{t.effect}" for t in n.spec.taints]}


def _container_state(pod) -> tuple[str, int | None]:
    """The reason a pod's containers give (CrashLoopBackOff, Error, OOMKilled) and the first nonzero
    exit code, as a Job's failed attempt shows them."""
    reason, code = "", None
    for cs in pod.status.containerStatuses:
        state = cs.state
        if state.HasField("waiting") and state.waiting.reason:
            reason = reason or state.waiting.reason
        if state.HasField("terminated"):
            reason = reason or state.terminated.reason
            if state.terminated.exitCode and code is None:
                code = state.terminated.exitCode
    return reason, code


def pod(p) -> dict:
    reqs = pod_requests(p.spec)
    reason, code = _container_state(p)
    return {**_base(p), "node": p.spec.nodeName, "phase": p.status.phase or "Pending",
            "reason": p.status.reason or reason, "exitCode": code, "deleting": bool(p.metadata.deletionTimestamp),
            "ready": _condition(p.status.conditions, "Ready") == "True",
            "cpu": reqs.get(CPU, 0), "memory": reqs.get(MEMORY, 0), "gpu": reqs.get(GPU, 0),
            "owner": _owner(p), "index": p.metadata.annotations.get(JOB_INDEX_ANNOTATION),
            "decision": DECISION_ANNOTATION in p.metadata.annotations}


def deployment(d) -> dict:
    st = d.status
    return {**_base(d), "replicas": d.spec.replicas if d.spec.HasField("replicas") else 1,
            "updated": st.updatedReplicas, "ready": st.readyReplicas, "available": st.availableReplicas,
            "revision": d.metadata.annotations.get(REVISION_ANNOTATION, ""),
            "progressing": next((c.reason for c in st.conditions if c.type == "Progressing"), "")}


def replicaset(rs) -> dict:
    st = rs.status
    return {**_base(rs), "owner": _owner(rs), "replicas": rs.spec.replicas if rs.spec.HasField("replicas") else 1,
            "current": st.replicas, "ready": st.readyReplicas, "available": st.availableReplicas,
            "revision": rs.metadata.annotations.get(REVISION_ANNOTATION, "")}


def job(j) -> dict:
    spec, st = j.spec, j.status
    done = next((c.type for c in st.conditions if c.type in ("Complete", "Failed") and c.status == "True"), "")
    return {**_base(j), "completions": spec.completions if spec.HasField("completions") else None,
            "parallelism": spec.parallelism if spec.HasField("parallelism") else 1,
            "indexed": spec.completionMode == "Indexed", "active": st.active, "succeeded": st.succeeded,
            "failed": st.failed, "status": done or ("Suspended" if spec.suspend else "Running")}


def _utilization(hpa) -> tuple[int | None, int | None]:
    """The first resource metric's current and target average utilization (percent), as charted."""
    target = next((m.resource.target.averageUtilization for m in hpa.spec.metrics
                   if m.type == "Resource" and m.resource.target.HasField("averageUtilization")), None)
    current = next((m.resource.current.averageUtilization for m in hpa.status.currentMetrics
                    if m.type == "Resource" and m.resource.current.HasField("averageUtilization")), None)
    return current, target


def hpa(h) -> dict:
    ref, st = h.spec.scaleTargetRef, h.status
    current, target = _utilization(h)
    return {**_base(h), "target": f"{ref.kind}/{ref.name}", "metrics": hpa_metrics(h),
            "min": h.spec.minReplicas if h.spec.HasField("minReplicas") else 1, "max": h.spec.maxReplicas,
            "replicas": st.currentReplicas, "desired": st.desiredReplicas if st.HasField("desiredReplicas") else None,
            "utilization": current, "targetUtilization": target}


def service(svc) -> dict:
    spec = svc.spec
    return {**_base(svc), "type": spec.type or "ClusterIP", "clusterIP": spec.clusterIP,
            "ports": ",".join(f"{p.port}/{p.protocol or 'TCP'}" for p in spec.ports)}


def endpoints(ep) -> dict:
    """How many addresses stand behind the Service of the same name, ready or not."""
    return {**_base(ep), "ready": sum(len(s.addresses) for s in ep.subsets),
            "notReady": sum(len(s.notReadyAddresses) for s in ep.subsets)}


def event(e) -> dict:
    ref = e.involvedObject
    return {**_base(e), "type": e.type, "reason": e.reason, "message": e.message, "count": e.count,
            "object": f"{ref.kind}/{ref.name}",
            "time": e.lastTimestamp or e.eventTime or e.metadata.creationTimestamp}


SUMMARIES = {kinds.NODE: node, kinds.POD: pod, kinds.DEPLOYMENT: deployment, kinds.REPLICA_SET: replicaset,
             kinds.SERVICE: service, kinds.ENDPOINTS: endpoints, kinds.JOB: job,
             kinds.HORIZONTAL_POD_AUTOSCALER: hpa, kinds.EVENT: event}
