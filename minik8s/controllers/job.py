"""The Job controller, after upstream's pkg/controller/job: run a Job's pods to completion.

Level-triggered like the ReplicaSet controller: handlers enqueue the Job concerned and
`sync_job(key)` works from the caches. One sync, in upstream's order:

1. count the pods that finished since the last sync (a failed pod matched by an Ignore rule does not
   count); set startTime;
2. decide whether the Job is finishing: an earlier FailureTarget or SuccessCriteriaMet, a FailJob
   rule, backoffLimit (or, with restartPolicy OnFailure, the containers' restarts), the
   activeDeadlineSeconds, failed indexes, the successPolicy;
3. finishing: delete the active pods; otherwise create or delete pods towards parallelism (NonIndexed
   or one pod per index), replacements waiting out the failure backoff; suspend deletes every active
   pod;
4. write status so that no pod's outcome is ever lost or counted twice: every pod carries the
   `batch.kubernetes.io/job-tracking` finalizer; a finished pod's uid first goes into
   `status.uncountedTerminatedPods` (written), then its finalizer is removed, then its uid moves into
   `succeeded`/`failed` (written). A restart at any point finds either the uid recorded or the
   finalizer still on the pod.
5. the terminal condition (Failed after FailureTarget, Complete after SuccessCriteriaMet) once no pod
   is uncounted or still terminating.

Pods whose Job is gone or finished get their finalizer removed, so none stays Terminating."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from minik8s.api import selectors
from minik8s.api.clock import parse_time, rfc3339
from minik8s.api.errors import ApiError, Forbidden, NotFound
from minik8s.api.pb import core_pb2
from minik8s.client.events import NORMAL, WARNING
from minik8s.client.informer import copy, key_of

from minik8s.controllers.base import Controller, ControllerContext, split_key
from minik8s.controllers.controller_utils import (BURST_REPLICAS, CONTROLLER_UID_INDEX, ORPHAN_INDEX,
                                                  SLOW_START_INITIAL_BATCH, ControllerRefManager,
                                                  Expectations, SlowStartError, by_controller_uid,
                                                  claim_candidates, controller_ref, ensure_indexer,
                                                  is_pod_active, is_pod_ready, new_controller_ref,
                                                  orphan_namespace, pod_key, pods_to_delete,
                                                  recheck_owner, slow_start_batch)
from minik8s.controllers import job_indexed as ix
from minik8s.controllers.job_failure_policy import (DEFAULT_POD_FAILURE_BACKOFF, FAIL_INDEX,
                                                    MAX_POD_FAILURE_BACKOFF, has_pod_failure_policy,
                                                    match_pod_failure_policy, match_success_policy,
                                                    pod_finish_time, remaining_backoff)

log = logging.getLogger("minik8s.controllers.job")

COMPONENT = "job-controller"
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
JOB_CONTROLLER_NAME = "kubernetes.io/job-controller"
MAX_UNCOUNTED_PODS = 500             # upstream: at most this many uids in uncountedTerminatedPods

BACKOFF_LIMIT_MESSAGE = "Job has reached the specified backoff limit"
DEADLINE_MESSAGE = "Job was active longer than specified deadline"


# ---------------------------------------------------------------- small predicates
def condition(job, ctype: str):
    return next((c for c in job.status.conditions if c.type == ctype and c.status == "True"), None)


def is_finished(job) -> bool:
    return condition(job, "Complete") is not None or condition(job, "Failed") is not None


def is_suspended(job) -> bool:
    return job.spec.HasField("suspend") and job.spec.suspend


def has_finalizer(pod) -> bool:
    return TRACKING_FINALIZER in pod.metadata.finalizers


def only_replace_failed(job) -> bool:
    """upstream onlyReplaceFailedPods: podReplacementPolicy Failed, implied by a podFailurePolicy."""
    return job.spec.podReplacementPolicy == "Failed" or has_pod_failure_policy(job)


def is_pod_failed(pod, job) -> bool:
    """upstream isPodFailed: phase Failed; or, unless only failed pods are replaced, a pod being
    deleted that has not succeeded (an eviction costs a retry)."""
    if pod.status.phase == "Failed":
        return True
    if only_replace_failed(job):
        # an unscheduled pod being deleted never reaches a terminal phase on a node
        return bool(pod.metadata.deletionTimestamp) and not pod.spec.nodeName
    return bool(pod.metadata.deletionTimestamp) and pod.status.phase != "Succeeded"


def is_terminating(pod) -> bool:
    return bool(pod.metadata.deletionTimestamp) and pod.status.phase not in ("Succeeded", "Failed")


def _selector(job):
    try:
        return selectors.from_label_selector_obj(job.spec.selector if job.spec.HasField("selector") else None)
    except selectors.SelectorError:
        return selectors.LabelSelector.nothing()


def restarts_past_limit(job, pods) -> bool:
    """upstream pastBackoffLimitOnFailure: with restartPolicy OnFailure, the restarts of the
    containers of pending and running pods count as retries."""
    if job.spec.template.spec.restartPolicy != "OnFailure":
        return False
    total = sum(cs.restartCount for p in pods if p.status.phase in ("Pending", "Running")
                for cs in list(p.status.initContainerStatuses) + list(p.status.containerStatuses))
    return total > 0 if job.spec.backoffLimit == 0 else total >= job.spec.backoffLimit


@dataclass
class Finish:
    """The condition a finishing Job is heading to: `final` (Failed or Complete) is written once no
    pod is left uncounted or terminating, after the interim one (FailureTarget, SuccessCriteriaMet)."""
    final: str
    reason: str
    message: str

    @property
    def interim(self) -> str:
        return "FailureTarget" if self.final == "Failed" else "SuccessCriteriaMet"


def failure(reason: str, message: str) -> Finish:
    return Finish("Failed", reason, message)


@dataclass
class JobSync:
    """What one sync knows about a Job: its pods and the counts it derives from them."""
    job: object
    pods: list
    expected_rm: set
    uncounted_succeeded: list = field(default_factory=list)
    uncounted_failed: list = field(default_factory=list)
    new_succeeded: list = field(default_factory=list)
    new_failed: list = field(default_factory=list)      # counted toward backoffLimit
    succeeded: int = 0
    failed: int = 0
    succeeded_indexes: set = field(default_factory=set)
    prev_succeeded_indexes: set = field(default_factory=set)
    failed_indexes: set = field(default_factory=set)
    finish: Finish | None = None

    @property
    def active(self) -> list:
        return [p for p in self.pods if is_pod_active(p)]

    @property
    def terminating(self) -> int:
        return sum(1 for p in self.pods if is_terminating(p))


class JobController(Controller):
    name = "job"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder(COMPONENT)
        self.expectations = Expectations(ctx.clock)
        self.finalizer_expectations: dict[str, set[str]] = {}   # job key -> uids whose finalizer went
        self.backoff_base = float(ctx.setting("job.podFailureBackoff", DEFAULT_POD_FAILURE_BACKOFF))
        self.backoff_cap = float(ctx.setting("job.podFailureBackoffMax", MAX_POD_FAILURE_BACKOFF))
        self.job_informer = ctx.informers.informer("Job")
        self.pod_informer = ctx.informers.informer("Pod")
        ensure_indexer(self.pod_informer, CONTROLLER_UID_INDEX, by_controller_uid)
        ensure_indexer(self.pod_informer, ORPHAN_INDEX, orphan_namespace)
        self.job_informer.add_event_handler(self._job_added, self._job_updated, self._job_deleted)
        self.pod_informer.add_event_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    async def sync(self, key) -> None:
        if isinstance(key, tuple):
            await self.sync_orphan_pod(key[1])
        else:
            await self.sync_job(key)

    # ------------------------------------------------------------------ handlers (enqueue only)
    def _job_added(self, job) -> None:
        self.enqueue(key_of(job))

    def _job_updated(self, old, cur) -> None:
        if old.metadata.uid != cur.metadata.uid:
            self._job_deleted(old)
        self.enqueue(key_of(cur))

    def _job_deleted(self, job) -> None:
        key = key_of(job)
        self.expectations.forget(key)
        self.finalizer_expectations.pop(key, None)
        for pod in self.pod_informer.by_index(CONTROLLER_UID_INDEX, job.metadata.uid):
            if has_finalizer(pod):
                self.enqueue(("orphan", pod_key(pod)))
        self.enqueue(key)

    def _job_of(self, pod):
        """The key of the cached Job controlling `pod`, or None."""
        ref = controller_ref(pod)
        if ref is None or ref.kind != "Job":
            return None
        job = self.job_informer.get_by(pod.metadata.namespace, ref.name)
        if job is None or job.metadata.uid != ref.uid:
            return None
        return key_of(job)

    def _route(self, pod) -> str | None:
        key = self._job_of(pod)
        if key is None and has_finalizer(pod):
            self.enqueue(("orphan", pod_key(pod)))
        elif key is not None:
            self.enqueue(key)
        return key

    def _pod_added(self, pod) -> None:
        key = self._route(pod)
        if key is not None:
            if pod.metadata.deletionTimestamp:
                self.expectations.deletion_observed(key, pod_key(pod))
            else:
                self.expectations.creation_observed(key)

    def _pod_updated(self, old, cur) -> None:
        if old.metadata.resourceVersion == cur.metadata.resourceVersion:
            return
        key = self._route(cur)
        if key is None:
            return
        if not has_finalizer(cur):
            self.finalizer_expectations.get(key, set()).discard(cur.metadata.uid)
        if cur.metadata.deletionTimestamp and not old.metadata.deletionTimestamp:
            self.expectations.deletion_observed(key, pod_key(cur))
        old_key = self._job_of(old)
        if old_key is not None and old_key != key:
            self.enqueue(old_key)

    def _pod_deleted(self, pod) -> None:
        key = self._job_of(pod)
        if key is None:
            return
        self.expectations.deletion_observed(key, pod_key(pod))
        self.finalizer_expectations.get(key, set()).discard(pod.metadata.uid)
        self.enqueue(key)

    # ------------------------------------------------------------------ orphans
    async def sync_orphan_pod(self, pkey: str) -> None:
        """Remove the tracking finalizer of a pod whose Job is gone or finished (a live read of
        the Job decides: the cache may not have seen a new Job yet)."""
        namespace, name = split_key(pkey)
        pod = self.pod_informer.get(pkey)
        if pod is None or not has_finalizer(pod):
            return
        ref = controller_ref(pod)
        if ref is not None and ref.kind == "Job":
            try:
                job = await self.client.get("Job", ref.name, namespace)
                if job.metadata.uid == ref.uid and not is_finished(job):
                    self.enqueue(key_of(job))
                    return
            except NotFound:
                pass
        await self._remove_finalizer(pod)

    async def _remove_finalizer(self, pod) -> None:
        """Drop the tracking finalizer, only from the version we looked at (Conflict otherwise)."""
        rest = [f for f in pod.metadata.finalizers if f != TRACKING_FINALIZER]
        patch = {"metadata": {"finalizers": rest, "resourceVersion": pod.metadata.resourceVersion}}
        try:
            await self.client.patch("Pod", pod.metadata.name, patch, pod.metadata.namespace)
        except NotFound:
            pass

    # ------------------------------------------------------------------ sync
    async def sync_job(self, key: str) -> None:
        job = self.job_informer.get(key)
        if job is None:
            self.expectations.forget(key)
            self.finalizer_expectations.pop(key, None)
            return
        if job.spec.HasField("managedBy") and job.spec.managedBy not in ("", JOB_CONTROLLER_NAME):
            return
        pods = await self._claim_pods(job)
        if is_finished(job):
            # counted already: a late or lingering pod only needs to be let go
            await asyncio.gather(*(self._remove_finalizer(p) for p in pods if has_finalizer(p)))
            return
        satisfied = self.expectations.satisfied(key)
        job = copy(job)
        st = self._observe(job, pods, self.finalizer_expectations.setdefault(key, set()))
        now = self.clock.now()
        if not job.status.startTime and not is_suspended(job):
            job.status.startTime = rfc3339(now)
        st.finish = self._finishing(key, st)

        suspend_changed = False
        manage_error: Exception | None = None
        active = st.active
        if st.finish is not None:
            deleted, manage_error = await self._delete_pods(key, job, active)
            active = [p for p in active if p.metadata.uid not in deleted]
        else:
            if satisfied and not job.metadata.deletionTimestamp:
                try:
                    active = await self._manage(key, job, st, active)
                except (ApiError, SlowStartError) as e:
                    manage_error = e
                suspend_changed = self._suspend_condition(job)
            completions = job.spec.completions if job.spec.HasField("completions") else None
            done = st.succeeded > 0 if completions is None else st.succeeded >= completions
            if done and not active:
                st.finish = Finish("Complete", "CompletionsReached", "Reached expected number of succeeded pods")

        job.status.active = len(active)
        job.status.ready = sum(1 for p in active if is_pod_ready(p))
        job.status.terminating = st.terminating
        await self._track_and_write(key, job, st, suspend_changed)
        if manage_error is not None:
            raise manage_error

    async def _claim_pods(self, job) -> list:
        namespace, name = job.metadata.namespace, job.metadata.name
        manager = ControllerRefManager(self.client, job, _selector(job),
                                       recheck_owner(self.client, "Job", namespace, name, job.metadata.uid))
        # a pod is ours until its finalizer is gone, even once it finished
        return await manager.claim(claim_candidates(self.pod_informer, job),
                                   filters=(lambda p: not ix.is_indexed(job) or ix.completion_index(p) >= 0,))

    def _observe(self, job, pods: list, expected_rm: set) -> JobSync:
        """Counts of the pods finished since the status was last written (upstream
        getNewFinishedPods): succeeded and failed as the status will hold them."""
        status = job.status
        st = JobSync(job, pods, expected_rm, list(status.uncountedTerminatedPods.succeeded),
                     list(status.uncountedTerminatedPods.failed))
        recorded = set(st.uncounted_succeeded) | set(st.uncounted_failed)
        for p in pods:
            if not has_finalizer(p) or p.metadata.uid in expected_rm or p.metadata.uid in recorded:
                continue
            if p.status.phase == "Succeeded":
                st.new_succeeded.append(p)
            elif is_pod_failed(p, job):
                counts = match_pod_failure_policy(job, p)[1] if has_pod_failure_policy(job) else True
                if counts:
                    st.new_failed.append(p)
        st.failed = status.failed + len(st.uncounted_failed) + len(st.new_failed)
        st.succeeded = status.succeeded + len(st.uncounted_succeeded) + len(st.new_succeeded)
        if ix.is_indexed(job):
            completions = job.spec.completions
            st.prev_succeeded_indexes = ix.parse_intervals(status.completedIndexes, completions)
            if job.spec.HasField("backoffLimitPerIndex"):
                st.failed_indexes = self._failed_indexes(job, pods)
            st.succeeded_indexes = set(st.prev_succeeded_indexes)
            for p in pods:
                i = ix.completion_index(p)
                if p.status.phase == "Succeeded" and 0 <= i < completions and i not in st.failed_indexes:
                    st.succeeded_indexes.add(i)
            st.succeeded = len(st.succeeded_indexes)
        return st

    def _failed_indexes(self, job, pods: list) -> set[int]:
        """upstream calculateFailedIndexes: the recorded ones, plus indexes whose failed pod matched
        a FailIndex rule or used up backoffLimitPerIndex."""
        completions = job.spec.completions
        out = ix.parse_intervals(job.status.failedIndexes, completions) if job.status.HasField("failedIndexes") else set()
        for p in pods:
            i = ix.completion_index(p)
            if not (0 <= i < completions) or not is_pod_failed(p, job):
                continue
            counts, action = True, None
            if has_pod_failure_policy(job):
                _, counts, action = match_pod_failure_policy(job, p)
            if action == FAIL_INDEX or (counts and ix.index_failure_count(p) >= job.spec.backoffLimitPerIndex):
                out.add(i)
        return out

    def _finishing(self, key: str, st: JobSync) -> Finish | None:
        """upstream syncJob's decision order: whether (and why) the Job stops running pods now."""
        job = st.job
        prior = condition(job, "SuccessCriteriaMet")
        if prior is not None:
            return Finish("Complete", prior.reason, prior.message)
        prior = condition(job, "FailureTarget")
        if prior is not None:
            return failure(prior.reason, prior.message)
        if has_pod_failure_policy(job):
            for p in sorted(st.new_failed, key=pod_finish_time):
                message = match_pod_failure_policy(job, p)[0]
                if message is not None and p.status.phase == "Failed":
                    return failure("PodFailurePolicy", message)
        if st.failed > job.spec.backoffLimit or restarts_past_limit(job, st.active):
            return failure("BackoffLimitExceeded", BACKOFF_LIMIT_MESSAGE)
        if job.spec.HasField("activeDeadlineSeconds") and job.status.startTime and not is_suspended(job):
            left = job.spec.activeDeadlineSeconds - (self.clock.now() - parse_time(job.status.startTime))
            if left <= 0:
                return failure("DeadlineExceeded", DEADLINE_MESSAGE)
            self.enqueue_after(key, left)
        if not ix.is_indexed(job):
            return None
        if job.spec.HasField("backoffLimitPerIndex") and st.failed_indexes:
            if job.spec.HasField("maxFailedIndexes") and len(st.failed_indexes) > job.spec.maxFailedIndexes:
                return failure("MaxFailedIndexesExceeded",
                               "Job has exceeded the specified maximal number of failed indexes")
            if len(st.failed_indexes) + len(st.succeeded_indexes) >= job.spec.completions:
                return failure("FailedIndexes", "Job has failed indexes")
        message = match_success_policy(job, st.succeeded_indexes, ix.parse_intervals)
        if message is not None:
            return Finish("Complete", "SuccessPolicy", message)
        return None

    def _suspend_condition(self, job) -> bool:
        """Keep the Suspended condition in step with spec.suspend; a resume restarts startTime."""
        cur = next((c for c in job.status.conditions if c.type == "Suspended"), None)
        if is_suspended(job):
            if cur is not None and cur.status == "True":
                return False
            self._set_condition(job, "Suspended", "JobSuspended", "Job suspended", "True")
            self.recorder.eventf(job, NORMAL, "Suspended", "Job suspended")
            return True
        if cur is None or cur.status != "True":
            return False
        self._set_condition(job, "Suspended", "JobResumed", "Job resumed", "False")
        self.recorder.eventf(job, NORMAL, "Resumed", "Job resumed")
        job.status.startTime = rfc3339(self.clock.now())
        return True

    def _set_condition(self, job, ctype: str, reason: str, message: str, status: str = "True") -> None:
        now = rfc3339(self.clock.now())
        cur = next((c for c in job.status.conditions if c.type == ctype), None)
        if cur is None:
            cur = job.status.conditions.add()
            cur.type = ctype
        if cur.status != status:
            cur.lastTransitionTime = now
        cur.status, cur.reason, cur.message, cur.lastProbeTime = status, reason, message, now

    # ------------------------------------------------------------------ pods
    async def _manage(self, key: str, job, st: JobSync, active: list) -> list:
        """Create or delete pods towards parallelism; returns the active pods after it."""
        if is_suspended(job):
            deleted, error = await self._delete_pods(key, job, active)
            if error is not None:
                raise error
            return [p for p in active if p.metadata.uid not in deleted]
        if ix.is_indexed(job):
            return await self._manage_indexed(key, job, st, active)
        parallelism = job.spec.parallelism
        if not job.spec.HasField("completions"):
            want = parallelism if st.succeeded == 0 else len(active)
        else:
            want = max(0, min(parallelism, job.spec.completions - st.succeeded))
        if len(active) > want:
            victims = pods_to_delete(active, [], min(len(active) - want, BURST_REPLICAS))
            deleted, error = await self._delete_pods(key, job, victims)
            if error is not None:
                raise error
            return [p for p in active if p.metadata.uid not in deleted]
        terminating = st.terminating if only_replace_failed(job) else 0
        diff = min(want - len(active) - terminating, BURST_REPLICAS)
        if diff <= 0:
            return active
        wait = self._backoff(job, st.pods)
        if wait > 0:
            self.enqueue_after(key, wait)
            return active
        created = await self.create_pods(key, job, [None] * diff)
        return active + created

    def _backoff(self, job, pods: list) -> float:
        return remaining_backoff([p for p in pods if is_pod_failed(p, job)],
                                 [p for p in pods if p.status.phase == "Succeeded"],
                                 self.clock.now(), self.backoff_base, self.backoff_cap)

    async def _manage_indexed(self, key: str, job, st: JobSync, active: list) -> list:
        """One active pod per index that neither succeeded nor failed, lowest indexes first, up to
        parallelism: extra pods of an index (and pods of finished indexes) are deleted."""
        completions = job.spec.completions
        done = st.succeeded_indexes | st.failed_indexes
        keep: dict[int, object] = {}
        excess = []
        for p in sorted(active, key=lambda p: (parse_time(p.metadata.creationTimestamp), p.metadata.name)):
            i = ix.completion_index(p)
            if not (0 <= i < completions) or i in done or i in keep:
                excess.append(p)
            else:
                keep[i] = p
        if excess:
            deleted, error = await self._delete_pods(key, job, excess)
            if error is not None:
                raise error
            return [p for p in active if p.metadata.uid not in deleted]
        busy = set(keep)
        terminating = 0
        if only_replace_failed(job):
            busy |= {ix.completion_index(p) for p in st.pods if is_terminating(p)}
            terminating = st.terminating
        room = min(job.spec.parallelism - len(active) - terminating, BURST_REPLICAS)
        per_index = job.spec.HasField("backoffLimitPerIndex")
        wait_all = 0.0 if per_index else self._backoff(job, st.pods)
        todo, waits = [], []
        for i in range(completions):
            if len(todo) >= room:
                break
            if i in done or i in busy:
                continue
            mine = [p for p in st.pods if ix.completion_index(p) == i]
            wait = self._backoff(job, mine) if per_index else wait_all
            if wait > 0:
                waits.append(wait)
                continue
            todo.append((i, *self._index_failures(job, mine)) if per_index else i)
        if waits:
            self.enqueue_after(key, min(waits))
        if not todo:
            return active
        return active + await self.create_pods(key, job, todo)

    @staticmethod
    def _index_failures(job, pods: list) -> tuple[int, int]:
        """(failures, ignored failures) of an index so far, from its latest failed pod."""
        failed = [p for p in pods if is_pod_failed(p, job)]
        if not failed:
            return 0, 0
        last = max(failed, key=pod_finish_time)
        counts = match_pod_failure_policy(job, last)[1] if has_pod_failure_policy(job) else True
        return (ix.index_failure_count(last) + (1 if counts else 0),
                ix.index_ignored_failure_count(last) + (0 if counts else 1))

    async def create_pods(self, key: str, job, indexes: list) -> list:
        """Create one pod per entry (an index, or None for NonIndexed; an index may come with its
        failure counts as (index, failures, ignored)) in slow-start batches; returns the pods made."""
        self.expectations.expect_creations(key, len(indexes))
        todo = iter(indexes)
        made: list = []

        async def one() -> None:
            made.append(await self._create_pod(job, next(todo)))
        try:
            await slow_start_batch(len(indexes), SLOW_START_INITIAL_BATCH, one)
        except SlowStartError as e:
            for _ in range(len(indexes) - e.successes):
                self.expectations.creation_observed(key)
            raise
        return [p for p in made if p is not None]

    async def _create_pod(self, job, index):
        pod = pod_for_job(job, index)
        try:
            created = await self.client.create(pod)
        except Forbidden as e:
            if "being terminated" in e.message:
                return None
            self.recorder.eventf(job, WARNING, "FailedCreate", "Error creating: %s", e.message)
            raise
        except ApiError as e:
            self.recorder.eventf(job, WARNING, "FailedCreate", "Error creating: %s", e.message)
            raise
        self.recorder.eventf(job, NORMAL, "SuccessfulCreate", "Created pod: %s", created.metadata.name)
        return created

    async def _delete_pods(self, key: str, job, pods: list) -> tuple[set, Exception | None]:
        """upstream deleteJobPods: the finalizer goes first, so a pod the Job itself removes is
        never counted; returns the uids deleted and the first error."""
        if not pods:
            return set(), None
        self.expectations.expect_deletions(key, [pod_key(p) for p in pods])

        async def one(pod) -> None:
            try:
                if has_finalizer(pod):
                    await self._remove_finalizer(pod)
                await self.client.delete("Pod", pod.metadata.name, pod.metadata.namespace,
                                         preconditions={"uid": pod.metadata.uid})
            except NotFound:
                self.expectations.deletion_observed(key, pod_key(pod))
                return
            except ApiError as e:
                self.expectations.deletion_observed(key, pod_key(pod))
                self.recorder.eventf(job, WARNING, "FailedDelete", "Error deleting: %s", e.message)
                raise
            self.recorder.eventf(job, NORMAL, "SuccessfulDelete", "Deleted pod: %s", pod.metadata.name)
        results = await asyncio.gather(*(one(p) for p in pods), return_exceptions=True)
        deleted = {p.metadata.uid for p, r in zip(pods, results) if not isinstance(r, BaseException)}
        errors = [r for r in results if isinstance(r, BaseException)]
        return deleted, (errors[0] if errors else None)

    # ------------------------------------------------------------------ status and finalizers
    async def _track_and_write(self, key: str, job, st: JobSync, needs_write: bool) -> None:
        """upstream trackJobStatusAndRemoveFinalizers: record, release, then count (see the module
        text), and finish the Job when nothing is left in flight."""
        status = job.status
        finishing_failed = st.finish is not None and st.finish.final == "Failed" and \
            condition(job, "FailureTarget") is not None
        release: list = []
        uncounted_s, uncounted_f = list(st.uncounted_succeeded), list(st.uncounted_failed)
        for p in st.pods:
            uid = p.metadata.uid
            if not has_finalizer(p) or uid in st.expected_rm:
                continue
            failed = is_pod_failed(p, job)
            if not (job.metadata.deletionTimestamp or st.finish or p.status.phase == "Succeeded" or failed):
                continue
            if len(uncounted_s) + len(uncounted_f) >= MAX_UNCOUNTED_PODS:
                break
            release.append(p)
            if p.status.phase == "Succeeded" and uid not in uncounted_f:
                if not ix.is_indexed(job) and uid not in uncounted_s:
                    uncounted_s.append(uid)
            elif (failed or finishing_failed) and uid not in uncounted_f:
                i = ix.completion_index(p)
                if ix.is_indexed(job) and not (0 <= i < job.spec.completions):
                    continue
                if not has_pod_failure_policy(job) or match_pod_failure_policy(job, p)[1]:
                    uncounted_f.append(uid)
        if ix.is_indexed(job):
            status.completedIndexes = ix.format_intervals(st.succeeded_indexes)
            status.succeeded = len(st.succeeded_indexes)
            if job.spec.HasField("backoffLimitPerIndex"):
                status.failedIndexes = ix.format_intervals(st.failed_indexes)
        self._set_uncounted(status, uncounted_s, uncounted_f)
        if st.finish is not None and condition(job, st.finish.interim) is None:
            self._set_condition(job, st.finish.interim, st.finish.reason, st.finish.message)
        # 1. the outcomes are on record before any finalizer goes
        base = self.job_informer.get(key)
        written = await self._write_status(job, base, needs_write)

        # 2. let the pods go
        with_finalizer = {p.metadata.uid for p in st.pods if has_finalizer(p) and p.metadata.uid not in st.expected_rm}
        st.expected_rm.update(p.metadata.uid for p in release)
        results = await asyncio.gather(*(self._remove_finalizer(p) for p in release), return_exceptions=True)
        error = None
        for p, r in zip(release, results):
            if isinstance(r, BaseException):
                st.expected_rm.discard(p.metadata.uid)
                error = error or r
            else:
                with_finalizer.discard(p.metadata.uid)

        # 3. released pods move from uncounted into the counts; 4. finish when nothing is in flight
        job = copy(written)
        status = job.status
        still_s = [u for u in status.uncountedTerminatedPods.succeeded if u in with_finalizer]
        still_f = [u for u in status.uncountedTerminatedPods.failed if u in with_finalizer]
        status.succeeded += len(status.uncountedTerminatedPods.succeeded) - len(still_s)
        status.failed += len(status.uncountedTerminatedPods.failed) - len(still_f)
        self._set_uncounted(status, still_s, still_f)
        finished = False
        if st.finish is not None and not still_s and not still_f and st.terminating == 0 and error is None:
            self._set_condition(job, st.finish.final, st.finish.reason, st.finish.message)
            if st.finish.final == "Complete":
                status.completionTime = rfc3339(self.clock.now())
            finished = True
        await self._write_status(job, written, False)
        if finished:
            if st.finish.final == "Complete":
                self.recorder.eventf(job, NORMAL, "Completed", "Job completed")
            else:
                self.recorder.eventf(job, WARNING, st.finish.reason, st.finish.message)
        if error is not None:
            raise error

    @staticmethod
    def _set_uncounted(status, succeeded: list, failed: list) -> None:
        status.uncountedTerminatedPods.SetInParent()
        del status.uncountedTerminatedPods.succeeded[:]
        del status.uncountedTerminatedPods.failed[:]
        status.uncountedTerminatedPods.succeeded.extend(succeeded)
        status.uncountedTerminatedPods.failed.extend(failed)

    async def _write_status(self, job, base, force: bool):
        """Write the status unless `base` (the version it was computed from) already has it. The
        write carries that version's resourceVersion: from a stale cache it conflicts and the sync
        runs again, so counts never go backwards or twice."""
        if not force and base is not None and base.status == job.status:
            return job
        try:
            return await self.client.update_status(job)
        except NotFound:
            return job


