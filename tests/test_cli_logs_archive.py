"""`minictl logs` once the pod, its node or its Job is gone: lines come from the API server's log archive
(and stderr says so). `logs job/NAME` reads a pod of a Job its TTL deleted, `--all-pods` every pod with
kubectl's [pod/NAME/CONTAINER] prefix, `-l` live and gone pods alike, `--tail` the last lines."""
from __future__ import annotations

import asyncio

import pytest

from minik8s.api.clock import FakeClock
from minik8s.api.pb import batch_pb2
from minik8s.cli.main import main
from minik8s.client.config import ClientConfig

from support import running_manager, wait_for
from test_kubelet_harness import kubelet, phase_is, pod, sh, wait_gone, wait_pod


@pytest.fixture
def ctl(srv, capsys):
    ClientConfig(server=srv.address, token=srv.tokens["admin"]).save(srv.home)

    def run(*args: str) -> tuple[int, str, str]:
        rc = main(["--home", srv.home, *args])
        out, err = capsys.readouterr()
        return rc, out, err
    return run


def job(name: str, script: str, completions: int = 1) -> batch_pb2.Job:
    j = batch_pb2.Job(apiVersion="batch/v1", kind="Job")
    j.metadata.name, j.metadata.namespace = name, "default"
    j.spec.completions = j.spec.parallelism = completions
    j.spec.ttlSecondsAfterFinished = 0
    t = j.spec.template.spec
    t.restartPolicy, t.nodeName = "Never", "node-1"
    c = t.containers.add()
    c.name, c.image = "main", "busybox"
    c.command.extend(["sh", "-c", script])
    return j


async def _ended_streams(admin, selector: str, n: int):
    streams = (await admin.list_log_streams("default", label_selector=selector)).streams
    return streams if len(streams) == n and all(s.ended for s in streams) else None


async def test_logs_of_a_job_deleted_by_its_ttl_are_read_from_the_archive(srv, admin, ctl, tmp_path):
    clock = FakeClock()
    async with kubelet(srv, str(tmp_path), runtime="process"), srv.async_client("controller-manager") as cm, \
            running_manager(cm, "job,ttl-after-finished,garbagecollector", clock):
        await admin.create(job("nightly", 'echo "step 1 done"; echo "error: disk full" >&2', completions=2))
        await wait_for(lambda: _ended_streams(admin, "job-name=nightly", 2), what="both pods' logs archived")

        async def job_gone():
            return not (await admin.list("Job", "default")).items and \
                not (await admin.list("Pod", "default", label_selector="job-name=nightly")).items
        await wait_for(job_gone, what="the Job and its pods deleted by the TTL")

    rc, out, err = ctl("logs", "job/nightly")
    assert rc == 0, err
    assert sorted(out.splitlines()) == ["error: disk full", "step 1 done"]
    assert "job nightly not found; showing its archived logs" in err

    rc, out, err = ctl("logs", "job/nightly", "--all-pods")
    assert rc == 0, err
    lines = out.splitlines()
    pods = sorted({ln.split("]")[0] for ln in lines})
    assert len(pods) == 2 and all(p.startswith("[pod/nightly-") and p.endswith("/main") for p in pods), lines
    assert sorted(ln.split("] ", 1)[1] for ln in lines) == ["error: disk full"] * 2 + ["step 1 done"] * 2

    rc, out, err = ctl("logs", "-l", "job-name=nightly", "--tail", "1")
    assert rc == 0 and len(out.splitlines()) == 2 and "showing their archived logs" in err

    rc, out, err = ctl("logs", "job/never-ran")
    assert rc != 0 and 'jobs.batch "never-ran" not found' in err


async def test_logs_of_a_deleted_pod_and_its_previous_run(srv, admin, ctl, tmp_path):
    async with kubelet(srv, str(tmp_path), runtime="process"):
        marker = tmp_path / "ran-once"
        await admin.create(pod("crashy", [sh("app", f"if [ -e {marker} ]; then echo run 1; sleep 60; fi; "
                                                    f"echo run 0; touch {marker}; exit 1")],
                               restartPolicy="OnFailure"))

        async def restarted():
            streams = (await admin.list_log_streams("default", "crashy")).streams
            return len(streams) >= 2 and streams[0].ended
        await wait_for(restarted, what="a restart archived")
        await admin.delete("Pod", "crashy", "default", grace_period=0)
        await wait_gone(admin, "crashy")

    rc, out, err = ctl("logs", "crashy", "--previous")
    assert rc == 0, err
    assert out == "run 0\n" and "pod crashy not found; showing its archived logs" in err
    rc, out, err = ctl("logs", "pod/crashy", "--timestamps")
    assert rc == 0 and out.split(" ", 1)[1] == "run 1\n" and out[:4].isdigit()
    rc, out, err = ctl("logs", "nothing-here")
    assert rc != 0 and 'pods "nothing-here" not found' in err


async def test_logs_of_a_live_pod_still_come_from_its_node(srv, admin, ctl, tmp_path):
    async with kubelet(srv, str(tmp_path), runtime="process"):
        await admin.create(pod("alive", [sh("app", "echo hello; sleep 60")]))
        await wait_pod(admin, "alive", phase_is("Running"))

        async def said_hello():      # on a thread: the kubelet answering the tunnel runs in this loop
            rc, out, err = await asyncio.to_thread(ctl, "logs", "alive")
            return out == "hello\n" and not err
        await wait_for(said_hello, what="hello through the node")
