"""The StatefulSet controller, after upstream's pkg/controller/statefulset (stateful_set_control.go):
pods with stable names `<set>-<ordinal>`, each with its own claims `<template>-<set>-<ordinal>` made
from volumeClaimTemplates and kept when the pod goes (retention policy Retain), hostname = pod name
and subdomain = spec.serviceName so that the headless Service names each pod.

OrderedReady creates pods one at a time in ordinal order, each once its predecessors are Running and
Ready, and removes surplus pods highest ordinal first, one at a time; Parallel creates and removes
them all at once. RollingUpdate replaces pods whose revision is not the update revision, highest
ordinal first, one at a time, down to `partition`; OnDelete replaces a pod only once someone deleted it.

Revisions are a hash of the pod template, carried by each pod's `controller-revision-hash` label and
named `<set>-<hash>` in status; ControllerRevision objects are not kept, so a pod below the partition
that is recreated gets the update revision rather than the current one."""
from __future__ import annotations

import hashlib
import logging
import re

from minik8s.api import selectors
from minik8s.api.errors import AlreadyExists, ApiError, NotFound
from minik8s.api.pb import apps_pb2, core_pb2
from minik8s.client.events import NORMAL, WARNING
from minik8s.client.informer import copy, key_of

from minik8s.controllers.base import Controller, ControllerContext, split_key
from minik8s.controllers.controller_utils import (CONTROLLER_UID_INDEX, ControllerRefManager, by_controller_uid,
                                                  claim_candidates, controller_ref, ensure_indexer,
                                                  is_pod_ready, new_controller_ref, recheck_owner)

log = logging.getLogger("minik8s.controllers.statefulset")

COMPONENT = "statefulset-controller"
REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def template_revision(sts) -> str:
    """The update revision's name: the set's name and a hash of its pod template."""
    digest = hashlib.sha256(sts.spec.template.SerializeToString(deterministic=True)).hexdigest()
    return f"{sts.metadata.name}-{digest[:10]}"


def claim_name(template, sts, ordinal: int) -> str:
    return f"{template.metadata.name}-{sts.metadata.name}-{ordinal}"


def _ordinal(sts, pod) -> int | None:
    m = re.fullmatch(re.escape(sts.metadata.name) + r"-(\d+)", pod.metadata.name)
    return int(m.group(1)) if m else None


def _running_and_ready(pod) -> bool:
    return pod.status.phase == "Running" and is_pod_ready(pod) and not pod.metadata.deletionTimestamp


def _failed(pod) -> bool:
    return pod.status.phase in ("Failed", "Succeeded")


def _selector(sts):
    try:
        return selectors.from_label_selector_obj(sts.spec.selector if sts.spec.HasField("selector") else None)
    except selectors.SelectorError:
        return selectors.LabelSelector.nothing()


