"""CronJob validation and defaults with upstream's field paths and messages (schedule, time zone,
concurrency policy, history limits, the job template checked as a Job spec), the server refusing a
bad CronJob or Job whole, and batch/v1beta1 not served."""
from __future__ import annotations

import copy

import pytest

from minik8s.api.codec import from_dict
from minik8s.api.defaults import apply_defaults
from minik8s.api.errors import Invalid
from minik8s.api.kinds import UnknownKind, for_api_version
from minik8s.api.pb import batch_pb2
from minik8s.api.validation import validate

BASE = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "hello", "namespace": "default"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "hello", "image": "busybox:1.28", "command": ["sh", "-c", "date"]}],
            "restartPolicy": "OnFailure"}}}}}}


def build(**spec):
    m = copy.deepcopy(BASE)
    for k, v in spec.items():
        if k == "template_spec":
            m["spec"]["jobTemplate"]["spec"].update(v)
        else:
            m["spec"][k] = v
    obj = from_dict(batch_pb2.CronJob, m)
    apply_defaults(obj)
    return obj


def test_defaults_are_upstreams():
    cj = build()
    assert (cj.spec.concurrencyPolicy, cj.spec.suspend) == ("Allow", False)
    assert (cj.spec.successfulJobsHistoryLimit, cj.spec.failedJobsHistoryLimit) == (3, 1)
    assert not cj.spec.HasField("startingDeadlineSeconds") and not cj.spec.HasField("timeZone")
    # the pod template is defaulted, the Job fields are left for the Job
    assert cj.spec.jobTemplate.spec.template.spec.terminationGracePeriodSeconds == 30
    assert not cj.spec.jobTemplate.spec.HasField("backoffLimit")
    assert validate(cj) == []


@pytest.mark.parametrize("schedule", ["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly",
                                      "@annually", "*/5 * * * *", "0 9 * * MON-FRI", "@every 1h30m"])
def test_valid_schedules(schedule):
    assert validate(build(schedule=schedule)) == []


CASES = [
    ("few-fields", {"schedule": "* * * *"},
     [("spec.schedule", 'Invalid value: "* * * *": expected exactly 5 fields, found 4: [* * * *]')]),
    ("seconds-field", {"schedule": "0 * * * * *"},
     [("spec.schedule", 'Invalid value: "0 * * * * *": expected exactly 5 fields, found 6: [0 * * * * *]')]),
    ("descriptor", {"schedule": "@fortnightly"},
     [("spec.schedule", 'Invalid value: "@fortnightly": unrecognized descriptor: @fortnightly')]),
    ("tz-in-schedule", {"schedule": "TZ=UTC 0 * * * *"},
     [("spec.schedule", 'Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, '
                        'use timeZone field instead')]),
    ("unknown-zone", {"timeZone": "Mars/Olympus_Mons"},
     [("spec.timeZone", 'Invalid value: "Mars/Olympus_Mons": unknown time zone Mars/Olympus_Mons')]),
    ("empty-zone", {"timeZone": ""},
     [("spec.timeZone", 'Invalid value: "": timeZone must be nil or non-empty string')]),
    ("local-zone", {"timeZone": "Local"},
     [("spec.timeZone", 'Invalid value: "Local": timeZone must be an explicit time zone as defined in '
                        'https://www.iana.org/time-zones'),
      ("spec.timeZone", 'Invalid value: "Local": unknown time zone Local')]),
    ("policy", {"concurrencyPolicy": "Sometimes"},
     [("spec.concurrencyPolicy", 'Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"')]),
    ("negatives", {"startingDeadlineSeconds": -1, "successfulJobsHistoryLimit": -2, "failedJobsHistoryLimit": -3},
     [("spec.startingDeadlineSeconds", "Invalid value: -1: must be greater than or equal to 0"),
      ("spec.successfulJobsHistoryLimit", "Invalid value: -2: must be greater than or equal to 0"),
      ("spec.failedJobsHistoryLimit", "Invalid value: -3: must be greater than or equal to 0")]),
    ("template-job-spec", {"template_spec": {"completions": -1, "completionMode": "Indexd"}},
     [("spec.jobTemplate.spec.completions", "Invalid value: -1: must be greater than or equal to 0"),
      ("spec.jobTemplate.spec.completionMode",
       'Unsupported value: "Indexd": supported values: "NonIndexed", "Indexed"')]),
    ("template-selector", {"template_spec": {"selector": {"matchLabels": {"a": "b"}}}},
     [("spec.jobTemplate.spec.selector", 'Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"a":"b"}, '
                                         'MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: '
                                         '`selector` will be auto-generated')]),
]


@pytest.mark.parametrize("name,spec,want", CASES, ids=[c[0] for c in CASES])
def test_field_errors(name, spec, want):
    assert validate(build(**spec)) == want


def test_restart_policy_always_is_refused_in_the_template():
    cj = build()
    cj.spec.jobTemplate.spec.template.spec.restartPolicy = "Always"
    assert validate(cj) == [("spec.jobTemplate.spec.template.spec.restartPolicy",
                             'Required value: valid values: "OnFailure", "Never"')]


def test_name_leaves_room_for_the_job_suffix():
    cj = build()
    cj.metadata.name = "c" * 53
    assert validate(cj) == [("metadata.name", f'Invalid value: "{"c" * 53}": must be no more than 52 characters')]


def test_batch_v1beta1_is_not_served():
    with pytest.raises(UnknownKind, match='no matches for kind "CronJob" in version "batch/v1beta1"'):
        for_api_version("batch/v1beta1", "CronJob")


async def test_server_refuses_bad_cronjob_and_job_and_stores_nothing(admin):
    cj = build(schedule="every minute")
    cj.ClearField("status")
    with pytest.raises(Invalid) as e:
        await admin.create(cj)
    assert 'spec.schedule: Invalid value: "every minute": expected exactly 5 fields, found 2' in str(e.value)
    job = batch_pb2.Job(apiVersion="batch/v1", kind="Job")
    job.metadata.name, job.metadata.namespace = "pi", "default"
    job.spec.CopyFrom(build().spec.jobTemplate.spec)
    job.spec.completions = -1
    job.spec.completionMode = "Indexd"
    with pytest.raises(Invalid) as e:
        await admin.create(job)
    assert "spec.completions: Invalid value: -1: must be greater than or equal to 0" in str(e.value)
    assert 'spec.completionMode: Unsupported value: "Indexd": supported values: "NonIndexed", "Indexed"' \
        in str(e.value)
    assert (await admin.list("CronJob", "default")).items == [] and (await admin.list("Job", "default")).items == []
