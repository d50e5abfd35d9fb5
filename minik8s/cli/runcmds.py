"""`minictl run` and `minictl runs`: ad-hoc work on the cluster without writing a manifest.

`run NAME --image=IMG [-- CMD ARGS]` is kubectl's: one Pod labelled run=NAME (or --labels), its
arguments the container's args (its command with --command), `pod/NAME created`; `--dry-run=client -o
yaml` prints the Pod instead; `-i` (`-it`) streams the container's output until it ends and exits with
its code, `--rm` deletes the pod after. Neither runtime can attach a terminal to a container's stdin, so
`-i` shows the output only.

`run SCRIPT.py` (the first argument an existing local `.py` file) is a training run: a Job of one pod
from the local script and its folder, with no image build.
- Files: the nodes of a minictl cluster run on this machine, so the folder (--workdir, default the
  script's) is copied into the cluster home, `HOME/runs/NAME/workspace`, and mounted at /workspace as a
  hostPath. A copy, so editing the script while it runs changes nothing; a hostPath, because a ConfigMap
  holds 1 MiB and an upload through the API server would copy what the node can read already.
- Libraries: `--requirements FILE` or `--pip PKG==VER` become a virtualenv at `HOME/envs/KEY`, KEY a
  hash of the interpreter and the requirements, built by the pod's `environment` init container
  (`runenv.py`) the first time and reused by every later run with the same requirements (which then
  has no build step: the nodes share this machine's cache, so minictl sees it is built). The training
  container mounts the environments read-only and runs the environment's python, which has no pip. On
  the process runtime the interpreter is this machine's and the pod uses the host's network (the
  process runtime's pod network has no route out, and pip needs the package index); on Docker the
  interpreter is the image's (--image, which needs pip for the build).
- Outputs: a PersistentVolumeClaim named after the run (class `standard`) is mounted at /outputs; it
  outlives the Job, and its files are copied to --output when the run ends.
- `--follow` streams the training container's log; with --follow or --output the command waits for the
  run to end and exits with the job's outcome (the failed container's exit code). The environment is
  waited for in every case: requirements pip cannot install fail the run, whose Job, claim and copy are
  deleted again, and the error shows pip's output.

`runs` lists the runs (their claims, labelled minik8s.io/run) with the Job's status and duration (or
what was recorded on the claim when the Job is gone), where the outputs are and how to read the logs
(the log archive keeps them after the Job)."""
from __future__ import annotations

import os
import re
import sys
import time

RUN_LABEL = "minik8s.io/run"
ANNOTATION = "minik8s.io/run-"           # + script, output, status, started, finished
ENV_CONTAINER, TRAIN_CONTAINER = "environment", "train"
ENVS_PATH, RUN_PATH, WORKSPACE, OUTPUTS = "/envs", "/minik8s-run", "/workspace", "/outputs"
DOCKER_PYTHON_IMAGE = "minik8s/python:3.11"
PIP_WHEEL, PIP_CERT = "pip.whl", "pip-cert.pem"      # in the run's directory, for a container's build
_SKIPPED = (".git", "__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache")


