"""The DaemonSet controller against a real API server, with the real scheduler binding its pods and a
fake kubelet running them: the Kubernetes docs' fluentd-elasticsearch example gets one pod per node,
follows nodes in and out, honours nodeSelector and taints (a cordoned node keeps its pod, an
untolerated NoExecute taint removes it), a rolling update never has more than maxUnavailable nodes
without an available pod, and `minictl drain --ignore-daemonsets` leaves a node with only its
DaemonSet pod. Kind defaults and validation are checked here too."""
from __future__ import annotations

import asyncio
import contextlib
import sys

import pytest

from minik8s.api import kinds
from minik8s.api.codec import to_dict
from minik8s.api.defaults import apply_defaults
from minik8s.api.manifest import load_text
from minik8s.api.pb import apps_pb2, core_pb2
from minik8s.api.validation import validate
from minik8s.client.config import ClientConfig
from minik8s.client.informer import copy
from minik8s.controllers.daemonset import REVISION_LABEL, template_hash
from minik8s.scheduler.scheduler import Scheduler

from cluster import ROOT
from support import FakeKubelet, running_manager, wait_for

pytestmark = pytest.mark.timeout(120)

NS = "kube-system"

# https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/ (controllers/daemonset.yaml), unchanged
DOCS_EXAMPLE = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: fluentd-elasticsearch
  namespace: kube-system
  labels:
    k8s-app: fluentd-logging
spec:
  selector:
    matchLabels:
      name: fluentd-elasticsearch
  template:
    metadata:
      labels:
        name: fluentd-elasticsearch
    spec:
      tolerations:
      # these tolerations are to have the daemonset runnable on control plane nodes
      # remove them if your control plane nodes should not run pods
      - key: node-role.kubernetes.io/control-plane
        operator: Exists
        effect: NoSchedule
      - key: node-role.kubernetes.io/master
        operator: Exists
        effect: NoSchedule
      containers:
      - name: fluentd-elasticsearch
        image: quay.io/fluentd_elasticsearch/fluentd:v2.5.2
        resources:
          limits:
            memory: 200Mi
          requests:
            cpu: 100m
            memory: 200Mi
        volumeMounts:
        - name: varlog
          mountPath: /var/log
      # it may be desirable to set a high priority class to ensure that a DaemonSet Pod
      # preempts running Pods
      # priorityClassName: important
      terminationGracePeriodSeconds: 30
      volumes:
      - name: varlog
        hostPath:
          path: /var/log
