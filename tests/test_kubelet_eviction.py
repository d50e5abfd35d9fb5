"""Node-pressure eviction (kubelet/eviction.py): thresholds from the cluster file, the ranking and the
messages as upstream's, and the kubelet on the fake runtime under memory and disk pressure on a
FakeClock: pressure conditions and their transition period, the taints the node lifecycle controller
adds from them, one pod evicted per monitoring period (Failed, Evicted, DisruptionTarget), and new
pods refused while the pressure lasts."""
from __future__ import annotations

import pytest

from minik8s.api.clock import Clock, FakeClock
from minik8s.api.codec import from_dict
from minik8s.api.pb import core_pb2

from kubelet.config import Settings
from kubelet.eviction import (ContainerUsage, EvictionManager, Observations, SignalObservation, Threshold,
                              eviction_message, parse_thresholds, rank_for_eviction)
from kubelet.runtime.base import FilesystemStats
from kubelet.runtime.fake import ANNOTATION_MEMORY_BYTES

from support.controllers import running_manager
from support.wait import wait_for
from test_kubelet_harness import FAST, cstatus, events, kubelet, pod

Mi, Gi = 1024 ** 2, 1024 ** 3
MEMORY_PRESSURE_TAINT = "node.kubernetes.io/memory-pressure"


# ---------------------------------------------------------------- thresholds, ranking, messages
@pytest.mark.parametrize("spec, want", [
    (None, [Threshold("memory.available", quantity=100 * Mi), Threshold("nodefs.available", percentage=0.10)]),
    ({"memory.available": "1Gi"}, [Threshold("memory.available", quantity=Gi)]),
    ({"memory.available": "5%", "nodefs.available": "2Gi"},
     [Threshold("memory.available", percentage=0.05), Threshold("nodefs.available", quantity=2 * Gi)]),
])
def test_thresholds_are_quantities_or_percentages(spec, want):
    assert parse_thresholds(spec) == want


@pytest.mark.parametrize("spec, error", [
    ({"memory.free": "1Gi"}, "kubelet.evictionHard.memory.free: unknown signal"),
    ({"nodefs.available": "120%"}, "kubelet.evictionHard.nodefs.available: '120%' is not a percentage"),
    ({"memory.available": "lots"}, "kubelet.evictionHard.memory.available: 'lots' is not a quantity"),
    ({"memory.available": "-1Mi"}, "kubelet.evictionHard.memory.available: '-1Mi' must not be negative"),
])
def test_a_bad_threshold_in_the_cluster_file_names_its_key(spec, error):
    with pytest.raises(ValueError, match=error.replace(".", r"\.")):
        Settings.from_dict({"evictionHard": spec})


def test_the_cluster_file_sets_thresholds_and_periods():
    s = Settings.from_dict({"evictionHard": {"memory.available": "500Mi"}, "evictionPressureTransitionPeriod": 30,
                            "evictionMonitoringPeriod": 2})
    assert (s.eviction_hard, s.eviction_pressure_transition_period, s.eviction_monitoring_period) == \
        ({"memory.available": "500Mi"}, 30.0, 2.0)
    d = Settings()
    assert (d.eviction_hard, d.eviction_pressure_transition_period, d.eviction_monitoring_period) == \
        ({"memory.available": "100Mi", "nodefs.available": "10%"}, 300.0, 10.0)


def a_pod(name: str, request: str | None = None, limit: str | None = None, priority: int | None = None,
          node: str = "node-1", usage: str | None = None, container: str = "app"):
    res = {}
    if request:
        res["requests"] = {"memory": request}
    if limit:
        res["limits"] = {"memory": limit}
    p = pod(name, [{"name": container, "image": "busybox", "resources": res}], node=node,
            annotations={ANNOTATION_MEMORY_BYTES: usage} if usage else None)
    p.metadata.uid = name
    if priority is not None:
        p.spec.priority = priority
    return p


def usage_of(**mebibytes) -> Observations:
    return Observations({"memory.available": SignalObservation(50 * Mi, Gi)},
                        {uid: {"app": ContainerUsage(memory=mib * Mi)} for uid, mib in mebibytes.items()})


@pytest.mark.parametrize("pods, usage, want", [
    # BestEffort (request 0) before Burstable before Guaranteed, in effect
    ([a_pod("guaranteed", "200Mi", "200Mi"), a_pod("burstable", "100Mi"), a_pod("besteffort")],
     dict(guaranteed=200, burstable=150, besteffort=100), ["besteffort", "burstable", "guaranteed"]),
    # among pods over their requests, the lower priority goes first
    ([a_pod("high", priority=1000), a_pod("low", priority=10)], dict(high=500, low=100), ["low", "high"]),
    # a pod within its request goes after every pod over it, whatever its priority
    ([a_pod("within", "1Gi", priority=0), a_pod("over", priority=1000)], dict(within=900, over=10),
     ["over", "within"]),
    # same priority: the larger usage above the request first
    ([a_pod("small"), a_pod("big", "100Mi")], dict(small=150, big=400), ["big", "small"]),
])
def test_pods_are_ranked_as_upstream(pods, usage, want):
    assert [p.metadata.name for p in rank_for_eviction(pods, usage_of(**usage), "memory")] == want