# ---------------------------------------------------------------- flags
def run_flags(p):
    from minik8s.cli.common import duration
    p.add_argument("name", metavar="NAME | SCRIPT.py")
    p.add_argument("cmd_args", nargs="*", metavar="-- COMMAND [args...]")
    p.add_argument("--image", default="", help="the container image (for a script: the Docker image with "
                   f"python and pip, default {DOCKER_PYTHON_IMAGE})")
    p.add_argument("--restart", default="Always", choices=("Always", "OnFailure", "Never"),
                   help="the pod's restartPolicy")
    p.add_argument("--env", action="append", default=[], help="an environment variable K=V (repeatable)")
    p.add_argument("-l", "--labels", default="", help="the pod's labels, a=b,c=d (default run=NAME)")
    p.add_argument("--command", dest="as_command", action="store_true",
                   help="the words after -- are the command, not the args")
    p.add_argument("--port", type=int, help="the container port to expose")
    p.add_argument("--image-pull-policy", default="", help="the container's imagePullPolicy")
    p.add_argument("--rm", action="store_true", help="delete the pod once it ends (with -i)")
    p.add_argument("-i", "--stdin", action="store_true", help="stream the container's output until it ends")
    p.add_argument("-t", "--tty", action="store_true", help="accepted for kubectl's -it")
    p.add_argument("--pod-running-timeout", type=duration, default=60.0,
                   help="how long -i waits for the container to start (default 1m0s)")
    p.add_argument("--dry-run", default="none", choices=("none", "client", "server"),
                   help="client: print the object only; server: the server checks it, stores nothing")
    p.add_argument("-o", "--output", default="",
                   help="kubectl form: output format (yaml|json|name); script form: the local directory "
                        "the run's /outputs are copied to when it ends")
    g = p.add_argument_group("script runs")
    g.add_argument("--name", dest="run_name", default="", help="the run's name (default: the script's, "
                   "with a random suffix)")
    g.add_argument("--requirements", default="", help="a requirements file for the run's environment")
    g.add_argument("--pip", action="append", default=[], help="a requirement, e.g. tabulate==0.9.0 "
                   "(repeatable)")
    g.add_argument("--workdir", default="", help="the folder shipped with the script (default: its folder)")
    g.add_argument("--gpus", type=int, default=0, help="GPUs (nvidia.com/gpu)")
    g.add_argument("--cpu", default="", help="CPU request and limit, e.g. 2")
    g.add_argument("--memory", default="", help="memory request and limit, e.g. 4Gi")
    g.add_argument("--disk", default="1Gi", help="the size of the outputs claim")
    g.add_argument("--retries", type=int, default=0, help="retries after a failure (the Job's backoffLimit)")
    g.add_argument("-f", "--follow", action="store_true", help="stream the logs; exit with the run's outcome")
    g.add_argument("--runtime", default="", choices=("", "process", "docker"),
                   help="which nodes run it (default: process nodes when there are any)")


def runs_flags(p):
    p.add_argument("name", nargs="?", default="", help="one run")


COMMANDS = [
    ("run", "runcmds:cmd_run", "Run a pod from an image, or a local Python script as a Job", run_flags),
    ("runs", "runcmds:cmd_runs", "List the runs of local scripts: status, duration, outputs, logs", runs_flags),
]


def cmd_run(args) -> int:
    if args.name.endswith(".py") and os.path.isfile(args.name):
        return _run_script(args)
    if args.name.endswith(".py") and not args.image:
        from minik8s.cli.common import CliError
        raise CliError(f"{args.name}: no such file (a script run needs an existing local .py file)")
    return _run_pod(args)


# ---------------------------------------------------------------- kubectl run
def pod_doc(args, ns: str) -> dict:
    """The Pod kubectl run makes of its flags (in the namespace `ns`, when not "")."""
    from minik8s.cli.common import CliError
    if not args.image:
        raise CliError("required flag(s) \"image\" not set")
    labels = _pairs(args.labels.split(",") if args.labels else [], "--labels") or {"run": args.name}
    container = {"image": args.image, "name": args.name, "resources": {}}
    if args.cmd_args:
        container["command" if args.as_command else "args"] = list(args.cmd_args)
    if args.env:
        container["env"] = [{"name": k, "value": v} for k, v in _pairs(args.env, "--env").items()]
    if args.port:
        container["ports"] = [{"containerPort": args.port}]
    if args.image_pull_policy:
        container["imagePullPolicy"] = args.image_pull_policy
    if args.stdin:
        container.update(stdin=True, stdinOnce=True, tty=bool(args.tty))
    metadata = {"creationTimestamp": None, "labels": labels, "name": args.name}
    if ns:
        metadata["namespace"] = ns
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": {"containers": [container], "dnsPolicy": "ClusterFirst", "restartPolicy": args.restart},
            "status": {}}


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    from minik8s.cli.common import CliError
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"invalid {flag} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def _run_pod(args) -> int:
    from minik8s.api.codec import from_dict
    from minik8s.api.pb import core_pb2
    from minik8s.cli.common import CliError, client_for, namespace_of
    if args.rm and not args.stdin:
        raise CliError("--rm should only be used for attached containers")
    if args.dry_run == "client":
        doc = pod_doc(args, getattr(args, "namespace", None) or "")
        from_dict(core_pb2.Pod, {k: v for k, v in doc.items() if k != "metadata"})     # the fields' types
        _print_doc(doc, args.output, "pod")
        return 0
    doc = pod_doc(args, namespace_of(args))
    doc["metadata"].pop("creationTimestamp")
    pod = from_dict(core_pb2.Pod, doc)
    with client_for(args) as c:
        made = c.create(pod, dry_run=args.dry_run == "server")
        suffix = " (server dry run)" if args.dry_run == "server" else ""
        if args.output:
            from minik8s.cli.printers import to_json_obj
            _print_doc(to_json_obj(made), args.output, "pod")
        else:
            print(f"pod/{args.name} created{suffix}")
        if not args.stdin or args.dry_run != "none":
            return 0
        try:
            return _stream_pod(c, made.metadata.namespace, args.name, args.name, args.pod_running_timeout)
        finally:
            if args.rm:
                c.delete("Pod", args.name, made.metadata.namespace)
                print(f'pod "{args.name}" deleted')


