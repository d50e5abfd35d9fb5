"""The Deployment controller against a real API server, with a fake kubelet marking pods ready:
rolling updates kept within maxSurge / maxUnavailable (watched pod by pod), Recreate, revisions and
undo, pause, the progress deadline on the clock, proportional scaling and revision history."""
from __future__ import annotations

import asyncio
import contextlib

import pytest

from minik8s.api.clock import FakeClock
from minik8s.api import workloads
from minik8s.api.pb import apps_pb2
from minik8s.client.informer import copy
from minik8s.controllers import deploymentutil as du
from minik8s.controllers.controller_utils import controller_ref, is_pod_ready
from support import FakeKubelet, running_manager, wait_for

# a hung watch fails its test instead of the run
pytestmark = pytest.mark.timeout(150)

NS = "default"


@contextlib.asynccontextmanager
async def controllers(srv, clock=None, names="replicaset,deployment"):
    async with srv.async_client() as admin, srv.async_client("controller-manager") as cm, \
            running_manager(cm, names, clock):
        yield admin


def deployment(name: str, replicas: int, image: str = "nginx:1.24", surge=None, unavailable=None,
               strategy: str = "RollingUpdate", **spec) -> apps_pb2.Deployment:
    d = apps_pb2.Deployment()
    d.metadata.name, d.metadata.namespace = name, NS
    d.spec.replicas = replicas
    d.spec.selector.matchLabels["app"] = name
    d.spec.template.metadata.labels["app"] = name
    c = d.spec.template.spec.containers.add()
    c.name, c.image = "app", image
    d.spec.strategy.type = strategy
    if surge is not None:
        _int_or_str(d.spec.strategy.rollingUpdate.maxSurge, surge)
    if unavailable is not None:
        _int_or_str(d.spec.strategy.rollingUpdate.maxUnavailable, unavailable)
    for k, v in spec.items():
        setattr(d.spec, k, v)
    return d


def _int_or_str(value, v) -> None:
    if isinstance(v, str):
        value.string_value = v
    else:
        value.number_value = v


async def get_d(client, name):
    return await client.get("Deployment", name, NS)


async def complete(client, name, generation=None):
    d = await get_d(client, name)
    if generation is not None and d.metadata.generation < generation:
        return None
    return d if du.deployment_complete(d, d.status) else None


async def replicasets(client, d) -> list:
    return sorted((rs for rs in (await client.list("ReplicaSet", NS)).items
                   if (r := controller_ref(rs)) is not None and r.uid == d.metadata.uid), key=du.revision)


async def set_image(client, name, image):
    return await client.patch("Deployment", name,
                              {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}},
                              NS)


class PodWatch:
    """Follows the Deployment's pods event by event and records, after each change, how many exist
    (not terminating) and how many of those are ready."""

    def __init__(self, client, app: str):
        self.client, self.app = client, app
        self.pods: dict[str, object] = {}
        self.samples: list[tuple[int, int]] = []
        self.task: asyncio.Task | None = None
        self.rv = ""

    async def start(self):
        listed = await self.client.list("Pod", NS, label_selector=f"app={self.app}")
        self.pods = {p.metadata.name: p for p in listed.items}
        self.rv = listed.resource_version
        self._sample()
        self.task = asyncio.create_task(self._run())
        return self

    def _sample(self):
        live = [p for p in self.pods.values() if not p.metadata.deletionTimestamp]
        self.samples.append((len(live), sum(1 for p in live if is_pod_ready(p))))

    async def _run(self):
        async for ev in self.client.watch("Pod", NS, resource_version=self.rv, label_selector=f"app={self.app}"):
            if ev.type == "DELETED":
                self.pods.pop(ev.object.metadata.name, None)
            else:
                self.pods[ev.object.metadata.name] = ev.object
            self._sample()

    async def stop(self):
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@pytest.mark.parametrize("replicas,surge,unavailable,max_pods,min_ready", [
    (4, 1, 1, 5, 3),
    (4, "25%", 0, 5, 4),           # surge rounds up: 1; no pod may be unavailable
    (10, "25%", "25%", 13, 8),     # surge ceil(2.5) = 3, unavailable floor(2.5) = 2
    (3, 0, 1, 3, 2),
])
async def test_rolling_update_stays_within_surge_and_unavailability(srv, replicas, surge, unavailable,
                                                              max_pods, min_ready):
    async with controllers(srv) as client:
        kubelet = await FakeKubelet(client).start()
        await client.create(deployment("web", replicas, surge=surge, unavailable=unavailable))
        d = await wait_for(lambda: complete(client, "web"), what="first rollout")
        assert du.revision(d) == 1
        watch = await PodWatch(client, "web").start()
        d = await set_image(client, "web", "nginx:1.25")
        d = await wait_for(lambda: complete(client, "web", d.metadata.generation), what="rolling update")
        await watch.stop()

        assert max(n for n, _ in watch.samples) <= max_pods, watch.samples
        assert min(r for _, r in watch.samples) >= min_ready, watch.samples
        assert watch.samples[-1] == (replicas, replicas)
        assert du.revision(d) == 2
        old, new = await replicasets(client, d)
        assert (du.revision(old), du.replicas_of(old)) == (1, 0)
        assert (du.revision(new), du.replicas_of(new)) == (2, replicas)
        assert new.spec.template.spec.containers[0].image == "nginx:1.25"
        h = new.metadata.labels[du.POD_TEMPLATE_HASH_LABEL]
        assert new.metadata.name == f"web-{h}" and new.spec.selector.matchLabels[du.POD_TEMPLATE_HASH_LABEL] == h
        pods = (await client.list("Pod", NS, label_selector="app=web")).items
        assert sorted(p.metadata.labels[du.POD_TEMPLATE_HASH_LABEL] for p in pods) == [h] * replicas
        conds = {c.type: (c.status, c.reason) for c in d.status.conditions}
        assert conds == {"Available": ("True", "MinimumReplicasAvailable"),
                         "Progressing": ("True", "NewReplicaSetAvailable")}
        await kubelet.stop()


