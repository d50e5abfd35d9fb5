"""The process runtime: every container is a process on the host, started from the container's
command; images are ignored (`describe()` says so).

- argv: with no image there is no entrypoint or cmd to fall back on, so `command + args` is the argv;
  a container with neither cannot be created.
- Sandbox: the pod's network namespace from `kubelet.network` (a bridge per node, one IP per pod), so a
  pod's containers share one IP and reach each other on localhost, and the host reaches the pod IP.
  A host-network sandbox has no namespace and reports 127.0.0.1. hostPort is not supported (no NAT).
- Isolation (root only): each container gets its own mount namespace and, outside host network, a UTS
  namespace with the pod's hostname. Filesystem, users and the process table are the host's.
- Volumes: each mount is bind-mounted at its mountPath inside the container's private mount namespace,
  so two containers of a pod given one emptyDir see the same files at their own paths, and the host
  sees nothing. A mountPath missing on the host is created there as an empty directory (or file) to
  mount on, and removed with the last container that mounts on it (`HostMountPoints`).
- Limits: a cgroup per container (`kubelet.cgroups`) enforces the CPU limit (CFS quota), request
  (shares) and memory limit; where cgroups cannot be used the process runs unlimited and
  `describe()["limits"]` gives the reason.
- GPUs: `CUDA_VISIBLE_DEVICES` and `NVIDIA_VISIBLE_DEVICES` name the assigned devices (advisory).
- Supervision: each container runs under its own shim (`kubelet.runtime.shim`), a daemon that outlives
  the kubelet, writes the CRI log and records the exit in the container's state directory. This
  runtime keeps nothing in memory that the files do not confirm: every answer is read from
  `state_dir`, so a restarted kubelet's runtime sees the running containers as they are (same pids,
  logs still flowing) and never restarts them. (The records are only ever replaced whole, never edited
  in place, so a parsed one is reused while the file's inode, mtime and size are unchanged: the
  kubelet lists every container of the node on each pod sync and each relist.) A pid counts as alive
  only with the /proc start time recorded for it, so a reused pid is not mistaken for the container.
- Exit: exit code N, or 128+N when killed by signal N; reason OOMKilled when the cgroup recorded an
  OOM kill, else Completed for 0 and Error otherwise; StartError (128) when the process could not be
  started. stop_container sends SIGTERM to the container's process group, then SIGKILL to the group
  and its cgroup after the timeout.
- exec runs the command in the container's namespaces, cgroup, working dir and env; exec_sync returns
  (exit code, stdout and stderr together) and raises TimeoutError when the command outlives `timeout`.

State directory: `sandboxes/<id>.json`, `containers/<id>/` (the files described in shim.py),
`network/` (IP allocations), `mount_points.json` (the mount points made on the host)."""
from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pwd
import shutil
import signal
import struct
import sys
import termios
import time
import uuid
from dataclasses import asdict

import psutil