def _print_doc(doc: dict, fmt: str, kind_word: str) -> None:
    from minik8s.cli.common import CliError
    from minik8s.cli.printers import dump_json, dump_yaml
    if fmt in ("", "yaml"):
        print(dump_yaml(doc), end="")
    elif fmt == "json":
        print(dump_json(doc))
    elif fmt == "name":
        print(f"{kind_word}/{doc['metadata']['name']}")
    else:
        raise CliError(f"unable to match a printer suitable for the output format {fmt!r}, allowed formats "
                       "are: json,name,yaml")


def _container_state(c, ns: str, pod: str, container: str):
    """The container's state once it runs or ended (None before), from the pod's status."""
    p = c.get("Pod", pod, ns)
    for cs in list(p.status.containerStatuses) + list(p.status.initContainerStatuses):
        if cs.name == container and (cs.state.HasField("running") or cs.state.HasField("terminated")):
            return cs.state
    if p.status.phase in ("Succeeded", "Failed"):
        return p.status.phase
    return None


def _await_container(c, ns: str, pod: str, container: str, deadline: float | None = None):
    from minik8s.api import kinds
    from minik8s.cli.watching import wait_for
    wait_for(c, kinds.POD, ns, pod, "condition",
             lambda p: _container_state(c, ns, pod, container) is not None, deadline)
    return _container_state(c, ns, pod, container)


def _stream_pod(c, ns: str, pod: str, container: str, timeout: float) -> int:
    """Print the container's log until it ends; its exit code (0 while it keeps running)."""
    from minik8s.cli.common import CliError
    if _await_container(c, ns, pod, container, time.monotonic() + timeout) is None:
        raise CliError(f"timed out waiting for the condition (pod {ns}/{pod} did not start its container)")
    _follow(c, ns, pod, container)
    return _exit_code(c, ns, pod, container)


def _follow(c, ns: str, pod: str, container: str) -> None:
    """The container's log on stdout as it comes, after what was printed before it. A follow that ends
    with nothing (asked before the container's log existed) is read again once the container is done."""
    sys.stdout.flush()
    if _copy_log(c.logs(pod, ns, container=container, follow=True)):
        return
    from minik8s.api import kinds
    from minik8s.cli.watching import wait_for
    wait_for(c, kinds.POD, ns, pod, "condition", lambda p: _terminated(p, container) is not None,
             time.monotonic() + 30)
    _copy_log(c.logs(pod, ns, container=container))


def _copy_log(chunks) -> int:
    size = 0
    for chunk in chunks:
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        size += len(chunk)
    return size


def _terminated(pod, container: str):
    return next((cs.state.terminated for cs in pod.status.containerStatuses
                 if cs.name == container and cs.state.HasField("terminated")), None)


def _exit_code(c, ns: str, pod: str, container: str) -> int:
    from minik8s.api import kinds
    from minik8s.cli.watching import wait_for

    p = c.get("Pod", pod, ns)
    if p.spec.restartPolicy != "Always":
        wait_for(c, kinds.POD, ns, pod, "condition", lambda o: _terminated(o, container) is not None,
                 time.monotonic() + 30)
        p = c.get("Pod", pod, ns)
    t = _terminated(p, container)
    return t.exitCode if t is not None else 0


# ---------------------------------------------------------------- script runs: input
_REQUIREMENT = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\[[A-Za-z0-9._, -]*\])?\s*"
                          r"((@\s*\S+)|((===|==|!=|~=|>=|<=|>|<)\s*[A-Za-z0-9.*+!_-]+\s*"
                          r"(,\s*(===|==|!=|~=|>=|<=|>|<)\s*[A-Za-z0-9.*+!_-]+\s*)*))?\s*(;.*)?$")


