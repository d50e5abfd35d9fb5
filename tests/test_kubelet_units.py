"""The kubelet's pure parts, table-driven: pod phase and conditions (upstream getPhase and
status/generate.go), the crash-loop backoff, `$(VAR)` expansion and the downward API, the log reader's
options, GPU assignment, and the cluster-file configuration."""
from __future__ import annotations

import asyncio

import pytest

from minik8s.api.clock import FakeClock
from minik8s.api.codec import from_dict
from minik8s.api.pb import core_pb2

from kubelet import config as kconfig
from kubelet.backoff import Backoff
from kubelet.env import container_env, expand
from kubelet.gpu import AdmissionError, GPUAllocator, fake_devices
from kubelet.logs import LogOptions, read_log
from kubelet.runtime.base import ContainerStatus
from kubelet.status import ObservedPod, generate_status, get_phase
from kubelet.sync import go_duration
from support.wait import wait_for


def pod(spec: dict, status: dict | None = None) -> core_pb2.Pod:
    return from_dict(core_pb2.Pod, {"metadata": {"name": "p", "namespace": "default", "uid": "u"},
                                    "spec": spec, "status": status or {}})


def cs(name: str, state: str, code: int = 0, attempt: int = 0, cid: str | None = None) -> ContainerStatus:
    return ContainerStatus(id=cid or f"{name}-{attempt}", name=name, sandbox_id="s", state=state, exit_code=code,
                           started_at=1_700_000_000.0, finished_at=1_700_000_001.0 if state == "exited" else 0.0,
                           attempt=attempt)


TWO = [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]


@pytest.mark.parametrize("policy,states,phase", [
    ("Always", {"a": "running", "b": "running"}, "Running"),
    ("Always", {"a": "running"}, "Pending"),                           # b not created yet
    ("Always", {"a": ("exited", 0), "b": ("exited", 1)}, "Running"),   # restarting
    ("OnFailure", {"a": ("exited", 0), "b": ("exited", 0)}, "Succeeded"),
    ("OnFailure", {"a": ("exited", 0), "b": ("exited", 1)}, "Running"),
    ("Never", {"a": ("exited", 0), "b": ("exited", 1)}, "Failed"),
    ("Never", {"a": ("exited", 0), "b": "running"}, "Running"),
    ("Never", {"a": ("exited", 0), "b": ("exited", 0)}, "Succeeded"),
])
def test_phase_follows_upstream_get_phase(policy, states, phase):
    p = pod({"containers": TWO, "restartPolicy": policy})
    history = {}
    for name, st in states.items():
        state, code = (st, 0) if isinstance(st, str) else st
        history[name] = [cs(name, state, code)]
    s = generate_status(p, ObservedPod(containers=history, runtime="fake"), 1_700_000_100.0)
    assert s.phase == phase


def test_phase_with_init_containers():
    spec = {"containers": TWO[:1], "initContainers": [{"name": "i", "image": "x"}], "restartPolicy": "Never"}
    assert get_phase(pod(spec).spec, [], [], False) == "Pending"
    s = generate_status(pod(spec), ObservedPod(containers={"i": [cs("i", "exited", 1)]}, runtime="f"), 0)
    assert s.phase == "Failed"
    s = generate_status(pod(spec), ObservedPod(containers={"i": [cs("i", "exited", 0)]}, runtime="f"), 0)
    assert s.phase == "Pending"
    assert s.containerStatuses[0].state.waiting.reason == "PodInitializing"
    assert [(c.type, c.status) for c in s.conditions][0] == ("Initialized", "True")


def test_container_status_fields_restart_count_and_last_state():
    p = pod({"containers": TWO[:1], "restartPolicy": "Always"})
    obs = ObservedPod(containers={"a": [cs("a", "running", attempt=3, cid="new"), cs("a", "exited", 2, 2, "old")]},
                      runtime="docker")
    s = generate_status(p, obs, 1_700_000_100.0).containerStatuses[0]
    assert (s.restartCount, s.containerID, s.ready, s.started) == (3, "docker://new", True, True)
    assert s.state.running.startedAt == "2023-11-14T22:13:20Z"
    t = s.lastState.terminated
    assert (t.exitCode, t.reason, t.containerID) == (2, "Error", "docker://old")