def test_the_eviction_message_is_upstreams():
    p = a_pod("web", container="web")
    t = parse_thresholds({"memory.available": "100Mi"})[0]
    msg = eviction_message("memory", t, SignalObservation(52 * Mi, Gi), p, {"web": ContainerUsage(memory=300 * Mi)})
    assert msg == ("The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi. "
                   "Container web was using 300Mi, request is 0, has larger consumption of memory. ")
    # a percentage threshold is shown as the quantity it comes to; a container within its request is not named
    p = a_pod("db", "2Gi")
    t = parse_thresholds({"nodefs.available": "10%"})[0]
    msg = eviction_message("memory", t, SignalObservation(Gi, 10 * Gi), p, {"app": ContainerUsage(memory=Gi)})
    assert msg == "The node was low on resource: memory. Threshold quantity: 1Gi, available: 1Gi. "


async def test_pressure_admission_and_critical_pods():
    evicted = []
    observed = usage_of(critical=900, besteffort=10)

    async def observe():
        return observed

    async def changed():
        pass

    pods = [a_pod("critical", priority=2_000_000_000), a_pod("besteffort")]
    m = EvictionManager(thresholds=parse_thresholds(None)[:1], transition_period=300, monitoring_period=10,
                        observe=observe, active_pods=lambda: list(pods),
                        evict=lambda p, msg: evicted.append(p.metadata.name), conditions_changed=changed,
                        recorder=_NullRecorder(), node_name="node-1", clock=FakeClock())
    assert m.admit(a_pod("new")) is None
    # the critical pod uses the most memory, but is never evicted
    assert (await m.synchronize()).metadata.name == "besteffort" and evicted == ["besteffort"]
    pods.pop()
    assert await m.synchronize() is None and evicted == ["besteffort"]
    assert m.pressure() == {"MemoryPressure"}
    # under memory pressure only BestEffort pods are refused, unless they tolerate the taint
    assert m.admit(a_pod("new")) == "The node had condition: [MemoryPressure]. "
    assert m.admit(a_pod("burstable", "10Mi")) is None
    tolerant = a_pod("tolerant")
    tolerant.spec.tolerations.add(key=MEMORY_PRESSURE_TAINT, operator="Exists", effect="NoSchedule")
    assert m.admit(tolerant) is None
    assert m.admit(a_pod("critical", priority=2_000_000_000)) is None


class _NullRecorder:
    def event(self, *a):
        pass

    def eventf(self, *a):
        pass


# ---------------------------------------------------------------- the kubelet under pressure
def settings(**kw) -> Settings:
    return Settings(**{**FAST, "eviction_monitoring_period": 10.0, **kw})


def manifest_pod(name: str, container: str, usage: str, resources: dict | None = None) -> core_pb2.Pod:
    return from_dict(core_pb2.Pod, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "annotations": {ANNOTATION_MEMORY_BYTES: usage}},
        "spec": {"nodeName": "node-1", "containers": [{"name": container, "image": "nginx",
                                                       "resources": resources or {}}]}})


def node_condition(node, type_: str):
    return next((c for c in node.status.conditions if c.type == type_), None)


def has_taint(node, key: str) -> bool:
    return any(t.key == key and t.effect == "NoSchedule" for t in node.spec.taints)


async def phase_of(admin, name: str) -> str:
    return (await admin.get("Pod", name)).status.phase