def requirement_lines(args) -> list[str]:
    """The run's requirements, each checked as a PEP 508 requirement; options (`--index-url ...`) pass
    through to pip; `-r`/`-c` are refused, since the files they name would not reach the node."""
    from minik8s.cli.common import CliError
    lines: list[tuple[str, str]] = []
    if args.requirements:
        try:
            with open(args.requirements, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            why = getattr(e, "strerror", None) or e
            raise CliError(f"--requirements {args.requirements}: cannot read: {why}") from None
        lines += [(f"{args.requirements}:{i}", ln) for i, ln in enumerate(text.splitlines(), 1)]
    lines += [("--pip", p) for p in args.pip]
    out = []
    for where, raw in lines:
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if line.startswith(("-r", "-c", "--requirement", "--constraint")):
            raise CliError(f"{where}: {line!r}: nested requirement files are not shipped with the run; "
                           "list the requirements in one file")
        if not line.startswith("-") and not _REQUIREMENT.match(line):
            raise CliError(f"{where}: {line!r} is not a valid requirement (e.g. tabulate==0.9.0)")
        out.append(line)
    return out


def _run_name(args) -> str:
    from minik8s.cli.common import CliError
    if args.run_name:
        name = args.run_name
    else:
        import secrets
        stem = re.sub(r"[^a-z0-9-]+", "-", os.path.splitext(os.path.basename(args.name))[0].lower()).strip("-")
        name = f"{stem[:40] or 'run'}-{secrets.token_hex(3)}"
    if len(name) > 52 or not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name):
        raise CliError(f"--name {name!r}: a run's name must be lowercase letters, digits and '-', "
                       "at most 52 characters, starting and ending with a letter or digit")
    return name


def _check_output(path: str) -> None:
    from minik8s.cli.common import CliError
    if path and os.path.exists(path) and not os.path.isdir(path):
        raise CliError(f"--output {path}: not a directory")
    if path and not os.path.exists(path) and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise CliError(f"--output {path}: its parent directory does not exist")


def _pick_nodes(c, wanted: str) -> tuple[str, list[str]]:
    """(runtime, names of the Ready nodes that have it): process nodes unless Docker is asked for."""
    from minik8s.cli.common import CliError
    by_runtime: dict[str, list[str]] = {}
    for n in c.list("Node").items:
        ready = any(x.type == "Ready" and x.status == "True" for x in n.status.conditions)
        runtime = n.status.nodeInfo.containerRuntimeVersion.split("://")[0]
        if ready and not n.spec.unschedulable:
            by_runtime.setdefault(runtime, []).append(n.metadata.name)
    for runtime in ([wanted] if wanted else ["process", "docker"]):
        if by_runtime.get(runtime):
            return runtime, sorted(by_runtime[runtime])
    have = ", ".join(f"{r}: {len(v)}" for r, v in sorted(by_runtime.items())) or "none"
    raise CliError(f"no Ready node can run a script ({wanted or 'process or docker'} runtime wanted; "
                   f"Ready nodes by runtime: {have})")


# ---------------------------------------------------------------- script runs: objects
class RunPlan:
    """What a script run is made of: its name, the local paths, its runtime and environment."""

    def __init__(self, args, name: str, home: str, runtime: str, nodes: list[str], requirements: list[str]):
        import hashlib

        from minik8s.cli import runenv
        self.name, self.home, self.runtime, self.nodes = name, home, runtime, nodes
        self.script = os.path.abspath(args.name)
        self.workdir = os.path.abspath(args.workdir or os.path.dirname(self.script))
        self.output = os.path.abspath(args.output) if args.output else ""
        self.requirements = requirements
        self.run_dir = os.path.join(home, "runs", name)
        self.envs_dir = os.path.join(home, "envs")
        if runtime == "docker":
            self.image, self.python = args.image or DOCKER_PYTHON_IMAGE, "python3"
        else:
            self.image, self.python = args.image or "python", _host_python()
        basis = "\n".join([f"{runtime} {self.image} {self.python}", *sorted(requirements)])
        self.env_key = hashlib.sha256(basis.encode()).hexdigest()[:16] if requirements else ""
        # built by an earlier run: the nodes share this machine's cache, so no build step at all
        self.env_built = bool(self.env_key) and os.path.isfile(
            os.path.join(self.envs_dir, self.env_key, runenv.READY_FILE))

    def script_path(self) -> str:
        from minik8s.cli.common import CliError
        rel = os.path.relpath(self.script, self.workdir)
        if rel.startswith(".."):
            raise CliError(f"{self.script}: the script is not inside --workdir {self.workdir}")
        return rel


