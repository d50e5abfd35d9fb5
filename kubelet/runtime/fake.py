"""The fake runtime: pods without processes, for simulating many nodes in one process.

A started container is Running at once and stays so unless the pod asks otherwise through annotations
(ContainerConfig.annotations carries the pod's); each key may be suffixed with `.<container name>` to
apply to one container only (`fake.minik8s.io/exit-after-seconds.init-db: "0"`), which wins over the
plain key:

  fake.minik8s.io/exit-after-seconds  "5"     the container exits this long after it started
  fake.minik8s.io/exit-code           "1"     its exit code then (default 0: Completed; else Error)
  fake.minik8s.io/cpu-millis          "250"   CPU it uses while running, in millicores
  fake.minik8s.io/memory-bytes        "64Mi"  memory it uses while running (a quantity)

Time is the injected clock's, so a FakeClock drives completions and usage. Nothing runs per
container: exits wait in one heap of deadlines, settled whenever the runtime is asked anything.
Sandboxes get IPs from the node's pod CIDR (127.0.0.1 with host network). exec answers every command
with the command line echoed on stdout and exit code 0. A container's log gets one line when it
starts and one when it exits. Stopping a running container ends it with 143 (SIGTERM's code). Statuses are returned as copies, so
a caller comparing old and new sees the change. `network_problem` plays a node whose pod network
cannot be set up; `filesystem_stats` is the node's disk as the eviction manager sees it (100 Gi, all
free, until a test or lesson fills it)."""
from __future__ import annotations

import copy
import heapq
import ipaddress
import itertools
import uuid
from dataclasses import dataclass

from minik8s.api.clock import Clock
from minik8s.api.quantity import QuantityError, bytes_value
from kubelet.runtime.base import (
    ContainerConfig, ContainerStats, ContainerStatus, CreateContainerError, FilesystemStats, RuntimeError_,
    SandboxConfig, SandboxStatus, cri_timestamp,
)

ANNOTATION_EXIT_AFTER = "fake.minik8s.io/exit-after-seconds"
ANNOTATION_EXIT_CODE = "fake.minik8s.io/exit-code"
ANNOTATION_CPU_MILLIS = "fake.minik8s.io/cpu-millis"
ANNOTATION_MEMORY_BYTES = "fake.minik8s.io/memory-bytes"
HOST_NETWORK_IP = "127.0.0.1"
STOPPED_EXIT_CODE = 143
FILESYSTEM_BYTES = 100 * 1024 ** 3


@dataclass(slots=True)
class _Behaviour:
    exit_after: float | None
    exit_code: int
    cpu_millis: int
    memory_bytes: int


def _behaviour(cfg: ContainerConfig) -> _Behaviour:
    def get(key: str) -> str | None:
        return cfg.annotations.get(f"{key}.{cfg.name}", cfg.annotations.get(key))

    def parse(key: str, convert, default):
        raw = get(key)
        if raw is None:
            return default
        try:
            value = convert(raw)
        except (ValueError, QuantityError):
            value = -1
        if value < 0:
            raise CreateContainerError(f"annotation {key}: {raw!r} is not a non-negative number")
        return value

    return _Behaviour(parse(ANNOTATION_EXIT_AFTER, float, None), parse(ANNOTATION_EXIT_CODE, int, 0),
                      parse(ANNOTATION_CPU_MILLIS, int, 0), parse(ANNOTATION_MEMORY_BYTES, bytes_value, 0))


@dataclass(slots=True)
class _Container:
    status: ContainerStatus
    behaviour: _Behaviour
    started_mono: float = 0.0


class FakeExecSession:
    """The canned reply: the command line on stdout, exit code 0."""

    def __init__(self, command: list[str]):
        self.reply = (" ".join(command) + "\n").encode()

    async def write_stdin(self, data: bytes) -> None:
        pass

    async def close_stdin(self) -> None:
        pass

    async def resize(self, width: int, height: int) -> None:
        pass

    async def output(self):
        yield "stdout", self.reply

    async def wait(self) -> int:
        return 0

    async def kill(self) -> None:
        pass


