"""`minictl run` and `minictl runs`. kubectl's form against a real API server: the Pod kubectl makes
(run=NAME, args or --command, env, restartPolicy), `--dry-run=client -o yaml`. The script form on a
cluster `minictl up` runs: a requirement this machine's python lacks is installed into an environment
the second run reuses; the outputs and logs outlive the Job; requirements pip cannot satisfy, a missing
script, unreadable requirements or an --output that is a file leave no Job, claim, copy or environment;
on Docker the training container has no package installer."""
from __future__ import annotations

import os
import subprocess

import pytest

from minik8s.api.errors import NotFound
from minik8s.cli.main import main
from minik8s.client.config import ClientConfig

from support import wait_for_sync
from support.minictl import Ctl, free_port

PACKAGE, VERSION = "tabulate", "0.9.0"      # tiny, pure Python, not installed here
SCRIPT = f"""\
import os, sys
from {PACKAGE} import tabulate
print(tabulate([["epoch", 1], ["loss", 0.25]]))
with open(os.path.join(os.environ["OUTPUT_DIR"], "metrics.txt"), "w") as f:
    f.write("loss 0.25\\n")
print("args", sys.argv[1:])
"""


# ---------------------------------------------------------------- kubectl's form
@pytest.fixture
def ctl(srv, capsys):
    ClientConfig(server=srv.address, token=srv.tokens["admin"]).save(srv.home)

    def run(*args: str) -> tuple[int, str, str]:
        rc = main(["--home", srv.home, *args])
        out, err = capsys.readouterr()
        return rc, out, err
    return run


def test_dry_run_prints_the_pod_kubectl_would_create(capsys):
    rc = main(["run", "web", "--image=nginx", "--dry-run=client", "-o", "yaml"])
    out = capsys.readouterr().out
    assert rc == 0
    assert out == """\
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: null
  labels:
    run: web
  name: web
spec:
  containers:
  - image: nginx
    name: web
    resources: {}
  dnsPolicy: ClusterFirst
  restartPolicy: Always
status: {}
"""


def test_run_creates_a_pod_labelled_with_its_name(ctl, client):
    rc, out, err = ctl("run", "once", "--image=busybox", "--restart=Never", "--env", "GREETING=hi", "--",
                       "sh", "-c", "echo $GREETING")
    assert (rc, out) == (0, "pod/once created\n"), err
    pod = client.get("Pod", "once", "default")
    c = pod.spec.containers[0]
    assert dict(pod.metadata.labels) == {"run": "once"} and pod.spec.restartPolicy == "Never"
    assert (c.name, c.image, list(c.args), list(c.command)) == ("once", "busybox", ["sh", "-c", "echo $GREETING"], [])
    assert [(e.name, e.value) for e in c.env] == [("GREETING", "hi")]

    rc, out, err = ctl("run", "cmd", "--image=busybox", "--labels", "app=x,tier=y", "--command", "--", "sleep", "9")
    assert rc == 0, err
    pod = client.get("Pod", "cmd", "default")
    assert dict(pod.metadata.labels) == {"app": "x", "tier": "y"}
    assert list(pod.spec.containers[0].command) == ["sleep", "9"] and not pod.spec.containers[0].args

    rc, out, err = ctl("run", "bad", "--rm", "--image=busybox")
    assert rc == 1 and "--rm should only be used for attached containers" in err
    with pytest.raises(NotFound):
        client.get("Pod", "bad", "default")


