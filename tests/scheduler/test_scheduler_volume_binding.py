"""VolumeBinding: claims keep a pod where its data is. Table-driven on the plugin (missing, deleting
and unbound immediate claims fail the pod everywhere; a bound `local` volume's node affinity and a
waiting claim's chances on each node filter nodes, in upstream's words), then against a real API
server with two nodes: a StatefulSet pod whose claim of a WaitForFirstConsumer `local` class was
provisioned on one node comes back to that node after deletion, though the scheduler would rather
pack it on the other; a pod with an unbound immediate claim waits until the claim is bound."""
from __future__ import annotations

import json

import pytest

from minik8s.api import codec
from minik8s.api.manifest import load_text
from minik8s.api.pb import core_pb2, storage_pb2
from minik8s.scheduler.framework import SKIP, Code, CycleState
from minik8s.scheduler.plugins.volume_binding import (BIND_CONFLICT, NODE_CONFLICT, SELECTED_NODE,
                                                      UNBOUND_IMMEDIATE, VolumeBinding)
from schedtest import Harness, make_node, make_pod, node_info, pod_info
from support import running_manager, wait_for

NS = "default"


class Store:
    """An informer's reads over a fixed list of objects."""

    def __init__(self, objs):
        self.objs = {(o.metadata.namespace, o.metadata.name): o for o in objs}

    def get(self, name):
        return self.objs.get(("", name))

    def get_by(self, namespace, name):
        return self.objs.get((namespace, name))

    def list(self):
        return list(self.objs.values())


class Informers:
    def __init__(self, **by_kind):
        self.by_kind = by_kind

    def informer(self, kind):
        return Store(self.by_kind.get(kind, ()))


class FakeHandle:
    def __init__(self, claims=(), volumes=(), classes=()):
        self.informers = Informers(PersistentVolumeClaim=claims, PersistentVolume=volumes, StorageClass=classes)


def storage_class(name, mode="Immediate", provisioner="minik8s.io/local", topologies=None):
    return codec.from_dict(storage_pb2.StorageClass, {
        "metadata": {"name": name}, "provisioner": provisioner, "volumeBindingMode": mode,
        "allowedTopologies": topologies or []})


