"""The runtime interface the kubelet drives, shaped after the CRI: pod sandboxes (the network and
shared namespace a pod's containers live in) and containers inside them. Every runtime (docker,
process, fake) implements `Runtime`; the kubelet knows nothing else about them.

Runtimes write each container's output to `ContainerConfig.log_path` in the CRI log format
(`<RFC3339Nano> stdout|stderr F <line>`), capped in size by `LogWriter`."""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import AsyncIterator, Protocol

from kubelet.dns import DNSConfig

# labels every runtime puts on sandboxes and containers so a restarted kubelet can adopt them
LABEL_POD_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_POD_NAME = "io.kubernetes.pod.name"
LABEL_POD_UID = "io.kubernetes.pod.uid"
LABEL_CONTAINER_NAME = "io.kubernetes.container.name"
LABEL_ATTEMPT = "io.kubernetes.container.restartCount"
LABEL_NODE = "minik8s.io/node"


class RuntimeError_(Exception):
    """Base of runtime failures; `reason` is the container waiting reason the kubelet reports."""
    reason = "RunContainerError"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ImagePullError(RuntimeError_):
    reason = "ErrImagePull"


class ImageNeverPullError(RuntimeError_):
    reason = "ErrImageNeverPull"


class CreateContainerError(RuntimeError_):
    reason = "CreateContainerError"


@dataclass
class PortMapping:
    container_port: int
    host_port: int = 0
    protocol: str = "TCP"
    host_ip: str = ""


@dataclass
class SandboxConfig:
    pod_uid: str
    namespace: str
    name: str
    hostname: str
    labels: dict[str, str] = field(default_factory=dict)   # includes the LABEL_* keys
    port_mappings: list[PortMapping] = field(default_factory=list)
    host_network: bool = False
    log_dir: str = ""
    dns_config: DNSConfig | None = None      # written as every container's /etc/resolv.conf (kubelet/dns.py)


@dataclass
class SandboxStatus:
    id: str
    pod_uid: str
    namespace: str
    name: str
    ready: bool
    ip: str = ""
    created_at: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Mount:
    host_path: str
    container_path: str
    read_only: bool = False


@dataclass
class ContainerConfig:
    name: str
    image: str
    image_pull_policy: str = "IfNotPresent"
    command: list[str] = field(default_factory=list)   # replaces the image entrypoint when set
    args: list[str] = field(default_factory=list)      # replaces the image cmd when set
    working_dir: str = ""
    env: dict[str, str] = field(default_factory=dict)
    mounts: list[Mount] = field(default_factory=list)
    cpu_request_millis: int = 0
    cpu_limit_millis: int = 0
    memory_limit_bytes: int = 0
    gpu_devices: list[str] = field(default_factory=list)  # GPU UUIDs/indexes given to this container
    tty: bool = False
    stdin: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    log_path: str = ""
    attempt: int = 0
    annotations: dict[str, str] = field(default_factory=dict)   # the pod's (fake runtime reads them)


@dataclass
class ContainerStatus:
    id: str
    name: str
    sandbox_id: str
    state: str                    # created | running | exited | unknown
    exit_code: int = 0
    reason: str = ""              # for exited: Completed | Error | OOMKilled
    message: str = ""
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    image: str = ""
    image_id: str = ""
    attempt: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    log_path: str = ""


@dataclass
class FilesystemStats:
    capacity_bytes: int
    available_bytes: int


def host_filesystem(path: str) -> FilesystemStats:
    """The real size and free space of the filesystem holding `path`."""
    usage = shutil.disk_usage(path)
    return FilesystemStats(usage.total, usage.free)


@dataclass
class ContainerStats:
    cpu_usage_ns: int             # cumulative CPU time
    memory_bytes: int             # working set
    timestamp: float = 0.0


class ExecSession(Protocol):
    async def write_stdin(self, data: bytes) -> None: ...
    async def close_stdin(self) -> None: ...
    async def resize(self, width: int, height: int) -> None: ...
    def output(self) -> AsyncIterator[tuple[str, bytes]]: ...   # ("stdout"|"stderr", chunk)
    async def wait(self) -> int: ...                             # exit code
    async def kill(self) -> None: ...


class Runtime(Protocol):
    name: str

    async def version(self) -> str: ...
    # CRI's NetworkReady condition: None when pods can get a network (sets it up where it is missing),
    # else why not; the node is not Ready meanwhile
    async def network_ready(self) -> str | None: ...
    async def run_sandbox(self, cfg: SandboxConfig) -> SandboxStatus: ...
    async def stop_sandbox(self, sandbox_id: str) -> None: ...
    async def remove_sandbox(self, sandbox_id: str) -> None: ...
    async def list_sandboxes(self) -> list[SandboxStatus]: ...
    async def pull_image(self, image: str, policy: str) -> str: ...   # -> image id; raises ImagePullError
    async def create_container(self, sandbox_id: str, cfg: ContainerConfig) -> str: ...
    async def start_container(self, container_id: str) -> None: ...
    async def stop_container(self, container_id: str, timeout: float) -> None: ...  # TERM, wait, KILL
    async def remove_container(self, container_id: str) -> None: ...
    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]: ...
    async def container_status(self, container_id: str) -> ContainerStatus | None: ...
    async def exec(self, container_id: str, command: list[str], stdin: bool = False,
                   tty: bool = False) -> ExecSession: ...
    async def exec_sync(self, container_id: str, command: list[str], timeout: float) -> tuple[int, bytes]: ...
    async def stats(self, container_id: str) -> ContainerStats | None: ...
    # the filesystem the node's root directory `path` lives on (logs, volumes): the eviction
    # manager's nodefs signal
    async def filesystem(self, path: str) -> FilesystemStats: ...
    def describe(self) -> dict[str, str]: ...    # notes for `minictl describe` (e.g. "image ignored")


def cri_timestamp(ts: float | None = None) -> str:
    ts = time.time() if ts is None else ts
    dt = datetime.fromtimestamp(ts, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int((ts % 1) * 1e9):09d}Z"


class LogWriter:
    """Appends CRI-format lines to a container log, rotating once it passes max_bytes (one old file
    kept as `<path>.1`), so a chatty container cannot fill the disk."""

    def __init__(self, path: str, max_bytes: int = 10 * 1024 * 1024):
        self.path = path
        self.max_bytes = max_bytes
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._f = open(path, "ab")
        self._partial = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        buf = self._partial[stream] + data
        *lines, rest = buf.split(b"\n")
        self._partial[stream] = rest
        if lines:
            ts = cri_timestamp().encode()
            self._f.write(b"".join(ts + b" " + stream.encode() + b" F " + ln + b"\n" for ln in lines))
            self._f.flush()
            if self._f.tell() > self.max_bytes:
                self._rotate()

    def _rotate(self) -> None:
        self._f.close()
        os.replace(self.path, self.path + ".1")
        self._f = open(self.path, "ab")

    def close(self) -> None:
        for stream, rest in self._partial.items():
            if rest:
                ts = cri_timestamp().encode()
                self._f.write(ts + b" " + stream.encode() + b" P " + rest + b"\n")
        self._partial = {"stdout": b"", "stderr": b""}
        self._f.close()
