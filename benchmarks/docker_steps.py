"""Where a Docker pod's start goes, step by step: the kubelet's runtime calls for one new pod (what
`kubelet/sync.py` asks of `DockerRuntime` on a pod's first sync), made in this process on a runtime of
a node of its own, each timed and with the engine requests it made counted (a response hook on the
Docker SDK's HTTP session, so every round trip to the engine counts once).

    .venv/bin/python -m benchmarks.docker_steps [--pods N] [--floor N]

The steps, in the sync's order: observe (list the node's sandboxes and containers), the sandbox
(run_sandbox), the image (image_present; pull_image only for an image the engine lacks), create,
start, observe again (the status the sync writes is built from it). The API server's part (the watch, the
status write) is what the cluster figure adds on top; see benchmarks/README.md.

--floor N: the engine's own part instead, the start call alone of three containers, interleaved N
times: one on `--network none` (what bare `docker run -d` starts), a sandbox made with the runtime's
options on a node network of its own, and an app container joining that sandbox's network and IPC."""
from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter

from benchmarks.common import percentile

IMAGE = "minik8s/busybox:latest"
STEPS = ("observe", "sandbox", "image", "create", "start", "observe again")
_ID = re.compile(r"/[0-9a-f]{64}|/k8s_[^/]+|/minik8s/busybox[^/]*")
_VERSION = re.compile(r"^/v[0-9.]+")
SHORT = {"GET /containers/json": "list", "GET /containers/{id}/json": "inspect", "GET /images/{id}/json": "image",
         "GET /networks": "network", "POST /containers/create": "create", "POST /containers/{id}/start": "start",
         "GET /containers/{id}/logs": "log stream"}


class EngineRequests:
    """Counts the engine requests a DockerRuntime's client makes, by kind ("GET /containers/{id}/json")."""

    def __init__(self, runtime):
        self.kinds: Counter = Counter()
        self._lock = threading.Lock()
        runtime.client.api.hooks["response"].append(self._seen)

    def _seen(self, response, *args, **kwargs):
        req = response.request
        path = _ID.sub("/{id}", _VERSION.sub("", req.path_url.split("?")[0]))
        with self._lock:
            self.kinds[f"{req.method} {path}"] += 1
        return response

    def total(self) -> int:
        with self._lock:
            return sum(self.kinds.values())


async def one_pod(rt, i: int, tag: str, log_dir: str, counter: EngineRequests) -> dict[str, tuple[float, int]]:
    """One pod's start as the sync makes it: step -> (ms, engine requests)."""
    from kubelet.runtime.base import (LABEL_CONTAINER_NAME, LABEL_POD_NAME, LABEL_POD_NAMESPACE,
                                      LABEL_POD_UID, ContainerConfig, SandboxConfig)
    from kubelet.sync import observe
    uid = f"{tag}-{i}-{uuid.uuid4().hex[:8]}"
    name = f"steps-{i}"
    out: dict[str, tuple[float, int]] = {}

    async def step(label: str, coro):
        t, n = time.perf_counter(), counter.total()
        result = await coro
        out[label] = ((time.perf_counter() - t) * 1000, counter.total() - n)
        return result

    async def image():          # the pull only for an image the engine lacks, as the sync does
        if not await rt.image_present(IMAGE):
            await rt.pull_image(IMAGE, "IfNotPresent")

    pod_labels = {LABEL_POD_NAMESPACE: "default", LABEL_POD_NAME: name, LABEL_POD_UID: uid}
    await step("observe", observe(rt, uid))
    sandbox = await step("sandbox", rt.run_sandbox(SandboxConfig(
        pod_uid=uid, namespace="default", name=name, hostname=name, labels=dict(pod_labels))))
    await step("image", image())
    cfg = ContainerConfig(name="sleep", image=IMAGE, command=["sleep", "3600"],
                          env={"POD_IP": sandbox.ip}, labels={**pod_labels, LABEL_CONTAINER_NAME: "sleep"},
                          log_path=f"{log_dir}/{name}/sleep/0.log")
    cid = await step("create", rt.create_container(sandbox.id, cfg))
    await step("start", rt.start_container(cid))
    await step("observe again", observe(rt, uid))
    return out