# ---------------------------------------------------------------- the Job a script run makes
def test_the_jobs_resources_retries_and_nodes_come_from_the_flags(tmp_path):
    from minik8s.cli.main import parse
    from minik8s.cli.runcmds import RunPlan, job_doc
    (tmp_path / "train.py").write_text("print(1)\n")
    _, args = parse(["run", str(tmp_path / "train.py"), "--gpus", "1", "--cpu", "2", "--memory", "4Gi",
                         "--retries", "3", "--pip", "tabulate==0.9.0", "--", "--epochs", "5"])
    plan = RunPlan(args, "exp", str(tmp_path / "home"), "docker", ["d1", "d2"], ["tabulate==0.9.0"])
    spec = job_doc(plan, args, "default")["spec"]
    pod = spec["template"]["spec"]
    train = pod["containers"][0]
    assert spec["backoffLimit"] == 3
    assert train["resources"] == {"requests": {"cpu": "2", "memory": "4Gi"},
                                  "limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}}
    assert train["command"] == [f"/envs/{plan.env_key}/bin/python", "-u", "train.py", "--epochs", "5"]
    assert pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["d1", "d2"]
    # the build step fails the Job at once when pip cannot install the requirements
    assert [r["onExitCodes"]["containerName"] for r in spec["podFailurePolicy"]["rules"]] == ["environment"]
    assert {m["mountPath"]: m.get("readOnly", False) for m in train["volumeMounts"]} == {
        "/workspace": False, "/outputs": False, "/envs": True}


# ---------------------------------------------------------------- bad input for a script run
def _nothing_made(client, home: str, name: str) -> None:
    for kind in ("Job", "PersistentVolumeClaim"):
        with pytest.raises(NotFound):
            client.get(kind, name, "default")
    assert not os.path.exists(os.path.join(home, "runs", name))


def test_bad_input_is_refused_before_anything_is_made(ctl, client, srv, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    bad_utf8 = tmp_path / "latin1.txt"
    bad_utf8.write_bytes(b"caf\xe9==1.0\n")
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("")
    cases = [
        (["run", str(tmp_path / "missing.py")], "missing.py: no such file"),
        (["run", str(script), "--requirements", str(tmp_path / "nope.txt")], "cannot read: No such file"),
        (["run", str(script), "--requirements", str(tmp_path)], "cannot read"),
        (["run", str(script), "--requirements", str(bad_utf8)], "cannot read"),
        (["run", str(script), "--pip", "tabulate=0.9"], "'tabulate=0.9' is not a valid requirement"),
        (["run", str(script), "--output", str(a_file)], f"--output {a_file}: not a directory"),
        (["run", str(script), "--workdir", str(a_file)], "not a directory"),
        (["run", str(script), "--name", "Bad_Name"], "lowercase letters, digits and '-'"),
    ]
    for argv, message in cases:
        rc, out, err = ctl(*argv, "--name", "r") if "--name" not in argv else ctl(*argv)
        assert rc == 1 and message in err, (argv, err)
        _nothing_made(client, srv.home, "r")


# ---------------------------------------------------------------- script runs on a cluster
def _host_lacks_package() -> bool:
    from minik8s.cli.runcmds import _host_python
    return subprocess.run([_host_python(), "-c", f"import {PACKAGE}"], capture_output=True).returncode != 0


def _pip_can_fetch(tmp_path) -> bool:
    from minik8s.cli.runcmds import _host_python
    return subprocess.run([_host_python(), "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp_path),
                           f"{PACKAGE}=={VERSION}"], capture_output=True, timeout=300).returncode == 0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    if not _host_lacks_package():
        pytest.skip(f"this machine's python has {PACKAGE} already")
    if not _pip_can_fetch(tmp / "probe"):
        pytest.skip(f"pip cannot fetch {PACKAGE}=={VERSION} here")
    c = Ctl(str(tmp / "home"))
    (tmp / "cluster.yaml").write_text(f"apiServer: {{port: {free_port()}}}\nruntime: process\nnodes: [{{name: p}}]\n")
    out = c("up", "-f", str(tmp / "cluster.yaml"))
    assert out.returncode == 0, out.stdout + out.stderr
    project = tmp / "project"
    project.mkdir()
    (project / "train.py").write_text(SCRIPT)
    (project / "requirements.txt").write_text(f"{PACKAGE}=={VERSION}  # the table printer\n")
    yield c, project, tmp
    c("down", timeout=120)


def ok(out) -> str:
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.mark.root
def test_a_run_gets_a_library_the_host_lacks_and_the_second_run_reuses_its_environment(cluster):
    ctl, project, tmp = cluster
    first = ctl("run", str(project / "train.py"), "--requirements", str(project / "requirements.txt"),
                "--name", "first", "--follow", "--output", str(tmp / "out"), "--", "--lr", "0.1", timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "loss   0.25" in first.stdout and "args ['--lr', '0.1']" in first.stdout
    assert (tmp / "out" / "metrics.txt").read_text() == "loss 0.25\n"
    assert "environment" in first.stdout and "built" in ok(ctl("logs", "job/first", "-c", "environment"))
    key = first.stdout.split("environment ", 1)[1].split(")")[0]
    assert len(key) == 16 and os.path.isfile(os.path.join(ctl.home, "envs", key, "pyvenv.cfg"))

    second = ctl("run", str(project / "train.py"), "--pip", f"{PACKAGE}=={VERSION}", "--name", "second",
                 "--follow", timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"environment {key}, reused)" in second.stdout
    with ctl.client() as c:
        pod = c.list("Pod", "default", label_selector="minik8s.io/run=second").items[0]
        assert not pod.spec.initContainers and pod.spec.containers[0].command[0] == f"/envs/{key}/bin/python"

    # without the environment the same script fails, and the run's exit code is the script's
    plain = ctl("run", str(project / "train.py"), "--name", "plain", "--follow", timeout=300)
    assert plain.returncode == 1 and f"No module named '{PACKAGE}'" in plain.stdout, plain.stdout + plain.stderr


@pytest.mark.root
def test_outputs_and_logs_outlive_the_job(cluster):
    ctl, project, tmp = cluster
    ok(ctl("run", str(project / "train.py"), "--pip", f"{PACKAGE}=={VERSION}", "--name", "kept", "--follow",
           timeout=300))
    ok(ctl("delete", "job", "kept"))
    runs = ok(ctl("runs", "kept")).splitlines()
    assert runs[0].split()[:4] == ["NAME", "STATUS", "DURATION", "SCRIPT"]
    row = runs[1].split()
    assert row[:4] == ["kept", "Succeeded", "(job", "deleted)"] and row[5] == "train.py", runs
    outputs = row[7]
    with open(os.path.join(outputs, "metrics.txt")) as f:
        assert f.read() == "loss 0.25\n"
    logs = ctl("logs", "job/kept", "-c", "train")
    assert logs.returncode == 0 and "loss   0.25" in logs.stdout and "archived logs" in logs.stderr


@pytest.mark.root
def test_rm_i_streams_the_output_exits_with_the_containers_code_and_deletes_the_pod(cluster):
    ctl, _, _ = cluster
    out = ctl("run", "hello", "--image=busybox", "--restart=Never", "--rm", "-it", "--",
              "sh", "-c", "echo hi; exit 3")
    assert (out.returncode, out.stdout) == (3, 'pod/hello created\nhi\npod "hello" deleted\n'), out.stderr
    with ctl.client() as c:
        wait_for_sync(lambda: not c.list("Pod", "default", field_selector="metadata.name=hello").items,
                      what="the pod deleted")


@pytest.mark.root
def test_requirements_pip_cannot_satisfy_leave_nothing_behind(cluster):
    ctl, project, tmp = cluster
    out = ctl("run", str(project / "train.py"), "--pip", f"{PACKAGE}==0.0.0.404", "--name", "unsat", timeout=300)
    assert out.returncode == 1
    assert f"No matching distribution found for {PACKAGE}==0.0.0.404" in out.stderr, out.stderr
    assert "requirements could not be installed; run unsat deleted" in out.stderr
    with ctl.client() as c:
        _nothing_made(c, ctl.home, "unsat")
    key = out.stdout.split("environment ", 1)[1].split(")")[0]
    assert not [n for n in os.listdir(os.path.join(ctl.home, "envs")) if key in n]


def _python_image() -> str:
    from minik8s.cli.runcmds import DOCKER_PYTHON_IMAGE
    have = subprocess.run(["docker", "image", "inspect", DOCKER_PYTHON_IMAGE], capture_output=True)
    return DOCKER_PYTHON_IMAGE if have.returncode == 0 else ""


PROBE = """\
import importlib.util, shutil
from tabulate import tabulate
print("pip module:", importlib.util.find_spec("pip") is not None)
print("ensurepip:", importlib.util.find_spec("ensurepip") is not None)
print("pip on PATH:", bool(shutil.which("pip") or shutil.which("pip3")))
"""


@pytest.mark.root
@pytest.mark.docker
def test_on_docker_the_training_container_has_no_package_installer(cluster):
    ctl, project, tmp = cluster
    if not _python_image():
        pytest.skip("no local Python image (minik8s/python:3.11): scripts/build-images --python")
    ok(ctl("node", "add", "d", "--runtime", "docker", timeout=300))
    (project / "probe.py").write_text(PROBE)
    out = ctl("run", str(project / "probe.py"), "--pip", f"{PACKAGE}=={VERSION}", "--runtime", "docker",
              "--name", "in-docker", "--follow", timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "docker runtime" in out.stdout
    assert [ln for ln in out.stdout.splitlines() if ":" in ln and not ln.startswith("job")][-3:] == [
        "pip module: False", "ensurepip: False", "pip on PATH: False"]
    with ctl.client() as c:
        pod = c.list("Pod", "default", label_selector="minik8s.io/run=in-docker").items[0]
        assert pod.spec.nodeName == "d"
        train = pod.spec.containers[0]
        assert all(m.readOnly for m in train.volumeMounts if m.name == "envs")
        assert train.command[0].startswith("/envs/") and pod.spec.initContainers[0].image == train.image