def claim(name, cls="local", volume="", deleting=False, selected="", size="1Gi"):
    meta = {"name": name, "namespace": NS, "annotations": {SELECTED_NODE: selected} if selected else {}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return codec.from_dict(core_pb2.PersistentVolumeClaim, {
        "metadata": meta, "spec": {"storageClassName": cls, "volumeName": volume, "accessModes": ["ReadWriteOnce"],
                                   "resources": {"requests": {"storage": size}}}})


def volume(name, node=None, cls="local", phase="Bound", size="1Gi"):
    d = {"metadata": {"name": name}, "status": {"phase": phase},
         "spec": {"storageClassName": cls, "capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                  "local": {"path": f"/data/{name}"}}}
    if node:
        d["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
    return codec.from_dict(storage_pb2.PersistentVolume, d)


def pod_with(*claims):
    return make_pod("p", volumes=[{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}}
                                  for i, c in enumerate(claims)])


WAIT = storage_class("local", mode="WaitForFirstConsumer")
NO_PROVISIONER = storage_class("manual-local", mode="WaitForFirstConsumer", provisioner="kubernetes.io/no-provisioner")
ZONED = storage_class("zoned", mode="WaitForFirstConsumer", provisioner="minik8s.io/hostpath",
                      topologies=[{"matchLabelExpressions": [{"key": "zone", "values": ["a"]}]}])
IMMEDIATE = storage_class("standard")


@pytest.mark.parametrize("claims, volumes, pre_filter", [
    ([], [], "skip"),
    ([claim("data")], [], None),
    ([], [], 'persistentvolumeclaim "data" not found'),
    ([claim("data", deleting=True)], [], 'persistentvolumeclaim "data" is being deleted'),
    ([claim("data", cls="standard")], [], UNBOUND_IMMEDIATE),
    ([claim("data", cls="no-such-class")], [], UNBOUND_IMMEDIATE),       # upstream: a missing class binds at once
    ([claim("data", volume="pv-gone")], [], 'persistentvolume "pv-gone" not found'),
])
def test_pre_filter(claims, volumes, pre_filter):
    plugin = VolumeBinding({}, FakeHandle(claims, volumes, [WAIT, IMMEDIATE]))
    pod = make_pod("p") if pre_filter == "skip" else pod_with("data")
    st = plugin.pre_filter(CycleState(), pod_info(pod), None)
    if pre_filter == "skip":
        assert st is SKIP
    elif pre_filter is None:
        assert st is None
    else:
        assert (st.code, st.message) == (Code.UNSCHEDULABLE_AND_UNRESOLVABLE, pre_filter)


@pytest.mark.parametrize("claims, volumes, fits", [
    # bound: the volume's node affinity decides
    ([claim("data", volume="pv-1")], [volume("pv-1", node="node-1")], {"node-1": None, "node-2": NODE_CONFLICT}),
    ([claim("data", volume="pv-1")], [volume("pv-1")], {"node-1": None, "node-2": None}),
    # waiting for its first consumer: any node the class can provision on ...
    ([claim("data")], [], {"node-1": None, "node-2": None}),
    # ... only the node already selected for it
    ([claim("data", selected="node-2")], [], {"node-1": BIND_CONFLICT, "node-2": None}),
    # no provisioner: only where a static volume fits (the smaller one is too small)
    ([claim("data", cls="manual-local", size="2Gi")],
     [volume("pv-a", node="node-1", cls="manual-local", phase="Available", size="1Gi"),
      volume("pv-b", node="node-2", cls="manual-local", phase="Available", size="5Gi")],
     {"node-1": BIND_CONFLICT, "node-2": None}),
    # allowedTopologies limit where the class provisions
    ([claim("data", cls="zoned")], [], {"node-1": None, "node-2": BIND_CONFLICT}),
    # two claims: every one must fit
    ([claim("data", volume="pv-1"), claim("logs", selected="node-1")], [volume("pv-1", node="node-2")],
     {"node-1": NODE_CONFLICT, "node-2": BIND_CONFLICT}),
])
def test_filter(claims, volumes, fits):
    plugin = VolumeBinding({}, FakeHandle(claims, volumes, [WAIT, NO_PROVISIONER, ZONED]))
    state, pi = CycleState(), pod_info(pod_with(*(c.metadata.name for c in claims)))
    assert plugin.pre_filter(state, pi, None) is None
    nodes = {"node-1": make_node("node-1", labels={"zone": "a"}), "node-2": make_node("node-2", labels={"zone": "b"})}
    got = {}
    for name, node in nodes.items():
        st = plugin.filter(state, pi, node_info(node))
        got[name] = None if st is None else st.message
        if st is not None:
            assert st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert got == fits


# ---------------------------------------------------------------- against a real API server

STATEFUL_SET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  selector:
    matchLabels: {app: db}
  serviceName: db
  replicas: 1
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: db
        image: busybox
        resources: {requests: {cpu: 500m}}
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      storageClassName: local
      resources: {requests: {storage: 1Gi}}
"""


async def _pod(admin, name, not_uid=""):
    async def scheduled():
        try:
            pod = await admin.get("Pod", name, NS)
        except Exception:
            return None
        return pod if pod.spec.nodeName and pod.metadata.uid != not_uid else None
    return await wait_for(scheduled, what=f"pod {name} scheduled")


async def test_stateful_pod_with_a_local_claim_returns_to_the_node_holding_its_data(srv, tmp_path):
    async with Harness(srv) as h, srv.async_client("controller-manager") as cm, \
            running_manager(cm, "statefulset,persistentvolume-binder", settings={"home": str(tmp_path)}):
        await h.create(make_node("node-1"), make_node("node-2"), WAIT)
        for m in load_text(STATEFUL_SET, "db.yaml"):
            await h.create(m.obj)
        first = await _pod(h.admin, "db-0")
        home, other = first.spec.nodeName, {"node-1": "node-2", "node-2": "node-1"}[first.spec.nodeName]

        async def bound():
            pvc = await h.admin.get("PersistentVolumeClaim", "data-db-0", NS)
            return pvc if pvc.spec.volumeName else None
        pvc = await wait_for(bound, what="claim data-db-0 bound")
        assert pvc.metadata.annotations[SELECTED_NODE] == home
        pv = await h.admin.get("PersistentVolume", pvc.spec.volumeName)
        assert list(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values) == [home]

        # a pod bound to the other node makes it the one bin packing prefers
        await h.create(make_pod("hog", cpu="2", memory="4Gi", node_name=other))
        await h.admin.delete("Pod", "db-0", NS, grace_period=0)
        again = await _pod(h.admin, "db-0", not_uid=first.metadata.uid)
        assert again.spec.nodeName == home
        record = json.loads(again.metadata.annotations["scheduler.minik8s.io/decision"])
        assert [other, NODE_CONFLICT] in record["rows"]

        # without the claim, the same pod would have gone to the other node
        await h.create(make_pod("twin", cpu="500m"))
        assert await h.node_of("twin") == other


async def test_pod_with_an_unbound_immediate_claim_waits_for_its_binding(srv, tmp_path):
    async with Harness(srv) as h, srv.async_client("controller-manager") as cm, \
            running_manager(cm, "persistentvolume-binder", settings={"home": str(tmp_path)}):
        manual = storage_class("manual", provisioner="kubernetes.io/no-provisioner")
        await h.create(make_node("node-1"), make_node("node-2"), manual, claim("data", cls="manual"))
        await h.create(pod_with("data"))
        ev = await h.event("p", "FailedScheduling")
        assert ev.message.startswith(f"0/2 nodes are available: {UNBOUND_IMMEDIATE}.")
        assert not (await h.admin.get("Pod", "p", NS)).spec.nodeName
        static = volume("pv-manual", node="node-2", cls="manual", phase="")
        static.spec.persistentVolumeReclaimPolicy = "Retain"
        static.spec.claimRef.namespace, static.spec.claimRef.name = NS, "data"      # pre-bound to the claim
        await h.create(static)
        assert await h.node_of("p") == "node-2"
