"""Training that survives the loss of its node, end to end on a cluster `minictl up` runs (two process
runtime nodes, real processes): examples/train/job.yaml starts on node a, `minictl node fail a` kills it
mid-run, the administrator marks a out of service, the Job's pod is failed with DisruptionTarget
(ignored by its podFailurePolicy) and replaced on node b, where it resumes from the last checkpoint on
its PersistentVolumeClaim: at most the epoch in flight is done again. The same Job with an emptyDir
starts from epoch 0.

The claim's volume comes from the minik8s.io/hostpath provisioner, a directory under the cluster home:
both nodes run on this one machine, so both reach it, as two machines would reach network storage."""
from __future__ import annotations

import copy
import os
import re

import pytest
import yaml

from minik8s.api.errors import NotFound

from support import wait_for_sync
from support.minictl import ROOT, Ctl, free_port

pytestmark = pytest.mark.root

EXAMPLE = os.path.join(ROOT, "examples", "train")
EPOCHS = 15
SAMPLES = 60000         # about a second an epoch: longer than the log shipper's lag, so its record is close

# laptop timings: a lease renewed every second, Unknown 4 s after the last one, pods bound to it for 1 s
# more; the pod garbage collector and the Job's retry backoff run every second
CLUSTER = """\
apiServer: {{port: {port}, defaultNotReadyTolerationSeconds: 1, defaultUnreachableTolerationSeconds: 1}}
controllerManager: {{nodeMonitorGracePeriod: 4, nodeMonitorPeriod: 1, podGCPeriod: 1}}
kubelet: {{leaseDurationSeconds: 4}}
runtime: process
nodes: [{{name: a}}, {{name: b}}]
"""


@pytest.fixture
def ctl(tmp_path):
    c = Ctl(str(tmp_path / "home"))
    yield c
    c("down", timeout=120)


def ok(out) -> str:
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def manifests() -> list[dict]:
    """The example's claim and Job (EPOCHS epochs of SAMPLES), and the same Job keeping its checkpoints
    in an emptyDir."""
    with open(os.path.join(EXAMPLE, "job.yaml")) as f:
        claim, job = list(yaml.safe_load_all(f))
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    command[command.index("--epochs") + 1] = str(EPOCHS)
    command[command.index("--samples") + 1] = str(SAMPLES)
    scratch = copy.deepcopy(job)
    scratch["metadata"]["name"] = "train-scratch"
    volumes = scratch["spec"]["template"]["spec"]["volumes"]
    volumes[:] = [v if v["name"] != "checkpoints" else {"name": "checkpoints", "emptyDir": {}} for v in volumes]
    return [claim, job, scratch]


def job_pods(c, job: str) -> list:
    return c.list("Pod", namespace="default", label_selector=f"job-name={job}").items


def log_of(c, pod) -> str:
    try:
        return b"".join(c.logs(pod.metadata.name, "default")).decode()
    except NotFound:
        return ""


def epochs_logged(text: str) -> int:
    done = [int(m) for m in re.findall(r"^epoch (\d+) loss", text, re.M)]
    return max(done, default=0)


def start_epoch(text: str) -> int | None:
    """The epoch a run resumed from (0 when it started afresh), None before it said."""
    m = re.search(r"^(?:resumed from epoch (\d+)|starting from epoch (0))", text, re.M)
    return None if m is None else int(m.group(1) or m.group(2))


def archived_log(c, pod) -> str:
    """What the pod's node shipped to the log archive before it died: what the lost pod was seen to do."""
    streams = c.list_log_streams("default", pod=pod.metadata.name).streams
    return "".join(chunk.data.decode() for st in streams for chunk in c.read_logs(st.key))


def newest_checkpoint(c, claim: str) -> int:
    """The epoch of the newest checkpoint in the claim's volume (a directory of this machine)."""
    pv = c.get("PersistentVolume", c.get("PersistentVolumeClaim", claim, "default").spec.volumeName)
    names = [n for n in os.listdir(pv.spec.hostPath.path) if re.fullmatch(r"ckpt-\d{6}\.json", n)]
    return max((int(n[5:11]) for n in names), default=0)


def running_on(c, job: str, node: str):
    pods = [p for p in job_pods(c, job) if p.spec.nodeName == node and p.status.phase == "Running"
            and not p.metadata.deletionTimestamp]
    return pods[0] if pods else None


def test_a_job_resumes_from_its_claim_after_its_node_fails_and_from_zero_with_an_emptydir(ctl, tmp_path):
    (tmp_path / "cluster.yaml").write_text(CLUSTER.format(port=free_port()))
    ok(ctl("up", "-f", str(tmp_path / "cluster.yaml")))
    ok(ctl("cordon", "b"))                                  # both runs start on a
    ok(ctl("create", "configmap", "train-script", "--from-file", os.path.join(EXAMPLE, "train.py")))
    (tmp_path / "jobs.yaml").write_text(yaml.safe_dump_all(manifests()))
    ok(ctl("apply", "-f", str(tmp_path / "jobs.yaml")))

    with ctl.client() as c:
        lost = {}                                          # job -> its pod on a
        for job in ("train", "train-scratch"):
            lost[job] = wait_for_sync(lambda: running_on(c, job, "a"), what=f"{job} running on a", timeout=60)
            wait_for_sync(lambda: epochs_logged(log_of(c, lost[job])) >= 3, what=f"{job} past epoch 3", timeout=60)
        ok(ctl("uncordon", "b"))
        ok(ctl("node", "fail", "a"))
        saved = newest_checkpoint(c, "train-checkpoints")   # all a's work that outlives it
        # the administrator's word that a is gone (upstream's non-graceful node shutdown): its pods are
        # failed and deleted, so the Jobs, which replace only failed pods, may replace them
        ok(ctl("taint", "node", "a", "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute"))

        for job in ("train", "train-scratch"):
            wait_for_sync(lambda: any(cond.type == "Complete" and cond.status == "True"
                                      for cond in c.get("Job", job).status.conditions),
                          what=f"{job} complete", timeout=120)
        logs = {job: log_of(c, next(p for p in job_pods(c, job) if p.spec.nodeName == "b"))
                for job in ("train", "train-scratch")}
        jobs = {job: c.get("Job", job) for job in logs}
        # job -> the last epoch its lost pod reported finished
        seen = {job: epochs_logged(archived_log(c, pod)) for job, pod in lost.items()}

    resumed = start_epoch(logs["train"])
    # from the last epoch the lost pod reported (or a later one it checkpointed before its last lines
    # reached the archive): the epoch in flight when a died is the only one done twice
    assert seen["train"] >= 3 and resumed is not None and resumed >= seen["train"], (seen, logs["train"])
    assert resumed == saved
    assert start_epoch(logs["train-scratch"]) == 0, logs["train-scratch"]
    for job, text in logs.items():
        assert epochs_logged(text) == EPOCHS and text.rstrip().endswith(f"done: {EPOCHS} epochs"), text
        # the lost pod matched the Ignore rule: no failure counted against backoffLimit
        assert jobs[job].status.succeeded == 1 and jobs[job].status.failed == 0
