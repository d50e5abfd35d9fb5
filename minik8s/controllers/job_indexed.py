"""Indexed Jobs, after upstream's pkg/controller/job/indexed_job_utils.go: a pod's completion index
(annotation and label `batch.kubernetes.io/job-completion-index`), the per-index failure counts kept
in pod annotations, and the interval text of `status.completedIndexes` / `status.failedIndexes`
("0-3,5": runs of three or more as a range, a pair as two numbers)."""
from __future__ import annotations

from typing import Iterable

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
INDEX_IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
UNKNOWN_INDEX = -1


def is_indexed(job) -> bool:
    return job.spec.completionMode == "Indexed"


def completion_index(pod) -> int:
    """The pod's index from its annotation (falling back to the label); -1 when absent or bad."""
    text = pod.metadata.annotations.get(COMPLETION_INDEX) or pod.metadata.labels.get(COMPLETION_INDEX, "")
    try:
        ix = int(text)
    except ValueError:
        return UNKNOWN_INDEX
    return ix if ix >= 0 else UNKNOWN_INDEX


def _count(pod, annotation: str) -> int:
    try:
        return max(0, int(pod.metadata.annotations.get(annotation, "0")))
    except ValueError:
        return 0


def index_failure_count(pod) -> int:
    return _count(pod, INDEX_FAILURE_COUNT)


def index_ignored_failure_count(pod) -> int:
    return _count(pod, INDEX_IGNORED_FAILURE_COUNT)


def parse_intervals(text: str, limit: int | None = None) -> set[int]:
    """"1,3-5" -> {1, 3, 4, 5}; numbers at or above `limit` and malformed pieces are dropped (the
    server validated the text; a shrunk completions count may leave indexes out of range)."""
    out: set[int] = set()
    for piece in (text or "").split(","):
        piece = piece.strip()
        if not piece:
            continue
        first, sep, last = piece.partition("-")
        try:
            lo, hi = int(first), int(last) if sep else int(first)
        except ValueError:
            continue
        if limit is not None:
            hi = min(hi, limit - 1)
        out.update(range(lo, hi + 1))
    return out


def format_intervals(indexes: Iterable[int]) -> str:
    """{0, 1, 2, 3, 5, 7, 8} -> "0-3,5,7,8"."""
    parts: list[str] = []
    run: list[int] = []
    for ix in sorted(set(indexes)):
        if run and ix == run[-1] + 1:
            run.append(ix)
            continue
        if run:
            parts.append(_run_text(run))
        run = [ix]
    if run:
        parts.append(_run_text(run))
    return ",".join(parts)


def _run_text(run: list[int]) -> str:
    if len(run) == 1:
        return str(run[0])
    if len(run) == 2:
        return f"{run[0]},{run[1]}"
    return f"{run[0]}-{run[-1]}"


def set_completion_index(pod, job, index: int) -> None:
    """Give a new pod its index four ways, as upstream does: annotation, label, the
    JOB_COMPLETION_INDEX variable in every container (read from the annotation through the downward
    API) and the hostname `<job>-<index>` (the template's subdomain is kept)."""
    text = str(index)
    pod.metadata.annotations[COMPLETION_INDEX] = text
    pod.metadata.labels[COMPLETION_INDEX] = text
    pod.metadata.generateName = f"{job.metadata.name}-{index}-"
    if not pod.spec.hostname:
        pod.spec.hostname = f"{job.metadata.name}-{index}"
    for c in list(pod.spec.initContainers) + list(pod.spec.containers):
        if any(e.name == COMPLETION_INDEX_ENV for e in c.env):
            continue
        env = c.env.add()
        env.name = COMPLETION_INDEX_ENV
        env.valueFrom.fieldRef.fieldPath = f"metadata.annotations['{COMPLETION_INDEX}']"
