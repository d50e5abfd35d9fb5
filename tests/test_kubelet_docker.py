"""The kubelet with the docker runtime (a Docker engine and the local images `minictl images build`
makes): a missing image backs off as upstream's ErrImagePull / ImagePullBackOff, and a pod's containers
share one network namespace behind the pause container."""
from __future__ import annotations

import asyncio

import pytest

from test_kubelet_harness import (cstatus, events, kubelet, phase_is, pod, sh,
                                  wait_event, wait_for, wait_pod)

pytestmark = pytest.mark.docker


async def test_a_missing_image_gives_err_image_pull_then_image_pull_back_off(srv, tmp_path):
    # a registry on loopback where nothing listens: the pull fails at once and nothing leaves the host
    image = "127.0.0.1:1/minik8s/no-such-image:v0"
    async with kubelet(srv, str(tmp_path), runtime="docker"), srv.async_client("admin") as c:
        await c.create(pod("ghost", [{"name": "app", "image": image, "imagePullPolicy": "IfNotPresent"}]))
        p = await wait_pod(c, "ghost", lambda p: p.status.containerStatuses and
                           cstatus(p, "app").state.waiting.reason == "ErrImagePull")
        assert cstatus(p, "app").state.waiting.message, "the daemon's message is shown"
        assert p.status.phase == "Pending"
        p = await wait_pod(c, "ghost", lambda p: cstatus(p, "app").state.waiting.reason == "ImagePullBackOff")
        assert cstatus(p, "app").state.waiting.message == f'Back-off pulling image "{image}"'
        _, msg = await wait_event(c, "ghost", "Failed", f'Failed to pull image "{image}": ')
        assert ("Failed", "Error: ErrImagePull") in await events(c, "ghost")
        await wait_event(c, "ghost", "BackOff", f'Back-off pulling image "{image}"')


async def test_containers_of_a_docker_pod_share_localhost(srv, tmp_path):
    async with kubelet(srv, str(tmp_path), runtime="docker"), srv.async_client("admin") as c:
        await c.create(pod("web", [
            sh("web", "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8080 -h /www"),
            sh("client", "until wget -qO- http://127.0.0.1:8080/index.html; do sleep 0.2; done; exec sleep 600")]))
        p = await wait_pod(c, "web", phase_is("Running"), timeout=60)
        assert p.status.podIP.startswith("10.245.1.")
        sc = srv.client("admin")

        async def client_log():
            out = await asyncio.to_thread(lambda: b"".join(sc.logs("web", container="client")))
            return b"hello" in out
        await wait_for(client_log, 30, what="the client container to reach the server over localhost")
        r = await asyncio.to_thread(sc.exec, "web", ["sh", "-c", "echo $((6*7)); exit 4"], container="web")
        assert (r.stdout, r.exit_code) == (b"42\n", 4)
