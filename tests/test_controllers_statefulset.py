"""The StatefulSet controller against a real API server, the test playing the kubelet: the Kubernetes
docs' `web` example (headless Service `nginx`, claims `www`) comes up web-0, web-1, web-2 in order; a
deleted pod comes back with the same name and claim; a partitioned rolling update replaces the
highest ordinals only; Parallel creates every pod at once."""
from __future__ import annotations

import contextlib

import pytest

from minik8s.api.errors import Conflict
from minik8s.api.manifest import load_text
from support import FakeKubelet, running_manager, wait_for

pytestmark = pytest.mark.timeout(120)

NS = "default"

# https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#components, unchanged
DOCS_EXAMPLE = """\
apiVersion: v1
kind: Service
metadata:
  name: nginx
  labels:
    app: nginx
spec:
  ports:
  - port: 80
    name: web
  clusterIP: None
  selector:
    app: nginx
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  selector:
    matchLabels:
      app: nginx # has to match .spec.template.metadata.labels
  serviceName: "nginx"
  replicas: 3 # by default is 1
  minReadySeconds: 10 # by default is 0
  template:
    metadata:
      labels:
        app: nginx # has to match .spec.selector.matchLabels
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: nginx
        image: registry.k8s.io/nginx-slim:0.24
        ports:
        - containerPort: 80
          name: web
        volumeMounts:
        - name: www
          mountPath: /usr/share/nginx/html
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: [ "ReadWriteOnce" ]
      storageClassName: "my-storage-class"
      resources:
        requests:
          storage: 1Gi
"""


@contextlib.asynccontextmanager
async def cluster(srv, ready, policy=None):
    """The docs' example applied, a controller manager and a fake kubelet that marks Ready the pods
    whose names are in `ready`."""
    async with srv.async_client() as admin, srv.async_client("controller-manager") as cm:
        kubelet = await FakeKubelet(admin, ready=lambda pod: pod.metadata.name in ready).start()
        try:
            async with running_manager(cm, "statefulset"):
                for m in load_text(DOCS_EXAMPLE, "web.yaml"):
                    if policy and m.info.kind == "StatefulSet":
                        m.obj.spec.podManagementPolicy = policy
                    await admin.create(m.obj)
                yield admin, kubelet
        finally:
            await kubelet.stop()


async def pod_names(client) -> list[str]:
    return sorted(p.metadata.name for p in (await client.list("Pod", NS)).items if not p.metadata.deletionTimestamp)


async def test_docs_example_creates_pods_in_order_each_with_its_claim(srv):
    ready: set[str] = set()
    async with cluster(srv, ready) as (admin, kubelet):
        await wait_for(lambda: _has_pods(admin, ["web-0"]), what="web-0")
        pod = await admin.get("Pod", "web-0", NS)
        assert pod.spec.hostname == "web-0" and pod.spec.subdomain == "nginx"
        assert [(v.name, v.persistentVolumeClaim.claimName) for v in pod.spec.volumes] == [("www", "www-web-0")]
        claim = await admin.get("PersistentVolumeClaim", "www-web-0", NS)
        assert claim.spec.storageClassName == "my-storage-class"
        await wait_for(lambda: _running(admin, "web-0"), what="web-0 Running")
        assert await pod_names(admin) == ["web-0"]        # web-1 waits until web-0 is Ready

        ready.add("web-0")
        kubelet.kick()
        await wait_for(lambda: _has_pods(admin, ["web-0", "web-1"]), what="web-1")
        await wait_for(lambda: _running(admin, "web-1"), what="web-1 Running")
        assert await pod_names(admin) == ["web-0", "web-1"]
        ready.update({"web-1", "web-2"})
        kubelet.kick()
        await wait_for(lambda: _has_pods(admin, ["web-0", "web-1", "web-2"]), what="web-2")
        sts = await wait_for(lambda: _status(admin, lambda s: s.readyReplicas == 3), what="3 ready")
        assert sts.status.replicas == 3 and sts.status.updatedReplicas == 3
        assert sts.status.currentRevision == sts.status.updateRevision
        claims = sorted(c.metadata.name for c in (await admin.list("PersistentVolumeClaim", NS)).items)
        assert claims == ["www-web-0", "www-web-1", "www-web-2"]

        # a deleted pod comes back with the same name and the same claim
        old = await admin.get("Pod", "web-1", NS)
        await admin.delete("Pod", "web-1", NS)
        new = await wait_for(lambda: _recreated(admin, "web-1", old.metadata.uid), what="web-1 recreated")
        assert new.spec.volumes[0].persistentVolumeClaim.claimName == "www-web-1"

        # scale down: highest ordinal first, claims kept
        await admin.patch("StatefulSet", "web", {"spec": {"replicas": 1}}, NS)
        await wait_for(lambda: _has_pods(admin, ["web-0"]), what="scaled to web-0")
        assert len((await admin.list("PersistentVolumeClaim", NS)).items) == 3


async def test_partitioned_rolling_update_replaces_highest_ordinals_only(srv):
    ready = {"web-0", "web-1", "web-2"}
    async with cluster(srv, ready) as (admin, kubelet):
        first = await wait_for(lambda: _status(admin, lambda s: s.readyReplicas == 3), what="3 ready")
        old_rev = first.status.updateRevision
        def new_image(spec):
            spec.updateStrategy.rollingUpdate.partition = 1
            spec.template.spec.containers[0].image = "registry.k8s.io/nginx-slim:0.27"
        await update_spec(admin, new_image)
        done = await wait_for(lambda: _status(admin, lambda s: s.updatedReplicas == 2 and s.readyReplicas == 3),
                              what="web-2 and web-1 updated")
        images = {p.metadata.name: p.spec.containers[0].image for p in (await admin.list("Pod", NS)).items}
        assert images == {"web-0": "registry.k8s.io/nginx-slim:0.24", "web-1": "registry.k8s.io/nginx-slim:0.27",
                          "web-2": "registry.k8s.io/nginx-slim:0.27"}
        assert done.status.currentRevision == old_rev != done.status.updateRevision
        assert done.status.currentReplicas == 1

        await admin.patch("StatefulSet", "web", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}}, NS)
        final = await wait_for(lambda: _status(admin, lambda s: s.updatedReplicas == 3 and s.readyReplicas == 3
                                               and s.currentRevision == s.updateRevision), what="all updated")
        assert final.status.currentReplicas == 3


async def test_parallel_creates_every_pod_at_once(srv):
    async with cluster(srv, set(), policy="Parallel") as (admin, kubelet):
        await wait_for(lambda: _has_pods(admin, ["web-0", "web-1", "web-2"]), what="three pods, none ready")


async def update_spec(client, change) -> None:
    """Change the set's spec on a fresh read, again if the controller's status write came first."""
    async def attempt():
        sts = await client.get("StatefulSet", "web", NS)
        change(sts.spec)
        return await client.update(sts)
    await wait_for(attempt, what="spec updated", ignoring=(Conflict,))


async def _has_pods(client, names):
    return await pod_names(client) == names


async def _running(client, name):
    return (await client.get("Pod", name, NS)).status.phase == "Running"


async def _status(client, pred):
    sts = await client.get("StatefulSet", "web", NS)
    return sts if pred(sts.status) else None


async def _recreated(client, name, old_uid):
    pods = [p for p in (await client.list("Pod", NS)).items if p.metadata.name == name]
    return pods[0] if pods and pods[0].metadata.uid != old_uid else None
