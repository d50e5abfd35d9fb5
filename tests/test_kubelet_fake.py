"""The kubelet driving the fake runtime against a real API server: registration and heartbeat, pod
status as upstream writes it, restart policies, the crash-loop backoff on a FakeClock, init containers,
GPU assignment, adoption after a kubelet restart, metrics, logs and exec through the tunnel, and many
fake nodes in one process. Nothing here runs a process, so it all runs anywhere."""
from __future__ import annotations

import asyncio
import os

import pytest

from minik8s.api.clock import FakeClock
from minik8s.api.errors import Forbidden
from minik8s.api.pb import core_pb2

from kubelet.config import Settings
from kubelet.fakenodes import FakeNodeHost
from kubelet.gpu import LABEL_DEVICES
from kubelet.runtime.fake import FakeRuntime

from test_kubelet_harness import (FAST, cstatus, condition, events, kubelet, phase_is, pod, running,
                                  settled, wait_event, wait_for, wait_gone, wait_pod)

EXIT_AFTER = "fake.minik8s.io/exit-after-seconds"
EXIT_CODE = "fake.minik8s.io/exit-code"


def crashing(code: int = 1) -> dict:
    return {EXIT_AFTER: "0", EXIT_CODE: str(code)}


async def test_node_registers_with_capacity_labels_taints_and_lease(srv, tmp_path):
    async with kubelet(srv, str(tmp_path), "node-1", capacity={"cpu": "4", "memory": "8Gi"},
                       labels={"accelerator": "h200"}, instance_type="gpu.large", gpus=2,
                       taints=[{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]):
        async with srv.async_client("admin") as c:
            node = await c.get("Node", "node-1")
            labels = node.metadata.labels
            assert labels["kubernetes.io/hostname"] == "node-1"
            assert labels["kubernetes.io/os"] == "linux"
            assert labels["node.kubernetes.io/instance-type"] == "gpu.large"
            assert labels["accelerator"] == "h200"
            assert (labels["nvidia.com/gpu.count"], labels["nvidia.com/gpu.product"]) == ("2", "NVIDIA-Fake-GPU")
            assert [(t.key, t.value, t.effect) for t in node.spec.taints] == \
                [("nvidia.com/gpu", "present", "NoSchedule")]
            cap = node.status.capacity
            assert (cap["cpu"], cap["memory"], cap["pods"], cap["nvidia.com/gpu"]) == ("4", "8Gi", "110", "2")
            assert dict(node.status.allocatable) == dict(cap)
            ready = next(x for x in node.status.conditions if x.type == "Ready")
            assert (ready.status, ready.reason, ready.message) == \
                ("True", "KubeletReady", "kubelet is posting ready status")
            assert {a.type for a in node.status.addresses} == {"InternalIP", "Hostname"}
            assert node.status.nodeInfo.containerRuntimeVersion == "fake://0.1"
            assert node.spec.podCIDR == "10.246.1.0/24"
            assert node.metadata.annotations["runtime.minik8s.io/image"] == "ignored: nothing runs"
            lease = await wait_for(lambda: c.get("Lease", "node-1", "kube-node-lease"), what="the lease")
            assert lease.spec.holderIdentity == "node-1" and lease.spec.leaseDurationSeconds == 40
            assert lease.spec.renewTime
            await wait_for(lambda: c.list("Event", "default", field_selector="involvedObject.kind=Node"),
                           what="node events")
            evs = {(e.reason, e.message) for e in
                   (await c.list("Event", "default", field_selector="involvedObject.name=node-1")).items}
            assert {("Starting", "Starting kubelet."), ("NodeReady", "Node node-1 status is now: NodeReady")} <= evs


async def test_running_pod_status_is_upstreams(srv, tmp_path):
    async with kubelet(srv, str(tmp_path)) as k, srv.async_client("admin") as c:
        await c.create(pod("web", containers=[{"name": "web", "image": "nginx:1.25"}]))
        p = await wait_pod(c, "web", phase_is("Running"))
        s = p.status
        assert s.hostIP == "127.0.0.1" and [h.ip for h in s.hostIPs] == ["127.0.0.1"]
        assert s.podIP.startswith("10.246.1.") and [i.ip for i in s.podIPs] == [s.podIP]
        assert s.startTime and s.qosClass == "BestEffort"
        assert [(x.type, x.status) for x in s.conditions] == \
            [("Initialized", "True"), ("Ready", "True"), ("ContainersReady", "True"), ("PodScheduled", "True")]
        cs = cstatus(p, "web")
        assert cs.ready and cs.started and cs.restartCount == 0
        assert cs.state.running.startedAt
        assert cs.image == "nginx:1.25" and cs.imageID == "fake://nginx:1.25"
        assert cs.containerID.startswith("fake://")
        await wait_event(c, "web", "Started", "Started container web")
        assert ("Created", "Created container web") in await events(c, "web")
        ev = (await c.list("Event", "default", field_selector="reason=Started")).items[0]
        assert ev.involvedObject.fieldPath == "spec.containers{web}"
        assert (ev.source.component, ev.source.host) == ("kubelet", "node-1")
        writes = k.status_writer.writes
        await k.relist()
        await wait_for(lambda: settled(k), what="the relist's syncs done")
        assert k.status_writer.writes == writes, "an unchanged pod must not be written again"


@pytest.mark.parametrize("policy,code,phase,reason,ready_reason", [
    ("Never", 0, "Succeeded", "Completed", "PodCompleted"),
    ("Never", 3, "Failed", "Error", "PodFailed"),
    ("OnFailure", 0, "Succeeded", "Completed", "PodCompleted"),
])
async def test_a_pod_that_is_done_gets_its_terminal_phase(srv, tmp_path, policy, code, phase, reason, ready_reason):
    async with kubelet(srv, str(tmp_path)) as k, srv.async_client("admin") as c:
        await c.create(pod("job", annotations=crashing(code), restartPolicy=policy))
        p = await wait_pod(c, "job", phase_is(phase))
        t = cstatus(p, "app").state.terminated
        assert (t.exitCode, t.reason) == (code, reason) and t.finishedAt and t.containerID
        ready = next(x for x in p.status.conditions if x.type == "Ready")
        assert (ready.status, ready.reason) == ("False", ready_reason)
        assert cstatus(p, "app").restartCount == 0
        # the sandbox is stopped, the exited container kept for its logs
        await wait_for(lambda: all(not s.ready for s in k.runtime._sandboxes.values()), what="sandbox stopped")
        assert len(await k.runtime.list_containers()) == 1


async def test_crash_loop_backoff_doubles_to_its_cap(srv, tmp_path):
    clock = FakeClock()
    settings = Settings(**{**FAST, "backoff_base": 10.0, "backoff_cap": 40.0})
    async with kubelet(srv, str(tmp_path), clock=clock, settings=settings) as k, srv.async_client("admin") as c:
        p = await c.create(pod("crash", annotations=crashing(1)))
        full = f"crash_default({p.metadata.uid})"

        def looping(count, wait):
            def pred(p):
                cs = cstatus(p, "app") if p.status.containerStatuses else None
                return cs is not None and cs.restartCount == count and \
                    cs.state.waiting.reason == "CrashLoopBackOff" and \
                    cs.state.waiting.message == f"back-off {wait} restarting failed container=app pod={full}"
            return pred
        # first exit: restarted at once (upstream: no backoff before the first restart)
        p = await wait_pod(c, "crash", looping(1, "10s"))
        cs = cstatus(p, "app")
        assert (cs.lastState.terminated.exitCode, cs.lastState.terminated.reason) == (1, "Error")
        assert p.status.phase == "Running" and condition(p, "Ready") == "False"
        await wait_event(c, "crash", "BackOff", f"Back-off restarting failed container app in pod {full}")
        clock.advance(9)
        k.workers.trigger(p.metadata.uid)      # a sync at 9 s: still inside the backoff
        await wait_for(lambda: settled(k), what="the sync at 9 s")
        assert cstatus(await c.get("Pod", "crash"), "app").restartCount == 1, "restarted before its backoff"
        clock.advance(1.5)
        await wait_pod(c, "crash", looping(2, "20s"))
        clock.advance(20.5)
        await wait_pod(c, "crash", looping(3, "40s"))
        clock.advance(40.5)
        await wait_pod(c, "crash", looping(4, "40s"))      # the cap


async def test_on_failure_restarts_failures_only(srv, tmp_path):
    clock = FakeClock()
    async with kubelet(srv, str(tmp_path), clock=clock), srv.async_client("admin") as c:
        await c.create(pod("retry", annotations=crashing(2), restartPolicy="OnFailure"))
        p = await wait_pod(c, "retry", lambda p: p.status.containerStatuses and
                           cstatus(p, "app").state.waiting.reason == "CrashLoopBackOff")
        assert p.status.phase == "Running" and cstatus(p, "app").restartCount == 1


async def test_init_containers_run_in_order_before_the_app(srv, tmp_path):
    async with kubelet(srv, str(tmp_path)) as k, srv.async_client("admin") as c:
        order = []
        start = k.runtime.start_container

        async def record(cid):
            order.append((await k.runtime.container_status(cid)).name)
            await start(cid)
        k.runtime.start_container = record
        await c.create(pod("init", annotations={f"{EXIT_AFTER}.init-a": "0", f"{EXIT_AFTER}.init-b": "0"},
                           initContainers=[{"name": "init-a", "image": "busybox"},
                                           {"name": "init-b", "image": "busybox"}]))
        p = await wait_pod(c, "init", phase_is("Running"))
        assert order == ["init-a", "init-b", "app"]
        assert condition(p, "Initialized") == "True"
        for name in ("init-a", "init-b"):
            t = cstatus(p, name).state.terminated
            assert (t.exitCode, t.reason) == (0, "Completed")


async def test_a_failed_init_container_fails_a_never_pod(srv, tmp_path):
    async with kubelet(srv, str(tmp_path)), srv.async_client("admin") as c:
        await c.create(pod("init", annotations={f"{EXIT_AFTER}.setup": "0", f"{EXIT_CODE}.setup": "1"},
                           restartPolicy="Never", initContainers=[{"name": "setup", "image": "busybox"}]))
        p = await wait_pod(c, "init", phase_is("Failed"))
        assert cstatus(p, "setup").state.terminated.exitCode == 1
        init = next(x for x in p.status.conditions if x.type == "Initialized")
        assert (init.status, init.reason, init.message) == \
            ("False", "ContainersNotInitialized", "containers with incomplete status: [setup]")
        assert cstatus(p, "app").state.waiting.reason == "PodInitializing"


class RecordingRuntime(FakeRuntime):
    """The fake runtime, keeping every ContainerConfig it was given."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.configs = {}

    async def create_container(self, sandbox_id, cfg):
        cid = await super().create_container(sandbox_id, cfg)
        self.configs[cid] = cfg
        return cid


def gpu_pod(name: str, n: int = 1):
    return pod(name, containers=[{"name": "train", "image": "pytorch",
                                  "resources": {"limits": {"nvidia.com/gpu": str(n)}}}])


async def test_gpus_are_assigned_whole_and_never_twice(srv, tmp_path):
    rt = RecordingRuntime("node-1", "10.246.1.0/24")
    async with kubelet(srv, str(tmp_path), runtime_obj=rt, gpus=2) as k, srv.async_client("admin") as c:
        await c.create(gpu_pod("a"))
        await c.create(gpu_pod("b"))
        await c.create(pod("cpu-only"))
        for name in ("a", "b", "cpu-only"):
            await wait_pod(c, name, phase_is("Running"))
        env = {cfg.labels["io.kubernetes.pod.name"]: cfg.env for cfg in rt.configs.values()}
        uuids = [d.uuid for d in k.gpus.devices]
        assert {env["a"]["NVIDIA_VISIBLE_DEVICES"], env["b"]["NVIDIA_VISIBLE_DEVICES"]} == set(uuids)
        assert env["a"]["CUDA_VISIBLE_DEVICES"] == env["a"]["NVIDIA_VISIBLE_DEVICES"]
        assert (env["cpu-only"]["NVIDIA_VISIBLE_DEVICES"], env["cpu-only"]["CUDA_VISIBLE_DEVICES"]) == ("void", "")
        assert all(not cfg.gpu_devices for cfg in rt.configs.values()), "fake GPUs are env only"
        assert ("DevicesAssigned", f"nvidia.com/gpu {env['a']['NVIDIA_VISIBLE_DEVICES']} assigned to container "
                "train") in await events(c, "a")
        # a third GPU pod does not fit: rejected at admission, as upstream
        await c.create(gpu_pod("c"))
        p = await wait_pod(c, "c", phase_is("Failed"))
        assert p.status.reason == "UnexpectedAdmissionError"
        assert p.status.message == ("Allocate failed due to requested number of devices unavailable for "
                                    "nvidia.com/gpu. Requested: 1, Available: 0, which is unexpected")
        # a freed device goes to the next pod
        a_device = env["a"]["NVIDIA_VISIBLE_DEVICES"]
        await c.delete("Pod", "a")
        await wait_gone(c, "a")
        await c.create(gpu_pod("d"))
        await wait_pod(c, "d", phase_is("Running"))
        d_cfg = next(cfg for cfg in rt.configs.values() if cfg.labels["io.kubernetes.pod.name"] == "d")
        assert d_cfg.labels[LABEL_DEVICES] == a_device


async def test_a_restarted_kubelet_adopts_and_restarts_nothing(srv, tmp_path):
    rt = RecordingRuntime("node-1", "10.246.1.0/24")
    async with srv.async_client("admin") as c:
        async with kubelet(srv, str(tmp_path), runtime_obj=rt, gpus=2, cleanup=False):
            await c.create(gpu_pod("train", 2))
            await c.create(pod("web"))
            before = {n: await wait_pod(c, n, phase_is("Running")) for n in ("train", "web")}
        started = [e for e in await events(c, "web") if e[0] == "Started"]
        async with kubelet(srv, str(tmp_path), runtime_obj=rt, gpus=2) as k:
            await k.relist()
            await c.create(gpu_pod("late"))
            p = await wait_pod(c, "late", phase_is("Failed"))      # both GPUs still held by "train"
            assert p.status.reason == "UnexpectedAdmissionError"
            for n, old in before.items():
                now = await c.get("Pod", n)
                assert cstatus(now, "app" if n == "web" else "train").containerID == \
                    cstatus(old, "app" if n == "web" else "train").containerID
                assert now.status.phase == "Running"
            assert [e for e in await events(c, "web") if e[0] == "Started"] == started
            assert len(rt.configs) == 2, "a container was started again"


async def test_a_node_cannot_touch_another_nodes_pods(srv, tmp_path):
    async with kubelet(srv, str(tmp_path), "node-2"), srv.async_client("admin") as c, \
            srv.async_client("node-2") as node2:
        p = await c.create(pod("web", node="node-1"))
        # node-2's own pod, made later, running shows its kubelet has seen what came before
        await c.create(pod("mine", node="node-2"))
        await wait_pod(c, "mine", phase_is("Running"))
        assert (await c.get("Pod", "web")).status.phase == "Pending", "node-2's kubelet ran node-1's pod"
        p.status.phase = "Running"
        with pytest.raises(Forbidden, match='node "node-2" can only update pods bound to it'):
            await node2.update_status(p)
        with pytest.raises(Forbidden):
            await node2.delete("Pod", "web")


async def test_usage_is_published_as_metrics(srv, tmp_path):
    clock = FakeClock()
    async with kubelet(srv, str(tmp_path), clock=clock) as k, srv.async_client("admin") as c:
        await c.create(pod("busy", labels={"app": "busy"},
                           annotations={"fake.minik8s.io/cpu-millis": "250",
                                        "fake.minik8s.io/memory-bytes": "64Mi"}))
        await wait_pod(c, "busy", phase_is("Running"))
        await k.metrics.publish_once()
        clock.advance(5)
        await k.metrics.publish_once()
        m = await c.get("PodMetrics", "busy")
        assert [(x.name, dict(x.usage)) for x in m.containers] == [("app", {"cpu": "250m", "memory": "65536Ki"})]
        assert m.metadata.labels["app"] == "busy" and m.window == "0.5s" and m.timestamp
        n = await c.get("NodeMetrics", "node-1")
        assert dict(n.usage) == {"cpu": "250m", "memory": "65536Ki"}
        await c.delete("Pod", "busy")
        await wait_gone(c, "busy")
        assert not (await c.list("PodMetrics", "default")).items, "metrics outlived their pod"


async def test_logs_and_exec_go_through_the_node_tunnel(srv, tmp_path):
    async with kubelet(srv, str(tmp_path)) as k, srv.async_client("admin") as c:
        await c.create(pod("web"))
        await wait_pod(c, "web", running("app"))
        await asyncio.wait_for(k.tunnel.connected.wait(), 10)
        sc = srv.client("admin")
        out = b"".join(await asyncio.to_thread(lambda: list(sc.logs("web"))))
        assert out == b"fake runtime: container app started\n"
        stamped = b"".join(await asyncio.to_thread(lambda: list(sc.logs("web", timestamps=True))))
        assert stamped.endswith(b"Z fake runtime: container app started\n")
        r = await asyncio.to_thread(sc.exec, "web", ["echo", "hi"])
        assert (r.stdout, r.exit_code) == (b"echo hi\n", 0)


async def test_many_fake_nodes_in_one_process_share_a_channel_and_a_pod_informer(srv, tmp_path):
    home = str(tmp_path)
    host = FakeNodeHost(home, ["node-1", "node-2"], base_client=srv.async_client("node-1"),
                        tokens={n: srv.tokens[n] for n in ("node-1", "node-2")})
    await host.start()
    try:
        async with srv.async_client("admin") as c:
            await c.create(pod("a", node="node-1"))
            await c.create(pod("b", node="node-2"))
            a = await wait_pod(c, "a", phase_is("Running"))
            b = await wait_pod(c, "b", phase_is("Running"))
            assert a.status.podIP.startswith("10.246.1.") and b.status.podIP.startswith("10.246.2.")
            nodes = {n.metadata.name for n in (await c.list("Node")).items}
            assert nodes == {"node-1", "node-2"}
            for p in ("a", "b"):
                await c.delete("Pod", p)
                await wait_gone(c, p)
    finally:
        await host.stop()


async def test_containers_get_the_service_env_vars_of_their_namespace(srv, tmp_path):
    from minik8s.api.codec import from_dict
    rt = RecordingRuntime("node-1", "10.246.1.0/24")
    async with srv.async_client("admin") as c:
        svc = await c.create(from_dict(core_pb2.Service, {
            "metadata": {"name": "my-db", "namespace": "default"},
            "spec": {"selector": {"app": "db"}, "ports": [{"name": "sql", "port": 5432}]}}))
        async with kubelet(srv, str(tmp_path), runtime_obj=rt):
            await c.create(pod("app", [{"name": "app", "image": "x",
                                        "env": [{"name": "DB", "value": "$(MY_DB_SERVICE_HOST):5432"}]}]))
            await wait_pod(c, "app", phase_is("Running"))
            [cfg] = rt.configs.values()
            ip = svc.spec.clusterIP
            assert cfg.env["MY_DB_SERVICE_HOST"] == ip and cfg.env["MY_DB_SERVICE_PORT_SQL"] == "5432"
            assert cfg.env["MY_DB_PORT"] == f"tcp://{ip}:5432"
            assert cfg.env["DB"] == f"{ip}:5432"


async def test_dead_containers_are_collected_but_the_previous_one_is_kept(srv, tmp_path):
    clock = FakeClock()
    settings = Settings(**{**FAST, "backoff_base": 1.0, "backoff_cap": 1.0})
    async with kubelet(srv, str(tmp_path), clock=clock, settings=settings) as k, srv.async_client("admin") as c:
        await c.create(pod("crash", annotations=crashing(1)))
        for n in range(1, 5):
            await wait_pod(c, "crash", lambda p: p.status.containerStatuses and
                           cstatus(p, "app").restartCount >= n)
            clock.advance(1.5)
        conts = await k.runtime.list_containers()
        assert len(conts) == 2 and sorted(x.attempt for x in conts)[1] >= 4
        logs = sorted(os.listdir(os.path.dirname(conts[0].log_path)))
        assert logs == sorted(os.path.basename(x.log_path) for x in conts)
