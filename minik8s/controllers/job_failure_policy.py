"""What a Job makes of a finished pod, after upstream's pod_failure_policy.go, success_policy.go and
backoff_utils.go: which podFailurePolicy rule a failed pod matches (first match wins), whether a
successPolicy is met by the succeeded indexes, and how long a replacement waits after failures
(10 s x 2^(n-1), capped; n = failures since the last success)."""
from __future__ import annotations

from minik8s.api.clock import parse_time

FAIL_JOB, FAIL_INDEX, IGNORE, COUNT = "FailJob", "FailIndex", "Ignore", "Count"

DEFAULT_POD_FAILURE_BACKOFF = 10.0      # upstream DefaultJobPodFailureBackOff
MAX_POD_FAILURE_BACKOFF = 600.0         # upstream MaxJobPodFailureBackOff (10 minutes in the code)


# ---------------------------------------------------------------- podFailurePolicy
def _exit_codes_match(req, pod) -> tuple[str, int] | None:
    """(name, exit code) of the first terminated container (app containers, then init containers)
    whose non-zero exit code satisfies the requirement."""
    values = set(req.values)
    for cs in list(pod.status.containerStatuses) + list(pod.status.initContainerStatuses):
        if req.HasField("containerName") and req.containerName and cs.name != req.containerName:
            continue
        if not cs.state.HasField("terminated"):
            continue
        code = cs.state.terminated.exitCode
        if code == 0:
            continue
        if (req.operator == "In" and code in values) or (req.operator == "NotIn" and code not in values):
            return cs.name, code
    return None


def _condition_match(patterns, pod) -> str | None:
    for cond in pod.status.conditions:
        for pat in patterns:
            if cond.type == pat.type and cond.status == (pat.status or "True"):
                return cond.type
    return None


def match_pod_failure_policy(job, pod) -> tuple[str | None, bool, str | None]:
    """(FailJob message or None, whether the failure counts toward backoffLimit, the action of the
    matched rule or None). Only rules with a known action are considered; no match counts."""
    policy = job.spec.podFailurePolicy
    for index, rule in enumerate(policy.rules):
        if rule.action not in (FAIL_JOB, FAIL_INDEX, IGNORE, COUNT):
            continue
        if rule.HasField("onExitCodes"):
            hit = _exit_codes_match(rule.onExitCodes, pod)
            if hit is None:
                continue
            message = (f"Container {hit[0]} for pod {pod.metadata.namespace}/{pod.metadata.name} failed "
                       f"with exit code {hit[1]} matching {rule.action} rule at index {index}")
        elif rule.onPodConditions:
            ctype = _condition_match(rule.onPodConditions, pod)
            if ctype is None:
                continue
            message = (f"Pod {pod.metadata.namespace}/{pod.metadata.name} has condition {ctype} "
                       f"matching {rule.action} rule at index {index}")
        else:
            continue
        if rule.action == FAIL_JOB:
            return message, True, FAIL_JOB
        return None, rule.action != IGNORE, rule.action
    return None, True, None


def has_pod_failure_policy(job) -> bool:
    return job.spec.HasField("podFailurePolicy") and len(job.spec.podFailurePolicy.rules) > 0


# ---------------------------------------------------------------- successPolicy
def match_success_policy(job, succeeded: set[int], parse) -> str | None:
    """The SuccessCriteriaMet message of the first rule the succeeded indexes satisfy, or None.
    `parse(text, limit)` reads an interval text."""
    if not job.spec.HasField("successPolicy"):
        return None
    completions = job.spec.completions
    for index, rule in enumerate(job.spec.successPolicy.rules):
        if rule.HasField("succeededIndexes"):
            wanted = parse(rule.succeededIndexes, completions)
            done = wanted & succeeded
            met = len(done) >= rule.succeededCount if rule.HasField("succeededCount") else done == wanted
        elif rule.HasField("succeededCount"):
            met = len(succeeded) >= rule.succeededCount
        else:
            continue
        if met:
            return f"Matched rules at index {index}"
    return None


# ---------------------------------------------------------------- replacement backoff
def pod_finish_time(pod) -> float:
    """upstream getFinishedTime: the last container's finishedAt, else when Ready turned False,
    else the deletion time less its grace period, else the creation time."""
    finished = [parse_time(cs.state.terminated.finishedAt)
                for cs in list(pod.status.containerStatuses) + list(pod.status.initContainerStatuses)
                if cs.state.HasField("terminated") and cs.state.terminated.finishedAt]
    if finished:
        return max(finished)
    for c in pod.status.conditions:
        if c.type == "Ready" and c.status == "False" and c.lastTransitionTime:
            return parse_time(c.lastTransitionTime)
    if pod.metadata.deletionTimestamp:
        grace = pod.metadata.deletionGracePeriodSeconds if pod.metadata.HasField("deletionGracePeriodSeconds") else 0
        return parse_time(pod.metadata.deletionTimestamp) - grace
    return parse_time(pod.metadata.creationTimestamp)


def remaining_backoff(failed_pods: list, succeeded_pods: list, now: float, base: float, cap: float) -> float:
    """Seconds still to wait before creating a replacement: failures after the latest success
    count (ignored failures too, as upstream), the delay runs from the latest failure."""
    last_success = max((pod_finish_time(p) for p in succeeded_pods), default=None)
    times = [pod_finish_time(p) for p in failed_pods]
    if last_success is not None:
        times = [t for t in times if t > last_success]
    if not times:
        return 0.0
    delay = min(base * (2 ** (len(times) - 1)), cap)
    return max(0.0, delay - (now - max(times)))
