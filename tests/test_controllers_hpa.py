"""The HorizontalPodAutoscaler controller against a real API server, with the Deployment and
ReplicaSet controllers, a fake kubelet and PodMetrics written by the test: scale up on cpu load with
upstream's event, conditions and status; scale down held by the stabilization window until it passes;
min replicas; a target at zero; a missing target; a container without a cpu request; an AverageValue
memory target; set_scale retrying on a conflict. Time is a FakeClock the tests advance."""
from __future__ import annotations

import contextlib

from minik8s.api.clock import FakeClock, rfc3339
from minik8s.api.errors import NotFound
from minik8s.api.pb import apps_pb2, autoscaling_pb2, metrics_pb2
from minik8s.controllers.podautoscaler.scale import get_scale, set_scale

from support.controllers import FakeKubelet, running_manager
from support.wait import wait_for

NS = "default"
SYNC_PERIOD = 15


@contextlib.asynccontextmanager
async def cluster(srv, clock, **settings):
    async with srv.async_client() as admin, srv.async_client("controller-manager") as cm, \
            running_manager(cm, "replicaset,deployment,horizontal-pod-autoscaler", clock,
                            settings={"horizontalPodAutoscalerSyncPeriod": SYNC_PERIOD, **settings}):
        kubelet = await FakeKubelet(admin, clock).start()
        try:
            yield admin
        finally:
            await kubelet.stop()


def deployment(name, replicas, cpu="500m", memory="64Mi"):
    d = apps_pb2.Deployment()
    d.metadata.name, d.metadata.namespace, d.spec.replicas = name, NS, replicas
    d.spec.selector.matchLabels["app"] = name
    d.spec.template.metadata.labels["app"] = name
    c = d.spec.template.spec.containers.add(name="app", image="busybox")
    if cpu:
        c.resources.requests["cpu"] = cpu
    c.resources.requests["memory"] = memory
    return d


def autoscaler(target, target_kind="Deployment", min_replicas=1, max_replicas=10, cpu_utilization=50):
    """An HPA named `target`-hpa (its events must not share names with the target's under a clock
    that stands still)."""
    h = autoscaling_pb2.HorizontalPodAutoscaler()
    h.metadata.name, h.metadata.namespace = f"{target}-hpa", NS
    ref = h.spec.scaleTargetRef
    ref.apiVersion, ref.kind, ref.name = "apps/v1", target_kind, target
    h.spec.minReplicas, h.spec.maxReplicas = min_replicas, max_replicas
    if cpu_utilization is not None:
        m = h.spec.metrics.add(type="Resource")
        m.resource.name = "cpu"
        m.resource.target.type = "Utilization"
        m.resource.target.averageUtilization = cpu_utilization
    return h


async def ready_pods(admin, app, n):
    """The `n` Running, Ready pods of `app` once there are exactly that many."""
    def ready(p):
        return any(c.type == "Ready" and c.status == "True" for c in p.status.conditions)

    async def check():
        pods = [p for p in await admin.list("Pod", NS, label_selector=f"app={app}") if not p.metadata.deletionTimestamp]
        return pods if len(pods) == n and all(ready(p) for p in pods) else None
    return await wait_for(check, what=f"{n} ready pods of {app}")


async def publish(admin, pods, clock, cpu="250m", memory="32Mi"):
    """Write each pod's PodMetrics as a kubelet would (timestamped now by the test's clock)."""
    for p in pods:
        m = metrics_pb2.PodMetrics(timestamp=rfc3339(clock.now()), window="15s")
        m.metadata.name, m.metadata.namespace = p.metadata.name, NS
        m.metadata.labels.update(p.metadata.labels)
        ref = m.metadata.ownerReferences.add()
        ref.apiVersion, ref.kind, ref.name, ref.uid = "v1", "Pod", p.metadata.name, p.metadata.uid
        c = m.containers.add(name="app")
        c.usage["cpu"], c.usage["memory"] = cpu, memory
        try:
            old = await admin.get("PodMetrics", p.metadata.name, NS)
            m.metadata.resourceVersion = old.metadata.resourceVersion
            await admin.update(m)
        except NotFound:
            await admin.create(m)


def condition(hpa, type_):
    c = next((c for c in hpa.status.conditions if c.type == type_), None)
    return (c.status, c.reason, c.message) if c else None


