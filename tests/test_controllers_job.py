"""The Job controller against a real API server, the test playing the kubelet (writing pod status
directly) and driving time with a fake clock: completions and parallelism, Indexed Jobs, failure
accounting (Never and OnFailure), the replacement backoff, podFailurePolicy, backoffLimitPerIndex,
successPolicy, activeDeadlineSeconds, suspend, finalizer tracking across a controller restart, and a
pi-style Job to completion on a real cluster."""
from __future__ import annotations

import asyncio
import contextlib

import pytest

from minik8s.api.clock import FakeClock, rfc3339
from minik8s.api.pb import batch_pb2, core_pb2
from minik8s.client.informer import Informer, copy
from minik8s.controllers.controller_utils import controller_ref
from minik8s.controllers.job import TRACKING_FINALIZER
from support import running_manager, wait_for

NS = "default"


@contextlib.asynccontextmanager
async def job_controller(srv, clock, settings=None):
    async with srv.async_client("controller-manager") as cm, \
            running_manager(cm, "job", clock, settings=settings or {}) as mgr:
        yield mgr


def job(name: str, completions=1, parallelism=1, backoff_limit=None, restart="Never", **spec) -> batch_pb2.Job:
    j = batch_pb2.Job(apiVersion="batch/v1", kind="Job")
    j.metadata.name, j.metadata.namespace = name, NS
    if completions is not None:
        j.spec.completions = completions
    j.spec.parallelism = parallelism
    if backoff_limit is not None:
        j.spec.backoffLimit = backoff_limit
    for k, v in spec.items():
        setattr(j.spec, k, v)
    t = j.spec.template.spec
    t.restartPolicy = restart
    c = t.containers.add()
    c.name, c.image = "main", "busybox"
    c.command.extend(["sh", "-c", "echo 3.14"])
    return j


async def job_pods(client, j, include_terminating=False) -> list:
    out = []
    for p in (await client.list("Pod", NS)).items:
        ref = controller_ref(p)
        if ref is not None and ref.uid == j.metadata.uid and (include_terminating or not p.metadata.deletionTimestamp):
            out.append(p)
    return sorted(out, key=lambda p: p.metadata.name)


async def n_pods(client, j, n, **kw):
    pods = await job_pods(client, j, **kw)
    return pods if len(pods) == n else None


async def finish(client, pod, clock, code=0, conditions=()):
    """Play the kubelet: the pod's one container ended with `code`."""
    p = copy(pod)
    p.status.phase = "Succeeded" if code == 0 else "Failed"
    for name in [c.name for c in p.spec.containers]:
        cs = p.status.containerStatuses.add()
        cs.name = name
        cs.state.terminated.exitCode = code
        cs.state.terminated.reason = "Completed" if code == 0 else "Error"
        cs.state.terminated.finishedAt = rfc3339(clock.now())
    for ctype, reason in conditions:
        c = p.status.conditions.add()
        c.type, c.status, c.reason = ctype, "True", reason
    return await admin_update_status(client, p)


async def admin_update_status(client, p):
    return await client.update_status(p)


def conds(j) -> list[tuple[str, str]]:
    return [(c.type, c.reason) for c in j.status.conditions if c.status == "True"]


async def job_with(client, name, pred):
    j = await client.get("Job", name, NS)
    return j if pred(j) else None


async def events(client, name) -> list[tuple[str, str]]:
    evs = (await client.list("Event", NS, field_selector=f"involvedObject.name={name}")).items
    return [(e.reason, e.message) for e in evs]


