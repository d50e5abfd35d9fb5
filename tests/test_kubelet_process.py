"""The kubelet with the process runtime: real processes in real network namespaces (root), against a real
API server. Pod networking (localhost inside a pod, pod IPs from the host and across nodes), restarts
with backoff, probes, graceful deletion, logs (with --previous), exec, the downward API and volumes,
GPU environment, and a kubelet restart that restarts nothing."""
from __future__ import annotations

import asyncio
import os
import time
import urllib.request

import pytest

from test_kubelet_harness import (condition, cstatus, events, kubelet, phase_is, pod, running, sh,
                                  settled, wait_event, wait_for, wait_gone, wait_pod)

pytestmark = pytest.mark.root


def logs(srv, name: str, **kw) -> bytes:
    return b"".join(srv.client("admin").logs(name, **kw))


async def alogs(srv, name: str, **kw) -> bytes:
    return await asyncio.to_thread(logs, srv, name, **kw)


def log_is(srv, name: str, want=None, contains=None, **kw):
    """For wait_for: the pod's log equals `want` (or contains `contains`), read off the event loop."""
    async def check():
        out = await alogs(srv, name, **kw)
        return out == want if want is not None else contains in out
    return check


def web_server(mount: str, port: int = 8080) -> dict:
    return sh("web", f"echo hello from $(hostname) > {mount}/index.html; exec busybox httpd -f -p {port} -h {mount}",
              volumeMounts=[{"name": "www", "mountPath": mount}])


async def test_containers_of_a_pod_share_localhost_and_the_host_reaches_the_pod_ip(srv, tmp_path):
    mount = str(tmp_path / "www")
    async with kubelet(srv, str(tmp_path), runtime="process"), srv.async_client("admin") as c:
        await c.create(pod("web", containers=[
            web_server(mount),
            sh("client", "until busybox wget -qO- http://127.0.0.1:8080/index.html; do sleep 0.1; done; "
                         "exec sleep 600")], volumes=[{"name": "www", "emptyDir": {}}]))
        p = await wait_pod(c, "web", phase_is("Running"))
        await wait_for(log_is(srv, "web", contains=b"hello from web", container="client"),
                       what="the client container to reach the server over localhost")

        async def page():
            try:
                return await asyncio.to_thread(
                    lambda: urllib.request.urlopen(f"http://{p.status.podIP}:8080/index.html", timeout=5).read())
            except OSError:     # a busy host (other clusters' bridges coming and going): ask again
                return None
        body = await wait_for(page, 60, what="the host to reach the pod's IP")
        assert body == b"hello from web\n"


async def test_pods_on_two_nodes_reach_each_other_by_pod_ip(srv, tmp_path):
    mount = str(tmp_path / "www")
    home = str(tmp_path)
    async with kubelet(srv, home, "node-1", runtime="process"), \
            kubelet(srv, home, "node-2", runtime="process"), srv.async_client("admin") as c:
        await c.create(pod("server", [web_server(mount)], node="node-1", volumes=[{"name": "www", "emptyDir": {}}]))
        server = await wait_pod(c, "server", phase_is("Running"))
        await c.create(pod("client", node="node-2", containers=[sh(
            # Debian 12's busybox wget crashes (SIGSEGV) on -T: coreutils' timeout bounds each try
            "client", f"until timeout 2 busybox wget -qO- http://{server.status.podIP}:8080/index.html; "
                      "do sleep 0.2; done; exec sleep 600")]))
        client = await wait_pod(c, "client", phase_is("Running"))
        assert client.status.podIP.startswith("10.244.2.") and server.status.podIP.startswith("10.244.1.")
        await wait_for(log_is(srv, "client", contains=b"hello from server"), 60,
                       what="the pod on node-2 to reach the pod on node-1")


async def test_a_crashing_container_backs_off_counts_restarts_and_keeps_its_previous_log(srv, tmp_path):
    mount = str(tmp_path / "state")
    async with kubelet(srv, str(tmp_path), runtime="process"), srv.async_client("admin") as c:
        p = await c.create(pod("crash", [sh("app", f"n=$(cat {mount}/n 2>/dev/null || echo 0); n=$((n+1)); "
                                                   f"echo $n > {mount}/n; echo attempt $n; exit 1",
                                             volumeMounts=[{"name": "state", "mountPath": mount}])],
                               volumes=[{"name": "state", "emptyDir": {}}]))
        p = await wait_pod(c, "crash", lambda p: p.status.containerStatuses and
                           cstatus(p, "app").restartCount >= 2 and
                           cstatus(p, "app").state.waiting.reason == "CrashLoopBackOff")
        cs = cstatus(p, "app")
        assert cs.state.waiting.message.startswith("back-off ") and \
            f"restarting failed container=app pod=crash_default({p.metadata.uid})" in cs.state.waiting.message
        t = cs.lastState.terminated
        assert (t.exitCode, t.reason) == (1, "Error")
        assert p.status.phase == "Running" and condition(p, "Ready") == "False"
        n = cs.restartCount + 1
        assert await alogs(srv, "crash") == f"attempt {n}\n".encode()
        assert await alogs(srv, "crash", previous=True) == f"attempt {n - 1}\n".encode()
        await wait_event(c, "crash", "BackOff", "Back-off restarting failed container app in pod crash_default(")