def reason(hpa, type_):
    return (condition(hpa, type_) or (None, None, None))[1]


async def hpa_where(admin, name, predicate, clock=None, what="hpa status"):
    async def check():
        hpa = await admin.get("HorizontalPodAutoscaler", name, NS)
        return hpa if predicate(hpa) else None
    tick = (lambda: clock.advance(1)) if clock is not None else None
    return await wait_for(check, what=what, tick=tick)


async def event(admin, reason, name):
    async def check():
        evs = [e for e in await admin.list("Event", NS) if e.reason == reason and e.involvedObject.name == name]
        return evs[0] if evs else None
    return await wait_for(check, what=f"event {reason}")


async def replicas_of(admin, kind, name):
    return (await admin.get(kind, name, NS)).spec.replicas


async def test_scales_a_deployment_up_on_cpu_load(srv):
    clock = FakeClock()
    async with cluster(srv, clock) as admin:
        await admin.create(deployment("web", 2))
        pods = await ready_pods(admin, "web", 2)
        clock.advance(301)                        # past the cpu initialization period: samples count
        await publish(admin, pods, clock, cpu="500m")      # 100% of request against a 50% target
        await admin.create(autoscaler("web"))
        await wait_for(lambda: _is(admin, "web", 4),
                       what="deployment scaled to 4")
        ev = await event(admin, "SuccessfulRescale", "web-hpa")
        assert ev.type == "Normal"
        assert ev.message == "New size: 4; reason: cpu resource utilization (percentage of request) above target"
        assert ev.source.component == "horizontal-pod-autoscaler"
        hpa = await hpa_where(admin, "web-hpa", lambda h: h.status.desiredReplicas == 4)
        st = hpa.status
        assert (st.currentReplicas, st.desiredReplicas, st.observedGeneration) == (2, 4, hpa.metadata.generation)
        assert st.lastScaleTime == rfc3339(clock.now())
        assert [(m.type, m.resource.name, m.resource.current.averageUtilization, m.resource.current.averageValue)
                for m in st.currentMetrics] == [("Resource", "cpu", 100, "500m")]
        assert condition(hpa, "AbleToScale") == ("True", "SucceededRescale",
                                                  "the HPA controller was able to update the target scale to 4")
        assert condition(hpa, "ScalingActive") == (
            "True", "ValidMetricFound",
            "the HPA was able to successfully calculate a replica count from cpu resource utilization "
            "(percentage of request)")
        assert condition(hpa, "ScalingLimited") == ("False", "DesiredWithinRange",
                                                     "the desired count is within the acceptable range")
        await ready_pods(admin, "web", 4)


async def _is(admin, name, n):
    return await replicas_of(admin, "Deployment", name) == n


async def test_scale_down_waits_for_the_stabilization_window(srv):
    clock = FakeClock()
    async with cluster(srv, clock) as admin:
        rs = apps_pb2.ReplicaSet()
        rs.metadata.name, rs.metadata.namespace, rs.spec.replicas = "api", NS, 4
        rs.spec.selector.matchLabels["app"] = "api"
        rs.spec.template.CopyFrom(deployment("api", 4).spec.template)
        await admin.create(rs)
        pods = await ready_pods(admin, "api", 4)
        clock.advance(301)
        await publish(admin, pods, clock, cpu="50m")          # 10% against 50%: one pod would do
        created = clock.now()
        await admin.create(autoscaler("api", target_kind="ReplicaSet"))
        hpa = await hpa_where(admin, "api-hpa", lambda h: reason(h, "AbleToScale") == "ScaleDownStabilized")
        assert condition(hpa, "AbleToScale")[2] == ("recent recommendations were higher than current one, "
                                                    "applying the highest recent recommendation")
        assert await replicas_of(admin, "ReplicaSet", "api") == 4
        # the sync period goes by and by; once the first recommendation (4) is 300 s old, down it goes
        await hpa_where(admin, "api-hpa", lambda h: h.status.desiredReplicas == 1, clock=clock,
                        what="scaled down after the window")
        assert clock.now() - created >= 300
        assert await replicas_of(admin, "ReplicaSet", "api") == 1
        ev = await event(admin, "SuccessfulRescale", "api-hpa")
        assert ev.message == "New size: 1; reason: All metrics below target"