def _host_python() -> str:
    """This machine's interpreter (the one a virtualenv of minictl's is made from)."""
    return os.path.realpath(getattr(sys, "_base_executable", "") or sys.executable)


def job_doc(plan: RunPlan, args, ns: str) -> dict:
    """The run's Job: one pod, never restarted in place (retries are new pods), the environment built
    by an init container, the outputs claim at /outputs."""
    from minik8s.cli import runenv
    labels = {RUN_LABEL: plan.name}
    run_vol = {"name": "run", "hostPath": {"path": plan.run_dir, "type": "Directory"}}
    volumes = [run_vol, {"name": "outputs", "persistentVolumeClaim": {"claimName": plan.name}}]
    train_mounts = [{"name": "run", "mountPath": WORKSPACE, "subPath": "workspace"},
                    {"name": "outputs", "mountPath": OUTPUTS}]
    env = [{"name": "PYTHONUNBUFFERED", "value": "1"}, {"name": "OUTPUT_DIR", "value": OUTPUTS}]
    python = plan.python
    init = []
    if plan.env_key:
        volumes.append({"name": "envs", "hostPath": {"path": plan.envs_dir, "type": "DirectoryOrCreate"}})
        train_mounts.append({"name": "envs", "mountPath": ENVS_PATH, "readOnly": True})
        python = f"{ENVS_PATH}/{plan.env_key}/bin/python"
        env.append({"name": "PATH", "value": f"{ENVS_PATH}/{plan.env_key}/bin:/usr/sbin:/usr/bin:/sbin:/bin"})
    if plan.env_key and not plan.env_built:
        with open(runenv.__file__, encoding="utf-8") as f:
            builder = f.read()
        init.append({"name": ENV_CONTAINER, "image": plan.image,
                     "command": [plan.python, "-c", builder, f"{ENVS_PATH}/{plan.env_key}",
                                 f"{RUN_PATH}/requirements.txt", f"{RUN_PATH}/{PIP_WHEEL}"],
                     "env": [{"name": k, "value": v} for k, v in sorted(_pip_settings(plan).items())],
                     "volumeMounts": [{"name": "envs", "mountPath": ENVS_PATH},
                                      {"name": "run", "mountPath": RUN_PATH, "readOnly": True}]})
    train = {"name": TRAIN_CONTAINER, "image": plan.image, "workingDir": WORKSPACE,
             "command": [python, "-u", plan.script_path(), *args.cmd_args], "env": env,
             "volumeMounts": train_mounts}
    resources = _resources(args)
    if resources:
        train["resources"] = resources
    if plan.runtime == "docker":
        for c in init + [train]:
            c["imagePullPolicy"] = "IfNotPresent"
    spec = {"restartPolicy": "Never", "containers": [train], "volumes": volumes,
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                                       "values": plan.nodes}]}]}}}}
    if init:
        spec["initContainers"] = init
    if plan.runtime == "process":
        spec["hostNetwork"] = True      # the process runtime's pod network has no route out, pip needs one
    job_spec = {"backoffLimit": args.retries, "template": {"metadata": {"labels": labels}, "spec": spec}}
    if init:
        job_spec["podFailurePolicy"] = {"rules": [
            {"action": "FailJob", "onExitCodes": {"containerName": ENV_CONTAINER, "operator": "In",
                                                  "values": [runenv.UNSATISFIABLE, runenv.NO_PIP]}}]}
    annotations = {ANNOTATION + "script": plan.script}
    if plan.output:
        annotations[ANNOTATION + "output"] = plan.output
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": plan.name, "namespace": ns, "labels": labels, "annotations": annotations},
            "spec": job_spec}


def _pip_settings(plan: RunPlan) -> dict[str, str]:
    """pip's settings from this shell (index, proxy, timeouts), for the environment's build as for a pip
    run here; in a container, the certificate bundle they name is the run's copy of it."""
    env = {k: v for k, v in os.environ.items()
           if k.startswith("PIP_") or k in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
                                            "https_proxy", "no_proxy")}
    if plan.runtime == "docker" and env.get("PIP_CERT"):
        env["PIP_CERT"] = f"{RUN_PATH}/{PIP_CERT}"
    return env


