"""The per-container supervisor of the process runtime, and the on-disk record it shares with it.

`python -m kubelet.runtime.shim run DIR` daemonizes (so it outlives the kubelet that started it),
starts the container's process inside the pod's namespaces and cgroup, copies its stdout/stderr into
the CRI log, and records how it ended. `python -m kubelet.runtime.shim exec DIR [--tty] -- CMD...`
enters a running container (its cgroup, network, UTS and mount namespaces, working dir and env) and
execs CMD there; the runtime uses it for exec and exec probes.

A container directory holds, each written once and atomically:
  container.json  written by the runtime at create: {"id", "sandbox_id", "created_at", "config", "spec"}
  started.json    written by the shim once the process runs: {"pid", "pid_start", "shim_pid",
                  "shim_start", "started_at"} (`*_start` is /proc start time, which guards against
                  a reused pid)
  exited.json     written by the shim when the process has ended (or could not start):
                  {"exit_code", "reason", "message", "finished_at"}
  shim.log        the shim's own errors
so any runtime instance, a restarted kubelet's included, knows each container's state from the files
alone. This module imports nothing outside the standard library and kubelet's own leaves
(cgroups, network's syscalls, base), so a shim starts fast; and until it has answered the runtime (the
container's start, which the runtime waits for) only what that needs before the fork: what supervising
needs (base's LogWriter and cgroups, which bring dataclasses and datetime; selectors) is imported while
the container's process is on its way to exec."""
from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import sys
import termios
import time

from kubelet.network import (
    CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWUTS, MS_BIND, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT, check, libc,
    mount, setns,
)

CONTAINER_FILE = "container.json"
STARTED_FILE = "started.json"
EXITED_FILE = "exited.json"
SHIM_LOG = "shim.log"

EXIT_START_ERROR = 128          # what containerd reports for a process that could not be started
EXIT_NOT_RUNNING = 126
EXIT_NOT_FOUND = 127
DRAIN_SECONDS = 2.0             # output still buffered in pipes after the process has gone



# --- the record -----------------------------------------------------------------------------------

def read_json(path: str) -> dict | None:
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def write_json(path: str, obj: dict) -> None:
    """Written for the owner alone: a container's record holds its env, secrets included."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def proc_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


def alive(pid: int, start: int) -> bool:
    return proc_start_time(pid) == start


def exit_reason(code: int, oom_killed: bool) -> str:
    if oom_killed:
        return "OOMKilled"
    return "Completed" if code == 0 else "Error"


def _cgroup(spec: dict):
    from kubelet.cgroups import Cgroup
    return Cgroup(**spec["cgroup"])


# --- entering namespaces --------------------------------------------------------------------------

def _join_cgroup(cgroup: dict, pid: int) -> None:
    """`Cgroup(**cgroup).join(pid)` (kubelet.cgroups), without importing that module (dataclasses) on
    the way to the container's exec: `cgroup` is its plain data, a directory per controller."""
    for d in sorted(set(cgroup["dirs"].values())):
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write(str(pid))


def _enter_new_container(spec: dict) -> None:
    """Turns this (forked) process into the container: its cgroup, the pod's network namespace,
    a mount namespace of its own with the volumes bound in, and the pod's hostname."""
    if spec["cgroup"]:
        _join_cgroup(spec["cgroup"], os.getpid())
    if spec["netns"]:
        setns(spec["netns"], CLONE_NEWNET)
    if spec["isolate"]:
        check(libc.unshare(CLONE_NEWNS | (CLONE_NEWUTS if spec["hostname"] else 0)), "unshare")
        if spec["hostname"]:
            name = spec["hostname"].encode()
            check(libc.sethostname(name, len(name)), "sethostname")
        mount(None, "/", MS_REC | MS_PRIVATE)   # our binds must not propagate to the host
        for m in spec["mounts"]:
            mount(m["host_path"], m["container_path"], MS_BIND | MS_REC)
            if m["read_only"]:
                mount(None, m["container_path"], MS_BIND | MS_REMOUNT | MS_RDONLY)
    os.chdir(spec["working_dir"])


def _enter_running_container(pid: int, spec: dict) -> None:
    """Joins the namespaces and cgroup of the container whose main process is `pid`."""
    namespaces = (("net", CLONE_NEWNET), ("uts", CLONE_NEWUTS), ("mnt", CLONE_NEWNS)) if spec["isolate"] else ()
    if spec["cgroup"]:
        _join_cgroup(spec["cgroup"], os.getpid())
    for ns, flag in namespaces:     # /proc/<pid> is reached through the mount namespace joined last
        setns(f"/proc/{pid}/ns/{ns}", flag)
    os.chdir(spec["working_dir"])


def _exec(argv: list[str], env: dict[str, str]) -> None:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # Python ignores it; programs expect the default
    try:
        os.execvpe(argv[0], argv, env)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f'exec: "{argv[0]}": executable file not found in $PATH') from None


# --- run ------------------------------------------------------------------------------------------

