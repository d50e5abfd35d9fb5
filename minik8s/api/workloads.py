"""What the Deployment controller and `minictl rollout` both read off workload objects, after upstream's
pkg/controller/deployment/util and controller_ref: the annotations and labels of the rollout machinery,
the Deployment's condition types and reasons, revisions, pod templates compared without their
pod-template-hash, the controlling owner reference, and kubectl's words for a rollout's progress.
Nothing here writes or talks to the server."""
from __future__ import annotations

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO_ANNOTATION = "deprecated.deployment.rollback.to"
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
POD_TEMPLATE_HASH_LABEL = "pod-template-hash"

# annotations a Deployment does not pass on to its ReplicaSets (upstream annotationsToSkip)
SKIP_ANNOTATIONS = frozenset({LAST_APPLIED_ANNOTATION, REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION,
                              DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION, ROLLBACK_TO_ANNOTATION})

# condition types and reasons (upstream deploymentutil)
AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
MIN_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MIN_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
NEW_RS_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
RS_UPDATED_REASON = "ReplicaSetUpdated"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
PAUSED_REASON = "DeploymentPaused"
RESUMED_REASON = "DeploymentResumed"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"


def controller_ref(obj):
    """The ownerReference with controller: true, or None."""
    for ref in obj.metadata.ownerReferences:
        if ref.HasField("controller") and ref.controller:
            return ref
    return None


def replicas_of(obj) -> int:
    """spec.replicas of a Deployment or ReplicaSet (defaulted by the server; 0 if somehow unset)."""
    return obj.spec.replicas if obj.spec.HasField("replicas") else 0


def revision(rs) -> int:
    try:
        return int(rs.metadata.annotations.get(REVISION_ANNOTATION, "0") or "0")
    except ValueError:
        return 0


def template_without_hash(template):
    """A copy of the pod template less its pod-template-hash label."""
    t = type(template)()
    t.CopyFrom(template)
    t.metadata.labels.pop(POD_TEMPLATE_HASH_LABEL, None)
    return t


def equal_ignore_hash(a, b) -> bool:
    """Whether two pod templates are equal but for the pod-template-hash label."""
    return template_without_hash(a).SerializeToString(deterministic=True) == \
        template_without_hash(b).SerializeToString(deterministic=True)


def get_condition(status, type_: str):
    for c in status.conditions:
        if c.type == type_:
            return c
    return None


def rollout_status(d) -> tuple[str, bool, str | None]:
    """(message, done, error) for `rollout status`, as kubectl's DeploymentStatusViewer words it."""
    name = d.metadata.name
    st = d.status
    if d.metadata.generation <= st.observedGeneration:
        cond = get_condition(st, PROGRESSING)
        if cond is not None and cond.reason == TIMED_OUT_REASON:
            return "", False, f'deployment "{name}" exceeded its progress deadline'
        want = replicas_of(d)
        if st.updatedReplicas < want:
            return (f'Waiting for deployment "{name}" rollout to finish: {st.updatedReplicas} out of {want} '
                    f"new replicas have been updated..."), False, None
        if st.replicas > st.updatedReplicas:
            return (f'Waiting for deployment "{name}" rollout to finish: {st.replicas - st.updatedReplicas} '
                    f"old replicas are pending termination..."), False, None
        if st.availableReplicas < st.updatedReplicas:
            return (f'Waiting for deployment "{name}" rollout to finish: {st.availableReplicas} of '
                    f"{st.updatedReplicas} updated replicas are available..."), False, None
        return f'deployment "{name}" successfully rolled out', True, None
    return "Waiting for deployment spec update to be observed...", False, None
