"""The Job controller against a real API server, the test playing the kubelet (writing pod status
directly) and driving time with a fake clock: completions and parallelism, Indexed Jobs, failure
accounting (Never and OnFailure), the replacement backoff, podFailurePolicy, backoffLimitPerIndex,
successPolicy, activeDeadlineSeconds, suspend, finalizer tracking across a controller restart, and a
pi-style Job to completion on a real cluster."""
from __future__ import annotations

import contextlib

import pytest

from minik8s.api.clock import FakeClock, rfc3339
from minik8s.api.pb import batch_pb2
from minik8s.client.informer import copy
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
