"""The CronJob kind (batch/v1): its defaults (concurrencyPolicy Allow, suspend false, history limits 3
successful and 1 failed, the job template's pod template) and validation after upstream's
ValidateCronJob: the schedule and time zone, the concurrency policy, the history limits and the job
template checked as a Job's spec whose selector the Job controller will generate.
"""
from __future__ import annotations

from minik8s.api import cron
from minik8s.api.kinds.info import KindInfo
from minik8s.api.kinds.job import _job_spec, default_job_selector
from minik8s.api.pb import batch_pb2
from minik8s.api.podspec_defaults import _default_pod_template
from minik8s.api.validation_common import Errors, _Errors, _fmt_selector, _object_meta, _opt

CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
# a Job made from the template is named <cronjob>-<minutes since the epoch>, at most 63 characters
MAX_NAME_LENGTH = 52


def _default_cronjob(cj) -> None:
    spec = cj.spec
    if not spec.HasField("concurrencyPolicy"):
        spec.concurrencyPolicy = "Allow"
    if not spec.HasField("suspend"):
        spec.suspend = False
    if not spec.HasField("successfulJobsHistoryLimit"):
        spec.successfulJobsHistoryLimit = 3
    if not spec.HasField("failedJobsHistoryLimit"):
        spec.failedJobsHistoryLimit = 1
    _default_pod_template(spec.jobTemplate.spec.template)


def validate_cronjob(cj, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, cj.metadata)
    if old is None and len(cj.metadata.name) > MAX_NAME_LENGTH:
        errs.invalid("metadata.name", cj.metadata.name, f"must be no more than {MAX_NAME_LENGTH} characters")
    spec = cj.spec
    old_spec = old.spec if old is not None else None
    if not spec.schedule:
        errs.required("spec.schedule")
    else:
        _schedule(errs, spec, old_spec)
    if spec.HasField("startingDeadlineSeconds"):
        errs.nonnegative("spec.startingDeadlineSeconds", spec.startingDeadlineSeconds)
    if old_spec is None or _opt(old_spec, "timeZone") != _opt(spec, "timeZone"):
        _time_zone(errs, spec)
    policy = spec.concurrencyPolicy
    if not policy:
        errs.required("spec.concurrencyPolicy")
    elif policy not in CONCURRENCY_POLICIES:
        errs.not_supported("spec.concurrencyPolicy", policy, CONCURRENCY_POLICIES)
    _job_template(errs, cj)
    for name in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        if spec.HasField(name):
            errs.nonnegative(f"spec.{name}", getattr(spec, name))
    return errs


def _schedule(errs: _Errors, spec, old_spec) -> None:
    """validateScheduleFormat: the zone goes in timeZone, not in the schedule (objects that already
    had TZ= may keep it)."""
    try:
        cron.parse(spec.schedule)
    except cron.ScheduleError as e:
        errs.invalid("spec.schedule", spec.schedule, str(e))
    allow_tz = old_spec is not None and "TZ" in old_spec.schedule
    if allow_tz and "TZ" in spec.schedule and spec.HasField("timeZone"):
        errs.invalid("spec.schedule", spec.schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule")
    elif not allow_tz and "TZ" in spec.schedule:
        errs.invalid("spec.schedule", spec.schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")


def _time_zone(errs: _Errors, spec) -> None:
    if not spec.HasField("timeZone"):
        return
    tz = spec.timeZone
    if not tz:
        errs.invalid("spec.timeZone", tz, "timeZone must be nil or non-empty string")
        return
    if tz.lower() == "local":
        errs.invalid("spec.timeZone", tz, "timeZone must be an explicit time zone as defined in "
                                          "https://www.iana.org/time-zones")
    try:
        cron.load_time_zone(tz)
    except cron.ScheduleError as e:
        errs.invalid("spec.timeZone", tz, str(e))


_TEMPLATE_SPEC = "spec.jobTemplate.spec"


def _job_template(errs: _Errors, cj) -> None:
    """ValidateJobTemplateSpec: the template's spec is checked as the Job it becomes (with the
    selector the server will generate for it), its errors under spec.jobTemplate.spec."""
    tpl = cj.spec.jobTemplate.spec
    if tpl.HasField("selector"):
        errs.invalid(f"{_TEMPLATE_SPEC}.selector", _fmt_selector(tpl.selector), "`selector` will be auto-generated")
    if tpl.HasField("manualSelector") and tpl.manualSelector:
        errs.not_supported(f"{_TEMPLATE_SPEC}.manualSelector", tpl.manualSelector, ("nil", "false"))
    job = batch_pb2.Job()
    job.metadata.name = cj.metadata.name or "cronjob"
    job.metadata.uid = "00000000-0000-0000-0000-000000000000"
    job.spec.CopyFrom(tpl)
    job.spec.ClearField("selector")
    job.spec.ClearField("manualSelector")
    default_job_selector(job)
    found = _Errors()
    _job_spec(found, job)
    errs.extend((_TEMPLATE_SPEC + path[len("spec"):], msg) for path, msg in found)


CRONJOB = KindInfo(
    "CronJob", "batch", "v1", "cronjobs", ("cj",), True, batch_pb2.CronJob,
    defaults=_default_cronjob, validate=validate_cronjob)