def _resources(args) -> dict:
    amounts = {}
    if args.cpu:
        amounts["cpu"] = args.cpu
    if args.memory:
        amounts["memory"] = args.memory
    out = {"requests": dict(amounts), "limits": dict(amounts)} if amounts else {}
    if args.gpus:
        out.setdefault("limits", {})["nvidia.com/gpu"] = str(args.gpus)
    return out


def claim_doc(plan: RunPlan, args, ns: str) -> dict:
    annotations = {ANNOTATION + "script": plan.script, ANNOTATION + "started": _now()}
    if plan.output:
        annotations[ANNOTATION + "output"] = plan.output
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": plan.name, "namespace": ns, "labels": {RUN_LABEL: plan.name},
                         "annotations": annotations},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                     "resources": {"requests": {"storage": args.disk}}}}


def _now() -> str:
    from minik8s.api.clock import rfc3339
    return rfc3339(time.time())


def _snapshot(plan: RunPlan) -> None:
    """The workdir copied into the run's directory (its own files: not the cluster home or --output
    when they are inside it), with the requirements."""
    import shutil
    left_out = {os.path.realpath(plan.home), os.path.realpath(plan.output) if plan.output else ""}

    def ignored(folder, names):
        return [n for n in names if n in _SKIPPED or os.path.realpath(os.path.join(folder, n)) in left_out]
    os.makedirs(os.path.dirname(plan.run_dir), exist_ok=True)
    os.makedirs(plan.run_dir)
    shutil.copytree(plan.workdir, os.path.join(plan.run_dir, "workspace"), ignore=ignored, symlinks=True)
    with open(os.path.join(plan.run_dir, "requirements.txt"), "w") as f:
        f.write("".join(f"{r}\n" for r in plan.requirements))
    if plan.runtime == "docker" and plan.env_key:
        wheel = _bundled_pip_wheel()
        if wheel:
            shutil.copyfile(wheel, os.path.join(plan.run_dir, PIP_WHEEL))
        if os.path.isfile(os.environ.get("PIP_CERT", "")):
            shutil.copyfile(os.environ["PIP_CERT"], os.path.join(plan.run_dir, PIP_CERT))


def _bundled_pip_wheel() -> str:
    """The pip wheel this interpreter bundles (ensurepip's), for an image that has python but no pip."""
    import glob
    try:
        import ensurepip
    except ImportError:
        return ""
    found = sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl")))
    return found[-1] if found else ""


# ---------------------------------------------------------------- script runs: the command
def _run_script(args) -> int:
    import shutil

    from minik8s.api.codec import from_dict
    from minik8s.api.errors import NotFound
    from minik8s.api.pb import batch_pb2, core_pb2
    from minik8s.cli.common import CliError, client_for, namespace_of
    from minik8s.client.config import home_dir
    if args.workdir and not os.path.isdir(args.workdir):
        raise CliError(f"--workdir {args.workdir}: not a directory")
    requirements = requirement_lines(args)
    _check_output(args.output)
    name, ns = _run_name(args), namespace_of(args)
    with client_for(args) as c:
        for kind in ("Job", "PersistentVolumeClaim"):
            try:
                c.get(kind, name, ns)
                raise CliError(f'a run named "{name}" exists ({kind} {ns}/{name}); choose another --name')
            except NotFound:
                pass
        runtime, nodes = _pick_nodes(c, args.runtime)
        plan = RunPlan(args, name, home_dir(getattr(args, "home", None)), runtime, nodes, requirements)
        job = from_dict(batch_pb2.Job, job_doc(plan, args, ns))
        claim = from_dict(core_pb2.PersistentVolumeClaim, claim_doc(plan, args, ns))
        c.create(job, dry_run=True)          # every field error before anything is made
        if os.path.exists(plan.run_dir):
            raise CliError(f"{plan.run_dir} exists: a run of that name ran before; choose another --name")
        try:
            _snapshot(plan)
        except BaseException:
            shutil.rmtree(plan.run_dir, ignore_errors=True)
            raise
        made: list[str] = []
        try:
            c.create(claim)
            made.append("PersistentVolumeClaim")
            c.create(job)
            made.append("Job")
        except BaseException:
            _undo(c, plan, ns, made)
            raise
        env = f", environment {plan.env_key}{', reused' if plan.env_built else ''}" if plan.env_key else ""
        print(f"job.batch/{name} created ({runtime} runtime{env})")
        print(f"persistentvolumeclaim/{name} created (its files: {OUTPUTS} in the run)")
        try:
            ready = not plan.env_key or plan.env_built or _environment_ready(c, plan, ns)
        except KeyboardInterrupt:         # stopped before it started: nothing of it is kept
            _undo(c, plan, ns, made)
            raise
        if not ready:
            _undo(c, plan, ns, made)
            raise CliError(f"the run's requirements could not be installed; run {name} deleted (its Job, claim "
                           "and files)")
        if not (args.follow or plan.output):
            print(f"follow it with: minictl logs -f job/{name} -c {TRAIN_CONTAINER}")
            return 0
        return _finish(c, plan, ns, args.follow)