async def test_a_failing_liveness_probe_restarts_the_container(srv, tmp_path):
    mount = str(tmp_path / "state")
    probe = {"exec": {"command": ["cat", f"{mount}/healthy"]}, "periodSeconds": 1, "failureThreshold": 1}
    async with kubelet(srv, str(tmp_path), runtime="process"), srv.async_client("admin") as c:
        await c.create(pod("live", [sh("app", f"touch {mount}/healthy; sleep 1; rm {mount}/healthy; exec sleep 600",
                                       livenessProbe=probe,
                                       volumeMounts=[{"name": "state", "mountPath": mount}])],
                           volumes=[{"name": "state", "emptyDir": {}}]))
        p = await wait_pod(c, "live", lambda p: p.status.containerStatuses and
                           cstatus(p, "app").restartCount >= 1, timeout=30)
        _, msg = await wait_event(c, "live", "Unhealthy", "Liveness probe failed: ")
        assert "healthy" in msg
        await wait_event(c, "live", "Killing", "Container app failed liveness probe, will be restarted")
        assert cstatus(p, "app").lastState.terminated.exitCode in (137, 143)


async def test_readiness_drives_the_ready_condition(srv, tmp_path):
    mount = str(tmp_path / "state")
    probe = {"exec": {"command": ["test", "-f", f"{mount}/ready"]}, "periodSeconds": 1}
    async with kubelet(srv, str(tmp_path), runtime="process"), srv.async_client("admin") as c:
        await c.create(pod("ready", [sh("app", "exec sleep 600", readinessProbe=probe,
                                        volumeMounts=[{"name": "state", "mountPath": mount}])],
                           volumes=[{"name": "state", "emptyDir": {}}]))
        p = await wait_pod(c, "ready", phase_is("Running"))
        ready = next(x for x in p.status.conditions if x.type == "Ready")
        assert (ready.status, ready.reason, ready.message) == \
            ("False", "ContainersNotReady", "containers with unready status: [app]")
        sc = srv.client("admin")
        await asyncio.to_thread(sc.exec, "ready", ["touch", f"{mount}/ready"])
        await wait_pod(c, "ready", lambda p: condition(p, "Ready") == "True" and cstatus(p, "app").ready)
        await asyncio.to_thread(sc.exec, "ready", ["rm", f"{mount}/ready"])
        await wait_pod(c, "ready", lambda p: condition(p, "Ready") == "False")
        await wait_event(c, "ready", "Unhealthy", "Readiness probe failed: ")


