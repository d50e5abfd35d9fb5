"""A kubelet that comes back reconciles: on the process runtime (real processes, root), a kubelet is
stopped while its containers run on, the API changes meanwhile, and a new kubelet on the same node
adopts what is still wanted (same container, same process, no restart) and stops what is not: pods
deleted gracefully or at once, and a pod whose name now belongs to a pod bound to another node."""
from __future__ import annotations

import psutil
import pytest

from minik8s.api.errors import NotFound

from kubelet.runtime.base import LABEL_POD_UID

from support.wait import wait_for
from test_kubelet_harness import cstatus, events, kubelet, pod, sh

pytestmark = pytest.mark.root

APP = [sh("app", "echo pid $$$$; exec sleep 600")]     # $$ is an escaped $ in a command


async def running_pod(admin, name: str):
    p = await admin.get("Pod", name)
    return p.status.phase == "Running" and cstatus(p, "app").state.HasField("running") and p


async def containers_of(runtime, uid: str) -> list:
    return [c for c in await runtime.list_containers() if c.labels.get(LABEL_POD_UID) == uid]


def pid_in_log(path: str) -> int | None:
    """The pid the container printed first (CRI log line `<time> stdout F pid N`)."""
    try:
        with open(path) as f:
            line = f.readline()
    except FileNotFoundError:
        return None
    return int(line.split()[-1]) if line.split()[-2:-1] == ["pid"] else None


async def pid_of(runtime, uid: str) -> int:
    async def printed():
        cs = await containers_of(runtime, uid)
        return cs and pid_in_log(cs[0].log_path)
    return await wait_for(printed, what=f"the pid of pod {uid}'s container")


async def gone(admin, name: str) -> bool:
    try:
        await admin.get("Pod", name)
    except NotFound:
        return True
    return False


async def test_a_restarted_kubelet_stops_pods_deleted_meanwhile_and_keeps_the_rest(srv, admin, tmp_path):
    home = str(tmp_path)
    names = ("kept", "deleted", "forced", "moved")
    async with kubelet(srv, home, runtime="process", cleanup=False) as k:
        for name in names:
            await admin.create(pod(name, APP))
        before = {n: await wait_for(lambda: running_pod(admin, n), what=f"{n} running") for n in names}
        uids = {n: p.metadata.uid for n, p in before.items()}
        pids = {n: await pid_of(k.runtime, uids[n]) for n in names}
    # the kubelet is gone, its containers are not
    assert all(psutil.pid_exists(pid) for pid in pids.values())

    await admin.delete("Pod", "deleted")                       # graceful: waits for a kubelet to confirm
    await admin.delete("Pod", "forced", grace_period=0)        # gone from the API at once
    await admin.delete("Pod", "moved", grace_period=0)
    await admin.create(pod("moved", APP, node="node-2"))       # the name now belongs to node-2 (no kubelet)

    async with kubelet(srv, home, runtime="process") as k:
        await wait_for(lambda: gone(admin, "deleted"), what="the deleted pod confirmed gone")
        for name in ("deleted", "forced", "moved"):
            await wait_for(lambda: _no_containers(k.runtime, uids[name]), what=f"{name}'s container removed")
            assert not _alive(pids[name]), f"{name}'s process still runs"
        # the kept pod was synced by the new kubelet, and nothing of it was started again
        await wait_for(lambda: _synced(k, uids["kept"]), what="the kept pod synced by the new kubelet")
        kept = await wait_for(lambda: running_pod(admin, "kept"), what="kept running")
        old, new = cstatus(before["kept"], "app"), cstatus(kept, "app")
        assert (new.containerID, new.restartCount, new.state.running.startedAt) == \
            (old.containerID, 0, old.state.running.startedAt)
        assert len(await containers_of(k.runtime, uids["kept"])) == 1
        assert psutil.pid_exists(pids["kept"]) and await pid_of(k.runtime, uids["kept"]) == pids["kept"]
        assert [e for e in await events(admin, "kept") if e[0] == "Started"] == [("Started", "Started container app")]
        # the pod of that name on node-2 is no business of this kubelet
        moved = await admin.get("Pod", "moved")
        assert moved.metadata.uid != uids["moved"] and not moved.status.containerStatuses


async def _no_containers(runtime, uid: str) -> bool:
    return not await containers_of(runtime, uid)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _synced(k, uid: str) -> bool:
    st = k.workers.state(uid)
    return st is not None and st.last_status is not None