async def test_memory_pressure_evicts_the_besteffort_pod_and_lasts_the_transition_period(srv, admin, tmp_path):
    clock = FakeClock()
    async with kubelet(srv, str(tmp_path), clock=clock, settings=settings(), capacity={"memory": "1Gi"}) as k, \
            srv.async_client("controller-manager") as cm, running_manager(cm, "node-lifecycle", Clock()):
        # 300Mi + 450Mi + 222Mi of a 1Gi node: 52Mi left, under the 100Mi threshold
        await admin.create(manifest_pod("web", "web", "300Mi"))
        await admin.create(manifest_pod("api", "api", "450Mi", {"requests": {"memory": "200Mi"}}))
        await admin.create(manifest_pod("db", "db", "222Mi", {"requests": {"memory": "222Mi", "cpu": "100m"},
                                                              "limits": {"memory": "222Mi", "cpu": "100m"}}))
        for name in ("web", "api", "db"):
            await wait_for(lambda: _running(admin, name), what=f"{name} running")
        clock.advance(10)                      # one monitoring period: one eviction
        web = await wait_for(lambda: _failed(admin, "web"), what="web evicted")
        message = ("The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi. "
                   "Container web was using 300Mi, request is 0, has larger consumption of memory. ")
        assert (web.status.reason, web.status.message) == ("Evicted", message)
        target = next(c for c in web.status.conditions if c.type == "DisruptionTarget")
        assert (target.status, target.reason, target.message) == ("True", "TerminationByKubelet", message)
        assert cstatus(web, "web").state.HasField("terminated")
        await wait_for(lambda: _has_event(admin, "web", ("Evicted", message)), what="the Evicted event")
        # web's memory is back: api (over its request too) stays, and so does db
        assert await k.eviction.synchronize() is None
        assert [await phase_of(admin, n) for n in ("api", "db")] == ["Running", "Running"]

        node = await wait_for(lambda: _node_if(admin, lambda n: has_taint(n, MEMORY_PRESSURE_TAINT)),
                              what="the memory-pressure taint")
        cond = node_condition(node, "MemoryPressure")
        assert (cond.status, cond.reason, cond.message) == \
            ("True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
        for ev in (("EvictionThresholdMet", "Attempting to reclaim memory"),
                   ("NodeHasInsufficientMemory", "Node node-1 status is now: NodeHasInsufficientMemory")):
            await wait_for(lambda: _has_event(admin, "node-1", ev), what=f"the {ev[0]} event")

        # while the condition lasts a BestEffort pod is refused, a Burstable one admitted
        await admin.create(manifest_pod("late", "late", "1Mi"))
        late = await wait_for(lambda: _failed(admin, "late"), what="late refused")
        assert (late.status.reason, late.status.message) == ("Evicted", "The node had condition: [MemoryPressure]. ")
        await admin.create(manifest_pod("small", "small", "1Mi", {"requests": {"memory": "1Mi"}}))
        await wait_for(lambda: _running(admin, "small"), what="small running")

        # the condition outlives its cause for the transition period (300 s), then clears
        clock.advance(290)
        await k.eviction.synchronize()
        assert k.eviction.pressure() == {"MemoryPressure"}
        clock.advance(11)
        await k.eviction.synchronize()
        assert k.eviction.pressure() == set()
        node = await wait_for(lambda: _node_if(admin, lambda n: not has_taint(n, MEMORY_PRESSURE_TAINT)),
                              what="the memory-pressure taint removed")
        cond = node_condition(node, "MemoryPressure")
        assert (cond.status, cond.reason) == ("False", "KubeletHasSufficientMemory")
        ev = ("NodeHasSufficientMemory", "Node node-1 status is now: NodeHasSufficientMemory")
        await wait_for(lambda: _has_event(admin, "node-1", ev), what="the NodeHasSufficientMemory event")


async def test_disk_pressure_evicts_one_pod_per_monitoring_period(srv, admin, tmp_path):
    clock = FakeClock()
    async with kubelet(srv, str(tmp_path), clock=clock, settings=settings()) as k:
        await admin.create(manifest_pod("guarded", "app", "1Mi", {"requests": {"ephemeral-storage": "1Gi"}}))
        await admin.create(manifest_pod("logger", "app", "1Mi"))
        for name in ("guarded", "logger"):
            await wait_for(lambda: _running(admin, name), what=f"{name} running")
        k.runtime.filesystem_stats = FilesystemStats(100 * Gi, 5 * Gi)      # under 10% free
        clock.advance(10)
        logger = await wait_for(lambda: _failed(admin, "logger"), what="logger evicted")
        assert logger.status.reason == "Evicted"
        assert logger.status.message.startswith(
            "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 5Gi. "
            "Container app was using ")
        assert logger.status.message.endswith(", request is 0, has larger consumption of ephemeral-storage. ")
        node = await wait_for(lambda: _node_if(admin, lambda n: node_condition(n, "DiskPressure").status == "True"),
                              what="DiskPressure")
        cond = node_condition(node, "DiskPressure")
        assert (cond.reason, cond.message) == ("KubeletHasDiskPressure", "kubelet has disk pressure")
        assert await phase_of(admin, "guarded") == "Running"      # one pod per period
        # under disk pressure every new pod is refused, Guaranteed or not
        await admin.create(manifest_pod("late", "app", "1Mi", {"requests": {"memory": "1Mi", "cpu": "1m"},
                                                               "limits": {"memory": "1Mi", "cpu": "1m"}}))
        late = await wait_for(lambda: _failed(admin, "late"), what="late refused")
        assert late.status.message == "The node had condition: [DiskPressure]. "
        clock.advance(10)                      # still full: the next period takes the next pod
        guarded = await wait_for(lambda: _failed(admin, "guarded"), what="guarded evicted")
        assert guarded.status.message == \
            "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 5Gi. "


async def _has_event(admin, name: str, event: tuple[str, str]) -> bool:
    return event in await events(admin, name)


async def _running(admin, name: str):
    p = await admin.get("Pod", name)
    return p.status.phase == "Running" and p


async def _failed(admin, name: str):
    p = await admin.get("Pod", name)
    return p.status.phase == "Failed" and p


async def _node_if(admin, pred):
    n = await admin.get("Node", "node-1")
    return pred(n) and n