async def test_below_min_replicas_and_target_at_zero(srv):
    clock = FakeClock()
    async with cluster(srv, clock) as admin:
        await admin.create(deployment("small", 1))
        await admin.create(autoscaler("small", min_replicas=3))
        await wait_for(lambda: _is(admin, "small", 3), what="raised to minReplicas")
        ev = await event(admin, "SuccessfulRescale", "small-hpa")
        assert ev.message == "New size: 3; reason: Current number of replicas below Spec.MinReplicas"

        await admin.create(deployment("off", 0))
        await admin.create(autoscaler("off"))
        hpa = await hpa_where(admin, "off-hpa", lambda h: condition(h, "ScalingActive") is not None)
        assert condition(hpa, "ScalingActive") == (
            "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
        assert await replicas_of(admin, "Deployment", "off") == 0


async def test_missing_target_and_missing_request(srv):
    clock = FakeClock()
    async with cluster(srv, clock) as admin:
        await admin.create(autoscaler("ghost"))
        hpa = await hpa_where(admin, "ghost-hpa", lambda h: condition(h, "AbleToScale") is not None)
        status, reason, message = condition(hpa, "AbleToScale")
        assert (status, reason) == ("False", "FailedGetScale")
        assert message.startswith("the HPA controller was unable to get the target's current scale: ")
        await event(admin, "FailedGetScale", "ghost-hpa")

        await admin.create(deployment("norequest", 1, cpu=None))
        pods = await ready_pods(admin, "norequest", 1)
        clock.advance(301)
        await publish(admin, pods, clock)
        await admin.create(autoscaler("norequest"))
        hpa = await hpa_where(admin, "norequest-hpa", lambda h: condition(h, "ScalingActive") is not None)
        detail = f"failed to get cpu utilization: missing request for cpu in container app of Pod {pods[0].metadata.name}"
        assert condition(hpa, "ScalingActive") == (
            "False", "FailedGetResourceMetric", f"the HPA was unable to compute the replica count: {detail}")
        assert (await event(admin, "FailedGetResourceMetric", "norequest-hpa")).message == detail
        ev = await event(admin, "FailedComputeMetricsReplicas", "norequest-hpa")
        assert ev.message == ("invalid metrics (1 invalid out of 1), first error is: "
                              f"failed to get cpu resource metric value: {detail}")
        assert await replicas_of(admin, "Deployment", "norequest") == 1


async def test_memory_average_value(srv):
    clock = FakeClock()
    async with cluster(srv, clock) as admin:
        await admin.create(deployment("cache", 2))
        pods = await ready_pods(admin, "cache", 2)
        await publish(admin, pods, clock, memory="300Mi")
        h = autoscaler("cache", cpu_utilization=None)
        m = h.spec.metrics.add(type="Resource")
        m.resource.name = "memory"
        m.resource.target.type = "AverageValue"
        m.resource.target.averageValue = "100Mi"
        await admin.create(h)
        # 300Mi / 100Mi x 2 pods = 6, but without behavior one step at most doubles (at least to 4)
        hpa = await hpa_where(admin, "cache-hpa", lambda h: h.status.desiredReplicas == 4)
        assert condition(hpa, "ScalingLimited") == (
            "True", "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
        assert hpa.status.currentMetrics[0].resource.current.averageValue == "314572800"   # DecimalSI, as upstream
        ev = await event(admin, "SuccessfulRescale", "cache-hpa")
        assert ev.message == "New size: 4; reason: memory resource above target"
        # the next sync: the two new pods have no sample yet and count as using nothing: 600Mi / 4 pods
        clock.advance(SYNC_PERIOD)
        await wait_for(lambda: _is(admin, "cache", 6), what="scaled on to 6")


async def test_set_scale_retries_on_conflict(srv):
    async with srv.async_client() as admin:
        await admin.create(deployment("busy", 2))
        ref = autoscaler("busy").spec.scaleTargetRef
        scale = await get_scale(admin, NS, ref)
        assert (scale.spec_replicas, scale.selector) == (2, "app=busy")
        moved = await admin.get("Deployment", "busy", NS)
        moved.metadata.labels["touched"] = "yes"
        await admin.update(moved)                 # the scale read above is stale now
        assert (await set_scale(admin, scale, 5)).spec_replicas == 5
        d = await admin.get("Deployment", "busy", NS)
        assert (d.spec.replicas, d.metadata.labels["touched"]) == (5, "yes")
