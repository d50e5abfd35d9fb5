"""minictl for Jobs and CronJobs against a real API server: `get jobs` and `get cronjobs` columns as
kubectl 1.32 prints them, `describe job` and `describe cronjob`, `create job --from=cronjob/NAME`, and
`wait --for=condition=complete|failed` on a Job. Job status is written directly, as the Job
controller would."""
from __future__ import annotations

import re
import time

import pytest

from minik8s.api.clock import rfc3339
from minik8s.api.pb import batch_pb2
from minik8s.cli.main import main
from minik8s.client.config import ClientConfig

NS = "default"


@pytest.fixture(scope="module")
def home(module_srv):
    ClientConfig(server=module_srv.address, token=module_srv.tokens["admin"]).save(module_srv.home)
    return module_srv.home


@pytest.fixture(scope="module")
def client(module_srv):
    return module_srv.client()


@pytest.fixture
def ctl(home, capsys):
    def run(*args: str) -> tuple[int, str, str]:
        rc = main(["--home", home, *args])
        out, err = capsys.readouterr()
        return rc, out, err
    return run


def _job(name: str, **spec) -> batch_pb2.Job:
    j = batch_pb2.Job(apiVersion="batch/v1", kind="Job")
    j.metadata.name, j.metadata.namespace = name, NS
    for k, v in spec.items():
        setattr(j.spec, k, v)
    t = j.spec.template.spec
    t.restartPolicy = "Never"
    c = t.containers.add()
    c.name, c.image = "main", "busybox"
    c.command.extend(["sh", "-c", "exit 0"])
    return j


def _finished(client, job, outcome: str, reason: str, message: str = "", ran: int = 65):
    start = time.time() - ran
    job.status.startTime = rfc3339(start)
    for ctype in ("SuccessCriteriaMet" if outcome == "Complete" else "FailureTarget", outcome):
        c = job.status.conditions.add()
        c.type, c.status, c.reason, c.message = ctype, "True", reason, message
        c.lastTransitionTime = rfc3339(start + ran)
    if outcome == "Complete":
        job.status.completionTime, job.status.succeeded = rfc3339(start + ran), 1
    else:
        job.status.failed = 1
    job.status.ready = 0
    return client.update_status(job)


@pytest.fixture(scope="module")
def jobs(client):
    pi = _finished(client, client.create(_job("pi")), "Complete", "CompletionsReached")
    train = _finished(client, client.create(_job("train", backoffLimit=0)), "Failed", "PodFailurePolicy",
                      "Container main for pod default/train-x failed with exit code 42 matching FailJob rule at index 0")
    paused = client.create(_job("paused", suspend=True, completions=4, parallelism=2))
    c = paused.status.conditions.add()
    c.type, c.status, c.reason, c.message = "Suspended", "True", "JobSuspended", "Job suspended"
    paused = client.update_status(paused)
    return pi, train, paused


def test_get_jobs_columns(ctl, jobs):
    rc, out, err = ctl("get", "jobs")
    assert (rc, err) == (0, "")
    lines = out.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    rows = {r[0]: r for r in (re.split(r"\s{2,}", line) for line in lines[1:])}
    assert rows["pi"][1:4] == ["Complete", "1/1", "65s"]
    assert rows["train"][1:3] == ["Failed", "0/1"]
    assert rows["paused"][1:4] == ["Suspended", "0/4", ""] or rows["paused"][1:3] == ["Suspended", "0/4"]


def test_describe_failed_job_shows_pod_statuses_and_the_failure_reason(ctl, jobs):
    rc, out, _ = ctl("describe", "job", "train")
    assert rc == 0
    assert re.search(r"^Pods Statuses:\s+0 Active \(0 Ready\) / 0 Succeeded / 1 Failed$", out, re.M)
    assert re.search(r"^Backoff Limit:\s+0$", out, re.M)
    assert re.search(r"^\s+Failed\s+True\s+PodFailurePolicy$", out, re.M)
    assert re.search(r"^Events:\s+<none>$", out, re.M)


def test_describe_indexed_job_lists_completed_indexes(ctl, client):
    j = _job("ix", completions=4, parallelism=4, completionMode="Indexed")
    client.create(j)
    rc, out, _ = ctl("describe", "job", "ix")
    assert rc == 0 and re.search(r"^Completed Indexes:\s+<none>$", out, re.M)


