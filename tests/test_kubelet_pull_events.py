"""The docker runtime's image events, as upstream's kubelet gives them: a policy that pulls (Always, or
IfNotPresent for an image the engine lacks) gives `Pulling image "X"` then `Successfully pulled image
"X" in D (D including waiting)`; one that does not (IfNotPresent for a present image, Never) gives
`Container image "X" already present on machine`, all with reason Pulled. Images come from a registry on
loopback (tests/support/registry.py), so nothing leaves the host."""
from __future__ import annotations

import re

import pytest

from support.registry import Registry
from test_kubelet_harness import events, kubelet, phase_is, pod, wait_event, wait_pod

pytestmark = pytest.mark.docker

PULLED = re.compile(r'Successfully pulled image "(.+)" in (\d+ms|[\d.]+s) \(\2 including waiting\)')


@pytest.fixture
def registry():
    import docker
    client = docker.from_env(timeout=60)
    with Registry(client, "minik8s/busybox:latest", "busybox") as r:
        yield r
        # by tag: the pulled image is the local one under a second name, which must stay
        for image in client.images.list(name=f"127.0.0.1:{r.port}/busybox"):
            for tag in image.tags:
                if tag.startswith(f"127.0.0.1:{r.port}/"):
                    client.images.remove(tag)
    client.close()


def _sleeper(image: str, policy: str) -> list[dict]:
    return [{"name": "app", "image": image, "imagePullPolicy": policy, "command": ["sleep", "600"]}]


async def test_pull_events_follow_the_pull_policy_and_whether_the_image_is_present(srv, tmp_path, registry):
    image = registry.image("v1")
    async with kubelet(srv, str(tmp_path), runtime="docker"), srv.async_client("admin") as c:
        # IfNotPresent, the image missing: pulled
        await c.create(pod("first", _sleeper(image, "IfNotPresent")))
        await wait_pod(c, "first", phase_is("Running"), timeout=60)
        got = [e for e in await events(c, "first") if e[0] in ("Pulling", "Pulled")]
        assert got[0] == ("Pulling", f'Pulling image "{image}"')
        assert got[1][0] == "Pulled" and PULLED.fullmatch(got[1][1]) and PULLED.fullmatch(got[1][1])[1] == image
        assert len(got) == 2

        # IfNotPresent and Never, the image present: not pulled
        for name, policy in (("second", "IfNotPresent"), ("third", "Never")):
            await c.create(pod(name, _sleeper(image, policy)))
            await wait_pod(c, name, phase_is("Running"), timeout=60)
            assert [e for e in await events(c, name) if e[0] in ("Pulling", "Pulled")] == [
                ("Pulled", f'Container image "{image}" already present on machine')]

        # Always: pulled though present
        await c.create(pod("fourth", _sleeper(image, "Always")))
        await wait_event(c, "fourth", "Pulled", f'Successfully pulled image "{image}" in ')
        assert ("Pulling", f'Pulling image "{image}"') in await events(c, "fourth")
