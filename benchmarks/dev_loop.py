"""The ML developer loop, measured.

    .venv/bin/python -m benchmarks.dev_loop [--quick]

Edit-and-rerun and a new library with `minictl run`: `benchmarks/run_loop.py`, whose rows come first.

Work lost to a node failure mid-training (`node_failure_rows`): on a two-node process-runtime cluster
(`minictl up`, laptop timings), examples/train/job.yaml runs beside the same Job keeping its checkpoints
in an emptyDir, both on the first node. Once both have finished a few epochs the node is failed
(`minictl node fail`), marked out of service, and both Jobs' pods are replaced on the second node.
Epochs redone: the epochs the lost pod had finished, plus the one it was in, minus the epoch its
replacement resumed from. With the claim, the epochs finished are read from the claim's newest
checkpoint at the instant of the failure; with the emptyDir (lost with its pod), from the lost pod's
archived log. Target: at most one epoch with the claim; the emptyDir run, which starts over, is the
baseline. Also shown: the seconds from `minictl node fail` to the resumed run's first epoch."""
from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import time

import yaml

from benchmarks.common import ROOT, Row, log, print_table
from benchmarks.pod_startup import MiniCluster
from benchmarks.run_loop import run_rows

EXAMPLE = os.path.join(ROOT, "examples", "train")
# laptop timings (tests/test_checkpoint_resume.py has the same): Unknown 4 s after the last heartbeat,
# pods bound for 1 s more, the pod garbage collector every second
TIMINGS = """\
apiServer: {defaultNotReadyTolerationSeconds: 1, defaultUnreachableTolerationSeconds: 1}
controllerManager: {nodeMonitorGracePeriod: 4, nodeMonitorPeriod: 1, podGCPeriod: 1}
kubelet: {leaseDurationSeconds: 4}
"""
CLAIM_JOB, SCRATCH_JOB = "train", "train-scratch"


def _manifests(epochs: int, samples: int) -> list[dict]:
    with open(os.path.join(EXAMPLE, "job.yaml")) as f:
        claim, job = list(yaml.safe_load_all(f))
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    command[command.index("--epochs") + 1] = str(epochs)
    command[command.index("--samples") + 1] = str(samples)
    scratch = copy.deepcopy(job)
    scratch["metadata"]["name"] = SCRATCH_JOB
    volumes = scratch["spec"]["template"]["spec"]["volumes"]
    volumes[:] = [v if v["name"] != "checkpoints" else {"name": "checkpoints", "emptyDir": {}} for v in volumes]
    return [claim, job, scratch]


def _wait(predicate, what: str, timeout: float = 180.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _epochs(text: str) -> int:
    return max((int(n) for n in re.findall(r"^epoch (\d+) loss", text, re.M)), default=0)


def _resumed_from(text: str) -> int | None:
    m = re.search(r"^(?:resumed from epoch (\d+)|starting from epoch (0))", text, re.M)
    return None if m is None else int(m.group(1) or m.group(2))


class _Run:
    """The client calls the measure makes, on one cluster."""

    def __init__(self, client):
        self.c = client

    def pods(self, job: str) -> list:
        return self.c.list("Pod", namespace="default", label_selector=f"job-name={job}").items

    def running_on(self, job: str, node: str):
        return next((p for p in self.pods(job) if p.spec.nodeName == node and p.status.phase == "Running"
                     and not p.metadata.deletionTimestamp), None)

    def log(self, pod) -> str:
        from minik8s.api.errors import NotFound
        try:
            return b"".join(self.c.logs(pod.metadata.name, "default")).decode()
        except NotFound:
            return ""

    def archived(self, pod) -> str:
        streams = self.c.list_log_streams("default", pod=pod.metadata.name).streams
        return "".join(chunk.data.decode() for s in streams for chunk in self.c.read_logs(s.key))

    def newest_checkpoint(self, claim: str) -> int:
        pvc = self.c.get("PersistentVolumeClaim", claim, "default")
        path = self.c.get("PersistentVolume", pvc.spec.volumeName).spec.hostPath.path
        return max((int(n[5:11]) for n in os.listdir(path) if re.fullmatch(r"ckpt-\d{6}\.json", n)), default=0)


def node_failure_rows(quick: bool = False) -> list[Row]:
    """Epochs redone after `minictl node fail` mid-training: claim checkpoint vs emptyDir."""
    from minik8s.client.client import Client
    from minik8s.client.config import ClientConfig
    epochs, samples, fail_after = (10, 30000, 2) if quick else (15, 60000, 4)
    cluster = MiniCluster("process", 2)
    (first, _), (second, _) = cluster.nodes
    with open(cluster.cluster_file, "a") as f:
        f.write(TIMINGS + "runtime: process\n")
    manifest = os.path.join(cluster.home, "jobs.yaml")
    with open(manifest, "w") as f:
        yaml.safe_dump_all(_manifests(epochs, samples), f)
    try:
        cluster.up()
        cluster.minictl("cordon", second)
        cluster.minictl("create", "configmap", "train-script", "--from-file", os.path.join(EXAMPLE, "train.py"))
        cluster.minictl("apply", "-f", manifest)
        with Client(config=ClientConfig.load(cluster.home), timeout=10.0) as c:
            run = _Run(c)
            lost = {}
            for job in (CLAIM_JOB, SCRATCH_JOB):
                lost[job] = _wait(lambda: run.running_on(job, first), f"{job} running on {first}")
                _wait(lambda: _epochs(run.log(lost[job])) >= fail_after, f"{job} past epoch {fail_after}")
            cluster.minictl("uncordon", second)
            log(f"failing node {first}")
            t_fail = time.perf_counter()
            cluster.minictl("node", "fail", first)
            saved = run.newest_checkpoint("train-checkpoints")
            cluster.minictl("taint", "node", first, "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute")
            new = _wait(lambda: run.running_on(CLAIM_JOB, second), f"{CLAIM_JOB} running on {second}")
            _wait(lambda: _epochs(run.log(new)) > saved, "the resumed run's first epoch")
            resumed_after = time.perf_counter() - t_fail
            redone = {}
            for job in (CLAIM_JOB, SCRATCH_JOB):
                _wait(lambda: any(k.type == "Complete" and k.status == "True"
                                  for k in c.get("Job", job).status.conditions), f"{job} complete", timeout=300)
                pod = next(p for p in run.pods(job) if p.spec.nodeName == second)
                finished = max(_epochs(run.archived(lost[job])), saved if job == CLAIM_JOB else 0)
                redone[job] = finished + 1 - _resumed_from(run.log(pod))
    finally:
        cluster.down()
    return [
        Row("epochs redone after a node failure (claim checkpoint)", redone[CLAIM_JOB], redone[SCRATCH_JOB],
            "epochs", baseline_label="emptyDir", target=("<=", 1), fmt="{:.0f}"),
        Row("node fail to the resumed run's first epoch", resumed_after, None, "s", fmt="{:.1f}",
            note=f"info: grace 4 s + toleration 1 s + pod GC 1 s; {samples} samples an epoch"),
    ]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.dev_loop", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer, shorter epochs")
    args = p.parse_args(argv)
    load = os.getloadavg()[0]
    rows = run_rows(args.quick) + node_failure_rows(args.quick)
    print(f"load average (1 min): {load:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