def test_wait_for_complete_and_failed(ctl, jobs):
    assert ctl("wait", "--for=condition=complete", "job/pi", "--timeout=5s")[:2] == (0, "job.batch/pi condition met\n")
    assert ctl("wait", "--for=condition=failed", "job/train", "--timeout=5s")[:2] == \
        (0, "job.batch/train condition met\n")
    rc, _, err = ctl("wait", "--for=condition=complete", "job/train", "--timeout=1s")
    assert rc == 1 and "timed out waiting for the condition on jobs/train" in err


@pytest.fixture(scope="module")
def cronjob(client):
    cj = batch_pb2.CronJob(apiVersion="batch/v1", kind="CronJob")
    cj.metadata.name, cj.metadata.namespace = "hello", NS
    cj.spec.schedule, cj.spec.timeZone = "*/5 * * * *", "Europe/Paris"
    tpl = cj.spec.jobTemplate
    tpl.metadata.labels["app"] = "hello"
    tpl.metadata.annotations["team"] = "ml"
    t = tpl.spec.template.spec
    t.restartPolicy = "OnFailure"
    c = t.containers.add()
    c.name, c.image = "hello", "busybox:1.28"
    c.command.extend(["sh", "-c", "date; echo Hello"])
    return client.create(cj)


def test_get_cronjobs_columns(ctl, cronjob):
    rc, out, _ = ctl("get", "cj")
    assert rc == 0
    header, row = (re.split(r"\s{2,}", line) for line in out.splitlines())
    assert header == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"]
    assert row[:6] == ["hello", "*/5 * * * *", "Europe/Paris", "False", "0", "<none>"]
    rc, out, _ = ctl("get", "cronjobs", "-o", "wide")
    assert re.split(r"\s{2,}", out.splitlines()[1])[7:] == ["hello", "busybox:1.28", "<none>"]


def test_describe_cronjob(ctl, cronjob):
    rc, out, _ = ctl("describe", "cronjob", "hello")
    assert rc == 0
    for pattern in (r"^Schedule:\s+\*/5 \* \* \* \*$", r"^Concurrency Policy:\s+Allow$", r"^Suspend:\s+False$",
                    r"^Successful Job History Limit:\s+3$", r"^Failed Job History Limit:\s+1$",
                    r"^Starting Deadline Seconds:\s+<unset>$", r"^Selector:\s+<unset>$",
                    r"^Last Schedule Time:\s+<unset>$", r"^Active Jobs:\s+<none>$", r"^\s+Image:\s+busybox:1.28$"):
        assert re.search(pattern, out, re.M), pattern


def test_create_job_from_cronjob(ctl, client, cronjob):
    rc, out, err = ctl("create", "job", "hello-manual", "--from=cronjob/hello")
    assert (rc, out, err) == (0, "job.batch/hello-manual created\n", "")
    job = client.get("Job", "hello-manual", NS)
    assert job.metadata.annotations["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job.metadata.annotations["team"] == "ml" and job.metadata.labels["app"] == "hello"
    ref = job.metadata.ownerReferences[0]
    assert (ref.kind, ref.name, ref.uid, ref.controller) == ("CronJob", "hello", cronjob.metadata.uid, True)
    assert job.spec.template.spec.containers[0].command == ["sh", "-c", "date; echo Hello"]
    rc, _, err = ctl("create", "job", "nope", "--from=cronjob/missing")
    assert rc != 0 and 'from must be an existing cronjob: cronjobs.batch "missing" not found' in err
    rc, _, err = ctl("create", "job", "nope")
    assert rc != 0 and "either --image or --from must be specified" in err


def test_bad_job_is_refused_with_the_field_named(ctl, tmp_path):
    f = tmp_path / "job.yaml"
    f.write_text("apiVersion: batch/v1\nkind: Job\nmetadata: {name: bad}\nspec:\n  completions: -1\n"
                 "  completionMode: Indexd\n  template:\n    spec:\n      restartPolicy: Never\n"
                 "      containers: [{name: c, image: busybox}]\n")
    rc, out, err = ctl("apply", "-f", str(f))
    assert rc != 0 and out == ""
    assert "spec.completions: Invalid value: -1: must be greater than or equal to 0" in err
    assert 'spec.completionMode: Unsupported value: "Indexd": supported values: "NonIndexed", "Indexed"' in err