# ---------------------------------------------------------------- completions
async def test_completions_and_parallelism_run_to_complete_with_finalizers_released(srv, admin):
    clock = FakeClock()
    async with job_controller(srv, clock):
        j = await admin.create(job("pi", completions=3, parallelism=2))
        pods = await wait_for(lambda: n_pods(admin, j, 2), what="2 pods")
        p = pods[0]
        assert p.metadata.generateName == "pi-" and TRACKING_FINALIZER in p.metadata.finalizers
        assert p.metadata.labels["batch.kubernetes.io/job-name"] == "pi"
        assert p.metadata.labels["job-name"] == "pi"
        assert p.metadata.labels["batch.kubernetes.io/controller-uid"] == j.metadata.uid
        assert p.metadata.labels["controller-uid"] == j.metadata.uid
        ref = controller_ref(p)
        assert (ref.kind, ref.name, ref.controller) == ("Job", "pi", True)
        await wait_for(lambda: job_with(admin, "pi", lambda j: j.status.active == 2 and j.status.startTime),
                       what="active 2")
        for p in pods:
            await finish(admin, p, clock)
        more = await wait_for(lambda: n_pods(admin, j, 3), what="the third pod")
        await finish(admin, next(p for p in more if p.status.phase != "Succeeded"), clock)
        done = await wait_for(lambda: job_with(admin, "pi", lambda j: ("Complete", "CompletionsReached") in conds(j)),
                              what="Complete")
        assert conds(done) == [("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "CompletionsReached")]
        assert (done.status.succeeded, done.status.failed, done.status.active) == (3, 0, 0)
        assert done.status.completionTime and not done.status.uncountedTerminatedPods.succeeded
        left = await job_pods(admin, j)
        assert len(left) == 3 and all(TRACKING_FINALIZER not in p.metadata.finalizers for p in left)
        evs = await wait_for(lambda: _has(admin, "pi", "Completed"), what="Completed event")
        assert ("Completed", "Job completed") in evs
        assert sum(1 for r, _ in evs if r == "SuccessfulCreate") == 3


async def _has(client, name, reason):
    evs = await events(client, name)
    return evs if any(r == reason for r, _ in evs) else None


# ---------------------------------------------------------------- failures (scenarios 1 and 2)
async def test_backoff_limit_never_restart_three_pods_with_growing_delays(srv, admin):
    clock = FakeClock()
    async with job_controller(srv, clock):
        j = await admin.create(job("fail", backoff_limit=2))
        first = (await wait_for(lambda: n_pods(admin, j, 1), what="pod 1"))[0]
        await finish(admin, first, clock, code=1)
        await wait_for(lambda: job_with(admin, "fail", lambda j: j.status.failed == 1), what="failed 1")
        # the replacement waits 10 s after the failure
        assert len(await job_pods(admin, j)) == 1
        clock.advance(9)
        await wait_for(lambda: job_with(admin, "fail", lambda j: j.status.active == 0), what="no active pod")
        assert len(await job_pods(admin, j)) == 1
        clock.advance(1.5)
        pods = await wait_for(lambda: n_pods(admin, j, 2), what="pod 2 after 10 s")
        second = next(p for p in pods if p.metadata.uid != first.metadata.uid)
        await finish(admin, second, clock, code=1)
        await wait_for(lambda: job_with(admin, "fail", lambda j: j.status.failed == 2), what="failed 2")
        clock.advance(15)                       # 20 s now
        assert len(await job_pods(admin, j)) == 2
        clock.advance(5.5)
        pods = await wait_for(lambda: n_pods(admin, j, 3), what="pod 3 after 20 s")
        third = next(p for p in pods if p.metadata.uid not in (first.metadata.uid, second.metadata.uid))
        await finish(admin, third, clock, code=1)
        done = await wait_for(lambda: job_with(admin, "fail", lambda j: ("Failed", "BackoffLimitExceeded") in conds(j)),
                              what="Failed")
        assert conds(done) == [("FailureTarget", "BackoffLimitExceeded"), ("Failed", "BackoffLimitExceeded")]
        assert done.status.failed == 3 and not done.status.completionTime
        assert [c.message for c in done.status.conditions][-1] == "Job has reached the specified backoff limit"
        assert len(await job_pods(admin, j)) == 3          # failed pods (and their logs) kept
        clock.advance(1000)
        assert len(await job_pods(admin, j)) == 3
        await wait_for(lambda: _has(admin, "fail", "BackoffLimitExceeded"), what="the event")


async def test_on_failure_restarts_count_and_the_pod_is_deleted(srv, admin):
    clock = FakeClock()
    async with job_controller(srv, clock):
        j = await admin.create(job("crash", backoff_limit=2, restart="OnFailure"))
        pod = (await wait_for(lambda: n_pods(admin, j, 1), what="the pod"))[0]
        for restarts in (1, 2):
            p = copy(await admin.get("Pod", pod.metadata.name, NS))
            p.status.phase = "Running"
            del p.status.containerStatuses[:]
            cs = p.status.containerStatuses.add()
            cs.name, cs.restartCount = "main", restarts
            cs.state.waiting.reason = "CrashLoopBackOff"
            await admin.update_status(p)
        done = await wait_for(lambda: job_with(admin, "crash", lambda j: ("Failed", "BackoffLimitExceeded") in conds(j)),
                              what="Failed")
        assert done.status.failed == 0
        assert await job_pods(admin, j, include_terminating=True) == []     # the only pod is gone


# ---------------------------------------------------------------- podFailurePolicy (scenarios 3 and 4)
def with_policy(j, *rules):
    for action, codes, condition in rules:
        r = j.spec.podFailurePolicy.rules.add()
        r.action = action
        if codes:
            r.onExitCodes.containerName = "main"
            r.onExitCodes.operator = "In"
            r.onExitCodes.values.extend(codes)
        if condition:
            pat = r.onPodConditions.add()
            pat.type, pat.status = condition, "True"
    return j


async def test_fail_job_rule_fails_after_the_first_pod(srv, admin):
    clock = FakeClock()
    async with job_controller(srv, clock):
        j = await admin.create(with_policy(job("bug", completions=2, parallelism=2),
                                           ("FailJob", [42], None)))
        pods = await wait_for(lambda: n_pods(admin, j, 2), what="2 pods")
        await finish(admin, pods[0], clock, code=42)
        done = await wait_for(lambda: job_with(admin, "bug", lambda j: ("Failed", "PodFailurePolicy") in conds(j)),
                              what="Failed")
        assert conds(done) == [("FailureTarget", "PodFailurePolicy"), ("Failed", "PodFailurePolicy")]
        assert done.status.conditions[-1].message == (
            f"Container main for pod default/{pods[0].metadata.name} failed with exit code 42 "
            "matching FailJob rule at index 0")
        assert done.status.failed == 1
        # the other (running) pod was deleted, the failed one kept
        assert [p.metadata.name for p in await job_pods(admin, j, include_terminating=True)] == [pods[0].metadata.name]


async def test_disruption_ignored_by_policy_but_counted_without_one(srv, admin):
    clock = FakeClock()
    async with job_controller(srv, clock):
        j = await admin.create(with_policy(job("train", backoff_limit=3), ("Ignore", None, "DisruptionTarget")))
        pod = (await wait_for(lambda: n_pods(admin, j, 1), what="the pod"))[0]
        await finish(admin, pod, clock, code=143, conditions=[("DisruptionTarget", "EvictionByEvictionAPI")])
        # an ignored failure still delays the replacement, as upstream does
        await wait_for(lambda: job_with(admin, "train", lambda j: j.status.active == 0), what="no active pod")
        clock.advance(10.5)
        pods = await wait_for(lambda: n_pods(admin, j, 2), what="a replacement")
        cur = await admin.get("Job", "train", NS)
        assert cur.status.failed == 0 and not conds(cur)

        plain = await admin.create(job("plain", backoff_limit=3))
        victim = (await wait_for(lambda: n_pods(admin, plain, 1), what="the pod"))[0]
        await admin.delete("Pod", victim.metadata.name, NS)      # an eviction: deleted while running
        await wait_for(lambda: job_with(admin, "plain", lambda j: j.status.failed == 1), what="failed +1")
        await wait_for(lambda: n_pods(admin, plain, 1), what="a replacement")
        # the evicted pod was counted once and let go (no pod stuck Terminating)
        await wait_for(lambda: _gone(admin, victim.metadata.name), what="the evicted pod gone")
        assert pods


async def _no_pods(client, j):
    return not await job_pods(client, j, include_terminating=True)


async def _gone(client, name):
    return name not in {p.metadata.name for p in (await client.list("Pod", NS)).items}


# ---------------------------------------------------------------- Indexed (scenarios 5, 6, 7)
async def test_indexed_job_gives_each_pod_its_index(srv, admin):
    clock = FakeClock()
    async with job_controller(srv, clock):
        j = job("idx", completions=4, parallelism=4, completionMode="Indexed")
        j.spec.template.spec.subdomain = "workers"
        j = await admin.create(j)
        pods = await wait_for(lambda: n_pods(admin, j, 4), what="4 pods")
        by_index = {int(p.metadata.annotations["batch.kubernetes.io/job-completion-index"]): p for p in pods}
        assert sorted(by_index) == [0, 1, 2, 3]
        for i, p in by_index.items():
            assert p.metadata.labels["batch.kubernetes.io/job-completion-index"] == str(i)
            assert p.metadata.name.startswith(f"idx-{i}-")
            assert (p.spec.hostname, p.spec.subdomain) == (f"idx-{i}", "workers")
            env = {e.name: e.valueFrom.fieldRef.fieldPath for e in p.spec.containers[0].env}
            assert env["JOB_COMPLETION_INDEX"] == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
        for i in (0, 1, 3):
            await finish(admin, by_index[i], clock)
        mid = await wait_for(lambda: job_with(admin, "idx", lambda j: j.status.completedIndexes == "0,1,3"),
                             what="completedIndexes 0,1,3")
        assert mid.status.succeeded == 3
        await finish(admin, by_index[2], clock)
        done = await wait_for(lambda: job_with(admin, "idx", lambda j: ("Complete", "CompletionsReached") in conds(j)),
                              what="Complete")
        assert done.status.completedIndexes == "0-3" and done.status.succeeded == 4


async def test_backoff_limit_per_index_fails_even_indexes(srv, admin):
    clock = FakeClock()
    async with job_controller(srv, clock, settings={"job.podFailureBackoff": 0}):
        j = await admin.create(job("per", completions=4, parallelism=4, completionMode="Indexed",
                                   backoffLimitPerIndex=1))
        seen: set[str] = set()
        while True:
            cur = await admin.get("Job", "per", NS)
            if ("Failed", "FailedIndexes") in conds(cur):
                break
            for p in await job_pods(admin, j):
                if p.metadata.uid in seen or p.status.phase in ("Succeeded", "Failed"):
                    continue
                seen.add(p.metadata.uid)
                i = int(p.metadata.annotations["batch.kubernetes.io/job-completion-index"])
                await finish(admin, p, clock, code=1 if i % 2 == 0 else 0)
            await wait_for(lambda: _changed(admin, j, seen, "per"), what="progress")
        assert (cur.status.failedIndexes, cur.status.completedIndexes) == ("0,2", "1,3")
        assert (cur.status.succeeded, cur.status.failed) == (2, 4)
        assert cur.status.conditions[-1].message == "Job has failed indexes"
        pods = await job_pods(admin, j)
        fails = sorted(p.metadata.annotations.get("batch.kubernetes.io/job-index-failure-count") for p in pods
                       if p.metadata.annotations["batch.kubernetes.io/job-completion-index"] == "0")
        assert fails == ["0", "1"]


async def _changed(client, j, seen, name):
    cur = await client.get("Job", name, NS)
    if any(c.type == "Failed" for c in cur.status.conditions):
        return True
    return any(p.metadata.uid not in seen and p.status.phase not in ("Succeeded", "Failed")
               for p in await job_pods(client, j))


async def test_success_policy_completes_on_the_leader(srv, admin):
    clock = FakeClock()
    async with job_controller(srv, clock):
        j = job("leader", completions=3, parallelism=3, completionMode="Indexed")
        j.spec.successPolicy.rules.add().succeededIndexes = "0"
        j = await admin.create(j)
        pods = await wait_for(lambda: n_pods(admin, j, 3), what="3 pods")
        leader = next(p for p in pods if p.metadata.annotations["batch.kubernetes.io/job-completion-index"] == "0")
        await finish(admin, leader, clock)
        done = await wait_for(lambda: job_with(admin, "leader", lambda j: ("Complete", "SuccessPolicy") in conds(j)),
                              what="Complete")
        assert conds(done) == [("SuccessCriteriaMet", "SuccessPolicy"), ("Complete", "SuccessPolicy")]
        assert done.status.conditions[0].message == "Matched rules at index 0"
        assert [p.metadata.name for p in await job_pods(admin, j, include_terminating=True)] == [leader.metadata.name]


# ---------------------------------------------------------------- deadline and suspend (scenario 8)
async def test_active_deadline_fails_the_job(srv, admin):
    clock = FakeClock()
    async with job_controller(srv, clock):
        j = await admin.create(job("slow", activeDeadlineSeconds=30))
        await wait_for(lambda: n_pods(admin, j, 1), what="the pod")
        clock.advance(31)
        done = await wait_for(lambda: job_with(admin, "slow", lambda j: ("Failed", "DeadlineExceeded") in conds(j)),
                              what="DeadlineExceeded")
        assert done.status.conditions[-1].message == "Job was active longer than specified deadline"
        assert await job_pods(admin, j, include_terminating=True) == []
        await wait_for(lambda: _has(admin, "slow", "DeadlineExceeded"), what="the event")


async def test_suspend_deletes_pods_and_resume_resets_start_time(srv, admin):
    clock = FakeClock()
    async with job_controller(srv, clock):
        j = await admin.create(job("sus", suspend=True))
        cur = await wait_for(lambda: job_with(admin, "sus", lambda j: ("Suspended", "JobSuspended") in conds(j)),
                             what="Suspended")
        assert not cur.status.startTime and await job_pods(admin, j) == []
        await admin.patch("Job", "sus", {"spec": {"suspend": False}}, NS)
        await wait_for(lambda: n_pods(admin, j, 1), what="a pod once resumed")
        started = (await admin.get("Job", "sus", NS)).status.startTime
        await admin.patch("Job", "sus", {"spec": {"suspend": True}}, NS)
        await wait_for(lambda: _no_pods(admin, j), what="pods deleted on suspend")
        clock.advance(100)
        await admin.patch("Job", "sus", {"spec": {"suspend": False}}, NS)
        resumed = await wait_for(lambda: job_with(admin, "sus", lambda j: any(
            c.type == "Suspended" and c.status == "False" and c.reason == "JobResumed" for c in j.status.conditions)),
            what="Resumed")
        assert resumed.status.startTime == rfc3339(clock.now()) != started
        assert resumed.status.failed == 0              # pods removed by suspend are not failures


# ---------------------------------------------------------------- restart mid-way
async def test_restarted_controller_neither_duplicates_pods_nor_counts_twice(srv, admin):
    clock = FakeClock()
    j = job("many", completions=6, parallelism=3, completionMode="Indexed")
    async with job_controller(srv, clock):
        j = await admin.create(j)
        pods = await wait_for(lambda: n_pods(admin, j, 3), what="3 pods")
        await finish(admin, pods[0], clock)
        await finish(admin, pods[1], clock, code=1)
    # the controller is gone; the outcome of these pods is not counted yet, or only half
    for p in (await job_pods(admin, j))[2:3]:
        await finish(admin, p, clock)
    async with job_controller(srv, clock):
        async def settled():
            cur = await admin.get("Job", "many", NS)
            pods = await job_pods(admin, j)
            uncounted = cur.status.uncountedTerminatedPods
            counted = cur.status.succeeded + cur.status.failed == 3 and not uncounted.succeeded and not uncounted.failed
            return (cur, pods) if counted and cur.status.active == 3 and len(pods) == 6 else None
        cur, pods = await wait_for(settled, what="3 finished and 3 active pods")
    async with job_controller(srv, clock):
        cur, pods = await wait_for(settled, what="the same again")
        assert (cur.status.succeeded, cur.status.failed) == (2, 1)
        active = [p for p in pods if p.status.phase not in ("Succeeded", "Failed")]
        indexes = [p.metadata.annotations["batch.kubernetes.io/job-completion-index"] for p in active]
        assert len(set(indexes)) == len(indexes) == 3
        assert all(TRACKING_FINALIZER not in p.metadata.finalizers for p in pods if p not in active)


class DiesAfter:
    """The controller manager's client, except that the first call `hit` picks reaches the server
    and then never returns: the process died the moment its request landed. Everything else is
    the real client."""

    def __init__(self, client, hit):
        self._client, self._hit = client, hit
        self.fired = asyncio.Event()

    def __getattr__(self, name):
        real = getattr(self._client, name)
        if name not in ("create", "patch", "update_status"):
            return real

        async def call(*args, **kw):
            result = await real(*args, **kw)
            if not self.fired.is_set() and self._hit(name, args[0]):
                self.fired.set()
                await asyncio.Event().wait()
            return result
        return call


# where the first controller dies: (the call that lands last, whether it dies before the pods end)
KILL_POINTS = {
    "after-a-pod-create": (lambda verb, obj: verb == "create" and isinstance(obj, core_pb2.Pod), True),
    "after-uncounted-written": (lambda verb, obj: verb == "update_status" and isinstance(obj, batch_pb2.Job)
                                and bool(obj.status.uncountedTerminatedPods.succeeded
                                         or obj.status.uncountedTerminatedPods.failed), False),
    "after-a-finalizer-removed": (lambda verb, obj: verb == "patch" and obj == "Pod", False),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
async def test_controller_killed_mid_sync_neither_creates_extra_pods_nor_loses_counts(srv, admin, point):
    """The controller dies inside a sync (its last request landed, nothing after it ran); a new one
    takes over with empty expectations and finishes the Job: every pod it ever made is accounted
    once (3 succeeded, 1 failed), no index of work got a second pod, no finalizer is left."""
    hit, dies_early = KILL_POINTS[point]
    clock = FakeClock()
    created: set[str] = set()
    watcher = Informer(admin, "Pod", namespace=NS)
    watcher.add_event_handler(lambda p: created.add(p.metadata.uid), None, None)
    await watcher.start()

    async def end_three(j):
        pods = await wait_for(lambda: n_pods(admin, j, 3), what="3 pods")
        await finish(admin, pods[0], clock)
        await finish(admin, pods[1], clock)
        clock.advance(1)                         # a failure after the last success: its replacement waits
        await finish(admin, pods[2], clock, code=1)
    try:
        j = job("killed", completions=3, parallelism=3, backoff_limit=6)
        async with srv.async_client("controller-manager") as cm:
            dying = DiesAfter(cm, hit)
            async with running_manager(dying, "job", clock):
                j = await admin.create(j)
                if not dies_early:
                    await end_three(j)
                await asyncio.wait_for(dying.fired.wait(), 30)
        async with job_controller(srv, clock):
            if dies_early:
                await end_three(j)
            counted = await wait_for(lambda: job_with(admin, "killed", lambda j: (
                j.status.succeeded, j.status.failed, j.status.active) == (2, 1, 0)
                and not j.status.uncountedTerminatedPods.succeeded and not j.status.uncountedTerminatedPods.failed),
                what="2 succeeded and 1 failed counted")
            assert len(created) == 3, "a pod the dead controller asked for was made again"
            clock.advance(10.5)                  # the replacement's backoff after one failure
            last = await wait_for(lambda: _unfinished(admin, j), what="the replacement")
            await finish(admin, last, clock)
            done = await wait_for(lambda: job_with(admin, "killed", lambda j: ("Complete", "CompletionsReached") in conds(j)),
                                  what="Complete")
        assert (done.status.succeeded, done.status.failed) == (3, 1) and counted.status.startTime
        assert len(created) == 4
        pods = await job_pods(admin, j)
        assert len(pods) == 4 and all(TRACKING_FINALIZER not in p.metadata.finalizers for p in pods)
    finally:
        await watcher.stop()


async def _unfinished(client, j):
    return next((p for p in await job_pods(client, j) if p.status.phase not in ("Succeeded", "Failed")), None)


async def test_finalizer_removed_from_pods_of_a_deleted_job(srv, admin):
    clock = FakeClock()
    async with job_controller(srv, clock):
        j = await admin.create(job("gone"))
        pod = (await wait_for(lambda: n_pods(admin, j, 1), what="the pod"))[0]
        await admin.delete("Job", "gone", NS, propagation_policy="Orphan")
        await wait_for(lambda: _finalizer_gone(admin, pod.metadata.name), what="finalizer released")


async def _finalizer_gone(client, name):
    p = await client.get("Pod", name, NS)
    return TRACKING_FINALIZER not in p.metadata.finalizers
