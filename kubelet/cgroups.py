"""CPU and memory limits for host processes through cgroups, v1 or v2.

`Cgroups` finds the hierarchy this machine uses and makes one cgroup per container under a `minik8s`
parent nested in the kubelet's own cgroup (so a kubelet run inside a limited slice keeps its pods
inside that slice too). A `Cgroup` is what a container gets: plain data (a directory per controller)
that a runtime stores and any process (the runtime's shim) can use to join, read usage, detect OOM
kills and remove it. Where cgroups cannot be used, `available()` says why and `create` raises
`CgroupError` with that reason: callers run the process unlimited and report the reason."""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

CGROUP_ROOT = "/sys/fs/cgroup"
CFS_PERIOD_US = 100_000
V1_CONTROLLERS = ("cpu", "cpuacct", "memory")


class CgroupError(Exception):
    pass


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _flat_keyed(path: str) -> dict[str, int]:
    """A cgroup `key value` file (memory.stat, cpu.stat, memory.events, memory.oom_control)."""
    out = {}
    for line in _read(path).splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def cpu_shares(request_millis: int) -> int:
    """Upstream's MilliCPUToShares: 1024 shares a core, 2 for no request (BestEffort)."""
    return max(2, request_millis * 1024 // 1000) if request_millis else 2


def shares_to_weight(shares: int) -> int:
    """Upstream's cgroup v2 conversion of cpu.shares [2, 262144] to cpu.weight [1, 10000]."""
    return 1 + ((shares - 2) * 9999) // 262142


@dataclass
class Cgroup:
    """One container's cgroup: a directory per v1 controller, or the one v2 directory ("unified")."""
    version: int
    dirs: dict[str, str]

    def _dir(self, controller: str) -> str:
        return self.dirs["unified"] if self.version == 2 else self.dirs[controller]

    def join(self, pid: int) -> None:
        for d in sorted(set(self.dirs.values())):
            _write(os.path.join(d, "cgroup.procs"), str(pid))

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in _read(os.path.join(self._dir("memory"), "cgroup.procs")).split()]
        except FileNotFoundError:
            return []

    def cpu_usage_ns(self) -> int:
        if self.version == 2:
            return _flat_keyed(os.path.join(self._dir("cpu"), "cpu.stat"))["usage_usec"] * 1000
        return int(_read(os.path.join(self._dir("cpuacct"), "cpuacct.usage")))

    def memory_working_set(self) -> int:
        """Usage less inactive page cache, as the kubelet (cAdvisor) reports a container's memory."""
        d = self._dir("memory")
        if self.version == 2:
            usage = int(_read(os.path.join(d, "memory.current")))
            inactive = _flat_keyed(os.path.join(d, "memory.stat")).get("inactive_file", 0)
        else:
            usage = int(_read(os.path.join(d, "memory.usage_in_bytes")))
            inactive = _flat_keyed(os.path.join(d, "memory.stat")).get("total_inactive_file", 0)
        return max(0, usage - inactive)

    def oom_kills(self) -> int:
        d = self._dir("memory")
        try:
            if self.version == 2:
                return _flat_keyed(os.path.join(d, "memory.events")).get("oom_kill", 0)
            return _flat_keyed(os.path.join(d, "memory.oom_control")).get("oom_kill", 0)
        except FileNotFoundError:
            return 0

    def kill(self) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def remove(self, timeout: float = 5.0) -> None:
        """Kills what is left inside, then removes the directories (a cgroup with tasks is busy
        until the killed tasks are reaped, hence the bounded retry)."""
        deadline = time.monotonic() + timeout
        for d in sorted(set(self.dirs.values())):
            while True:
                self.kill()
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if time.monotonic() > deadline:
                        raise CgroupError(f"cannot remove cgroup {d}: {e}") from e
                    time.sleep(0.02)


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(mount root, mount point, fstype, super options) of each cgroup mount."""
    out = []
    for line in _read("/proc/self/mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        fields, (fstype, _, superopts) = left.split(), right.split()[:3]
        if fstype in ("cgroup", "cgroup2"):
            out.append((fields[3], fields[4], fstype, set(superopts.split(","))))
    return out


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup path per v1 controller, and per "unified" for v2."""
    out = {}
    for line in _read("/proc/self/cgroup").splitlines():
        _hid, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else ["unified"]:
            out[c] = path
    return out


def _under_mount(mount_root: str, mount_point: str, path: str) -> str:
    if mount_root != "/" and path.startswith(mount_root):
        path = path[len(mount_root):]
    return os.path.join(mount_point, path.lstrip("/"))