def test_a_waiting_reason_replaces_an_exited_state_when_the_container_will_restart():
    p = pod({"containers": TWO[:1], "restartPolicy": "Always"})
    obs = ObservedPod(containers={"a": [cs("a", "exited", 1, 4)]}, runtime="f",
                      waiting={"a": ("CrashLoopBackOff", "back-off 40s restarting failed container=a pod=p_default(u)")})
    s = generate_status(p, obs, 0).containerStatuses[0]
    assert s.state.waiting.reason == "CrashLoopBackOff" and s.lastState.terminated.exitCode == 1
    p.spec.restartPolicy = "Never"     # a container that will not restart shows how it ended
    assert generate_status(p, obs, 0).containerStatuses[0].state.terminated.exitCode == 1


def test_readiness_and_startup_results_drive_ready_and_started():
    c = {"name": "a", "image": "x", "readinessProbe": {"exec": {"command": ["true"]}},
         "startupProbe": {"exec": {"command": ["true"]}}}
    p = pod({"containers": [c], "restartPolicy": "Always"})
    hist = {"a": [cs("a", "running", cid="c1")]}
    s = generate_status(p, ObservedPod(containers=hist, runtime="f"), 0)
    assert (s.containerStatuses[0].started, s.containerStatuses[0].ready) == (False, False)
    ready = next(x for x in s.conditions if x.type == "Ready")
    assert (ready.reason, ready.message) == ("ContainersNotReady", "containers with unready status: [a]")
    s = generate_status(p, ObservedPod(containers=hist, runtime="f", started={"c1": True}, ready={"c1": True}), 0)
    assert (s.containerStatuses[0].started, s.containerStatuses[0].ready) == (True, True)
    assert all(x.status == "True" for x in s.conditions)


def test_conditions_keep_their_transition_time_and_foreign_conditions_survive():
    p = pod({"containers": TWO[:1]}, {"conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"},
        {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}]})
    s = generate_status(p, ObservedPod(containers={"a": [cs("a", "running")]}, runtime="f"), 1_700_000_000.0)
    conds = {c.type: c for c in s.conditions}
    assert conds["Ready"].lastTransitionTime == "2020-01-01T00:00:00Z"
    assert conds["ContainersReady"].lastTransitionTime == "2023-11-14T22:13:20Z"
    assert conds["DisruptionTarget"].reason == "EvictionByEvictionAPI"


def test_a_terminal_phase_is_never_left():
    p = pod({"containers": TWO[:1], "restartPolicy": "Always"}, {"phase": "Failed"})
    s = generate_status(p, ObservedPod(containers={"a": [cs("a", "running")]}, runtime="f"), 0)
    assert s.phase == "Failed"


def test_backoff_doubles_caps_and_resets_after_twice_the_cap():
    clock = FakeClock()
    b = Backoff(10, 40, clock)
    key = ("uid", "app")
    t = clock.now()
    assert not b.in_backoff_since(key, t)      # the first failure restarts at once
    waits = []
    for _ in range(5):
        b.next(key, clock.now())
        waits.append(b.current(key))
        assert b.in_backoff_since(key, clock.now())
        clock.advance(b.current(key))
        assert not b.in_backoff_since(key, clock.now() - b.current(key))
    assert waits == [10, 20, 40, 40, 40]
    clock.advance(81)                           # ran clean for more than 2 * cap
    b.next(key, clock.now())
    assert b.current(key) == 10


@pytest.mark.parametrize("seconds,text", [(10, "10s"), (59, "59s"), (80, "1m20s"), (300, "5m0s"), (3725, "1h2m5s")])
def test_go_duration(seconds, text):
    assert go_duration(seconds) == text


@pytest.mark.parametrize("text,want", [
    ("$(A)-$(B)", "1-two"),
    ("$$(A)", "$(A)"),
    ("$(MISSING)", "$(MISSING)"),
    ("$(A", "$(A"),
    ("a$b", "a$b"),
    ("$$$(A)", "$1"),
])
def test_var_expansion(text, want):
    assert expand(text, {"A": "1", "B": "two"}) == want


