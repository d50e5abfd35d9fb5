"""The Kubernetes docs' pi Job (controllers/job.yaml), applied unchanged, on a kubelet with the docker
runtime: scheduled, run in the `perl:5.34.0` image, Complete, and its pod's log is pi to 2000 digits
as the docs show it. With no registry here the image is the local stand-in `scripts/build-images
--perl` makes (scripts/test builds it)."""
from __future__ import annotations

import asyncio
import contextlib

import pytest

from minik8s.api.manifest import load_text
from minik8s.scheduler.scheduler import Scheduler

from support import running_manager, wait_for
from test_kubelet_harness import kubelet

pytestmark = pytest.mark.docker

# https://kubernetes.io/examples/controllers/job.yaml, as the docs give it
PI_JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  template:
    spec:
      containers:
      - name: pi
        image: perl:5.34.0
        command: ["perl",  "-Mbignum=bpi", "-wle", "print bpi(2000)"]
      restartPolicy: Never
  backoffLimit: 4
"""
PI_50 = "3.14159265358979323846264338327950288419716939937510"


def _image_present(name: str) -> bool:
    import docker
    from docker.errors import ImageNotFound
    client = docker.from_env()
    try:
        client.images.get(name)
        return True
    except ImageNotFound:
        return False
    finally:
        client.close()


@contextlib.asynccontextmanager
async def scheduler(srv):
    async with srv.async_client("scheduler") as sc:
        s = Scheduler(sc)
        task = asyncio.create_task(s.run())
        try:
            yield s
        finally:
            await s.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def _complete(admin):
    j = await admin.get("Job", "pi", "default")
    if any(c.type == "Failed" and c.status == "True" for c in j.status.conditions):
        raise AssertionError(f"the pi Job failed: {j.status}")
    return j if any(c.type == "Complete" and c.status == "True" for c in j.status.conditions) else None


async def test_the_docs_pi_job_computes_pi_in_docker(srv, admin, tmp_path):
    assert _image_present("perl:5.34.0"), "no image perl:5.34.0: run scripts/build-images --perl"
    async with kubelet(srv, str(tmp_path), runtime="docker"), scheduler(srv), \
            srv.async_client("controller-manager") as cm, running_manager(cm, "job"):
        for m in load_text(PI_JOB, "job.yaml"):
            await admin.create(m.obj)
        done = await wait_for(lambda: _complete(admin), timeout=180, what="the pi Job Complete")
        assert (done.status.succeeded, done.status.failed) == (1, 0)
        pod = (await admin.list("Pod", "default", label_selector="job-name=pi")).items[0]
        assert pod.spec.nodeName == "node-1" and pod.status.phase == "Succeeded"
        out = await asyncio.to_thread(lambda: b"".join(srv.client("admin").logs(pod.metadata.name)).decode())
    digits = out.strip()
    assert digits.startswith(PI_50) and len(digits) == 2001 and digits[2:].isdigit(), out[:200]