def pod_for_job(job, index) -> core_pb2.Pod:
    """A pod from the Job's template (its labels carry the job-name and controller-uid labels the
    server generated), named `<job>-` + suffix, controlled by the Job, with the tracking finalizer;
    Indexed pods also get their index (and the failure counts of the index so far)."""
    pod = core_pb2.Pod(apiVersion="v1", kind="Pod")
    template = job.spec.template
    meta = pod.metadata
    meta.generateName = f"{job.metadata.name}-"
    meta.namespace = job.metadata.namespace
    meta.labels.update(template.metadata.labels)
    meta.annotations.update(template.metadata.annotations)
    meta.finalizers.extend(template.metadata.finalizers)
    meta.finalizers.append(TRACKING_FINALIZER)
    meta.ownerReferences.append(new_controller_ref(job))
    pod.spec.CopyFrom(template.spec)
    if index is not None:
        i, failures, ignored = index if isinstance(index, tuple) else (index, 0, 0)
        ix.set_completion_index(pod, job, i)
        if job.spec.HasField("backoffLimitPerIndex"):
            meta.annotations[ix.INDEX_FAILURE_COUNT] = str(failures)
            if ignored:
                meta.annotations[ix.INDEX_IGNORED_FAILURE_COUNT] = str(ignored)
    return pod