def _undo(c, plan: RunPlan, ns: str, made: list[str]) -> None:
    """Delete what a failed run made: its Job (and pods), its claim, its copy of the files."""
    import shutil

    from minik8s.api.errors import NotFound
    for kind in reversed(made):
        try:
            c.delete(kind, plan.name, ns, propagation_policy="Background" if kind == "Job" else "")
        except NotFound:
            pass
    shutil.rmtree(plan.run_dir, ignore_errors=True)


def _job_pods(c, ns: str, name: str) -> list:
    pods = c.list("Pod", ns, label_selector=f"{RUN_LABEL}={name}").items
    return sorted(pods, key=lambda p: (p.metadata.creationTimestamp, p.metadata.name))


def _finished(job) -> str:
    for cond in job.status.conditions:
        if cond.type in ("Complete", "Failed") and cond.status == "True":
            return cond.type
    return ""


def _environment_ready(c, plan: RunPlan, ns: str) -> bool:
    """Wait until the first pod's environment step ends: True when built or reused; False (pip's output
    printed) when the requirements cannot be installed."""
    from minik8s.api import kinds
    from minik8s.cli.watching import wait_for

    def env_done(job) -> bool:
        if _finished(job) or job.status.ready or job.status.succeeded or job.status.failed:
            return True
        return any(_init_state(p) is not None for p in _job_pods(c, ns, plan.name))
    wait_for(c, kinds.JOB, ns, plan.name, "condition", env_done, None)
    failed = next((p for p in _job_pods(c, ns, plan.name) if (s := _init_state(p)) is not None and s.exitCode), None)
    if failed is None:
        return True
    sys.stdout.flush()
    _print_log(c, ns, failed.metadata.name, ENV_CONTAINER, sys.stderr.buffer)
    return False


def _init_state(pod):
    """The environment container's terminated state, or None while it has not ended."""
    for cs in pod.status.initContainerStatuses:
        if cs.name == ENV_CONTAINER and cs.state.HasField("terminated"):
            return cs.state.terminated
    return None


def _print_log(c, ns: str, pod: str, container: str, out) -> None:
    """A container's log, from the node or, once the pod is gone, the log archive."""
    from minik8s.api.errors import ApiError
    try:
        for chunk in c.logs(pod, ns, container=container):
            out.write(chunk)
    except ApiError:
        for s in c.list_log_streams(ns, pod=pod).streams:
            if s.key.container == container:
                for chunk in c.read_logs(s.key):
                    out.write(chunk.data)
    out.flush()


def _finish(c, plan: RunPlan, ns: str, follow: bool) -> int:
    """Stream the training container's logs (each pod's, retries included), wait for the Job, record
    the outcome on the claim and copy the outputs; the exit code is the job's."""
    from minik8s.api import kinds
    from minik8s.cli.watching import wait_for
    followed: set[str] = set()
    while True:
        job = c.get("Job", plan.name, ns)
        pending = [p for p in _job_pods(c, ns, plan.name) if p.metadata.name not in followed]
        if _finished(job) and not pending:
            break
        if follow and pending:
            pod = pending[0].metadata.name
            followed.add(pod)
            state = _await_container(c, ns, pod, TRAIN_CONTAINER)
            if state is not None and not isinstance(state, str):
                _follow(c, ns, pod, TRAIN_CONTAINER)
            continue
        followed.update(p.metadata.name for p in pending)
        seen = len(followed)
        wait_for(c, kinds.JOB, ns, plan.name, "condition",
                 lambda j: bool(_finished(j)) or len(_job_pods(c, ns, plan.name)) > seen, None)
    outcome = _finished(job)
    code = 0 if outcome == "Complete" else _failed_code(c, ns, plan.name)
    _record(c, plan, ns, job, outcome)
    sys.stdout.flush()
    if plan.output:
        _copy_outputs(c, plan, ns)
    print(f"run {plan.name}: {'succeeded' if code == 0 else f'failed (exit code {code})'}; outputs in "
          f"persistentvolumeclaim/{plan.name}{' and ' + plan.output if plan.output else ''}; "
          f"logs: minictl logs job/{plan.name} -c {TRAIN_CONTAINER}", file=sys.stderr)
    return code


