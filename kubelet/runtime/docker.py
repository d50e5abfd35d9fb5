"""DockerRuntime: the kubelet's Runtime on a Docker engine, shaped after the kubelet's old dockershim.

A pod sandbox is a pause container on the node's own bridge network (`minik8s-<node>`, subnet = the
node's pod CIDR); the pod's containers join its network and IPC namespaces (`container:<pause id>`),
so they share one IP and localhost, and the host reaches that IP through the bridge. Nothing is
published outside the host: a hostPort binds to 127.0.0.1 unless the pod names a host IP.

Every sandbox and container carries the LABEL_* labels plus dockershim's type, sandbox-id and
log-path labels: that is all a restarted kubelet needs to find, and adopt, what is still running.

Output goes to docker's json-file log; a follower thread per stream copies it into the CRI log at
ContainerConfig.log_path and records under state_dir how far it got, so a follower started after a
kubelet restart resumes where the last one stopped.

The Docker SDK blocks, so every call runs on this runtime's own thread pool: a `docker stop` that
waits out a grace period must not starve the event loop's default executor.

A pod start is on the engine's critical path, so it asks only what it cannot know: a sandbox is one
create with its full config, a start and an inspect (for its IP); a container one create and a start.
The node's network and the images are taken as present (the network once made, the images as the
kubelet's pull left them) and looked after only when a create answers 404 for them; what a sandbox
or a container was made with (labels, log path) is remembered rather than inspected again."""
from __future__ import annotations

import asyncio
import calendar
import functools
import ipaddress
import json
import logging
import os
import re
import secrets
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import AsyncIterator, Callable, TypeVar

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import _create_container_args
from docker.types import CancellableStream, DeviceRequest, IPAMConfig, IPAMPool, LogConfig
from docker.utils import version_lt
from docker.utils.socket import STDERR, frames_iter

from kubelet.paths import LABEL_CLUSTER, cluster_id, node_root

from .base import (LABEL_ATTEMPT, LABEL_CONTAINER_NAME, LABEL_NODE, LABEL_POD_NAME,
                   LABEL_POD_NAMESPACE, LABEL_POD_UID, ContainerConfig, ContainerStats,
                   ContainerStatus, CreateContainerError, FilesystemStats, ImageNeverPullError,
                   ImagePullError, LogWriter, RuntimeError_, SandboxConfig, SandboxStatus, host_filesystem)

log = logging.getLogger("kubelet.runtime.docker")

T = TypeVar("T")

DEFAULT_PAUSE_IMAGE = "minik8s/busybox:latest"
# A shell as PID 1 ignores TERM unless it traps it; `sleep & wait` lets the trap run at once.
BUSYBOX_PAUSE_COMMAND = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait; done"]

# dockershim's own labels, beside the LABEL_* ones every runtime sets
LABEL_CONTAINER_TYPE = "io.kubernetes.docker.type"
TYPE_SANDBOX = "podsandbox"
TYPE_CONTAINER = "container"
LABEL_SANDBOX_ID = "io.kubernetes.sandbox.id"
LABEL_LOG_PATH = "io.kubernetes.container.logpath"

PULL_POLICIES = ("Always", "IfNotPresent", "Never")

# the kubelet's cgroup arithmetic (pkg/kubelet/cm: MilliCPUToShares, MilliCPUToQuota)
CPU_PERIOD_US = 100_000
MIN_CPU_SHARES = 2
MAX_CPU_SHARES = 262_144
MIN_CPU_QUOTA_US = 1_000

# docker's own json-file log is only the source the CRI log is copied from: keep it bounded
DOCKER_LOG_CONFIG = LogConfig(type="json-file", config={"max-size": "10m", "max-file": "3"})

_DOCKER_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")

_STATES = {"created": "created", "running": "running", "paused": "running",
           "restarting": "running", "exited": "exited", "dead": "exited"}