def _spawn(spec: dict) -> tuple[int, dict[int, str]]:
    """Forks and execs the container process; returns its pid and its output fds -> stream name.
    Raises OSError with the child's own message when it could not exec."""
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    if spec["tty"]:
        master, slave = os.openpty()
        child_fds, ours = (slave, slave, slave), {master: "stdout"}
    else:
        out_r, out_w = os.pipe()
        err_out_r, err_out_w = os.pipe()
        child_fds, ours = (os.open(os.devnull, os.O_RDONLY), out_w, err_out_w), {out_r: "stdout", err_out_r: "stderr"}
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            for target, fd in enumerate(child_fds):
                os.dup2(fd, target)
            if spec["tty"]:
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            os.closerange(3, err_w)
            os.closerange(err_w + 1, 65536)
            _enter_new_container(spec)
            _exec(spec["argv"], spec["env"])
        except BaseException as e:
            os.write(err_w, (getattr(e, "strerror", None) or str(e) or type(e).__name__).encode())
        finally:
            os._exit(EXIT_NOT_FOUND)
    os.close(err_w)
    for fd in set(child_fds):
        os.close(fd)
    # what supervising and recording the exit need, loaded while the child makes its way into the
    # container (joining a v1 cgroup alone waits some 10 ms for the kernel) rather than before the
    # fork, so that it is ready as soon as the start is answered
    import selectors  # noqa: F401

    import kubelet.cgroups  # noqa: F401
    import kubelet.runtime.base  # noqa: F401
    message = b""
    while chunk := os.read(err_r, 4096):
        message += chunk
    os.close(err_r)
    if message:
        os.waitpid(pid, 0)
        for fd in ours:
            os.close(fd)
        raise OSError(message.decode(errors="replace"))
    return pid, ours


def _supervise(pid: int, outputs: dict[int, str], spec: dict) -> int:
    """Copies output into the log until the process has ended and its output is drained;
    returns its wait status."""
    import selectors

    from kubelet.runtime.base import LogWriter
    log = LogWriter(spec["log_path"], spec["log_max_bytes"])
    sel = selectors.DefaultSelector()
    for fd, stream in outputs.items():
        sel.register(fd, selectors.EVENT_READ, stream)
    pidfd = os.pidfd_open(pid)
    sel.register(pidfd, selectors.EVENT_READ, None)
    status, deadline = None, None
    while sel.get_map() and (deadline is None or time.monotonic() < deadline):
        for key, _ in sel.select(None if deadline is None else deadline - time.monotonic()):
            if key.data is None:
                status = os.waitpid(pid, 0)[1]
                sel.unregister(pidfd)
                os.close(pidfd)
                # upstream, a container dies with its main process: so does what it left behind
                _kill_container(pid, spec)
                deadline = time.monotonic() + DRAIN_SECONDS
                continue
            try:
                data = os.read(key.fd, 65536)
            except OSError:           # EIO: a pty whose other side is closed
                data = b""
            if data:
                log.write(key.data, data)
            else:
                sel.unregister(key.fd)
                os.close(key.fd)
    for key in list(sel.get_map().values()):
        os.close(key.fd)
    log.close()
    return status


def _kill_container(pid: int, spec: dict) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if spec["cgroup"]:
        _cgroup(spec).kill()


def _record_exit(cdir: str, status: int, spec: dict) -> None:
    code = os.waitstatus_to_exitcode(status)
    code = 128 - code if code < 0 else code    # killed by signal N: 128+N, as upstream reports
    oom = False
    if spec["cgroup"]:
        oom = _cgroup(spec).oom_kills() > 0
    write_json(os.path.join(cdir, EXITED_FILE), {
        "exit_code": code, "reason": exit_reason(code, oom), "message": "", "finished_at": time.time()})


def run(cdir: str) -> None:
    spec = read_json(os.path.join(cdir, CONTAINER_FILE))["spec"]
    if os.fork() > 0:
        os._exit(0)           # the runtime reaps this at once; the shim lives on, parented by init
    os.setsid()
    log_fd = os.open(os.path.join(cdir, SHIM_LOG), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    try:
        pid, outputs = _spawn(spec)
    except OSError as e:
        message = str(e)
        write_json(os.path.join(cdir, EXITED_FILE), {
            "exit_code": EXIT_START_ERROR, "reason": "StartError", "message": message, "finished_at": time.time()})
        _reply({"error": message})
        return
    write_json(os.path.join(cdir, STARTED_FILE), {
        "pid": pid, "pid_start": proc_start_time(pid), "shim_pid": os.getpid(),
        "shim_start": proc_start_time(os.getpid()), "started_at": time.time()})
    _reply({"pid": pid})
    _record_exit(cdir, _supervise(pid, outputs, spec), spec)


def _reply(obj: dict) -> None:
    """Answers the runtime on stdout, then lets go of that pipe so the kubelet may die freely."""
    try:
        os.write(1, (json.dumps(obj) + "\n").encode())
    except BrokenPipeError:
        pass                  # the kubelet died while starting us: the container runs on regardless
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


# --- exec -----------------------------------------------------------------------------------------

def exec_in(cdir: str, tty: bool, argv: list[str]) -> None:
    spec = read_json(os.path.join(cdir, CONTAINER_FILE))["spec"]
    started = read_json(os.path.join(cdir, STARTED_FILE))
    if not started or not alive(started["pid"], started["pid_start"]) \
            or os.path.exists(os.path.join(cdir, EXITED_FILE)):
        sys.stderr.write("container is not running\n")
        sys.exit(EXIT_NOT_RUNNING)
    if tty:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    try:
        _enter_running_container(started["pid"], spec)
        _exec(argv, spec["env"])
    except OSError as e:
        sys.stderr.write(f"{e.strerror or e}\n")
        sys.exit(EXIT_NOT_FOUND if isinstance(e, FileNotFoundError) else EXIT_NOT_RUNNING)


def main(argv: list[str]) -> None:
    if argv[:1] == ["run"] and len(argv) == 2:
        run(argv[1])
    elif argv[:1] == ["exec"] and "--" in argv:
        sep = argv.index("--")
        exec_in(argv[1], "--tty" in argv[2:sep], argv[sep + 1:])
    else:
        sys.exit("usage: python -m kubelet.runtime.shim run DIR | exec DIR [--tty] -- CMD...")


if __name__ == "__main__":
    main(sys.argv[1:])