async def measure(n: int) -> tuple[dict[str, list[tuple[float, int]]], Counter]:
    """`n` pods started one after another on a fresh node (and all removed after); per step, each
    pod's (ms, engine requests), and the kinds of request one pod start made in all."""
    from benchmarks.pod_startup import _free_pod_cidrs, remove_node_network
    from kubelet.runtime.docker import DockerRuntime
    tag = uuid.uuid4().hex[:5]
    node, cidr = f"ps{tag}-steps", _free_pod_cidrs("10.245", 1)[0]
    steps: dict[str, list[tuple[float, int]]] = {s: [] for s in STEPS}
    with tempfile.TemporaryDirectory() as state, tempfile.TemporaryDirectory() as logs:
        rt = DockerRuntime(node_name=node, pod_cidr=cidr, state_dir=state, cluster="")
        counter = EngineRequests(rt)
        kinds = Counter()
        try:
            if await rt.network_ready():
                raise RuntimeError(f"no network for {node}: {await rt.network_ready()}")
            await one_pod(rt, -1, tag, logs, counter)            # warm-up: not counted
            for i in range(n):
                before = Counter(counter.kinds)
                for label, figure in (await one_pod(rt, i, tag, logs, counter)).items():
                    steps[label].append(figure)
                kinds = counter.kinds - before
        finally:
            for s in await rt.list_sandboxes():
                await rt.stop_sandbox(s.id)
                await rt.remove_sandbox(s.id)
            await rt.remove_network()
            await rt.close()
            remove_node_network("docker", node, cidr)
    return steps, kinds


def rows(steps: dict[str, list[tuple[float, int]]], kinds: Counter) -> list:
    """The benchmark table's rows: engine requests per pod start, then each step's p50 (info)."""
    from benchmarks.common import Row
    named = Counter()
    for kind, count in kinds.items():
        named[SHORT.get(kind, kind)] += count
    out = [Row("[docker] engine requests per pod start (the kubelet's runtime calls)", sum(kinds.values()),
               4, "", "a pod by hand: create + start, twice", fmt="{:.0f}",
               note="info: " + ", ".join(f"{v} {k}" for k, v in named.most_common()))]
    for label in STEPS:
        ms = [m for m, _ in steps[label]]
        out.append(Row(f"[docker] ... step: {label}, p50", percentile(ms, 50), None, "ms", fmt="{:,.1f}",
                       note=f"info: {max((r for _, r in steps[label]), default=0)} engine requests"))
    return out


def report(steps: dict[str, list[tuple[float, int]]], kinds: Counter) -> list[str]:
    lines = ["| step | p50 ms | engine requests |", "|---|---|---|"]
    total_ms = 0.0
    for label in STEPS:
        ms = [m for m, _ in steps[label]]
        reqs = max((r for _, r in steps[label]), default=0)
        total_ms += percentile(ms, 50)
        lines.append(f"| {label} | {percentile(ms, 50):.1f} | {reqs} |")
    lines.append(f"| all (sum of p50s) | {total_ms:.1f} | {sum(kinds.values())} |")
    lines.append("")
    lines.append("requests of the last pod: " + ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items())))
    return lines


def floor(n: int) -> dict[str, list[float]]:
    """Start-call ms of a bare container, a sandbox and a container joining it, interleaved `n` times."""
    import docker
    from benchmarks.pod_startup import _free_pod_cidrs
    from kubelet.runtime.docker import BUSYBOX_PAUSE_COMMAND, DOCKER_LOG_CONFIG
    api = docker.from_env().api
    net = f"minik8s-floor-{uuid.uuid4().hex[:5]}"
    api.create_network(net, driver="bridge", ipam=docker.types.IPAMConfig(
        pool_configs=[docker.types.IPAMPool(subnet=_free_pod_cidrs("10.245", 1)[0])]))
    times: dict[str, list[float]] = {"bare (--network none)": [], "sandbox": [], "app joining the sandbox": []}
    made: list[str] = []

    def started(kind: str, **kwargs) -> str:
        cid = api.create_container(IMAGE, **kwargs)["Id"]
        made.append(cid)
        t = time.perf_counter()
        api.start(cid)
        times[kind].append((time.perf_counter() - t) * 1000)
        return cid
    try:
        for _ in range(n):
            started("bare (--network none)", command=["sleep", "3600"],
                    host_config=api.create_host_config(network_mode="none"))
            pause = started("sandbox", command=BUSYBOX_PAUSE_COMMAND, hostname="floor",
                            host_config=api.create_host_config(ipc_mode="shareable", log_config=DOCKER_LOG_CONFIG),
                            networking_config=api.create_networking_config({net: api.create_endpoint_config()}))
            started("app joining the sandbox", command=["sleep", "3600"], host_config=api.create_host_config(
                network_mode=f"container:{pause}", ipc_mode=f"container:{pause}", log_config=DOCKER_LOG_CONFIG))
    finally:
        for cid in made:
            api.remove_container(cid, force=True)
        api.remove_network(net)
    return times


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.docker_steps", description=__doc__.split("\n\n")[0])
    p.add_argument("--pods", type=int, default=20)
    p.add_argument("--floor", type=int, metavar="N", help="time the engine's container starts instead, N rounds")
    args = p.parse_args(argv)
    if args.floor:
        times = floor(args.floor)
        bare = percentile(times["bare (--network none)"], 50)
        print("| container | start call, p50 ms | vs bare |\n|---|---|---|")
        for kind, ms in times.items():
            print(f"| {kind} | {percentile(ms, 50):.1f} | {percentile(ms, 50) / bare:.2f}x |")
        return 0
    steps, kinds = asyncio.run(measure(args.pods))
    print("\n".join(report(steps, kinds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
