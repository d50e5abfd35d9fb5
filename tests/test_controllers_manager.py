"""The controller manager: leader election through the kube-controller-manager Lease (a standby waits,
takes over at once after a clean release and only after the lease duration after a crash), the
--controllers list, and `python -m minik8s.controllers` as minictl up starts it."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from cluster import ROOT
from minik8s.api.clock import FakeClock, parse_time
from minik8s.api.errors import NotFound
from minik8s.api.pb import apps_pb2
from minik8s.client.config import ClientConfig
from minik8s.controllers import CONTROLLERS
from minik8s.controllers.controller_utils import controller_ref
from minik8s.controllers.manager import ControllerManager, enabled_controllers
from support import wait_for

# a hung watch fails its test instead of the run
pytestmark = pytest.mark.timeout(120)

NS = "default"


def replica_set(name: str, replicas: int) -> apps_pb2.ReplicaSet:
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name, rs.metadata.namespace = name, NS
    rs.spec.replicas = replicas
    rs.spec.selector.matchLabels["app"] = name
    rs.spec.template.metadata.labels["app"] = name
    c = rs.spec.template.spec.containers.add()
    c.name, c.image = "app", "nginx"
    return rs


async def lease(client):
    try:
        return await client.get("Lease", "kube-controller-manager", "kube-system")
    except NotFound:
        return None


def manager(client, clock, identity, **kw):
    return ControllerManager(client, "replicaset", clock=clock, identity=identity, leader_elect=True, **kw)


@pytest.mark.parametrize("crash", [False, True])
async def test_standby_waits_and_takes_over(srv, crash):
    clock = FakeClock()
    async with srv.async_client() as admin, srv.async_client("controller-manager") as c1, \
            srv.async_client("controller-manager") as c2:
        m1 = manager(c1, clock, "cm-1", release_on_cancel=not crash)
        t1 = asyncio.create_task(m1.run())
        await wait_for(lambda: m1.is_leader, what="first manager leading")
        lz = await lease(admin)
        assert (lz.spec.holderIdentity, lz.spec.leaseDurationSeconds, lz.spec.leaseTransitions) == ("cm-1", 15, 0)

        m2 = manager(c2, clock, "cm-2")
        t2 = asyncio.create_task(m2.run())
        # the standby retries every 2 s of the clock; the leader renews as often, so even once more
        # than a lease duration has passed, the standby has not won
        t0 = parse_time(lz.spec.renewTime)

        async def renewed_past_a_lease_duration():
            return parse_time((await lease(admin)).spec.renewTime) >= t0 + 17
        await wait_for(renewed_past_a_lease_duration, tick=lambda: clock.advance(1), what="renewals")
        assert m1.is_leader and not m2.is_leader
        assert (await lease(admin)).spec.holderIdentity == "cm-1"
        # only the leader runs controllers
        rs = await admin.create(replica_set("web", 2))

        async def pods():
            owned = [p for p in (await admin.list("Pod", NS)).items
                     if (r := controller_ref(p)) is not None and r.uid == rs.metadata.uid]
            return len(owned) == 2
        await wait_for(pods, what="pods from the leader")

        if crash:
            t1.cancel()                     # gone without releasing: the lease must expire first
        else:
            m1.stop()                       # a clean stop releases the lease
        await asyncio.gather(t1, return_exceptions=True)
        start = clock.monotonic()
        await wait_for(lambda: m2.is_leader, tick=lambda: clock.advance(0.5), what="standby leading")
        waited = clock.monotonic() - start
        if crash:
            assert waited >= 13            # 15 s after it last saw the record change (2 s renewals)
        else:
            assert waited <= 2.5           # its next retry
        lz = await lease(admin)
        assert lz.spec.holderIdentity == "cm-2" and lz.spec.leaseTransitions == 1
        m2.stop()
        await asyncio.wait_for(t2, 30)
        assert not (await lease(admin)).spec.holderIdentity      # released on stop


def test_controllers_flag():
    every = enabled_controllers("*")
    assert every[:3] == ["replicaset", "deployment", "garbagecollector"] and every == list(CONTROLLERS)
    assert enabled_controllers("*,-garbagecollector") == [n for n in every if n != "garbagecollector"]
    assert enabled_controllers("deployment") == ["deployment"]
    assert enabled_controllers(None) == enabled_controllers("*")
    with pytest.raises(ValueError, match='"bogus" is not in the list of known controllers'):
        enabled_controllers("bogus")


async def test_process_runs_controllers_and_releases_lease_on_sigterm(srv, tmp_path):
    home = str(tmp_path)
    ClientConfig(server=srv.address, token=srv.tokens["admin"]).save(home)
    token_file = os.path.join(home, "cm.token")
    with open(token_file, "w") as f:
        f.write(srv.tokens["controller-manager"])
    log = open(os.path.join(home, "cm.log"), "wb")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "minik8s.controllers", "--home", home,
                             "--token-file", token_file], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        async with srv.async_client() as admin:
            rs = await admin.create(replica_set("web", 2))

            async def ready():
                cur = await admin.get("ReplicaSet", "web", NS)
                return cur.status.replicas == 2 and cur.status.observedGeneration == cur.metadata.generation
            await wait_for(ready, timeout=60, what="the process's ReplicaSet controller")
            lz = await lease(admin)
            assert lz.spec.holderIdentity and lz.spec.leaseDurationSeconds == 15
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.get_running_loop().run_in_executor(None, proc.wait, 30) == 0
            assert not (await lease(admin)).spec.holderIdentity
            assert rs
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