async def test_undo_restores_previous_template_as_a_new_revision(srv):
    """What `minictl rollout undo` writes (the old ReplicaSet's template back into the Deployment)
    makes the old ReplicaSet the new one again, under revision 3."""
    async with controllers(srv) as client:
        kubelet = await FakeKubelet(client).start()
        await client.create(deployment("web", 2))
        await wait_for(lambda: complete(client, "web"), what="revision 1")
        d = await set_image(client, "web", "nginx:1.25")
        d = await wait_for(lambda: complete(client, "web", d.metadata.generation), what="revision 2")
        rs1, rs2 = await replicasets(client, d)

        cur = copy(d)
        cur.spec.template.CopyFrom(workloads.template_without_hash(rs1.spec.template))
        d = await client.update(cur)
        d = await wait_for(lambda: complete(client, "web", d.metadata.generation), what="undo")
        assert du.revision(d) == 3
        rss = {rs.metadata.name: rs for rs in await replicasets(client, d)}
        assert len(rss) == 2                        # no third ReplicaSet: the first one came back
        back = rss[rs1.metadata.name]
        assert du.revision(back) == 3 and du.replicas_of(back) == 2
        assert back.metadata.annotations[du.REVISION_HISTORY_ANNOTATION] == "1"
        assert du.replicas_of(rss[rs2.metadata.name]) == 0
        pods = (await client.list("Pod", NS, label_selector="app=web")).items
        assert {p.spec.containers[0].image for p in pods if not p.metadata.deletionTimestamp} == {"nginx:1.24"}
        await kubelet.stop()


async def test_paused_deployment_does_not_roll_until_resumed(srv):
    async with controllers(srv) as client:
        kubelet = await FakeKubelet(client).start()
        await client.create(deployment("web", 2))
        await wait_for(lambda: complete(client, "web"), what="revision 1")
        await client.patch("Deployment", "web", {"spec": {"paused": True}}, NS)
        d = await set_image(client, "web", "nginx:1.25")

        async def observed():
            cur = await get_d(client, "web")
            return cur if cur.status.observedGeneration >= d.metadata.generation else None
        cur = await wait_for(observed, what="the paused spec observed")
        cond = du.get_condition(cur.status, du.PROGRESSING)
        assert (cond.status, cond.reason, cond.message) == ("Unknown", "DeploymentPaused", "Deployment is paused")
        # scaling still works while paused; the template does not roll
        await client.patch("Deployment", "web", {"spec": {"replicas": 3}}, NS)

        async def scaled():
            cur = await get_d(client, "web")
            return cur if cur.status.availableReplicas == 3 and cur.status.observedGeneration == \
                cur.metadata.generation else None
        cur = await wait_for(scaled, what="scaled while paused")
        rss = await replicasets(client, cur)
        assert len(rss) == 1 and rss[0].spec.template.spec.containers[0].image == "nginx:1.24"
        assert du.revision(cur) == 1

        d = await client.patch("Deployment", "web", {"spec": {"paused": False}}, NS)
        d = await wait_for(lambda: complete(client, "web", d.metadata.generation), what="rollout after resume")
        rss = await replicasets(client, d)
        assert [du.replicas_of(rs) for rs in rss] == [0, 3] and du.revision(d) == 2
        await kubelet.stop()


async def test_progress_deadline_exceeded_shows_in_conditions(srv):
    clock = FakeClock()
    async with controllers(srv, clock) as client:
        # the new image never becomes ready
        kubelet = await FakeKubelet(client, clock, ready=lambda p: p.spec.containers[0].image != "bad:1").start()
        await client.create(deployment("web", 2, progressDeadlineSeconds=60))
        await wait_for(lambda: complete(client, "web"), what="revision 1")
        d = await set_image(client, "web", "bad:1")

        async def progressing():
            cur = await get_d(client, "web")
            c = du.get_condition(cur.status, du.PROGRESSING)
            return cur if cur.status.observedGeneration >= d.metadata.generation and c is not None \
                and c.reason == "ReplicaSetUpdated" else None
        await wait_for(progressing, what="rollout under way")
        start = clock.monotonic()

        async def timed_out():
            cur = await get_d(client, "web")
            c = du.get_condition(cur.status, du.PROGRESSING)
            return cur if c is not None and c.reason == du.TIMED_OUT_REASON else None
        cur = await wait_for(timed_out, tick=lambda: clock.advance(1), what="ProgressDeadlineExceeded")
        assert clock.monotonic() - start >= 59
        c = du.get_condition(cur.status, du.PROGRESSING)
        new = (await replicasets(client, cur))[-1]
        assert (c.status, c.message) == ("False", f'ReplicaSet "{new.metadata.name}" has timed out progressing.')
        msg, done, err = workloads.rollout_status(cur)
        assert err == 'deployment "web" exceeded its progress deadline' and not done
        # maxUnavailable 25% of 2 rounds down to 0: both old pods still serve
        assert cur.status.availableReplicas == 2
        await kubelet.stop()