"""


def docs_daemon_set() -> apps_pb2.DaemonSet:
    return load_text(DOCS_EXAMPLE, "daemonset.yaml")[0].obj


async def add_node(client, name: str, labels: dict | None = None, taints=(), unschedulable=False):
    node = core_pb2.Node(apiVersion="v1", kind="Node")
    node.metadata.name = name
    node.metadata.labels.update(labels or {})
    node.metadata.labels["kubernetes.io/hostname"] = name
    node.spec.unschedulable = unschedulable
    for key, effect in taints:
        node.spec.taints.add(key=key, effect=effect)
    node = await client.create(node)
    for field in (node.status.capacity, node.status.allocatable):
        field.update({"cpu": "4", "memory": "8Gi", "pods": "110"})
    node.status.conditions.add(type="Ready", status="True", reason="KubeletReady")
    return await client.update_status(node)


async def daemon_pods(client, selector="name=fluentd-elasticsearch") -> dict[str, list]:
    """Live pods by the node they are bound to ("" while unbound)."""
    out: dict[str, list] = {}
    for p in (await client.list("Pod", NS, label_selector=selector)).items:
        if not p.metadata.deletionTimestamp:
            out.setdefault(p.spec.nodeName, []).append(p)
    return out


async def one_ready_pod_on(client, nodes: set[str], selector="name=fluentd-elasticsearch"):
    by_node = await daemon_pods(client, selector)
    return set(by_node) == nodes and all(
        len(ps) == 1 and any(c.type == "Ready" and c.status == "True" for c in ps[0].status.conditions)
        for ps in by_node.values())


async def ds_status(client, name, pred):
    ds = await client.get("DaemonSet", name, NS)
    return ds if ds.status.observedGeneration == ds.metadata.generation and pred(ds.status) else None


@contextlib.asynccontextmanager
async def cluster(srv, controllers="daemonset", ready=None):
    """A controller manager, the scheduler and a fake kubelet that marks bound pods Running and Ready
    (those `ready` accepts, when given)."""
    accept = ready or (lambda pod: True)
    async with srv.async_client() as admin, srv.async_client("controller-manager") as cm, \
            srv.async_client("scheduler") as sc:
        scheduler = Scheduler(sc)
        task = asyncio.create_task(scheduler.run())
        kubelet = await FakeKubelet(admin, ready=lambda pod: bool(pod.spec.nodeName) and accept(pod)).start()
        try:
            async with running_manager(cm, controllers):
                yield admin, kubelet
        finally:
            await kubelet.stop()
            await scheduler.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


# ---------------------------------------------------------------- kind
def test_defaults_are_upstreams():
    ds = docs_daemon_set()
    apply_defaults(ds)
    ru = ds.spec.updateStrategy.rollingUpdate
    assert ds.spec.updateStrategy.type == "RollingUpdate"
    assert (ru.maxUnavailable.number_value, ru.maxSurge.number_value) == (1, 0)
    assert ds.spec.revisionHistoryLimit == 10
    assert validate(ds) == []


@pytest.mark.parametrize("change, error", [
    (lambda ds: ds.spec.ClearField("selector"), ("spec.selector", "Required value")),
    (lambda ds: ds.spec.template.metadata.labels.__setitem__("name", "other"),
     ("spec.template.metadata.labels", "Invalid value: map[string]string{\"name\":\"other\"}: "
                                       "`selector` does not match template `labels`")),
    (lambda ds: setattr(ds.spec.template.spec, "restartPolicy", "Never"),
     ("spec.template.spec.restartPolicy", 'Unsupported value: "Never": supported values: "Always"')),
    (lambda ds: setattr(ds.spec.updateStrategy, "type", "Recreate"),
     ("spec.updateStrategy.type", 'Unsupported value: "Recreate": supported values: "OnDelete", "RollingUpdate"')),
    (lambda ds: setattr(ds.spec.updateStrategy.rollingUpdate.maxUnavailable, "number_value", 0),
     ("spec.updateStrategy.rollingUpdate.maxUnavailable", "Required value: cannot be 0 when maxSurge is 0")),
    (lambda ds: setattr(ds.spec.updateStrategy.rollingUpdate.maxSurge, "string_value", "10%"),
     ("spec.updateStrategy.rollingUpdate.maxSurge",
      'Invalid value: "10%": may not be set when maxUnavailable is non-zero')),
])
def test_validation_names_the_field(change, error):
    ds = docs_daemon_set()
    apply_defaults(ds)
    change(ds)
    assert error in validate(ds)


def test_selector_is_immutable():
    old = docs_daemon_set()
    apply_defaults(old)
    new = copy(old)
    new.spec.selector.matchLabels["tier"] = "logs"
    new.spec.template.metadata.labels["tier"] = "logs"
    assert [p for p, _ in validate(new, old)] == ["spec.selector"]


# ---------------------------------------------------------------- controller
async def test_docs_example_runs_one_pod_per_node_and_follows_nodes_in_and_out(srv):
    async with cluster(srv) as (admin, kubelet):
        await add_node(admin, "node-1")
        await add_node(admin, "node-2")
        await admin.create(docs_daemon_set())
        await wait_for(lambda: one_ready_pod_on(admin, {"node-1", "node-2"}), what="a pod on each node")
        ds = await wait_for(lambda: ds_status(admin, "fluentd-elasticsearch", lambda s: s.numberAvailable == 2),
                            what="status")
        st = ds.status
        assert (st.desiredNumberScheduled, st.currentNumberScheduled, st.numberReady, st.updatedNumberScheduled,
                st.numberMisscheduled) == (2, 2, 2, 2, 0)

        pod = (await daemon_pods(admin))["node-1"][0]
        terms = pod.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms
        assert [(f.key, f.operator, list(f.values)) for t in terms for f in t.matchFields] == \
            [("metadata.name", "In", ["node-1"])]
        tolerations = {(t.key, t.effect, t.HasField("tolerationSeconds")) for t in pod.spec.tolerations}
        assert {("node.kubernetes.io/not-ready", "NoExecute", False),
                ("node.kubernetes.io/unreachable", "NoExecute", False),
                ("node.kubernetes.io/unschedulable", "NoSchedule", False),
                ("node.kubernetes.io/disk-pressure", "NoSchedule", False),
                ("node-role.kubernetes.io/control-plane", "NoSchedule", False)} <= tolerations
        assert ("node.kubernetes.io/network-unavailable", "NoSchedule", False) not in tolerations

        # a node joins: it gets a pod; a node leaves: its pod goes
        await add_node(admin, "node-3", taints=[("node-role.kubernetes.io/control-plane", "NoSchedule")])
        await wait_for(lambda: one_ready_pod_on(admin, {"node-1", "node-2", "node-3"}), what="a pod on node-3")
        await admin.delete("Node", "node-2")
        await wait_for(lambda: one_ready_pod_on(admin, {"node-1", "node-3"}), what="node-2's pod gone")
        await wait_for(lambda: ds_status(admin, "fluentd-elasticsearch",
                                         lambda s: (s.desiredNumberScheduled, s.numberReady) == (2, 2)),
                       what="status after node-2 left")
        events = (await admin.list("Event", NS)).items
        assert any(e.reason == "SuccessfulCreate" and e.message.startswith("Created pod: fluentd-elasticsearch-")
                   for e in events)


async def test_node_selector_taints_and_cordon(srv):
    async with cluster(srv) as (admin, kubelet):
        await add_node(admin, "disk-1", labels={"disk": "ssd"})
        await add_node(admin, "disk-2", labels={"disk": "ssd"}, unschedulable=True)
        await add_node(admin, "tainted", labels={"disk": "ssd"}, taints=[("dedicated", "NoSchedule")])
        await add_node(admin, "plain")
        ds = docs_daemon_set()
        ds.spec.template.spec.nodeSelector["disk"] = "ssd"
        await admin.create(ds)
        # a cordoned node still gets its pod; a NoSchedule taint not tolerated keeps it off
        await wait_for(lambda: one_ready_pod_on(admin, {"disk-1", "disk-2"}), what="pods on the ssd nodes")

        # an untolerated NoExecute taint removes the pod; the label going removes it too
        await admin.patch(kinds.NODE, "disk-1", {"spec": {"taints": [{"key": "maintenance", "effect": "NoExecute"}]}})
        await admin.patch(kinds.NODE, "disk-2", {"metadata": {"labels": {"disk": None}}})
        await wait_for(lambda: one_ready_pod_on(admin, set()), what="no pods left")
        await wait_for(lambda: ds_status(admin, "fluentd-elasticsearch",
                                         lambda s: (s.desiredNumberScheduled, s.currentNumberScheduled) == (0, 0)),
                       what="nothing desired")

        # tolerating the taint brings the pod back on the tainted nodes
        await admin.patch(kinds.DAEMON_SET, "fluentd-elasticsearch",
                          {"spec": {"template": {"spec": {"tolerations": [{"operator": "Exists"}]}}}}, NS)
        await wait_for(lambda: one_ready_pod_on(admin, {"disk-1", "tainted"}), what="pods on the tainted nodes")


async def test_rolling_update_keeps_within_max_unavailable(srv):
    nodes = {f"node-{i}" for i in range(5)}
    held = {"revision": ""}     # pods of this revision are held not ready

    def ready(pod):
        return pod.metadata.labels.get(REVISION_LABEL) != held["revision"]

    async with cluster(srv, ready=ready) as (admin, kubelet):
        for n in sorted(nodes):
            await add_node(admin, n)
        ds = docs_daemon_set()
        ds.spec.updateStrategy.rollingUpdate.maxUnavailable.number_value = 2
        await admin.create(ds)
        await wait_for(lambda: one_ready_pod_on(admin, nodes), what="a pod on each node")
        first = next(iter((await daemon_pods(admin)).values()))[0].metadata.labels[REVISION_LABEL]

        # the new pods are held not ready: the update must stop at two nodes without an available pod
        ds = await admin.get("DaemonSet", "fluentd-elasticsearch", NS)
        ds.spec.template.spec.containers[0].image = "quay.io/fluentd_elasticsearch/fluentd:v2.6.0"
        held["revision"] = template_hash(ds)
        await admin.patch(kinds.DAEMON_SET, "fluentd-elasticsearch",
                          {"spec": {"template": to_dict(ds.spec.template)}}, NS)
        ds = await wait_for(lambda: ds_status(admin, "fluentd-elasticsearch",
                                              lambda s: s.updatedNumberScheduled == 2 and s.numberReady == 3),
                            what="two updated, three ready")
        by_node = await daemon_pods(admin)
        revisions = [p.metadata.labels[REVISION_LABEL] for ps in by_node.values() for p in ps]
        # three old pods still serve beside the two new ones held not ready
        assert (revisions.count(first), revisions.count(held["revision"]), len(revisions)) == (3, 2, 5)
        assert ds.status.numberUnavailable == 2

        held["revision"] = ""
        kubelet.kick()
        await wait_for(lambda: ds_status(admin, "fluentd-elasticsearch",
                                         lambda s: (s.updatedNumberScheduled, s.numberAvailable) == (5, 5)),
                       what="rollout complete")
        assert await one_ready_pod_on(admin, nodes)


async def minictl(srv, *args):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "minik8s.cli.main", "--home", srv.home, *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


async def test_drained_node_keeps_only_its_daemonset_pod(srv):
    ClientConfig(server=srv.address, token=srv.tokens["admin"]).save(srv.home)
    async with cluster(srv, "daemonset,replicaset,disruption") as (admin, kubelet):
        await add_node(admin, "node-1")
        await add_node(admin, "node-2")
        await admin.create(docs_daemon_set())
        rs = apps_pb2.ReplicaSet(apiVersion="apps/v1", kind="ReplicaSet")
        rs.metadata.name, rs.metadata.namespace, rs.spec.replicas = "web", NS, 4
        rs.spec.selector.matchLabels["app"] = "web"
        rs.spec.template.metadata.labels["app"] = "web"
        rs.spec.template.spec.containers.add(name="web", image="nginx")
        await admin.create(rs)
        await wait_for(lambda: one_ready_pod_on(admin, {"node-1", "node-2"}), what="daemon pods")

        async def web_ready():
            pods = (await admin.list("Pod", NS, label_selector="app=web")).items
            return sum(1 for p in pods if p.spec.nodeName and any(
                c.type == "Ready" and c.status == "True" for c in p.status.conditions)) == 4
        await wait_for(web_ready, what="web ready")

        rc, out, err = await minictl(srv, "drain", "node-1", "--ignore-daemonsets")
        assert rc == 0, err
        assert "node/node-1 drained" in out
        assert "Warning: ignoring DaemonSet-managed Pods: kube-system/fluentd-elasticsearch-" in err

        async def only_daemon_pod_left():
            pods = [p for p in (await admin.list("Pod", NS)).items
                    if p.spec.nodeName == "node-1" and not p.metadata.deletionTimestamp]
            return [p.metadata.labels.get("name") for p in pods] == ["fluentd-elasticsearch"]
        await wait_for(only_daemon_pod_left, what="node-1 with its daemon pod only")
        await wait_for(web_ready, what="web back on node-2")
        assert await one_ready_pod_on(admin, {"node-1", "node-2"})