async def test_delete_sends_sigterm_then_sigkill_after_the_grace_period(srv, tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    vol = [{"name": "host", "hostPath": {"path": str(host)}}]
    mount = [{"name": "host", "mountPath": "/mnt/host-" + os.path.basename(str(tmp_path))}]
    m = mount[0]["mountPath"]
    async with kubelet(srv, str(tmp_path), runtime="process"), srv.async_client("admin") as c:
        # a process that exits on SIGTERM: gone at once, long before its 30 s grace period
        await c.create(pod("polite", [sh("app", f"trap 'echo TERM >> {m}/polite; exit 0' TERM; "
                                                "while :; do sleep 0.1; done", volumeMounts=mount)], volumes=vol))
        # one that ignores it: SIGKILLed when its 2 s are up
        await c.create(pod("stubborn", [sh("app", f"trap 'echo TERM >> {m}/stubborn' TERM; "
                                                  "while :; do sleep 0.1; done", volumeMounts=mount)],
                           volumes=vol, terminationGracePeriodSeconds=2))
        for name in ("polite", "stubborn"):
            await wait_pod(c, name, running("app"))
        t0 = time.monotonic()
        await c.delete("Pod", "polite")
        await wait_gone(c, "polite", 10)
        assert time.monotonic() - t0 < 5
        assert (host / "polite").read_text() == "TERM\n"
        t0 = time.monotonic()
        await c.delete("Pod", "stubborn")
        await wait_gone(c, "stubborn", 15)
        took = time.monotonic() - t0
        assert 1.8 <= took < 10, took
        assert (host / "stubborn").read_text().startswith("TERM\n"), "SIGTERM came first"
        assert ("Killing", "Stopping container app") in await events(c, "stubborn")


async def test_exec_returns_output_and_exit_code(srv, tmp_path):
    async with kubelet(srv, str(tmp_path), runtime="process"), srv.async_client("admin") as c:
        await c.create(pod("box", [sh("app", "exec sleep 600")]))
        await wait_pod(c, "box", running("app"))
        sc = srv.client("admin")
        r = await asyncio.to_thread(sc.exec, "box", ["sh", "-c", "echo out; echo err >&2; hostname; exit 3"])
        assert (r.stdout, r.stderr, r.exit_code) == (b"out\nbox\n", b"err\n", 3)
        r = await asyncio.to_thread(sc.exec, "box", ["cat"], stdin=b"piped in\n")
        assert (r.stdout, r.exit_code) == (b"piped in\n", 0)


async def test_env_from_the_downward_api_and_an_empty_dir_shared_by_two_containers(srv, tmp_path):
    mount = str(tmp_path / "shared")
    env = [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
           {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
           {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
           {"name": "GREETING", "value": "hello $(POD_NAME) on $(NODE), $$(ESCAPED)"}]
    vm = [{"name": "shared", "mountPath": mount}]
    async with kubelet(srv, str(tmp_path), runtime="process"), srv.async_client("admin") as c:
        await c.create(pod("envs", [
            {**sh("writer", 'echo "$GREETING $POD_IP" > ' + mount + "/msg; echo $0; exec sleep 600",
                  env=env, volumeMounts=vm), "args": ["$(POD_NAME)"]},
            sh("reader", f"until [ -f {mount}/msg ]; do sleep 0.1; done; cat {mount}/msg; exec sleep 600",
               volumeMounts=vm)], volumes=[{"name": "shared", "emptyDir": {}}]))
        p = await wait_pod(c, "envs", phase_is("Running"))
        want = f"hello envs on node-1, $(ESCAPED) {p.status.podIP}\n".encode()
        await wait_for(log_is(srv, "envs", want, container="reader"), what="the reader's log")
        assert await alogs(srv, "envs", container="writer") == b"envs\n"


async def test_gpu_devices_reach_the_process_environment(srv, tmp_path):
    async with kubelet(srv, str(tmp_path), runtime="process", gpus=2) as k, srv.async_client("admin") as c:
        await c.create(pod("gpu", [
            {**sh("train", 'echo "$NVIDIA_VISIBLE_DEVICES|$CUDA_VISIBLE_DEVICES"; exec sleep 600'),
             "resources": {"limits": {"nvidia.com/gpu": "1"}}},
            sh("sidecar", 'echo "$NVIDIA_VISIBLE_DEVICES|$CUDA_VISIBLE_DEVICES"; exec sleep 600')]))
        await wait_pod(c, "gpu", phase_is("Running"))
        uuid = k.gpus.devices_of((await c.get("Pod", "gpu")).metadata.uid, "train")[0]
        await wait_for(log_is(srv, "gpu", f"{uuid}|{uuid}\n".encode(), container="train"),
                       what="the train container's log")
        assert await alogs(srv, "gpu", container="sidecar") == b"void|\n"


async def test_a_restarted_kubelet_adopts_running_containers_and_restarts_nothing(srv, tmp_path):
    home = str(tmp_path)
    async with srv.async_client("admin") as c:
        async with kubelet(srv, home, runtime="process", cleanup=False):
            await c.create(pod("steady", [sh("app", "echo up; exec sleep 600")]))
            before = cstatus(await wait_pod(c, "steady", running("app")), "app")
        async with kubelet(srv, home, runtime="process") as k:
            await k.relist()
            await wait_for(lambda: settled(k), what="the relist's syncs done")
            p = await wait_pod(c, "steady", running("app"))
            after = cstatus(p, "app")
            assert (after.containerID, after.restartCount, after.state.running.startedAt) == \
                (before.containerID, 0, before.state.running.startedAt)
            assert [e for e in await events(c, "steady") if e[0] == "Started"] == \
                [("Started", "Started container app")]
            assert await alogs(srv, "steady") == b"up\n"


async def test_restart_policy_never_reports_the_exit(srv, tmp_path):
    async with kubelet(srv, str(tmp_path), runtime="process"), srv.async_client("admin") as c:
        await c.create(pod("once", [sh("app", "echo done; exit 7")], restartPolicy="Never"))
        p = await wait_pod(c, "once", phase_is("Failed"))
        t = cstatus(p, "app").state.terminated
        assert (t.exitCode, t.reason) == (7, "Error") and t.startedAt and t.finishedAt
        assert await alogs(srv, "once") == b"done\n"


async def test_logs_follow_streams_until_the_container_ends(srv, tmp_path):
    async with kubelet(srv, str(tmp_path), runtime="process"), srv.async_client("admin") as c:
        await c.create(pod("ticker", [sh("app", "for i in 1 2 3; do echo tick $i; sleep 0.3; done")],
                           restartPolicy="Never"))
        await wait_pod(c, "ticker", running("app"))
        t0 = time.monotonic()
        out = await alogs(srv, "ticker", follow=True)
        assert out == b"tick 1\ntick 2\ntick 3\n"
        assert time.monotonic() - t0 < 10
        await wait_pod(c, "ticker", phase_is("Succeeded"))