class Cgroups:
    """Creates containers' cgroups. Detection happens once, at construction."""

    def __init__(self, parent: str = "minik8s", root: str = CGROUP_ROOT):
        self.version = 0
        self._parents: dict[str, str] = {}
        self._reason: str | None = None
        try:
            self._detect(parent, root)
        except (OSError, ValueError, IndexError) as e:
            self._reason = f"cannot read this machine's cgroups: {e}"

    def _detect(self, parent: str, root: str) -> None:
        own = _own_cgroups()
        if os.path.exists(os.path.join(root, "cgroup.controllers")):
            self.version = 2
            mount = next((m for m in _mounts() if m[2] == "cgroup2"), ("/", root, "cgroup2", set()))
            base = _under_mount(mount[0], mount[1], own.get("unified", "/"))
            self._parents = {"unified": os.path.join(base, parent)}
            self._reason = self._v2_problem(base, mount[1])
        else:
            for mroot, point, fstype, opts in _mounts():
                for c in V1_CONTROLLERS:
                    if fstype == "cgroup" and c in opts and c in own:
                        self._parents[c] = os.path.join(_under_mount(mroot, point, own[c]), parent)
            missing = [c for c in V1_CONTROLLERS if c not in self._parents]
            if missing:
                self._reason = f"no cgroup v1 hierarchy for {', '.join(missing)} and no cgroup v2"
                return
            self.version = 1
            self._reason = next((f"cannot write to {os.path.dirname(p)}" for p in self._parents.values()
                                 if not os.access(os.path.dirname(p), os.W_OK)), None)

    @staticmethod
    def _v2_problem(base: str, mount_point: str) -> str | None:
        if not os.access(base, os.W_OK):
            return f"cannot write to {base}"
        enabled = set(_read(os.path.join(base, "cgroup.controllers")).split())
        if not {"cpu", "memory"} <= enabled:
            return f"the cpu and memory controllers are not delegated to {base}"
        if base != mount_point and _read(os.path.join(base, "cgroup.procs")).strip():
            # v2's no-internal-processes rule: controllers cannot be enabled below a cgroup that
            # holds processes itself (the root cgroup excepted)
            return f"the kubelet's cgroup {base} holds processes, so no controllers can be enabled below it"
        return None

    def available(self) -> str | None:
        """None when limits can be enforced, else the reason they cannot."""
        return self._reason

    def describe(self) -> str:
        return f"enforced by cgroup v{self.version}" if self._reason is None else f"not enforced: {self._reason}"

    def create(self, name: str, cpu_request_millis: int = 0, cpu_limit_millis: int = 0,
               memory_limit_bytes: int = 0) -> Cgroup:
        if self._reason is not None:
            raise CgroupError(self._reason)
        try:
            return self._create(name, cpu_request_millis, cpu_limit_millis, memory_limit_bytes)
        except OSError as e:
            raise CgroupError(f"cannot create cgroup {name}: {e}") from e

    def _create(self, name: str, request: int, limit: int, memory: int) -> Cgroup:
        shares = cpu_shares(request)
        quota = max(1000, limit * CFS_PERIOD_US // 1000) if limit else 0
        if self.version == 2:
            parent = self._parents["unified"]
            os.makedirs(parent, exist_ok=True)
            for d in (os.path.dirname(parent), parent):
                _write(os.path.join(d, "cgroup.subtree_control"), "+cpu +memory")
            d = os.path.join(parent, name)
            os.makedirs(d, exist_ok=True)
            _write(os.path.join(d, "cpu.max"), f"{quota or 'max'} {CFS_PERIOD_US}")
            _write(os.path.join(d, "cpu.weight"), str(shares_to_weight(shares)))
            _write(os.path.join(d, "memory.max"), str(memory) if memory else "max")
            return Cgroup(2, {"unified": d})
        dirs = {c: os.path.join(p, name) for c, p in self._parents.items()}
        for d in dirs.values():
            os.makedirs(d, exist_ok=True)
        _write(os.path.join(dirs["cpu"], "cpu.cfs_period_us"), str(CFS_PERIOD_US))
        _write(os.path.join(dirs["cpu"], "cpu.cfs_quota_us"), str(quota or -1))
        _write(os.path.join(dirs["cpu"], "cpu.shares"), str(shares))
        _write(os.path.join(dirs["memory"], "memory.limit_in_bytes"), str(memory) if memory else "-1")
        return Cgroup(1, dirs)

    def prune(self) -> None:
        """Removes the empty `minik8s` parents (a kubelet shutting down for good, or tests)."""
        for d in set(self._parents.values()):
            try:
                os.rmdir(d)
            except OSError:
                pass
