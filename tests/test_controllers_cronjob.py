"""The CronJob controller against a real API server, time driven by a fake clock that starts at the
CronJob's creation: schedules (every minute, macros, a time zone), each concurrencyPolicy,
startingDeadlineSeconds and too many missed times, history limits, suspend, and no second Job for a
schedule time after a restart that lost the status write. The test plays the Job controller by
writing the Jobs' terminal conditions."""
from __future__ import annotations

import contextlib

from minik8s.api.clock import FakeClock, parse_time, rfc3339
from minik8s.api.pb import batch_pb2
from minik8s.client.informer import copy
from minik8s.controllers.controller_utils import controller_ref
from support import running_manager, wait_for

NS = "default"
SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def cronjob(name: str, schedule: str = "* * * * *", **spec) -> batch_pb2.CronJob:
    cj = batch_pb2.CronJob(apiVersion="batch/v1", kind="CronJob")
    cj.metadata.name, cj.metadata.namespace = name, NS
    cj.spec.schedule = schedule
    for k, v in spec.items():
        setattr(cj.spec, k, v)
    tpl = cj.spec.jobTemplate
    tpl.metadata.labels["team"] = "ml"
    t = tpl.spec.template.spec
    t.restartPolicy = "OnFailure"
    c = t.containers.add()
    c.name, c.image = "hello", "busybox"
    c.command.extend(["sh", "-c", "date"])
    return cj


@contextlib.asynccontextmanager
async def controller(srv, clock):
    async with srv.async_client("controller-manager") as cm, running_manager(cm, "cronjob", clock) as mgr:
        yield mgr


async def created(admin, cj) -> tuple[batch_pb2.CronJob, FakeClock]:
    """Create `cj` and a fake clock standing at its creation time."""
    cj = await admin.create(cj)
    return cj, FakeClock(start=parse_time(cj.metadata.creationTimestamp))


def advance_to(clock: FakeClock, ts: float) -> None:
    clock.advance(ts - clock.now())