class StatefulSetController(Controller):
    name = "statefulset"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder(COMPONENT)
        self.sets = ctx.informers.informer("StatefulSet")
        self.pods = ctx.informers.informer("Pod")
        self.claims = ctx.informers.informer("PersistentVolumeClaim")
        ensure_indexer(self.pods, CONTROLLER_UID_INDEX, by_controller_uid)
        self.sets.add_event_handler(self._set_changed, lambda old, new: self._set_changed(new), None)
        self.pods.add_event_handler(self._pod_changed, lambda old, new: self._pod_changed(new), self._pod_changed)

    # ------------------------------------------------------------------ handlers (enqueue only)
    def _set_changed(self, sts) -> None:
        self.enqueue(key_of(sts))

    def _pod_changed(self, pod) -> None:
        ref = controller_ref(pod)
        if ref is not None and ref.kind == "StatefulSet":
            self.enqueue(f"{pod.metadata.namespace}/{ref.name}")
            return
        for sts in self.sets.list_namespace(pod.metadata.namespace):
            sel = _selector(sts)
            if not sel.empty and sel.matches(dict(pod.metadata.labels)):
                self.enqueue(key_of(sts))

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        sts = self.sets.get(key)
        if sts is None or sts.metadata.deletionTimestamp:
            return
        manager = ControllerRefManager(self.client, sts, _selector(sts),
                                       recheck_owner(self.client, "StatefulSet", namespace, name, sts.metadata.uid))
        pods = await manager.claim(claim_candidates(self.pods, sts))
        by_ordinal = {o: p for p in pods if (o := _ordinal(sts, p)) is not None}
        update_revision = template_revision(sts)
        try:
            await self._update_set(sts, by_ordinal, update_revision)
        finally:
            pods = [p for p in self.pods.by_index(CONTROLLER_UID_INDEX, sts.metadata.uid)]
            await self._update_status(sts, pods, update_revision)

    async def _update_set(self, sts, by_ordinal: dict, update_revision: str) -> None:
        start = sts.spec.ordinals.start
        replicas = sts.spec.replicas if sts.spec.HasField("replicas") else 1
        wanted = range(start, start + replicas)
        parallel = sts.spec.podManagementPolicy == "Parallel"

        # the pods that should exist: replace failed ones, create missing ones (in order)
        for ordinal in wanted:
            pod = by_ordinal.get(ordinal)
            if pod is not None and _failed(pod) and not pod.metadata.deletionTimestamp:
                await self._delete_pod(sts, pod, "Failed")
                pod = None
                if not parallel:
                    return
            if pod is None:
                await self._create_pod(sts, ordinal, update_revision)
                if not parallel:
                    return
                continue
            if not parallel and not _running_and_ready(pod):
                log.debug("statefulset %s waiting for %s to be Running and Ready", sts.metadata.name,
                          pod.metadata.name)
                return

        # surplus pods: the highest ordinal first
        surplus = sorted((o for o in by_ordinal if o not in wanted), reverse=True)
        for ordinal in surplus:
            pod = by_ordinal[ordinal]
            if pod.metadata.deletionTimestamp:
                if not parallel:
                    return
                continue
            await self._delete_pod(sts, pod, "Scale down")
            if not parallel:
                return
        if surplus:
            return

        if sts.spec.updateStrategy.type != "RollingUpdate":
            return
        partition = sts.spec.updateStrategy.rollingUpdate.partition
        for ordinal in sorted(wanted, reverse=True):
            if ordinal - start < partition:
                break
            pod = by_ordinal.get(ordinal)
            if pod is None or pod.metadata.deletionTimestamp or not _running_and_ready(pod):
                return                    # one pod at a time: wait for this one
            if pod.metadata.labels.get(REVISION_LABEL) != update_revision:
                await self._delete_pod(sts, pod, "Update")
                return

    # ------------------------------------------------------------------ pods and claims
    def new_pod(self, sts, ordinal: int, revision: str) -> core_pb2.Pod:
        """upstream newVersionedStatefulSetPod: the template, named and labelled for its ordinal, with
        its claims as volumes."""
        pod = core_pb2.Pod(apiVersion="v1", kind="Pod")
        meta = pod.metadata
        meta.name = f"{sts.metadata.name}-{ordinal}"
        meta.namespace = sts.metadata.namespace
        meta.labels.update(sts.spec.template.metadata.labels)
        meta.labels[POD_NAME_LABEL] = meta.name
        meta.labels[POD_INDEX_LABEL] = str(ordinal)
        meta.labels[REVISION_LABEL] = revision
        meta.annotations.update(sts.spec.template.metadata.annotations)
        meta.ownerReferences.append(new_controller_ref(sts))
        pod.spec.CopyFrom(sts.spec.template.spec)
        pod.spec.hostname = meta.name
        if sts.spec.serviceName:
            pod.spec.subdomain = sts.spec.serviceName
        for template in sts.spec.volumeClaimTemplates:
            kept = [v for v in pod.spec.volumes if v.name != template.metadata.name]
            del pod.spec.volumes[:]
            pod.spec.volumes.extend(kept)
            v = pod.spec.volumes.add(name=template.metadata.name)
            v.persistentVolumeClaim.claimName = claim_name(template, sts, ordinal)
        return pod

    async def _create_claims(self, sts, ordinal: int) -> None:
        for template in sts.spec.volumeClaimTemplates:
            name = claim_name(template, sts, ordinal)
            if self.claims.get_by(sts.metadata.namespace, name) is not None:
                continue
            pvc = core_pb2.PersistentVolumeClaim(apiVersion="v1", kind="PersistentVolumeClaim")
            pvc.metadata.CopyFrom(template.metadata)
            pvc.metadata.name, pvc.metadata.namespace = name, sts.metadata.namespace
            pvc.metadata.labels.update(sts.spec.selector.matchLabels)
            pvc.spec.CopyFrom(template.spec)
            try:
                await self.client.create(pvc)
            except AlreadyExists:
                continue
            except ApiError as e:
                self.recorder.event(sts, WARNING, "FailedCreate",
                                    f"create Claim {name} for Pod {sts.metadata.name}-{ordinal} in StatefulSet "
                                    f"{sts.metadata.name} failed error: {e.message}")
                raise
            self.recorder.event(sts, NORMAL, "SuccessfulCreate",
                                f"create Claim {name} Pod {sts.metadata.name}-{ordinal} in StatefulSet "
                                f"{sts.metadata.name} success")

    async def _create_pod(self, sts, ordinal: int, revision: str) -> None:
        await self._create_claims(sts, ordinal)
        pod = self.new_pod(sts, ordinal, revision)
        try:
            await self.client.create(pod)
        except AlreadyExists:
            return                      # the old one is still going: the next sync sees it
        except ApiError as e:
            self.recorder.event(sts, WARNING, "FailedCreate",
                                f"create Pod {pod.metadata.name} in StatefulSet {sts.metadata.name} failed "
                                f"error: {e.message}")
            raise
        self.recorder.event(sts, NORMAL, "SuccessfulCreate",
                            f"create Pod {pod.metadata.name} in StatefulSet {sts.metadata.name} successful")

    async def _delete_pod(self, sts, pod, why: str) -> None:
        log.info("statefulset %s: deleting %s (%s)", sts.metadata.name, pod.metadata.name, why)
        try:
            await self.client.delete("Pod", pod.metadata.name, pod.metadata.namespace,
                                     preconditions={"uid": pod.metadata.uid})
        except NotFound:
            return
        self.recorder.event(sts, NORMAL, "SuccessfulDelete",
                            f"delete Pod {pod.metadata.name} in StatefulSet {sts.metadata.name} successful")

    # ------------------------------------------------------------------ status
    async def _update_status(self, sts, pods: list, update_revision: str) -> None:
        status = apps_pb2.StatefulSetStatus()
        status.CopyFrom(sts.status)
        current_revision = sts.status.currentRevision or update_revision
        live = [p for p in pods if not p.metadata.deletionTimestamp]
        status.replicas = len(live)
        status.readyReplicas = sum(1 for p in live if is_pod_ready(p))
        status.availableReplicas = status.readyReplicas
        status.currentReplicas = sum(1 for p in live if p.metadata.labels.get(REVISION_LABEL) == current_revision)
        status.updatedReplicas = sum(1 for p in live if p.metadata.labels.get(REVISION_LABEL) == update_revision)
        replicas = sts.spec.replicas if sts.spec.HasField("replicas") else 1
        if status.updatedReplicas == replicas and status.readyReplicas == replicas:
            # the rollout is complete: the update revision becomes the current one
            current_revision = update_revision
            status.currentReplicas = status.updatedReplicas
        status.currentRevision = current_revision
        status.updateRevision = update_revision
        status.observedGeneration = sts.metadata.generation
        if status == sts.status:
            return
        new = copy(sts)
        new.status.CopyFrom(status)
        try:
            await self.client.update_status(new)
        except NotFound:
            pass