def test_env_downward_api_and_resource_fields():
    p = pod({"nodeName": "node-3", "containers": [{"name": "a", "image": "x",
                                                   "resources": {"limits": {"cpu": "1500m", "memory": "64Mi"}},
                                                   "env": [
        {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
        {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
        {"name": "MSG", "value": "$(N)@$(NODE)"}]}]})
    env = container_env(p, p.spec.containers[0], pod_ip="10.0.0.9", host_ip="192.0.2.1")
    assert env == {"N": "p", "IP": "10.0.0.9", "NODE": "node-3", "CPU": "2", "MEM": "64", "MSG": "p@node-3"}


def _write_log(path, lines):
    path.write_text("".join(f"2024-01-01T00:00:{i:02d}.000000000Z {s} {t} {text}\n"
                            for i, (s, t, text) in enumerate(lines)))


async def _read(path, **opts) -> bytes:
    return b"".join([c async for c in read_log(str(path), LogOptions(**opts), now=1704067210.0)])


async def test_log_reader_options(tmp_path):
    log = tmp_path / "0.log"
    _write_log(log, [("stdout", "F", "one"), ("stderr", "P", "tw"), ("stderr", "F", "o"), ("stdout", "F", "three"),
                     ("stdout", "F", "four")])
    assert await _read(log) == b"one\ntwo\nthree\nfour\n"
    assert await _read(log, tail_lines=2) == b"three\nfour\n"
    assert await _read(log, tail_lines=0) == b""
    assert await _read(log, timestamps=True, tail_lines=1) == b"2024-01-01T00:00:04.000000000Z four\n"
    assert await _read(log, since_seconds=7) == b"three\nfour\n"       # now is :10; lines from :03 on
    assert await _read(log, limit_bytes=6) == b"one\ntw"
    assert await _read(tmp_path / "missing.log") == b""


async def test_log_reader_follows_until_the_container_stops(tmp_path):
    log = tmp_path / "0.log"
    _write_log(log, [("stdout", "F", "first")])
    alive, asked = {"v": True}, {"n": 0}

    async def running():
        asked["n"] += 1
        return alive["v"]
    chunks = []

    async def consume():
        async for c in read_log(str(log), LogOptions(follow=True), 0.0, running):
            chunks.append(c)
    task = asyncio.ensure_future(consume())
    # the reader asks whether the container runs once it has read to the end and is following
    await wait_for(lambda: asked["n"], what="the reader following at the end of the log")
    with open(log, "a") as f:
        f.write("2024-01-01T00:00:09.000000000Z stdout F second\n")
    alive["v"] = False
    await asyncio.wait_for(task, 5)
    assert b"".join(chunks) == b"first\nsecond\n"


def gpu_pod(uid: str, *counts: int, init: int = 0) -> core_pb2.Pod:
    spec = {"containers": [{"name": f"c{i}", "image": "x", "resources": {"limits": {"nvidia.com/gpu": str(n)}}}
                           for i, n in enumerate(counts)]}
    if init:
        spec["initContainers"] = [{"name": "init", "image": "x",
                                   "resources": {"limits": {"nvidia.com/gpu": str(init)}}}]
    p = pod(spec)
    p.metadata.uid = uid
    return p


def test_gpu_allocator_assigns_whole_devices_once():
    devs = fake_devices("node-1", 4)
    a = GPUAllocator(devs)
    got1 = a.admit(gpu_pod("p1", 1, 2))
    assert [len(v) for v in got1.values()] == [1, 2] and len(set(got1["c0"] + got1["c1"])) == 3
    assert a.admit(gpu_pod("p1", 1, 2)) == got1          # admission happens once per pod
    with pytest.raises(AdmissionError, match="Requested: 2, Available: 1"):
        a.admit(gpu_pod("p2", 2))
    got3 = a.admit(gpu_pod("p3", 1, init=1))            # an init container's device may be reused
    assert got3["init"] == got3["c0"]
    a.release("p1")
    assert len(a.admit(gpu_pod("p4", 3))["c0"]) == 3
    held = [u for conts in a.assigned.values() for us in conts.values() for u in us]
    assert len(held) == len(set(held)) + 1              # only p3's init/app pair shares one


def test_gpu_assignments_are_restored_from_labels_and_env_is_set():
    devs = fake_devices("node-1", 2)
    a = GPUAllocator(devs)
    a.restore("p1", "c0", devs[1].uuid + ",GPU-not-here")
    assert a.devices_of("p1", "c0") == [devs[1].uuid]
    assert a.admit(gpu_pod("p2", 1))["c0"] == [devs[0].uuid]
    assert a.env([devs[0].uuid]) == {"NVIDIA_VISIBLE_DEVICES": devs[0].uuid, "CUDA_VISIBLE_DEVICES": devs[0].uuid}
    assert a.env([]) == {"NVIDIA_VISIBLE_DEVICES": "void", "CUDA_VISIBLE_DEVICES": ""}
    assert GPUAllocator([]).env([]) == {}
    assert a.runtime_devices([devs[0].uuid]) == [], "fake devices never reach the runtime"
    assert fake_devices("node-1", 1) == fake_devices("node-1", 1) != fake_devices("node-2", 1)


def test_cluster_file_configures_each_node(tmp_path):
    (tmp_path / "cluster.yaml").write_text("""
runtime: process
nodes:
- name: cpu
  count: 2
  cpu: "4"
  memory: 8Gi
- name: gpu-1
  gpus: {count: 2, product: NVIDIA H100, memory: 80Gi}
  labels: {accelerator: h100}
  taints: [{key: nvidia.com/gpu, value: present, effect: NoSchedule}]
  podCIDR: 10.99.0.0/24
  runtime: fake
kubelet:
  backoffBase: 1
  logMaxBytes: 1Mi
""")
    cfg, settings = kconfig.load(str(tmp_path), "cpu-2")
    assert (cfg.runtime, cfg.capacity, cfg.index) == ("process", {"cpu": "4", "memory": "8Gi"}, 164)
    assert kconfig.default_pod_cidr(cfg.runtime, cfg.index) == "10.244.164.0/24"
    assert kconfig.default_pod_cidr("docker", kconfig.index_of("node-3")) == "10.245.3.0/24"
    assert (settings.backoff_base, settings.backoff_cap, settings.log_max_bytes) == (1.0, 300.0, 1024 * 1024)
    cfg, _ = kconfig.load(str(tmp_path), "gpu-1")
    assert (cfg.runtime, cfg.pod_cidr, cfg.labels) == ("fake", "10.99.0.0/24", {"accelerator": "h100"})
    from kubelet.gpu import discover
    devs = discover("gpu-1", cfg.gpus)
    assert [(d.product, d.memory_mib) for d in devs] == [("NVIDIA-H100", 81920)] * 2
    cfg, settings = kconfig.load(str(tmp_path / "none"), "node-7")
    assert (cfg.runtime, cfg.index, settings.backoff_base) == ("auto", 7, 10.0)
    with pytest.raises(ValueError, match="unknown setting"):
        kconfig.Settings.from_dict({"backoffbase": 1})


class _FakeNVML:
    """Just enough of pynvml for discovery: two H200s."""

    class _Mem:
        total = 150 * 1024 ** 3

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return 2

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetName(self, h):
        return b"NVIDIA H200"

    def nvmlDeviceGetUUID(self, h):
        return f"GPU-0000000{h}-1111-2222-3333-444444444444"

    def nvmlDeviceGetMemoryInfo(self, h):
        return self._Mem()


def test_nvml_discovery_and_the_gpu_check_without_torch(monkeypatch):
    import sys
    from kubelet import gpu, gpu_check
    monkeypatch.setitem(sys.modules, "pynvml", _FakeNVML())
    devs = gpu.discover("node-1", "auto")
    assert [(d.index, d.product, d.memory_mib, d.fake) for d in devs] == \
        [(0, "NVIDIA-H200", 153600, False), (1, "NVIDIA-H200", 153600, False)]
    assert gpu.node_labels(devs) == {"nvidia.com/gpu.product": "NVIDIA-H200", "nvidia.com/gpu.count": "2",
                                     "nvidia.com/gpu.memory": "153600"}
    assert GPUAllocator(devs).runtime_devices([devs[1].uuid]) == [devs[1].uuid]
    monkeypatch.setattr(gpu_check.importlib.util, "find_spec", lambda name: None)
    out, code = gpu_check.check()
    assert code == 0 and out["cuda"] == {"skipped": "torch is not importable"}
    assert out["assignment"]["env"]["CUDA_VISIBLE_DEVICES"] == devs[0].uuid
    assert out["discovery"]["capacity"] == {"nvidia.com/gpu": "2"}


def test_no_nvml_means_no_gpus(monkeypatch):
    import sys
    from kubelet import gpu
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert gpu.discover("node-1", "auto") == []