def next_minute(ts: float) -> float:
    return (int(ts) // 60 + 1) * 60


async def jobs_of(admin, cj) -> list:
    items = (await admin.list("Job", NS)).items
    return sorted((j for j in items if (r := controller_ref(j)) is not None and r.uid == cj.metadata.uid
                   and not j.metadata.deletionTimestamp), key=lambda j: j.metadata.name)


async def n_jobs(admin, cj, n):
    js = await jobs_of(admin, cj)
    return js if len(js) == n else None


async def reasons(admin, name) -> list[tuple[str, str]]:
    evs = (await admin.list("Event", NS, field_selector=f"involvedObject.name={name}")).items
    return [(e.reason, e.message) for e in evs]


async def has_event(admin, name, reason):
    evs = await reasons(admin, name)
    return evs if any(r == reason for r, _ in evs) else None


async def cj_with(admin, name, pred):
    cj = await admin.get("CronJob", name, NS)
    return cj if pred(cj) else None


async def finish(admin, job, clock, outcome="Complete", started=None):
    """Play the Job controller: the Job finished as `outcome`."""
    j = copy(job)
    now = rfc3339(clock.now())
    j.status.startTime = rfc3339(started) if started is not None else now
    if outcome == "Complete":
        interim = j.status.conditions.add()
        interim.type, interim.status, interim.reason = "SuccessCriteriaMet", "True", "CompletionsReached"
        j.status.completionTime = now
        j.status.succeeded = 1
    else:
        interim = j.status.conditions.add()
        interim.type, interim.status, interim.reason = "FailureTarget", "True", "BackoffLimitExceeded"
        j.status.failed = 1
    c = j.status.conditions.add()
    c.type, c.status, c.lastTransitionTime = outcome, "True", now
    c.reason = "CompletionsReached" if outcome == "Complete" else "BackoffLimitExceeded"
    return await admin.update_status(j)


# ---------------------------------------------------------------- schedules
async def test_every_minute_creates_one_job_per_schedule_time_and_tracks_it(srv, admin):
    cj, clock = await created(admin, cronjob("hello"))
    async with controller(srv, clock):
        t1 = next_minute(clock.now())
        advance_to(clock, t1 + 1)
        job = (await wait_for(lambda: n_jobs(admin, cj, 1), what="the first job"))[0]
        assert job.metadata.name == f"hello-{int(t1) // 60}"
        assert job.metadata.annotations[SCHEDULED] == rfc3339(t1)
        assert job.metadata.labels["team"] == "ml"
        ref = controller_ref(job)
        assert (ref.kind, ref.name, ref.controller) == ("CronJob", "hello", True)
        assert job.spec.template.spec.containers[0].command == ["sh", "-c", "date"]
        st = (await wait_for(lambda: cj_with(admin, "hello", lambda c: c.status.active), what="active")).status
        assert [r.name for r in st.active] == [job.metadata.name] and st.active[0].uid == job.metadata.uid
        assert st.lastScheduleTime == rfc3339(t1) and not st.lastSuccessfulTime
        assert ("SuccessfulCreate", f"Created job {job.metadata.name}") in \
            await wait_for(lambda: has_event(admin, "hello", "SuccessfulCreate"), what="SuccessfulCreate")

        advance_to(clock, t1 + 20)
        done = await finish(admin, job, clock)
        st = (await wait_for(lambda: cj_with(admin, "hello", lambda c: not c.status.active), what="not active")).status
        assert st.lastSuccessfulTime == done.status.completionTime
        assert ("SawCompletedJob", f"Saw completed job: {job.metadata.name}, condition: Complete") in \
            await wait_for(lambda: has_event(admin, "hello", "SawCompletedJob"), what="SawCompletedJob")

        advance_to(clock, t1 + 61)
        second = await wait_for(lambda: n_jobs(admin, cj, 2), what="the second job")
        assert second[1].metadata.name == f"hello-{int(t1) // 60 + 1}"


async def test_hourly_macro_and_time_zone(srv, admin):
    hourly, clock = await created(admin, cronjob("hourly", "@hourly"))
    tokyo = await admin.create(cronjob("tokyo", "0 9 * * *", timeZone="Asia/Tokyo"))
    async with controller(srv, clock):
        hour = (int(clock.now()) // 3600 + 1) * 3600
        advance_to(clock, hour + 1)
        job = (await wait_for(lambda: n_jobs(admin, hourly, 1), what="the hourly job"))[0]
        assert job.metadata.name == f"hourly-{hour // 60}"
        # 09:00 in Tokyo (UTC+9, no daylight saving) is midnight UTC
        midnight = (int(clock.now()) // 86400 + 1) * 86400
        advance_to(clock, midnight + 1)
        job = (await wait_for(lambda: n_jobs(admin, tokyo, 1), what="the Tokyo job"))[0]
        assert job.metadata.name == f"tokyo-{midnight // 60}"
        assert job.metadata.annotations[SCHEDULED].endswith("T09:00:00+09:00")


# ---------------------------------------------------------------- concurrencyPolicy
async def test_allow_runs_jobs_side_by_side(srv, admin):
    cj, clock = await created(admin, cronjob("allow"))
    async with controller(srv, clock):
        t1 = next_minute(clock.now())
        advance_to(clock, t1 + 1)
        await wait_for(lambda: n_jobs(admin, cj, 1), what="job 1")
        advance_to(clock, t1 + 61)
        await wait_for(lambda: n_jobs(admin, cj, 2), what="job 2 beside job 1")
        await wait_for(lambda: cj_with(admin, "allow", lambda c: len(c.status.active) == 2), what="2 active")


async def test_forbid_skips_while_a_job_is_active(srv, admin):
    cj, clock = await created(admin, cronjob("forbid", concurrencyPolicy="Forbid"))
    async with controller(srv, clock):
        t1 = next_minute(clock.now())
        advance_to(clock, t1 + 1)
        first = (await wait_for(lambda: n_jobs(admin, cj, 1), what="job 1"))[0]
        await wait_for(lambda: cj_with(admin, "forbid", lambda c: c.status.active), what="active")
        advance_to(clock, t1 + 61)
        evs = await wait_for(lambda: has_event(admin, "forbid", "JobAlreadyActive"), what="JobAlreadyActive")
        assert ("JobAlreadyActive", "Not starting job because prior execution is running and concurrency "
                "policy is Forbid") in evs
        assert [j.metadata.name for j in await jobs_of(admin, cj)] == [first.metadata.name]
        await finish(admin, first, clock)
        advance_to(clock, t1 + 121)
        later = await wait_for(lambda: n_jobs(admin, cj, 2), what="a job once the first finished")
        assert later[1].metadata.name == f"forbid-{int(t1) // 60 + 2}"


async def test_replace_deletes_the_active_job_first(srv, admin):
    cj, clock = await created(admin, cronjob("replace", concurrencyPolicy="Replace"))
    async with controller(srv, clock):
        t1 = next_minute(clock.now())
        advance_to(clock, t1 + 1)
        first = (await wait_for(lambda: n_jobs(admin, cj, 1), what="job 1"))[0]
        await wait_for(lambda: cj_with(admin, "replace", lambda c: c.status.active), what="active")
        advance_to(clock, t1 + 61)
        second = f"replace-{int(t1) // 60 + 1}"
        await wait_for(lambda: cj_with(admin, "replace", lambda c: [r.name for r in c.status.active] == [second]),
                       what="only the new job active")
        assert [j.metadata.name for j in await jobs_of(admin, cj)] == [second]
        evs = await reasons(admin, "replace")
        assert ("SuccessfulDelete", f"Deleted job {first.metadata.name}") in evs


# ---------------------------------------------------------------- missed schedules
async def test_starting_deadline_skips_a_time_too_far_past(srv, admin):
    cj, clock = await created(admin, cronjob("deadline", startingDeadlineSeconds=10))
    async with controller(srv, clock):
        t1 = next_minute(clock.now())
        advance_to(clock, t1 + 30)        # the controller looks 30 s late: t1 is past its 10 s deadline
        advance_to(clock, t1 + 61)
        job = (await wait_for(lambda: n_jobs(admin, cj, 1), what="the next job"))[0]
        assert job.metadata.name == f"deadline-{int(t1) // 60 + 1}"


async def test_too_many_missed_start_times_warns_and_runs_only_the_latest(srv, admin):
    cj, clock = await created(admin, cronjob("missed"))
    advance_to(clock, next_minute(clock.now()) + 200 * 60 + 1)     # the controller was down for 200 minutes
    async with controller(srv, clock):
        job = (await wait_for(lambda: n_jobs(admin, cj, 1), what="one job"))[0]
        assert job.metadata.name == f"missed-{int(clock.now()) // 60}"
        evs = await wait_for(lambda: has_event(admin, "missed", "TooManyMissedTimes"), what="TooManyMissedTimes")
        assert any(m.startswith("too many missed start times: 201. Set or decrease .spec.startingDeadlineSeconds")
                   for r, m in evs if r == "TooManyMissedTimes")


# ---------------------------------------------------------------- history and suspend
async def test_history_limits_keep_the_newest_finished_jobs(srv, admin):
    cj, clock = await created(admin, cronjob("hist", successfulJobsHistoryLimit=2, failedJobsHistoryLimit=1))
    async with controller(srv, clock):
        t1 = next_minute(clock.now())
        names = []
        for i, outcome in enumerate(["Complete", "Failed", "Complete", "Failed", "Complete"]):
            advance_to(clock, t1 + 60 * i + 1)
            name = f"hist-{int(t1) // 60 + i}"
            job = await wait_for(lambda: admin.get("Job", name, NS), what=name, ignoring=(Exception,))
            await finish(admin, job, clock, outcome, started=t1 + 60 * i)
            names.append(name)
        keep = [names[2], names[3], names[4]]
        await wait_for(lambda: _names_are(admin, cj, keep), what=f"only {keep} kept")
        # the recorder writes events after the deletes it reports: wait for them, then check
        deleted = {("SuccessfulDelete", f"Deleted job {gone}") for gone in (names[0], names[1])}

        async def both_recorded():
            return deleted <= set(await reasons(admin, "hist"))
        await wait_for(both_recorded, what="SuccessfulDelete events for the two oldest jobs")


async def _names_are(admin, cj, names):
    return [j.metadata.name for j in await jobs_of(admin, cj)] == sorted(names)


async def test_suspend_starts_nothing_until_resumed(srv, admin):
    cj, clock = await created(admin, cronjob("paused", suspend=True))
    witness = await admin.create(cronjob("witness"))
    async with controller(srv, clock):
        t1 = next_minute(clock.now())
        advance_to(clock, t1 + 121)
        # the controller has reached this time: the witness got its job
        await wait_for(lambda: n_jobs(admin, witness, 1), what="the witness job")
        assert await jobs_of(admin, cj) == []
        await admin.patch("CronJob", "paused", {"spec": {"suspend": False}}, NS)
        job = (await wait_for(lambda: n_jobs(admin, cj, 1), what="a job once resumed"))[0]
        # three times were missed; only the most recent runs
        assert job.metadata.name == f"paused-{int(t1) // 60 + 2}"


# ---------------------------------------------------------------- restart
async def test_restart_with_the_status_write_lost_creates_no_second_job(srv, admin):
    cj, clock = await created(admin, cronjob("once"))
    t1 = next_minute(clock.now())
    advance_to(clock, t1 + 1)
    async with controller(srv, clock):
        job = (await wait_for(lambda: n_jobs(admin, cj, 1), what="the job"))[0]
        await wait_for(lambda: cj_with(admin, "once", lambda c: c.status.lastScheduleTime), what="status")
    # as if the controller stopped between creating the Job and writing the CronJob's status
    lost = await admin.get("CronJob", "once", NS)
    lost.ClearField("status")
    await admin.update_status(lost)
    async with controller(srv, clock):
        st = (await wait_for(lambda: cj_with(admin, "once", lambda c: c.status.active), what="adopted")).status
        assert [r.uid for r in st.active] == [job.metadata.uid] and st.lastScheduleTime == rfc3339(t1)
    assert [j.metadata.uid for j in await jobs_of(admin, cj)] == [job.metadata.uid]
    creates = [m for r, m in await reasons(admin, "once") if r == "SuccessfulCreate"]
    assert creates == [f"Created job {job.metadata.name}"]
