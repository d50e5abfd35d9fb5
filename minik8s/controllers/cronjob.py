"""The CronJob controller, after upstream's cronjob_controllerv2: make a Job from a CronJob's template at
each time its schedule names, in its time zone.

One `sync(key)` per CronJob, from the caches:

1. reconcile `status.active` with the Jobs it controls: a finished Job leaves it (SawCompletedJob),
   a Job gone from the API too (MissingJob); a Complete Job moves `lastSuccessfulTime` on; an
   unfinished Job it does not list is reported (UnexpectedJob), as upstream does for
   `minictl create job --from=cronjob/...`;
2. unless deleted or suspended, find the most recent schedule time not yet run (since
   lastScheduleTime, or creation; no earlier than startingDeadlineSeconds ago; over 100 missed gives
   TooManyMissedTimes) and, if its deadline has not passed (else MissSchedule), start its Job under
   the concurrencyPolicy: Allow runs Jobs side by side, Forbid skips while one is active
   (JobAlreadyActive), Replace deletes the active ones first;
3. delete the oldest finished Jobs beyond successfulJobsHistoryLimit and failedJobsHistoryLimit;
4. write status and come back just after the next schedule time, on the injected clock.

A Job is named `<cronjob>-<scheduled time in minutes since the epoch>`, so a schedule time can only
ever make one Job: after a restart, or when the status write was lost, the create answers
AlreadyExists and the existing Job is taken as the one started for that time."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from minik8s.api import cron
from minik8s.api.clock import parse_time, rfc3339
from minik8s.api.errors import AlreadyExists, NotFound
from minik8s.api.pb import batch_pb2, core_pb2
from minik8s.client.events import NORMAL, WARNING
from minik8s.client.informer import copy, key_of

from minik8s.controllers.base import Controller, ControllerContext
from minik8s.controllers.controller_utils import controller_ref, new_controller_ref

log = logging.getLogger("minik8s.controllers.cronjob")

COMPONENT = "cronjob-controller"
SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
TOO_MANY_MISSED = 100
NEXT_SCHEDULE_DELTA = 0.1          # upstream wakes 100 ms after a schedule time


def finished_condition(job) -> str | None:
    """"Complete" or "Failed" once the Job finished, else None."""
    return next((c.type for c in job.status.conditions
                 if c.type in ("Complete", "Failed") and c.status == "True"), None)


def job_name(cj, scheduled: float) -> str:
    return f"{cj.metadata.name}-{int(scheduled) // 60}"


def _rfc1123z(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")


def _time_zone(cj):
    return cron.load_time_zone(cj.spec.timeZone) if cj.spec.HasField("timeZone") else None


class CronJobController(Controller):
    name = "cronjob"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder(COMPONENT)
        self.cronjob_informer = ctx.informers.informer("CronJob")
        self.job_informer = ctx.informers.informer("Job")
        self.cronjob_informer.add_event_handler(self._cronjob_changed, lambda old, cur: self._cronjob_changed(cur),
                                                None)
        self.job_informer.add_event_handler(self._job_changed, self._job_updated, self._job_changed)

    # ------------------------------------------------------------------ handlers (enqueue only)
    def _cronjob_changed(self, cj) -> None:
        self.enqueue(key_of(cj))

    def _job_changed(self, job) -> None:
        ref = controller_ref(job)
        if ref is not None and ref.kind == "CronJob":
            self.enqueue(f"{job.metadata.namespace}/{ref.name}")

    def _job_updated(self, old, cur) -> None:
        self._job_changed(old)
        self._job_changed(cur)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        cj = self.cronjob_informer.get(key)
        if cj is None:
            return
        jobs = [j for j in self.job_informer.list_namespace(cj.metadata.namespace)
                if (ref := controller_ref(j)) is not None and ref.uid == cj.metadata.uid]
        active = {r.uid for r in cj.status.active}
        if any(j.metadata.uid not in active and finished_condition(j) is None for j in jobs):
            # a Job we do not list: our own status write may just not be in the cache yet
            try:
                cj = await self.client.get("CronJob", cj.metadata.name, cj.metadata.namespace)
            except NotFound:
                return
        cj = copy(cj)
        before = cj.status.SerializeToString(deterministic=True)
        requeue = await self._sync_cronjob(cj, jobs)
        await self._cleanup_finished_jobs(cj, jobs)
        if cj.status.SerializeToString(deterministic=True) != before:
            await self.client.update_status(cj)
        if requeue is not None:
            self.enqueue_after(key, max(requeue, 0.0))

    async def _sync_cronjob(self, cj, jobs) -> float | None:
        """Steps 1 and 2; returns the seconds until the CronJob wants looking at again, or None."""
        await self._reconcile_active(cj, jobs)
        if cj.metadata.deletionTimestamp:
            return None
        try:
            tz = _time_zone(cj)
        except cron.ScheduleError as e:
            self.recorder.eventf(cj, WARNING, "UnknownTimeZone", 'invalid timeZone: "%s": %s', cj.spec.timeZone, e)
            return None
        if cj.spec.suspend:
            return None
        try:
            schedule = cron.parse(cj.spec.schedule, tz)
        except cron.ScheduleError as e:
            self.recorder.eventf(cj, WARNING, "UnparseableSchedule", 'unparseable schedule: "%s" : %s',
                                 cj.spec.schedule, e)
            return None
        now = self.clock.now()
        scheduled = self._next_schedule_time(cj, schedule, now)
        if scheduled is None:
            return self._until_next(cj, schedule, now)
        if cj.spec.HasField("startingDeadlineSeconds") and scheduled + cj.spec.startingDeadlineSeconds < now:
            self.recorder.eventf(cj, WARNING, "MissSchedule", "Missed scheduled time to start a job: %s",
                                 _rfc1123z(scheduled))
            return self._until_next(cj, schedule, now)
        name = job_name(cj, scheduled)
        if any(r.name == name for r in cj.status.active) or parse_time(cj.status.lastScheduleTime) == scheduled:
            return self._until_next(cj, schedule, now)
        if cj.spec.concurrencyPolicy == "Forbid" and cj.status.active:
            self.recorder.eventf(cj, NORMAL, "JobAlreadyActive", "Not starting job because prior execution is "
                                 "running and concurrency policy is Forbid")
            return self._until_next(cj, schedule, now)
        if cj.spec.concurrencyPolicy == "Replace":
            for ref in list(cj.status.active):
                await self._delete_job(cj, ref.name)
        job = await self._create_job(cj, scheduled, tz)
        if job is None:
            return self._until_next(cj, schedule, now)
        if not any(r.uid == job.metadata.uid for r in cj.status.active) and finished_condition(job) is None:
            cj.status.active.append(core_pb2.ObjectReference(
                kind="Job", namespace=job.metadata.namespace, name=job.metadata.name, uid=job.metadata.uid,
                apiVersion="batch/v1", resourceVersion=job.metadata.resourceVersion))
        cj.status.lastScheduleTime = rfc3339(scheduled)
        return self._until_next(cj, schedule, now)

    async def _reconcile_active(self, cj, jobs) -> None:
        active = {r.uid for r in cj.status.active}
        for job in jobs:
            finished = finished_condition(job)
            if finished is None and job.metadata.uid not in active:
                self.recorder.eventf(cj, WARNING, "UnexpectedJob",
                                     "Saw a job that the controller did not create or forgot: %s", job.metadata.name)
            elif finished is not None and job.metadata.uid in active:
                self._drop_active(cj, job.metadata.uid)
                self.recorder.eventf(cj, NORMAL, "SawCompletedJob", "Saw completed job: %s, condition: %s",
                                     job.metadata.name, finished)
            if finished == "Complete" and job.status.completionTime and \
                    parse_time(job.status.completionTime) > parse_time(cj.status.lastSuccessfulTime):
                cj.status.lastSuccessfulTime = job.status.completionTime
        known = {j.metadata.uid for j in jobs}
        for ref in list(cj.status.active):
            if ref.uid in known:
                continue
            try:
                # the cache may simply not have seen the Job yet: ask the API server
                await self.client.get("Job", ref.name, ref.namespace or cj.metadata.namespace)
            except NotFound:
                self.recorder.eventf(cj, NORMAL, "MissingJob", "Active job went missing: %s", ref.name)
                self._drop_active(cj, ref.uid)

    @staticmethod
    def _drop_active(cj, uid: str) -> None:
        keep = [r for r in cj.status.active if r.uid != uid]
        del cj.status.active[:]
        cj.status.active.extend(keep)

    def _next_schedule_time(self, cj, schedule: cron.Schedule, now: float) -> float | None:
        """upstream nextScheduleTime: the most recent unmet schedule time, or None."""
        since = parse_time(cj.status.lastScheduleTime) or parse_time(cj.metadata.creationTimestamp)
        if cj.spec.HasField("startingDeadlineSeconds"):
            since = max(since, now - cj.spec.startingDeadlineSeconds)
        latest, missed = schedule.most_recent(since, now)
        if missed > TOO_MANY_MISSED:
            self.recorder.eventf(cj, WARNING, "TooManyMissedTimes", "too many missed start times: %d. Set or "
                                 "decrease .spec.startingDeadlineSeconds or check clock skew", missed)
        return latest

    @staticmethod
    def _until_next(cj, schedule: cron.Schedule, now: float) -> float | None:
        """upstream nextScheduleTimeDuration: seconds until just after the next schedule time."""
        since = parse_time(cj.status.lastScheduleTime) or parse_time(cj.metadata.creationTimestamp)
        latest, _ = schedule.most_recent(since, now)
        nxt = schedule.next(latest if latest is not None else since)
        return None if nxt is None else nxt + NEXT_SCHEDULE_DELTA - now

    async def _create_job(self, cj, scheduled: float, tz):
        """The Job for `scheduled`, made now or found made before (then only if it is ours)."""
        tpl = cj.spec.jobTemplate
        job = batch_pb2.Job(apiVersion="batch/v1", kind="Job")
        job.metadata.name, job.metadata.namespace = job_name(cj, scheduled), cj.metadata.namespace
        job.metadata.labels.update(tpl.metadata.labels)
        job.metadata.annotations.update(tpl.metadata.annotations)
        job.metadata.annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = cron.scheduled_timestamp(scheduled, tz)
        job.metadata.ownerReferences.append(new_controller_ref(cj))
        job.spec.CopyFrom(tpl.spec)
        try:
            created = await self.client.create(job)
        except AlreadyExists:
            try:
                existing = await self.client.get("Job", job.metadata.name, job.metadata.namespace)
            except NotFound:
                return None            # deleted meanwhile: the next sync decides again
            ref = controller_ref(existing)
            if ref is None or ref.uid != cj.metadata.uid:
                log.info("job %s/%s exists and is not controlled by this cronjob", job.metadata.namespace,
                         job.metadata.name)
                return None
            return existing
        self.recorder.eventf(cj, NORMAL, "SuccessfulCreate", "Created job %s", created.metadata.name)
        return created

    async def _delete_job(self, cj, name: str) -> None:
        try:
            await self.client.delete("Job", name, cj.metadata.namespace, propagation_policy="Background")
        except NotFound:
            pass
        keep = [r for r in cj.status.active if r.name != name]
        del cj.status.active[:]
        cj.status.active.extend(keep)
        self.recorder.eventf(cj, NORMAL, "SuccessfulDelete", "Deleted job %s", name)

    async def _cleanup_finished_jobs(self, cj, jobs) -> None:
        """Keep the newest successfulJobsHistoryLimit Complete and failedJobsHistoryLimit Failed Jobs."""
        for outcome, limit_field in (("Complete", "successfulJobsHistoryLimit"), ("Failed", "failedJobsHistoryLimit")):
            if not cj.spec.HasField(limit_field):
                continue
            done = [j for j in jobs if finished_condition(j) == outcome and not j.metadata.deletionTimestamp]
            # oldest first by start time; a Job that never started sorts last, as upstream's byJobStartTime
            done.sort(key=lambda j: (not j.status.startTime, parse_time(j.status.startTime), j.metadata.name))
            for job in done[:max(0, len(done) - getattr(cj.spec, limit_field))]:
                await self._delete_job(cj, job.metadata.name)