async def test_recreate_stops_every_old_pod_before_starting_new_ones(srv):
    async with controllers(srv) as client:
        kubelet = await FakeKubelet(client).start()
        await client.create(deployment("job", 3, strategy="Recreate"))
        await wait_for(lambda: complete(client, "job"), what="revision 1")
        watch = await PodWatch(client, "job").start()
        d = await set_image(client, "job", "nginx:1.25")
        d = await wait_for(lambda: complete(client, "job", d.metadata.generation), what="recreate")
        await watch.stop()
        # never old and new together: the count falls to 0 before the new pods come
        counts = [n for n, _ in watch.samples]
        zero = counts.index(0)
        assert all(n <= 3 for n in counts) and counts[zero:].count(0) >= 1
        assert counts[:zero] == sorted(counts[:zero], reverse=True)
        await kubelet.stop()


async def test_scaling_mid_rollout_is_proportional_and_history_is_pruned(srv):
    async with controllers(srv) as client:
        # the new pods stay unready, freezing the rollout half way
        kubelet = await FakeKubelet(client, ready=lambda p: p.spec.containers[0].image != "nginx:2").start()
        await client.create(deployment("web", 10, surge=3, unavailable=2, revisionHistoryLimit=1))
        await wait_for(lambda: complete(client, "web"), what="revision 1")
        d = await set_image(client, "web", "nginx:2")

        async def stuck():
            cur = await get_d(client, "web")
            rss = await replicasets(client, cur)
            if len(rss) == 2 and [du.replicas_of(r) for r in rss] == [8, 5] and \
                    all(r.status.observedGeneration == r.metadata.generation for r in rss):
                return rss
            return None
        await wait_for(stuck, what="rollout stuck at 8 old + 5 new")
        await client.patch("Deployment", "web", {"spec": {"replicas": 20}}, NS)

        async def grown():
            cur = await get_d(client, "web")
            rss = await replicasets(client, cur)
            return rss if du.sum_spec(rss) == 23 else None
        rss = await wait_for(grown, what="proportional scale to 20 + 3 surge")
        # 10 extra replicas (plus the surge) shared 8:5 between the old and new ReplicaSets
        assert [du.replicas_of(r) for r in rss] == [14, 9]
        assert all(r.metadata.annotations[du.DESIRED_REPLICAS_ANNOTATION] == "20" for r in rss)

        # finish with a third template; history keeps one old ReplicaSet
        kubelet.ready = lambda p: True
        kubelet.kick()
        d = await set_image(client, "web", "nginx:3")
        d = await wait_for(lambda: complete(client, "web", d.metadata.generation), what="revision 3")

        async def pruned():
            rss = await replicasets(client, d)
            return rss if len(rss) == 2 else None
        rss = await wait_for(pruned, what="history pruned to 1 old ReplicaSet")
        assert [du.revision(r) for r in rss] == [2, 3]
        await kubelet.stop()


# ---------------------------------------------------------------- units
def test_fenceposts_round_surge_up_and_unavailable_down():
    from google.protobuf import struct_pb2

    def v(x):
        out = struct_pb2.Value()
        _int_or_str(out, x)
        return out
    assert du.resolve_fenceposts(v("25%"), v("25%"), 10) == (3, 2)
    assert du.resolve_fenceposts(v("25%"), v("25%"), 1) == (1, 0)
    assert du.resolve_fenceposts(v(0), v("25%"), 3) == (0, 1)     # both 0 would stall: unavailable 1
    assert du.resolve_fenceposts(v(2), v(0), 5) == (2, 0)
    assert du.resolve_fenceposts(v("50%"), v("50%"), 5) == (3, 2)


def test_template_hash_ignores_its_own_label_and_moves_with_collisions():
    d = deployment("web", 1)
    t = d.spec.template
    h = du.compute_hash(t)
    assert h == du.compute_hash(copy(t)) and set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert du.compute_hash(t, 1) != h
    labelled = copy(t)
    labelled.metadata.labels[du.POD_TEMPLATE_HASH_LABEL] = h
    assert du.equal_ignore_hash(labelled, t)
    other = copy(t)
    other.spec.containers[0].image = "nginx:2"
    assert du.compute_hash(other) != h and not du.equal_ignore_hash(other, t)