def milli_cpu_to_shares(milli_cpu: int) -> int:
    """A cpu request as cgroup cpu.shares; no request still gets the minimum (best effort)."""
    return min(MAX_CPU_SHARES, max(MIN_CPU_SHARES, milli_cpu * 1024 // 1000))


def milli_cpu_to_quota(milli_cpu: int, period_us: int = CPU_PERIOD_US) -> int:
    """A cpu limit as a CFS quota (µs per period)."""
    return max(MIN_CPU_QUOTA_US, milli_cpu * period_us // 1000)


def resource_options(cfg: ContainerConfig) -> dict:
    """The docker create options for a container's cpu, memory and GPUs."""
    opts: dict = {"cpu_shares": milli_cpu_to_shares(cfg.cpu_request_millis)}
    if cfg.cpu_limit_millis > 0:
        opts.update(cpu_period=CPU_PERIOD_US, cpu_quota=milli_cpu_to_quota(cfg.cpu_limit_millis))
    if cfg.memory_limit_bytes > 0:
        # swap limit = memory limit: no swap on top, as the kubelet sets it
        opts.update(mem_limit=cfg.memory_limit_bytes, memswap_limit=cfg.memory_limit_bytes)
    if cfg.gpu_devices:
        opts["device_requests"] = [DeviceRequest(driver="nvidia", device_ids=list(cfg.gpu_devices),
                                                 capabilities=[["gpu"]])]
    return opts


def container_env(cfg: ContainerConfig) -> list[str]:
    env = dict(cfg.env)
    if cfg.gpu_devices:
        # what the NVIDIA device plugin sets; the nvidia runtime hook reads it
        env["NVIDIA_VISIBLE_DEVICES"] = ",".join(cfg.gpu_devices)
    return [f"{k}={v}" for k, v in env.items()]


def exit_reason(state: dict) -> str:
    """The terminated reason the kubelet reports for docker's State of an exited container."""
    if state.get("OOMKilled"):
        return "OOMKilled"
    return "Completed" if state.get("ExitCode") == 0 else "Error"


def docker_time_ns(ts: str) -> int:
    """Docker's RFC3339Nano time ("...T18:24:09.98138989Z", or with an offset) in ns since the
    epoch; its zero time ("0001-01-01T00:00:00Z") is 0."""
    if not ts or ts.startswith("0001-"):
        return 0
    m = _DOCKER_TIME.match(ts)
    if m is None:
        raise ValueError(f"not a docker time: {ts!r}")
    whole, frac, zone = m.groups()
    seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds * 1_000_000_000 + int((frac or "")[:9].ljust(9, "0"))


def docker_time(ts: str) -> float:
    return docker_time_ns(ts) / 1e9


def _pull_failure(image: str, detail: str) -> ImagePullError:
    return ImagePullError(f'Failed to pull image "{image}": {detail}')


def _rewrite_resolv_conf(pause, text: str) -> None:
    """The pod's resolv.conf (kubelet/dns.py) written over the one the engine made for the sandbox, which
    every container joining its network namespace shares (as dockershim did): no embedded resolver
    (127.0.0.11) stands between the pod and the cluster DNS."""
    path = pause.attrs.get("ResolvConfPath") or ""
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError as e:
        pause.remove(force=True)
        raise RuntimeError_(f"writing the sandbox's resolv.conf {path or '(none)'}: {e}") from e


def _explain(e: Exception) -> str:
    return getattr(e, "explanation", None) or str(e)


def _cluster_of(state_dir: str, node_name: str) -> str | None:
    """The cluster id of the HOME whose node state dir (HOME/kubelet/NODE/runtime, as the kubelet lays
    it out) `state_dir` is; None for any other dir (then nothing is filtered by cluster)."""
    state_dir = os.path.abspath(state_dir)
    home = os.path.dirname(os.path.dirname(os.path.dirname(state_dir)))
    if state_dir != os.path.join(node_root(home, node_name), "runtime"):
        return None
    return cluster_id(home)


class DockerRuntime:
    """The Runtime on one Docker engine for node `node_name`. Besides the Runtime methods:
    `close()` stops copying logs (a later instance resumes them) and `remove_network()` removes
    the node's bridge once its sandboxes are gone."""

    name = "docker"

    def __init__(self, node_name: str, pod_cidr: str, state_dir: str,
                 pause_image: str = DEFAULT_PAUSE_IMAGE, client: docker.DockerClient | None = None,
                 cluster: str | None = None):
        self.node_name = node_name
        # clusters sharing the engine may each have this node name: list only the sandboxes and containers
        # labelled with this cluster's id (the kubelet's LABEL_CLUSTER), given or read off state_dir
        self.cluster = cluster if cluster is not None else _cluster_of(state_dir, node_name)
        self._inspected: dict[str, tuple[str, object]] = {}   # container id -> (state, inspected model)
        self._made: dict[str, tuple[str, bool]] = {}           # container id -> (log path, tty), until started
        self._network_made = False                             # the node's network seen or made since start
        self.pod_cidr = str(ipaddress.ip_network(pod_cidr))
        self.state_dir = state_dir
        self.pause_image = pause_image
        self.network_name = f"minik8s-{node_name}"
        self._own_client = client is None
        # log followers keep a pooled connection each: size the pool for them
        self.client = client or docker.from_env(max_pool_size=64)
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix=f"docker-{node_name}")
        self._network_lock = threading.Lock()
        self._followers: dict[str, _LogFollower] = {}
        self._logs_complete: set[str] = set()
        self._followers_lock = threading.Lock()
        self._engine_version = ""

    async def _call(self, fn: Callable[..., T], *args, **kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    # --- engine --------------------------------------------------------------------------------
    def _engine(self) -> str:
        if not self._engine_version:
            self._engine_version = self.client.version().get("Version", "unknown")
        return self._engine_version

    async def version(self) -> str:
        return "docker://" + await self._call(self._engine)

    def describe(self) -> dict[str, str]:
        return {"runtime": "docker", "engine": self._engine()}

    async def close(self) -> None:
        """Stops copying logs (a later runtime resumes them) and lets go of the engine."""
        with self._followers_lock:
            followers = list(self._followers.values())
        await self._call(lambda: [f.cancel() for f in followers])
        self._pool.shutdown(wait=False)
        if self._own_client:
            self.client.close()

    async def network_ready(self) -> str | None:
        """The node's bridge network, made if missing; else why it cannot be."""
        try:
            await self._call(self._ensure_network)
        except RuntimeError_ as e:
            return e.message
        return None

    async def remove_network(self) -> None:
        """Removes the node's bridge network (once no sandbox is left on it), unless another cluster's
        node of this name still uses it (kubelet/hostclaims.py)."""
        await self._call(self._remove_network)

    def _remove_network(self) -> None:
        from kubelet import hostclaims
        self._network_made = False
        if not hostclaims.release(self._claimed(), self.state_dir):
            return
        for net in self.client.networks.list(names=[self.network_name]):
            if net.name == self.network_name:
                try:
                    net.remove()
                except NotFound:
                    pass
                except APIError as e:
                    if e.status_code != 403:     # 403: containers (a node of no claim) still on it
                        raise

    def _claimed(self) -> str:
        """The name this node's claim on its Docker network goes by (beside the process runtime's bridges)."""
        return f"docker-{self.network_name}"

    def _ensure_network(self) -> None:
        from kubelet import hostclaims
        os.makedirs(self.state_dir, exist_ok=True)
        hostclaims.claim(self._claimed(), self.state_dir)
        with self._network_lock:
            for net in self.client.networks.list(names=[self.network_name]):
                if net.name == self.network_name:
                    self._check_subnet(net)
                    self._network_made = True
                    return
            pool = IPAMPool(subnet=self.pod_cidr)
            try:
                self.client.networks.create(self.network_name, driver="bridge",
                                            ipam=IPAMConfig(pool_configs=[pool]),
                                            labels={LABEL_NODE: self.node_name})
            except APIError as e:
                if e.status_code != 409:   # 409: another runtime for this node made it first
                    raise RuntimeError_(f"creating network {self.network_name} "
                                        f"({self.pod_cidr}): {_explain(e)}") from e
            self._network_made = True

    def _check_subnet(self, net) -> None:
        subnets = [c.get("Subnet") for c in (net.attrs.get("IPAM") or {}).get("Config") or []]
        if self.pod_cidr not in subnets:
            raise RuntimeError_(f"network {self.network_name} has subnet {subnets}, "
                                f"not the node's pod CIDR {self.pod_cidr}; remove it to recreate it")

    # --- images --------------------------------------------------------------------------------
    async def pull_image(self, image: str, policy: str) -> str:
        return await self._call(self._ensure_image, image, policy)

    async def image_present(self, image: str) -> bool:
        """Whether the engine has the image (the kubelet's pull events depend on it)."""
        return await self._call(self._local_image_id, image) is not None

    def _ensure_image(self, image: str, policy: str, pull_present: bool = True) -> str:
        """The image's id, pulled as `policy` says; pull_present=False skips pulling an image that
        is already here even under Always (the kubelet pulled it just before)."""
        if policy not in PULL_POLICIES:
            raise ValueError(f"unknown image pull policy {policy!r}")
        present = self._local_image_id(image)
        if policy == "Never":
            if present is None:
                raise ImageNeverPullError(
                    f'Container image "{image}" is not present with pull policy of Never')
            return present
        if present is not None and (policy == "IfNotPresent" or not pull_present):
            return present
        self._pull(image)
        pulled = self._local_image_id(image)
        if pulled is None:
            raise _pull_failure(image, "the engine reported success but has no such image")
        return pulled

    def _local_image_id(self, image: str) -> str | None:
        try:
            return self.client.images.get(image).id
        except ImageNotFound:
            return None

    def _pull(self, image: str) -> None:
        try:
            # a failure comes as an error status or, once the pull has begun, as an error entry in
            # its progress; credentials come from the user's docker config, as `docker pull` does
            failures = [p["error"] for p in self.client.api.pull(image, stream=True, decode=True)
                        if "error" in p]
        except (DockerException, OSError) as e:   # OSError: requests' connection errors too
            raise _pull_failure(image, _explain(e)) from e
        if failures:
            raise _pull_failure(image, failures[-1])

    # --- sandboxes -----------------------------------------------------------------------------
    async def run_sandbox(self, cfg: SandboxConfig) -> SandboxStatus:
        return await self._call(self._run_sandbox, cfg)

    def _run_sandbox(self, cfg: SandboxConfig) -> SandboxStatus:
        labels = {**cfg.labels, LABEL_POD_NAMESPACE: cfg.namespace, LABEL_POD_NAME: cfg.name,
                  LABEL_POD_UID: cfg.pod_uid, LABEL_NODE: self.node_name,
                  LABEL_CONTAINER_TYPE: TYPE_SANDBOX}
        opts: dict = dict(labels=labels, ipc_mode="shareable", log_config=DOCKER_LOG_CONFIG,
                          name=f"k8s_POD_{cfg.name}_{cfg.namespace}_{cfg.pod_uid}_{secrets.token_hex(3)}")
        if self.pause_image == DEFAULT_PAUSE_IMAGE:
            opts["command"] = BUSYBOX_PAUSE_COMMAND   # other pause images run their own entrypoint
        if cfg.host_network:
            opts["network_mode"] = "host"
        else:
            if not self._network_made:
                self._ensure_network()
            # a hostname is at most 63 characters, as the kubelet truncates it
            opts.update(network=self.network_name, hostname=(cfg.hostname or cfg.name)[:63].rstrip("-."))
            opts["ports"] = {f"{p.container_port}/{p.protocol.lower()}": (p.host_ip or "127.0.0.1", p.host_port)
                             for p in cfg.port_mappings if p.host_port}
        try:
            pause_id = self._create(self.pause_image, "IfNotPresent", opts, network=not cfg.host_network)
        except APIError as e:
            raise RuntimeError_(f"creating the sandbox of {cfg.namespace}/{cfg.name}: {_explain(e)}") from e
        try:
            self.client.api.start(pause_id)
        except APIError as e:
            self.client.api.remove_container(pause_id, force=True)
            raise RuntimeError_(f"starting the sandbox of {cfg.namespace}/{cfg.name}: {_explain(e)}") from e
        pause = self.client.containers.get(pause_id)
        if cfg.dns_config is not None:
            _rewrite_resolv_conf(pause, cfg.dns_config.resolv_conf())
        self._inspected[pause.id] = (pause.attrs["State"]["Status"], pause)
        return self._sandbox_status(pause)

    def _create(self, image: str, policy: str, opts: dict, network: bool = False,
                pull_present: bool = True) -> str:
        """One container create with its full config; the image (as `policy` says) and, with `network`,
        the node's network are made sure of only when the engine answers that one is missing."""
        args = _create_container_args(dict(opts, image=image, version=self.client.api._version))
        try:
            return self.client.api.create_container(**args)["Id"]
        except NotFound:
            self._ensure_image(image, policy, pull_present)
            if network:
                self._ensure_network()
        return self.client.api.create_container(**args)["Id"]

    def _sandbox_status(self, pause) -> SandboxStatus:
        labels = pause.labels
        networks = pause.attrs["NetworkSettings"].get("Networks") or {}
        return SandboxStatus(id=pause.id, pod_uid=labels.get(LABEL_POD_UID, ""),
                             namespace=labels.get(LABEL_POD_NAMESPACE, ""),
                             name=labels.get(LABEL_POD_NAME, ""), ready=pause.status == "running",
                             ip=(networks.get(self.network_name) or {}).get("IPAddress", ""),
                             created_at=docker_time(pause.attrs["Created"]), labels=labels)

    def _get(self, container_id: str):
        try:
            return self.client.containers.get(container_id)
        except NotFound:
            return None

    def _list(self, kind: str, *label_filters: str) -> list:
        labels = [f"{LABEL_CONTAINER_TYPE}={kind}", f"{LABEL_NODE}={self.node_name}", *label_filters]
        if self.cluster:
            labels.append(f"{LABEL_CLUSTER}={self.cluster}")
        # One summary listing, then a full inspect only for containers whose state moved since the
        # last look: the SDK's containers.list(all=True) inspects every container on every call,
        # which made each pod sync cost grow with the pods on the node.
        out = []
        for summary in self.client.api.containers(all=True, filters={"label": labels}):
            cid, state = summary["Id"], summary.get("State", "")
            cached = self._inspected.get(cid)
            if cached is None or cached[0] != state:
                try:
                    container = self.client.containers.get(cid)
                except NotFound:
                    continue
                cached = self._inspected[cid] = (container.attrs["State"]["Status"], container)
            out.append(cached[1])
        return out

    async def list_sandboxes(self) -> list[SandboxStatus]:
        return await self._call(lambda: [self._sandbox_status(c) for c in self._list(TYPE_SANDBOX)])

    async def stop_sandbox(self, sandbox_id: str) -> None:
        await self._call(self._stop_sandbox, sandbox_id)

    def _stop_sandbox(self, sandbox_id: str) -> None:
        pause = self._get(sandbox_id)
        if pause is None:
            return
        # as containerd does: whatever the kubelet has not stopped gracefully is killed now
        for c in self._list(TYPE_CONTAINER, f"{LABEL_SANDBOX_ID}={pause.id}"):
            self._stop_container(c.id, 0)
        self._stop_container(pause.id, 0)

    async def remove_sandbox(self, sandbox_id: str) -> None:
        await self._call(self._remove_sandbox, sandbox_id)

    def _remove_sandbox(self, sandbox_id: str) -> None:
        pause = self._get(sandbox_id)
        if pause is None:
            return
        for c in self._list(TYPE_CONTAINER, f"{LABEL_SANDBOX_ID}={pause.id}"):
            self._remove_container(c.id)
        self._remove_container(pause.id)

    # --- containers ----------------------------------------------------------------------------
    async def create_container(self, sandbox_id: str, cfg: ContainerConfig) -> str:
        return await self._call(self._create_container, sandbox_id, cfg)

    def _create_container(self, sandbox_id: str, cfg: ContainerConfig) -> str:
        # the sandbox as this runtime last inspected it: the engine refuses to join a missing one
        pause = (self._inspected.get(sandbox_id) or (None, None))[1] or self._get(sandbox_id)
        if pause is None:
            raise CreateContainerError(f"pod sandbox {sandbox_id} not found")
        pod = pause.labels
        labels = {**cfg.labels, LABEL_POD_NAMESPACE: pod.get(LABEL_POD_NAMESPACE, ""),
                  LABEL_POD_NAME: pod.get(LABEL_POD_NAME, ""), LABEL_POD_UID: pod.get(LABEL_POD_UID, ""),
                  LABEL_CONTAINER_NAME: cfg.name, LABEL_ATTEMPT: str(cfg.attempt),
                  LABEL_NODE: self.node_name, LABEL_CONTAINER_TYPE: TYPE_CONTAINER,
                  LABEL_SANDBOX_ID: pause.id, LABEL_LOG_PATH: cfg.log_path}
        opts = dict(
            # command replaces the image ENTRYPOINT (and drops its CMD); args alone replace only CMD
            entrypoint=cfg.command or None, command=cfg.args or None,
            environment=container_env(cfg), working_dir=cfg.working_dir or None,
            volumes={m.host_path: {"bind": m.container_path, "mode": "ro" if m.read_only else "rw"}
                     for m in cfg.mounts},
            labels=labels, tty=cfg.tty, stdin_open=cfg.stdin,
            network_mode=f"container:{pause.id}", ipc_mode=f"container:{pause.id}",
            log_config=DOCKER_LOG_CONFIG, **resource_options(cfg))
        name = f"k8s_{cfg.name}_{pod.get(LABEL_POD_NAME)}_{pod.get(LABEL_POD_NAMESPACE)}_" \
               f"{pod.get(LABEL_POD_UID)}_{cfg.attempt}"
        try:
            try:
                cid = self._create(cfg.image, cfg.image_pull_policy, dict(opts, name=name), pull_present=False)
            except APIError as e:
                if e.status_code != 409:
                    raise
                # a leftover of this attempt holds the name: dockershim's way out is a random suffix
                cid = self._create(cfg.image, cfg.image_pull_policy,
                                   dict(opts, name=f"{name}_{secrets.token_hex(4)}"), pull_present=False)
        except APIError as e:
            raise CreateContainerError(_explain(e)) from e
        self._made[cid] = (cfg.log_path, cfg.tty)
        return cid

    async def start_container(self, container_id: str) -> None:
        await self._call(self._start_container, container_id)

    def _start_container(self, container_id: str) -> None:
        try:
            self.client.api.start(container_id)
        except APIError as e:
            raise RuntimeError_(_explain(e)) from e
        made = self._made.pop(container_id, None)
        if made is not None:
            self._follow(container_id, *made)
            return
        c = self._get(container_id)
        if c is not None:
            self._ensure_follower(c)

    async def stop_container(self, container_id: str, timeout: float) -> None:
        await self._call(self._stop_container, container_id, timeout)

    def _stop_container(self, container_id: str, timeout: float) -> None:
        try:
            # docker stop: TERM (or the image's STOPSIGNAL), KILL after the grace period
            self.client.api.stop(container_id, timeout=max(0, int(-(-timeout // 1))))
        except NotFound:
            pass
        except APIError as e:
            raise RuntimeError_(_explain(e)) from e

    async def remove_container(self, container_id: str) -> None:
        await self._call(self._remove_container, container_id)

    def _remove_container(self, container_id: str) -> None:
        c = self._get(container_id)
        if c is None:
            return
        self._inspected.pop(c.id, None)
        self._made.pop(c.id, None)
        with self._followers_lock:
            follower = self._followers.pop(c.id, None)
            self._logs_complete.discard(c.id)
        if follower is not None:
            # an exited container's stream ends by itself once the tail is copied
            follower.finish(drain_s=0 if c.status == "running" else 2)
        try:
            c.remove(force=True, v=True)
        except NotFound:
            pass
        except APIError as e:
            raise RuntimeError_(_explain(e)) from e
        try:
            os.remove(self._position_path(c.id))
        except FileNotFoundError:
            pass

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        return await self._call(self._list_containers, sandbox_id)

    def _list_containers(self, sandbox_id: str | None) -> list[ContainerStatus]:
        filters = []
        if sandbox_id is not None:
            pause = self._get(sandbox_id)
            if pause is None:
                return []
            filters.append(f"{LABEL_SANDBOX_ID}={pause.id}")
        found = self._list(TYPE_CONTAINER, *filters)
        for c in found:
            self._ensure_follower(c)   # adoption: resume copying logs a previous kubelet left
        return [self._container_status(c) for c in found]

    async def container_status(self, container_id: str) -> ContainerStatus | None:
        return await self._call(self._status_of, container_id)

    def _status_of(self, container_id: str) -> ContainerStatus | None:
        c = self._get(container_id)
        if c is None or c.labels.get(LABEL_CONTAINER_TYPE) != TYPE_CONTAINER:
            return None
        self._ensure_follower(c)
        return self._container_status(c)

    def _container_status(self, c) -> ContainerStatus:
        state, labels = c.attrs["State"], c.labels
        status = _STATES.get(state.get("Status", ""), "unknown")
        try:
            attempt = int(labels.get(LABEL_ATTEMPT, "0"))
        except ValueError:
            attempt = 0
        started = docker_time(state.get("StartedAt", ""))
        finished = docker_time(state.get("FinishedAt", "")) if status == "exited" else 0.0
        if finished:
            # docker notes StartedAt once start returns: a process quicker than that "ends first"
            started = min(started, finished)
        return ContainerStatus(
            id=c.id, name=labels.get(LABEL_CONTAINER_NAME, ""), sandbox_id=labels.get(LABEL_SANDBOX_ID, ""),
            state=status, exit_code=state.get("ExitCode") or 0,
            reason=exit_reason(state) if status == "exited" else "", message=state.get("Error") or "",
            created_at=docker_time(c.attrs["Created"]), started_at=started, finished_at=finished,
            image=c.attrs["Config"].get("Image", ""), image_id=c.attrs.get("Image", ""),
            attempt=attempt, labels=labels, log_path=labels.get(LABEL_LOG_PATH, ""))

    # --- logs ----------------------------------------------------------------------------------
    def _position_path(self, container_id: str) -> str:
        return os.path.join(self.state_dir, "docker-log-positions", f"{container_id}.json")

    def _ensure_follower(self, c) -> None:
        """Copies `c`'s output into its CRI log unless that is being done or already done."""
        log_path = c.labels.get(LABEL_LOG_PATH)
        if c.status in ("running", "exited", "dead", "paused"):
            self._follow(c.id, log_path, bool(c.attrs["Config"].get("Tty")))

    def _follow(self, container_id: str, log_path: str | None, tty: bool) -> None:
        if not log_path:
            return
        with self._followers_lock:
            if container_id in self._followers or container_id in self._logs_complete:
                return
            position_path = self._position_path(container_id)
            if _read_position(position_path).get("complete"):
                self._logs_complete.add(container_id)
                return
            self._followers[container_id] = _LogFollower(
                self.client.api, container_id, log_path, tty, position_path, self._follower_done)

    def _follower_done(self, follower: _LogFollower, complete: bool) -> None:
        with self._followers_lock:
            if self._followers.get(follower.container_id) is follower:
                del self._followers[follower.container_id]
                if complete:
                    self._logs_complete.add(follower.container_id)

    # --- exec and stats ------------------------------------------------------------------------
    async def exec(self, container_id: str, command: list[str], stdin: bool = False,
                   tty: bool = False) -> DockerExecSession:
        exec_id, sock = await self._call(self._exec_start, container_id, command, stdin, tty)
        return DockerExecSession(self, exec_id, sock, tty)

    def _exec_start(self, container_id: str, command: list[str], stdin: bool, tty: bool):
        try:
            exec_id = self.client.api.exec_create(container_id, command, stdout=True, stderr=True,
                                                  stdin=stdin, tty=tty)["Id"]
            return exec_id, self.client.api.exec_start(exec_id, tty=tty, socket=True)
        except APIError as e:
            raise RuntimeError_(_explain(e)) from e

    async def exec_sync(self, container_id: str, command: list[str], timeout: float) -> tuple[int, bytes]:
        """Runs `command` to its end and returns its exit code and output (stdout and stderr as
        they came); past `timeout` seconds the process is killed and TimeoutError raised."""
        session = await self.exec(container_id, command)
        output = bytearray()

        async def run() -> int:
            async for _, chunk in session.output():
                output.extend(chunk)
            return await session.wait()
        try:
            code = await asyncio.wait_for(run(), timeout)
        except TimeoutError:
            await session.kill()
            raise TimeoutError(f"command {command!r} timed out after {timeout}s") from None
        return code, bytes(output)

    async def stats(self, container_id: str) -> ContainerStats | None:
        return await self._call(self._stats, container_id)

    async def filesystem(self, path: str) -> FilesystemStats:
        return await asyncio.to_thread(host_filesystem, path)

    def _stats(self, container_id: str) -> ContainerStats | None:
        c = self._get(container_id)
        if c is None or c.status != "running":
            return None
        kwargs = {"stream": False}
        if not version_lt(self.client.api.api_version, "1.41"):
            kwargs["one_shot"] = True   # one sample, not two a second apart
        try:
            s = self.client.api.stats(c.id, **kwargs)
        except NotFound:
            return None
        mem = s.get("memory_stats") or {}
        detail = mem.get("stats") or {}
        # the kubelet's working set: usage less inactive file pages (cgroup v1 / v2 names)
        inactive = detail.get("total_inactive_file", detail.get("inactive_file", 0))
        return ContainerStats(
            cpu_usage_ns=int(((s.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage", 0)),
            memory_bytes=max(0, int(mem.get("usage", 0)) - int(inactive)),
            timestamp=docker_time(s.get("read", "")) or time.time())


def _read_position(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


class _LogFollower:
    """Copies one container's docker log into its CRI log, a thread per stream (docker serves
    stdout and stderr apart only as separate log requests; a tty container has stdout only).

    Its position file holds, per stream, the docker timestamp (ns) of the last entry copied and
    the number of entries copied with that timestamp, and `complete` once the container has
    exited and everything is copied. It is saved at most every
    SAVE_EVERY_S while copying and on the way out, so a kubelet that crashes (rather than closes)
    may copy that last fraction of a second twice, never lose it."""

    SAVE_EVERY_S = 0.5

    def __init__(self, api, container_id: str, log_path: str, tty: bool, position_path: str,
                 on_done: Callable[[_LogFollower, bool], None]):
        self._api = api
        self.container_id = container_id
        self._position_path = position_path
        self._on_done = on_done
        self._tty = tty
        os.makedirs(os.path.dirname(position_path), exist_ok=True)
        self._position = _read_position(position_path)
        self._position.pop("complete", None)
        self._saved_at = 0.0
        self._writer = LogWriter(log_path)
        self._lock = threading.Lock()
        self._streams: list = []
        self._cancelled = False
        names = ["stdout"] if tty else ["stdout", "stderr"]
        self._running = len(names)
        self._threads = [threading.Thread(target=self._follow, args=(n,), daemon=True,
                                          name=f"logs-{container_id[:12]}-{n}") for n in names]
        for t in self._threads:
            t.start()

    def _follow(self, stream: str) -> None:
        try:
            self._copy_entries(stream, follow=True)
            if not self._cancelled:
                # a follow can end before the engine has written a container's last (unterminated)
                # output: one plain read from where it stopped picks that up
                self._copy_entries(stream, follow=False)
        except Exception as e:   # the container went away, or the stream was closed under us
            if not self._cancelled:
                log.debug("following %s logs of %s stopped: %s", stream, self.container_id, e)
        finally:
            self._stream_done()

    def _copy_entries(self, stream: str, follow: bool) -> None:
        """Copies the stream's entries past its position. The position is the newest timestamp
        copied and how many entries carried it: the pieces of a line longer than docker's 16 KiB
        buffer share one timestamp, and `since` is inclusive, so a new read repeats those."""
        last, repeats = self._position.get(stream, (0, 0))
        kwargs: dict = {}
        if last:
            kwargs["since"] = (last // 1000 - 1) / 1e6   # a float holds ~µs here: start a µs early
        entries = _log_stream(self._api, self.container_id, stream, self._tty, follow, **kwargs)
        with self._lock:
            self._streams.append(entries)
            if self._cancelled:
                entries.close()
        for entry in self._entries(entries, follow):
            stamp, _, text = entry.partition(b" ")
            try:
                ns = docker_time_ns(stamp.decode())
            except ValueError:
                continue
            if ns < last or (ns == last and repeats > 0):
                repeats -= ns == last
                continue
            with self._lock:
                self._writer.write(stream, text)
                at, count = self._position.get(stream, (0, 0))
                self._position[stream] = (ns, count + 1 if ns == at else 1)
                if time.monotonic() - self._saved_at > self.SAVE_EVERY_S:
                    self._save()
            last, repeats = ns, 0

    def _entries(self, chunks, follow: bool):
        if not self._tty:
            # one frame per entry; LogWriter joins the pieces of a long line again
            yield from chunks
            return
        pending = b""   # a tty's log is a plain byte stream: entries end at newlines
        for chunk in chunks:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            yield from (line + b"\n" for line in lines)
        if pending and not follow:
            # unterminated output; a follow may have cut it short, so only a plain read yields it
            yield pending

    def _save(self) -> None:
        tmp = self._position_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self._position, f)
        os.replace(tmp, self._position_path)
        self._saved_at = time.monotonic()

    def _stream_done(self) -> None:
        with self._lock:
            self._running -= 1
            if self._running:
                return
            complete = not self._cancelled and not self._container_running()
            if complete:
                self._position["complete"] = True
            self._writer.close()
            self._save()
        self._on_done(self, complete)

    def _container_running(self) -> bool:
        try:
            return bool(self._api.inspect_container(self.container_id)["State"]["Running"])
        except NotFound:
            return False
        except Exception:
            return True   # unsure: leave it to a later follower

    def cancel(self) -> None:
        """Stops copying now (blocking, bounded); the saved position lets a new follower resume."""
        with self._lock:
            self._cancelled = True
            streams = list(self._streams)
        for s in streams:
            try:
                s.close()
            except Exception:
                pass
        for t in self._threads:
            t.join(timeout=5)

    def finish(self, drain_s: float) -> None:
        """Lets the streams end by themselves for up to drain_s seconds, then cancels."""
        deadline = time.monotonic() + drain_s
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        self.cancel()


def _log_stream(api, container_id: str, stream: str, tty: bool, follow: bool, since: float | None = None):
    """`docker logs --timestamps` of one stream, made as the SDK's `logs(stream=True)` makes it less
    the inspect it adds first to learn whether the container has a tty: the follower knows, and that
    inspect would land on the engine just as the container starts."""
    params = {"stdout": int(stream == "stdout"), "stderr": int(stream == "stderr"), "timestamps": 1,
              "follow": int(follow), "tail": "all"}
    if since is not None:
        params["since"] = since
    response = api._get(api._url("/containers/{0}/logs", container_id), params=params, stream=True)
    return CancellableStream(api._get_result_tty(True, response, tty), response)


def _pid_in_container(pid: int, container_id: str) -> bool:
    """Whether host pid `pid` lives in the container's cgroup: only then is it safe to signal it
    (an engine on another host or in another pid namespace gives pids that mean nothing here)."""
    if not container_id:
        return False
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return container_id in f.read()
    except OSError:
        return False


class DockerExecSession:
    """An exec in a container over docker's hijacked connection: a reader thread demultiplexes
    the output (non-tty) into a queue on the caller's loop; stdin is written to the same socket."""

    def __init__(self, runtime: DockerRuntime, exec_id: str, sock, tty: bool):
        self._rt = runtime
        self._api = runtime.client.api
        self.exec_id = exec_id
        self._sock = sock
        self._raw = getattr(sock, "_sock", sock)   # a SocketIO wraps the socket on unix/tcp
        self._tty = tty
        self._loop = asyncio.get_running_loop()
        self._chunks: asyncio.Queue = asyncio.Queue()
        self._eof = asyncio.Event()
        threading.Thread(target=self._read, daemon=True, name=f"exec-{exec_id[:12]}").start()

    def _read(self) -> None:
        try:
            for stream_id, data in frames_iter(self._sock, self._tty):
                self._deliver(("stderr" if stream_id == STDERR else "stdout", data))
        except (OSError, ValueError):
            pass   # the socket was closed by kill()
        finally:
            self._close_socket()
            self._deliver(None)

    def _deliver(self, item: tuple[str, bytes] | None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._put, item)
        except RuntimeError:
            pass   # the caller's loop is gone

    def _put(self, item: tuple[str, bytes] | None) -> None:
        self._chunks.put_nowait(item)
        if item is None:
            self._eof.set()

    async def output(self) -> AsyncIterator[tuple[str, bytes]]:
        while (item := await self._chunks.get()) is not None:
            yield item

    async def write_stdin(self, data: bytes) -> None:
        await self._rt._call(self._raw.sendall, data)

    async def close_stdin(self) -> None:
        await self._rt._call(self._raw.shutdown, socket.SHUT_WR)

    async def resize(self, width: int, height: int) -> None:
        if self._tty:
            try:
                await self._rt._call(self._api.exec_resize, self.exec_id, height=height, width=width)
            except docker.errors.APIError as e:
                # a resize racing the command's exit is harmless: there is no terminal left to size
                log.debug("exec resize ignored: %s", e)

    async def wait(self) -> int:
        """The exit code, once the output has ended."""
        await self._eof.wait()
        return await self._rt._call(self._exit_code)

    def _exit_code(self) -> int:
        deadline = time.monotonic() + 5   # the engine notes the exit just after the streams close
        info = self._api.exec_inspect(self.exec_id)
        while info.get("Running") and time.monotonic() < deadline:
            time.sleep(0.02)
            info = self._api.exec_inspect(self.exec_id)
        code = info.get("ExitCode")
        return -1 if code is None else int(code)

    async def kill(self) -> None:
        """Docker has no exec kill: SIGKILL the process when its pid is ours to signal, and hang up."""
        await self._rt._call(self._kill)

    def _kill(self) -> None:
        try:
            info = self._api.exec_inspect(self.exec_id)
        except DockerException:
            info = {}
        pid = info.get("Pid") or 0
        if info.get("Running") and pid > 0 and _pid_in_container(pid, info.get("ContainerID", "")):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._close_socket()

    def _close_socket(self) -> None:
        try:
            self._raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