from kubelet.cgroups import Cgroup, CgroupError, Cgroups
from kubelet.network import PodNetwork
from kubelet.runtime.base import (
    ContainerConfig, ContainerStats, ContainerStatus, CreateContainerError, FilesystemStats, Mount,
    RuntimeError_, SandboxConfig, SandboxStatus, host_filesystem,
)
from kubelet.runtime.shim import (
    CONTAINER_FILE, EXITED_FILE, SHIM_LOG, STARTED_FILE, alive, read_json, write_json,
)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_NETWORK_IP = "127.0.0.1"
SHIM_REPLY_TIMEOUT = 30.0
KILL_TIMEOUT = 10.0
POLL_INTERVAL = 0.02
EXIT_UNKNOWN = 255
_PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ProcessRuntime:
    name = "process"

    def __init__(self, state_dir: str, node_name: str, pod_cidr: str,
                 log_max_bytes: int = 10 * 1024 * 1024, cgroups: Cgroups | None = None):
        self.state_dir = state_dir
        self.node_name = node_name
        self.log_max_bytes = log_max_bytes
        self._sandboxes_dir = os.path.join(state_dir, "sandboxes")
        self._containers_dir = os.path.join(state_dir, "containers")
        os.makedirs(self._sandboxes_dir, exist_ok=True)
        os.makedirs(self._containers_dir, exist_ok=True)
        self._isolate = os.geteuid() == 0
        self.network = PodNetwork(node_name, pod_cidr, os.path.join(state_dir, "network"))
        self.cgroups = cgroups or Cgroups()
        self.mount_points = HostMountPoints(os.path.join(state_dir, "mount_points.json"))
        self._parsed: dict[str, tuple[tuple[int, int, int], dict]] = {}    # path -> (file version, doc)

    async def version(self) -> str:
        return f"process 0.1 (linux {os.uname().release}, limits {self.cgroups.describe()})"

    async def network_ready(self) -> str | None:
        """The node's bridge, made if missing; else why pods cannot get a network."""
        problem = self.network.available()
        if problem:
            return problem
        try:
            await asyncio.to_thread(self.network.ensure_bridge)
        except Exception as e:        # netlink's errors are not OSErrors: whatever it is, say it
            return f"cannot set up bridge {self.network.bridge_name}: {e}"
        return None

    async def remove_network(self) -> None:
        """The node's pod network for good: what its pods left, and its bridge unless another cluster's
        node of this name still uses it (PodNetwork.remove_node_network)."""
        if self.network.available() is None:
            await asyncio.to_thread(self.network.remove_node_network)

    def describe(self) -> dict[str, str]:
        net_problem = self.network.available()
        return {
            "runtime": "process",
            "image": "ignored: containers run as host processes",
            "command": "command + args is the argv (no image, so no entrypoint or cmd)",
            "limits": self.cgroups.describe(),
            "network": f"unavailable: {net_problem}" if net_problem else
                       f"a network namespace per pod on bridge {self.network.bridge_name} "
                       f"(gateway {self.network.gateway}); hostPort not supported",
            "mounts": "bind mounts in a private mount namespace per container" if self._isolate else
                      "unavailable: bind mounts need root",
            "isolation": "network, mount and UTS namespaces and a cgroup; the host's filesystem, users "
                         "and process table are shared" if self._isolate else "none: namespaces need root",
            "gpus": "CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES name the assigned GPUs (not enforced)",
        }

    async def pull_image(self, image: str, policy: str) -> str:
        return _image_id(image)

    def _read(self, path: str) -> dict | None:
        """read_json of a record (written by write_json: replaced whole, never edited in place), parsed
        again only when the file is another one than last time. The doc returned is shared: not to be
        modified."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self._parsed.pop(path, None)
            return None
        version = (st.st_ino, st.st_mtime_ns, st.st_size)
        hit = self._parsed.get(path)
        if hit is not None and hit[0] == version:
            return hit[1]
        doc = read_json(path)
        if doc is None:
            self._parsed.pop(path, None)
        else:
            self._parsed[path] = (version, doc)
        return doc

    def _forget(self, prefix: str) -> None:
        for path in [p for p in self._parsed if p.startswith(prefix)]:
            del self._parsed[path]

    # --- sandboxes --------------------------------------------------------------------------------

    def _sandbox_path(self, sandbox_id: str) -> str:
        return os.path.join(self._sandboxes_dir, f"{sandbox_id}.json")

    def _sandbox_docs(self) -> list[dict]:
        docs = (self._read(os.path.join(self._sandboxes_dir, n))
                for n in sorted(os.listdir(self._sandboxes_dir)) if n.endswith(".json"))
        return [d for d in docs if d]

    @staticmethod
    def _sandbox_status(doc: dict) -> SandboxStatus:
        cfg = doc["config"]
        # a namespace gone from under a ready sandbox (a reboot) leaves it not ready
        ready = doc["ready"] and (not doc["netns"] or os.path.exists(doc["netns"]))
        return SandboxStatus(id=doc["id"], pod_uid=cfg["pod_uid"], namespace=cfg["namespace"], name=cfg["name"],
                             ready=ready, ip=doc["ip"], created_at=doc["created_at"], labels=cfg["labels"])

    async def run_sandbox(self, cfg: SandboxConfig) -> SandboxStatus:
        """One live sandbox per pod: asked again for a pod whose sandbox is ready, returns that one."""
        for doc in self._sandbox_docs():
            if doc["config"]["pod_uid"] != cfg.pod_uid:
                continue
            if self._sandbox_status(doc).ready:
                return self._sandbox_status(doc)
            if doc["ready"]:    # its namespace vanished (a reboot): retire it, so stopping it spares ours
                write_json(self._sandbox_path(doc["id"]), dict(doc, ready=False))
        if cfg.host_network:
            ip, netns = HOST_NETWORK_IP, ""
        else:
            problem = self.network.available()
            if problem:
                raise RuntimeError_(f"cannot create the pod network: {problem}")
            ip = await asyncio.to_thread(self.network.setup, cfg.pod_uid)
            netns = self.network.netns_path(cfg.pod_uid)
        doc = {"id": uuid.uuid4().hex, "config": asdict(cfg), "ip": ip, "netns": netns,
               "created_at": time.time(), "ready": True, "resolv_conf": ""}
        if cfg.dns_config is not None and self._isolate:
            # bound over /etc/resolv.conf in each container's mount namespace (root only, as every mount)
            doc["resolv_conf"] = os.path.join(self._sandboxes_dir, f"{doc['id']}.resolv.conf")
            with open(doc["resolv_conf"], "w") as f:
                f.write(cfg.dns_config.resolv_conf())
        write_json(self._sandbox_path(doc["id"]), doc)
        return self._sandbox_status(doc)

    async def stop_sandbox(self, sandbox_id: str) -> None:
        """Kills the sandbox's containers and removes its network; a no-op when already stopped."""
        doc = read_json(self._sandbox_path(sandbox_id))
        if doc is None:
            return
        for c in await self.list_containers(sandbox_id):
            if c.state == "running":
                await self.stop_container(c.id, 0)
        if doc["ready"]:
            if doc["netns"]:
                await asyncio.to_thread(self.network.teardown, doc["config"]["pod_uid"])
            doc["ready"] = False
            write_json(self._sandbox_path(sandbox_id), doc)

    async def remove_sandbox(self, sandbox_id: str) -> None:
        await self.stop_sandbox(sandbox_id)
        for c in await self.list_containers(sandbox_id):
            await self.remove_container(c.id)
        for path in (self._sandbox_path(sandbox_id), os.path.join(self._sandboxes_dir, f"{sandbox_id}.resolv.conf")):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        self._forget(self._sandbox_path(sandbox_id))

    async def list_sandboxes(self) -> list[SandboxStatus]:
        return [self._sandbox_status(d) for d in self._sandbox_docs()]

    # --- containers -------------------------------------------------------------------------------

    def _dir(self, container_id: str) -> str:
        return os.path.join(self._containers_dir, container_id)

    def _doc(self, container_id: str) -> dict | None:
        return self._read(os.path.join(self._dir(container_id), CONTAINER_FILE))

    async def create_container(self, sandbox_id: str, cfg: ContainerConfig) -> str:
        sandbox = read_json(self._sandbox_path(sandbox_id))
        if sandbox is None or not self._sandbox_status(sandbox).ready:
            raise CreateContainerError(f"sandbox {sandbox_id} is not ready")
        argv = cfg.command + cfg.args
        if not argv:
            raise CreateContainerError("no command specified: the process runtime has no image entrypoint")
        self._check_mounts(cfg)
        cid = uuid.uuid4().hex
        cdir = self._dir(cid)
        os.makedirs(cdir)
        cgroup = None
        try:
            if self.cgroups.available() is None:
                cgroup = self.cgroups.create(cid, cfg.cpu_request_millis, cfg.cpu_limit_millis, cfg.memory_limit_bytes)
            self.mount_points.make(cfg.mounts)
        except (CgroupError, OSError) as e:
            if cgroup:
                cgroup.remove()
            self.mount_points.release([m.container_path for m in cfg.mounts])
            shutil.rmtree(cdir)
            raise CreateContainerError(str(e)) from e
        hostname = "" if sandbox["config"]["host_network"] else sandbox["config"]["hostname"] or sandbox["config"]["name"]
        spec = {
            "argv": argv,
            "env": self._env(cfg, hostname or os.uname().nodename),
            "working_dir": cfg.working_dir or "/",
            "hostname": hostname,
            "netns": sandbox["netns"],
            "isolate": self._isolate,
            "mounts": [asdict(m) for m in cfg.mounts] + _resolv_conf_mount(sandbox),
            "cgroup": asdict(cgroup) if cgroup else None,
            "tty": cfg.tty,
            "log_path": cfg.log_path or os.path.join(cdir, "container.log"),
            "log_max_bytes": self.log_max_bytes,
        }
        write_json(os.path.join(cdir, CONTAINER_FILE), {
            "id": cid, "sandbox_id": sandbox_id, "created_at": time.time(), "config": asdict(cfg),
            "spec": spec})
        return cid

    def _check_mounts(self, cfg: ContainerConfig) -> None:
        if cfg.mounts and not self._isolate:
            raise CreateContainerError("volume mounts need root: the process runtime bind-mounts them "
                                       "in a private mount namespace")
        for m in cfg.mounts:
            if not os.path.isabs(m.container_path):
                raise CreateContainerError(f"mount path {m.container_path!r} is not absolute")
            if not os.path.exists(m.host_path):
                raise CreateContainerError(f"mount source {m.host_path} does not exist")

    @staticmethod
    def _env(cfg: ContainerConfig, hostname: str) -> dict[str, str]:
        env = {"PATH": DEFAULT_PATH, "HOME": pwd.getpwuid(os.geteuid()).pw_dir, "HOSTNAME": hostname}
        env.update(cfg.env)
        if cfg.gpu_devices:
            env["CUDA_VISIBLE_DEVICES"] = env["NVIDIA_VISIBLE_DEVICES"] = ",".join(cfg.gpu_devices)
        return env

    @staticmethod
    async def _spawn_shim(*args: str, **kwargs) -> asyncio.subprocess.Process:
        # -S: the shim needs only the standard library and this project, and starts faster without site
        return await asyncio.create_subprocess_exec(
            sys.executable, "-S", "-m", "kubelet.runtime.shim", *args,
            env={"PYTHONPATH": _PROJECT_ROOT}, cwd="/", **kwargs)

    async def start_container(self, container_id: str) -> None:
        cdir = self._dir(container_id)
        doc = self._doc(container_id)
        if doc is None:
            raise RuntimeError_(f"no container {container_id}")
        if os.path.exists(os.path.join(cdir, STARTED_FILE)) or os.path.exists(os.path.join(cdir, EXITED_FILE)):
            raise RuntimeError_(f"container {container_id} was already started")
        # a mount point made at create may have been taken away since by another runtime on this host
        # (another cluster's) whose last container using it went: make it again before mounting on it
        try:
            self.mount_points.make([Mount(**m) for m in doc["spec"]["mounts"]])
        except OSError as e:
            raise RuntimeError_(f"making the container's mount points: {e}") from e
        proc = await self._spawn_shim("run", cdir, stdin=asyncio.subprocess.DEVNULL,
                                      stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), SHIM_REPLY_TIMEOUT)
        finally:
            code = await proc.wait()     # the shim's first process; the shim itself lives on
        if not line:
            raise RuntimeError_(f"the container's shim exited with {code} before starting it: "
                                f"{_tail(os.path.join(cdir, SHIM_LOG))}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError_(reply["error"])

    def _started(self, container_id: str) -> dict | None:
        return self._read(os.path.join(self._dir(container_id), STARTED_FILE))

    def _running(self, container_id: str) -> dict | None:
        """The started record of a container still running, else None."""
        started = self._started(container_id)
        return started if started and self._still_running(container_id, started) else None

    def _still_running(self, container_id: str, started: dict) -> bool:
        # running until the shim has recorded the end, or until neither the shim nor the process lives
        return not os.path.exists(os.path.join(self._dir(container_id), EXITED_FILE)) and (
            alive(started["shim_pid"], started["shim_start"]) or alive(started["pid"], started["pid_start"]))

    async def stop_container(self, container_id: str, timeout: float) -> None:
        started = self._running(container_id)
        if started is None:
            return
        _signal_group(started, signal.SIGTERM)
        if await self._wait_stopped(container_id, timeout):
            return
        _signal_group(started, signal.SIGKILL)
        cgroup = self._doc(container_id)["spec"]["cgroup"]
        if cgroup:
            Cgroup(**cgroup).kill()
        if not await self._wait_stopped(container_id, KILL_TIMEOUT):
            raise RuntimeError_(f"container {container_id} still runs {KILL_TIMEOUT}s after SIGKILL")

    async def _wait_stopped(self, container_id: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._running(container_id) is not None:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_INTERVAL)
        return True

    async def remove_container(self, container_id: str) -> None:
        doc = self._doc(container_id)
        if doc is None:
            return
        await self.stop_container(container_id, 0)
        if doc["spec"]["cgroup"]:
            try:
                await asyncio.to_thread(Cgroup(**doc["spec"]["cgroup"]).remove)
            except CgroupError as e:
                raise RuntimeError_(str(e)) from e
        self.mount_points.release([m["container_path"] for m in doc["spec"]["mounts"]])
        shutil.rmtree(self._dir(container_id), ignore_errors=True)
        self._forget(self._dir(container_id) + os.sep)

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        out = []
        for cid in sorted(os.listdir(self._containers_dir)):
            doc = self._doc(cid)
            if doc is not None and (sandbox_id is None or doc["sandbox_id"] == sandbox_id):
                out.append(self._status(doc))
        return out

    async def container_status(self, container_id: str) -> ContainerStatus | None:
        doc = self._doc(container_id)
        return self._status(doc) if doc else None

    def _status(self, doc: dict) -> ContainerStatus:
        cfg, cid = doc["config"], doc["id"]
        status = ContainerStatus(
            id=cid, name=cfg["name"], sandbox_id=doc["sandbox_id"], state="created",
            created_at=doc["created_at"], image=cfg["image"], image_id=_image_id(cfg["image"]),
            attempt=cfg["attempt"], labels=cfg["labels"], log_path=doc["spec"]["log_path"])
        started = self._started(cid)
        if started:
            status.started_at = started["started_at"]
            if self._still_running(cid, started):
                status.state = "running"
                return status
        exited = self._read(os.path.join(self._dir(cid), EXITED_FILE))
        if exited:
            status.state = "exited"
            status.exit_code, status.reason = exited["exit_code"], exited["reason"]
            status.message, status.finished_at = exited["message"], exited["finished_at"]
        elif started:
            status.state, status.exit_code, status.reason = "exited", EXIT_UNKNOWN, "Error"
            status.message = "the container's shim died without recording how the container ended"
        return status

    # --- exec and stats ---------------------------------------------------------------------------

    async def exec(self, container_id: str, command: list[str], stdin: bool = False,
                   tty: bool = False) -> ProcessExecSession:
        if self._running(container_id) is None:
            raise RuntimeError_(f"container {container_id} is not running")
        args = ["exec", self._dir(container_id), *(["--tty"] if tty else []), "--", *command]
        if not tty:
            pipe = asyncio.subprocess.PIPE
            proc = await self._spawn_shim(*args, stdin=pipe if stdin else asyncio.subprocess.DEVNULL,
                                          stdout=pipe, stderr=pipe, start_new_session=True)
            return ProcessExecSession(proc)
        master, slave = os.openpty()
        try:
            proc = await self._spawn_shim(*args, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        finally:
            os.close(slave)
        return ProcessExecSession(proc, master)

    async def exec_sync(self, container_id: str, command: list[str], timeout: float) -> tuple[int, bytes]:
        session = await self.exec(container_id, command)
        out = bytearray()

        async def run() -> int:
            async for _stream, chunk in session.output():
                out.extend(chunk)
            return await session.wait()

        try:
            return await asyncio.wait_for(run(), timeout), bytes(out)
        except asyncio.TimeoutError:
            await session.kill()
            await session.wait()
            raise TimeoutError(f"command {command} timed out after {timeout}s") from None

    async def stats(self, container_id: str) -> ContainerStats | None:
        started = self._running(container_id)
        if started is None:
            return None
        cgroup = self._doc(container_id)["spec"]["cgroup"]
        if cgroup:
            cg = Cgroup(**cgroup)
            return ContainerStats(cg.cpu_usage_ns(), cg.memory_working_set(), time.time())
        return _process_tree_stats(started["pid"])

    async def filesystem(self, path: str) -> FilesystemStats:
        return await asyncio.to_thread(host_filesystem, path)


class ProcessExecSession:
    """An exec'd command: pipes for stdout/stderr (and stdin when asked), or one pty for all three."""

    def __init__(self, proc: asyncio.subprocess.Process, pty_master: int | None = None):
        self._proc = proc
        self._master = pty_master
        self._chunks: asyncio.Queue = asyncio.Queue()
        if pty_master is None:
            self._open = 2
            self._pumps = [asyncio.create_task(self._pump(name, stream))
                           for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr))]
        else:
            self._open = 1
            os.set_blocking(pty_master, False)
            asyncio.get_running_loop().add_reader(pty_master, self._read_pty)

    async def _pump(self, name: str, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self._chunks.put_nowait((name, chunk))
        self._chunks.put_nowait(None)

    def _read_pty(self) -> None:
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError:          # EIO: every holder of the pty's other side is gone
            data = b""
        if data:
            self._chunks.put_nowait(("stdout", data))
            return
        asyncio.get_running_loop().remove_reader(self._master)
        os.close(self._master)
        self._master = None
        self._chunks.put_nowait(None)

    async def output(self):
        while self._open:
            item = await self._chunks.get()
            if item is None:
                self._open -= 1
            else:
                yield item

    async def write_stdin(self, data: bytes) -> None:
        if self._master is None and self._proc.stdin is None:
            return
        if self._master is None:
            self._proc.stdin.write(data)
            await self._proc.stdin.drain()
            return
        while data:
            try:
                data = data[os.write(self._master, data):]
            except BlockingIOError:
                await asyncio.sleep(POLL_INTERVAL)

    async def close_stdin(self) -> None:
        if self._master is not None:
            await self.write_stdin(b"\x04")      # a terminal's end of input
        elif self._proc.stdin is not None:
            self._proc.stdin.close()

    async def resize(self, width: int, height: int) -> None:
        if self._master is not None:
            fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def wait(self) -> int:
        code = await self._proc.wait()
        return 128 - code if code < 0 else code

    async def kill(self) -> None:
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _image_id(image: str) -> str:
    return f"process://{image}"


def _signal_group(started: dict, sig: int) -> None:
    """Signals the container's process group, unless its leader's pid now names another process."""
    if alive(started["pid"], started["pid_start"]):
        try:
            os.killpg(started["pid"], sig)
        except ProcessLookupError:
            pass


def _resolv_conf_mount(sandbox: dict) -> list[dict]:
    """The pod's resolv.conf (kubelet/dns.py) as a read-only mount, where the sandbox has one."""
    path = sandbox.get("resolv_conf")
    return [asdict(Mount(path, "/etc/resolv.conf", read_only=True))] if path else []


class HostMountPoints:
    """The mount points this runtime made on the host for volumes whose mountPath did not exist there.
    They are registered in a file rather than with the container that made them, since other
    containers may mount on them too: whichever is removed last takes them away. One still mounted on
    in any mount namespace stays, as removing it would silently detach those mounts."""

    def __init__(self, registry_path: str):
        self.registry_path = registry_path

    def _load(self) -> set[str]:
        return set((read_json(self.registry_path) or {}).get("paths", []))

    def _save(self, paths: set[str]) -> None:
        write_json(self.registry_path, {"paths": sorted(paths)})

    def make(self, mounts: list[Mount]) -> None:
        registry = self._load()
        try:
            for m in mounts:
                path, missing = m.container_path, []
                while not os.path.lexists(path):
                    missing.append(path)
                    path = os.path.dirname(path)
                for p in reversed(missing):
                    if p == m.container_path and not os.path.isdir(m.host_path):
                        open(p, "a").close()
                    else:
                        os.mkdir(p)
                    registry.add(p)
        finally:
            self._save(registry)

    def release(self, container_paths: list[str]) -> None:
        registry = self._load()
        ours = [p for p in registry if any(t == p or t.startswith(p + "/") for t in container_paths)]
        for p in sorted(ours, key=len, reverse=True):
            if _mounted_on_anywhere(p):
                continue
            try:
                if os.path.isdir(p):
                    os.rmdir(p)
                elif os.path.getsize(p) == 0:
                    os.unlink(p)
            except FileNotFoundError:
                pass
            except OSError:
                continue       # not empty: something of the host's is in it now
            registry.discard(p)
        self._save(registry)


def _mounted_on_anywhere(path: str) -> bool:
    """Whether some mount namespace on this machine has a mount at or below `path`."""
    seen = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            ns = os.stat(f"/proc/{pid}/ns/mnt").st_ino
            if ns in seen:
                continue
            seen.add(ns)
            with open(f"/proc/{pid}/mountinfo") as f:
                points = [line.split()[4].encode().decode("unicode_escape") for line in f]
        except OSError:
            continue
        if any(p == path or p.startswith(path + "/") for p in points):
            return True
    return False


def _process_tree_stats(pid: int) -> ContainerStats | None:
    """Usage without a cgroup: the container's process and its descendants, from /proc."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return None
    cpu = mem = 0
    for p in procs:
        try:
            t = p.cpu_times()
            cpu += int((t.user + t.system + t.children_user + t.children_system) * 1e9)
            mem += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return ContainerStats(cpu, mem, time.time())


def _tail(path: str, n: int = 2000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - n))
            return f.read().decode(errors="replace").strip() or "(no output)"
    except FileNotFoundError:
        return "(no shim log)"