class _PodIPs:
    """Addresses of the pod CIDR, the gateway (.1) kept back; released ones are handed out again first."""

    def __init__(self, pod_cidr: str):
        net = ipaddress.IPv4Network(pod_cidr)
        self._base, self._size = int(net.network_address), net.num_addresses
        self._next = 2
        self._free: list[int] = []

    def allocate(self) -> str:
        if self._free:
            return str(ipaddress.IPv4Address(heapq.heappop(self._free)))
        if self._next >= self._size - 1:
            raise RuntimeError_("no free pod IP left in the node's pod CIDR")
        self._next += 1
        return str(ipaddress.IPv4Address(self._base + self._next - 1))

    def release(self, ip: str) -> None:
        heapq.heappush(self._free, int(ipaddress.IPv4Address(ip)))


class FakeRuntime:
    name = "fake"

    def __init__(self, node_name: str, pod_cidr: str, clock: Clock | None = None):
        self.node_name = node_name
        self.clock = clock or Clock()
        self._ips = _PodIPs(pod_cidr)
        self._sandboxes: dict[str, SandboxStatus] = {}
        self._host_network: set[str] = set()
        self._containers: dict[str, _Container] = {}
        self._exits: list[tuple[float, int, str]] = []    # (monotonic deadline, tiebreak, container id)
        self._seq = itertools.count()
        # set it to a cause to play a node whose pod network cannot be set up: the network is not ready
        # and sandboxes other than host-network ones fail
        self.network_problem: str | None = None
        # the node's filesystem as the eviction manager sees it: set `available_bytes` low to play a
        # full disk (nothing is written to a real one)
        self.filesystem_stats = FilesystemStats(FILESYSTEM_BYTES, FILESYSTEM_BYTES)

    def holds_nothing(self) -> bool:
        """No sandbox and no container: a relist would find nothing (a host of many fake nodes skips it)."""
        return not self._sandboxes and not self._containers

    async def version(self) -> str:
        return "fake 0.1"

    async def network_ready(self) -> str | None:
        return self.network_problem

    def describe(self) -> dict[str, str]:
        return {"runtime": "fake", "image": "ignored: nothing runs", "exec": "echoes the command, exit 0",
                "behaviour": "set by fake.minik8s.io/* pod annotations"}

    async def pull_image(self, image: str, policy: str) -> str:
        return f"fake://{image}"

    async def run_sandbox(self, cfg: SandboxConfig) -> SandboxStatus:
        if self.network_problem and not cfg.host_network:
            raise RuntimeError_(f"cannot create the pod network: {self.network_problem}")
        sid = uuid.uuid4().hex
        ip = HOST_NETWORK_IP if cfg.host_network else self._ips.allocate()
        if cfg.host_network:
            self._host_network.add(sid)
        self._sandboxes[sid] = SandboxStatus(id=sid, pod_uid=cfg.pod_uid, namespace=cfg.namespace, name=cfg.name,
                                             ready=True, ip=ip, created_at=self.clock.now(), labels=dict(cfg.labels))
        return copy.copy(self._sandboxes[sid])

    async def stop_sandbox(self, sandbox_id: str) -> None:
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None or not sandbox.ready:
            return
        for c in self._in_sandbox(sandbox_id):
            await self.stop_container(c.status.id, 0)
        sandbox.ready = False
        if sandbox_id not in self._host_network:
            self._ips.release(sandbox.ip)

    async def remove_sandbox(self, sandbox_id: str) -> None:
        await self.stop_sandbox(sandbox_id)
        for c in self._in_sandbox(sandbox_id):
            del self._containers[c.status.id]
        self._sandboxes.pop(sandbox_id, None)
        self._host_network.discard(sandbox_id)

    async def list_sandboxes(self) -> list[SandboxStatus]:
        return [copy.copy(s) for s in self._sandboxes.values()]

    def _in_sandbox(self, sandbox_id: str) -> list[_Container]:
        return [c for c in self._containers.values() if c.status.sandbox_id == sandbox_id]

    async def create_container(self, sandbox_id: str, cfg: ContainerConfig) -> str:
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None or not sandbox.ready:
            raise CreateContainerError(f"sandbox {sandbox_id} is not ready")
        cid = uuid.uuid4().hex
        status = ContainerStatus(id=cid, name=cfg.name, sandbox_id=sandbox_id, state="created",
                                 created_at=self.clock.now(), image=cfg.image, image_id=f"fake://{cfg.image}",
                                 attempt=cfg.attempt, labels=dict(cfg.labels), log_path=cfg.log_path)
        self._containers[cid] = _Container(status, _behaviour(cfg))
        return cid

    def _container(self, container_id: str) -> _Container:
        c = self._containers.get(container_id)
        if c is None:
            raise RuntimeError_(f"no container {container_id}")
        return c

    async def start_container(self, container_id: str) -> None:
        c = self._container(container_id)
        if c.status.state != "created":
            raise RuntimeError_(f"container {container_id} was already started")
        c.status.state, c.status.started_at = "running", self.clock.now()
        c.started_mono = self.clock.monotonic()
        if c.behaviour.exit_after is not None:
            heapq.heappush(self._exits, (c.started_mono + c.behaviour.exit_after, next(self._seq), container_id))
        self._log(c, f"fake runtime: container {c.status.name} started")

    def _settle(self) -> None:
        """Ends every container whose simulated run is over by now."""
        now = self.clock.monotonic()
        while self._exits and self._exits[0][0] <= now:
            _, _, cid = heapq.heappop(self._exits)
            c = self._containers.get(cid)
            if c is not None and c.status.state == "running":
                self._exit(c, c.behaviour.exit_code, c.status.started_at + c.behaviour.exit_after)

    def _exit(self, c: _Container, code: int, at: float) -> None:
        s = c.status
        s.state, s.exit_code, s.finished_at = "exited", code, at
        s.reason = "Completed" if code == 0 else "Error"
        self._log(c, f"fake runtime: container {s.name} exited with code {code}", at)

    def _log(self, c: _Container, line: str, at: float | None = None) -> None:
        if c.status.log_path:
            with open(c.status.log_path, "a") as f:
                f.write(f"{cri_timestamp(self.clock.now() if at is None else at)} stdout F {line}\n")

    async def stop_container(self, container_id: str, timeout: float) -> None:
        self._settle()
        c = self._container(container_id)
        if c.status.state == "running":
            self._exit(c, STOPPED_EXIT_CODE, self.clock.now())

    async def remove_container(self, container_id: str) -> None:
        self._containers.pop(container_id, None)

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        self._settle()
        found = self._containers.values() if sandbox_id is None else self._in_sandbox(sandbox_id)
        return [copy.copy(c.status) for c in found]

    async def container_status(self, container_id: str) -> ContainerStatus | None:
        self._settle()
        c = self._containers.get(container_id)
        return copy.copy(c.status) if c else None

    async def exec(self, container_id: str, command: list[str], stdin: bool = False,
                   tty: bool = False) -> FakeExecSession:
        self._settle()
        if self._container(container_id).status.state != "running":
            raise RuntimeError_(f"container {container_id} is not running")
        return FakeExecSession(command)

    async def exec_sync(self, container_id: str, command: list[str], timeout: float) -> tuple[int, bytes]:
        session = await self.exec(container_id, command)
        return 0, session.reply

    async def stats(self, container_id: str) -> ContainerStats | None:
        self._settle()
        c = self._containers.get(container_id)
        if c is None or c.status.state != "running":
            return None
        elapsed = self.clock.monotonic() - c.started_mono
        return ContainerStats(int(c.behaviour.cpu_millis * 1_000_000 * elapsed), c.behaviour.memory_bytes,
                              self.clock.now())

    async def filesystem(self, path: str) -> FilesystemStats:
        return copy.copy(self.filesystem_stats)