def _failed_code(c, ns: str, name: str) -> int:
    for p in reversed(_job_pods(c, ns, name)):
        for cs in list(p.status.containerStatuses) + list(p.status.initContainerStatuses):
            if cs.state.HasField("terminated") and cs.state.terminated.exitCode:
                return cs.state.terminated.exitCode
    return 1


def _record(c, plan: RunPlan, ns: str, job, outcome: str) -> None:
    """The outcome kept on the claim, which outlives the Job."""
    status = "Succeeded" if outcome == "Complete" else "Failed"
    c.patch("PersistentVolumeClaim", plan.name, {"metadata": {"annotations": {
        ANNOTATION + "status": status, ANNOTATION + "started": job.status.startTime or _now(),
        ANNOTATION + "finished": job.status.completionTime or _now()}}}, ns)


def outputs_path(c, ns: str, name: str) -> str:
    """Where the run's claim keeps its files on this machine ("" while it is not bound)."""
    from minik8s.api.errors import NotFound
    try:
        pvc = c.get("PersistentVolumeClaim", name, ns)
        if not pvc.spec.volumeName:
            return ""
        pv = c.get("PersistentVolume", pvc.spec.volumeName)
    except NotFound:
        return ""
    return pv.spec.hostPath.path or pv.spec.local.path


def _copy_outputs(c, plan: RunPlan, ns: str) -> None:
    import shutil
    src = outputs_path(c, ns, plan.name)
    if src and os.path.isdir(src):
        shutil.copytree(src, plan.output, dirs_exist_ok=True, symlinks=True)


# ---------------------------------------------------------------- runs
def cmd_runs(args) -> int:
    from minik8s.api.errors import NotFound
    from minik8s.cli.common import client_for, namespace_of
    from minik8s.cli.printers import human_duration, parse_time, render_table
    ns = namespace_of(args)
    selector = f"{RUN_LABEL}={args.name}" if args.name else RUN_LABEL
    rows = []
    with client_for(args) as c:
        claims = sorted(c.list("PersistentVolumeClaim", ns, label_selector=selector).items,
                        key=lambda o: o.metadata.creationTimestamp)
        for pvc in claims:
            name, notes = pvc.metadata.name, pvc.metadata.annotations
            try:
                job = c.get("Job", name, ns)
                outcome = _finished(job)
                status = {"Complete": "Succeeded", "Failed": "Failed"}.get(outcome, "Running")
                start, end = job.status.startTime, job.status.completionTime or (
                    next((x.lastTransitionTime for x in job.status.conditions if x.type == "Failed"), ""))
            except NotFound:
                status = notes.get(ANNOTATION + "status", "Unknown") + " (job deleted)"
                start, end = notes.get(ANNOTATION + "started", ""), notes.get(ANNOTATION + "finished", "")
            if start:
                until = parse_time(end) if end else time.time()
                duration = human_duration(max(0.0, until - parse_time(start)))
            else:
                duration = "<none>"
            path = outputs_path(c, ns, name) or "<pending>"
            local = notes.get(ANNOTATION + "output", "")
            rows.append([name, status, duration, os.path.basename(notes.get(ANNOTATION + "script", "")),
                         f"pvc/{name} {path}" + (f" (copied to {local})" if local else ""),
                         f"minictl logs job/{name} -c {TRAIN_CONTAINER}"])
    if not rows:
        print(f"No runs found in {ns} namespace.", file=sys.stderr)
        return 0
    print(render_table(["NAME", "STATUS", "DURATION", "SCRIPT", "OUTPUTS", "LOGS"], rows), end="")
    return 0
