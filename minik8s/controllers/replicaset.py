"""The ReplicaSet controller, after upstream's pkg/controller/replicaset: keep `spec.replicas` pods
matching the selector.

Level-triggered: informer handlers only enqueue the key of the ReplicaSet concerned (a pod's
controller, or for an orphan every ReplicaSet whose selector matches it), and `sync_replicaset(key)`
compares what the cache holds with the spec. It adopts matching orphans and releases owned pods whose
labels no longer match, creates missing pods in slow-start batches (1, 2, 4, ...), deletes surplus
pods in upstream's order (unscheduled, pending, not ready, ... youngest first), and writes status
(replicas, fullyLabeledReplicas, readyReplicas, availableReplicas after minReadySeconds,
observedGeneration, the ReplicaFailure condition) from a copy. Expectations record the creations and
deletions in flight, so a sync that runs before the watch has shown them does not act twice."""
from __future__ import annotations

import asyncio
import logging

from minik8s.api import selectors
from minik8s.api.clock import rfc3339
from minik8s.api.errors import ApiError, Forbidden, NotFound
from minik8s.api.pb import apps_pb2, core_pb2
from minik8s.client.events import NORMAL, WARNING
from minik8s.client.informer import copy, key_of

from minik8s.controllers.base import Controller, ControllerContext, split_key
from minik8s.controllers.controller_utils import (BURST_REPLICAS, CONTROLLER_UID_INDEX, ORPHAN_INDEX,
                                                  SLOW_START_INITIAL_BATCH, ControllerRefManager,
                                                  Expectations, SlowStartError, by_controller_uid,
                                                  claim_candidates, controller_ref, ensure_indexer,
                                                  is_pod_active, is_pod_available, is_pod_ready,
                                                  new_controller_ref, orphan_namespace, pod_key,
                                                  pods_to_delete, recheck_owner, slow_start_batch)

log = logging.getLogger("minik8s.controllers.replicaset")

COMPONENT = "replicaset-controller"
STATUS_UPDATE_RETRIES = 1


def _replicas(rs) -> int:
    return rs.spec.replicas if rs.spec.HasField("replicas") else 1


def _selector(obj):
    try:
        return selectors.from_label_selector_obj(obj.spec.selector if obj.spec.HasField("selector") else None)
    except selectors.SelectorError:
        return selectors.LabelSelector.nothing()


class ReplicaSetController(Controller):
    name = "replicaset"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder(COMPONENT)
        self.expectations = Expectations(ctx.clock)
        self.rs_informer = ctx.informers.informer("ReplicaSet")
        self.pod_informer = ctx.informers.informer("Pod")
        ensure_indexer(self.pod_informer, CONTROLLER_UID_INDEX, by_controller_uid)
        ensure_indexer(self.rs_informer, CONTROLLER_UID_INDEX, by_controller_uid)
        ensure_indexer(self.pod_informer, ORPHAN_INDEX, orphan_namespace)
        self.rs_informer.add_event_handler(self._rs_added, self._rs_updated, self._rs_deleted)
        self.pod_informer.add_event_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    async def sync(self, key: str) -> None:
        await self.sync_replicaset(key)

    # ------------------------------------------------------------------ handlers (enqueue only)
    def _rs_added(self, rs) -> None:
        self.enqueue(key_of(rs))

    def _rs_updated(self, old, cur) -> None:
        if old.metadata.uid != cur.metadata.uid:
            self._rs_deleted(old)
        self.enqueue(key_of(cur))

    def _rs_deleted(self, rs) -> None:
        key = key_of(rs)
        self.expectations.forget(key)
        self.enqueue(key)

    def _resolve(self, namespace: str, ref):
        """The ReplicaSet a controller reference names, if the cache holds that very one."""
        if ref.kind != "ReplicaSet":
            return None
        rs = self.rs_informer.get_by(namespace, ref.name)
        if rs is None or rs.metadata.uid != ref.uid:
            return None
        return rs

    def _matching_replicasets(self, pod) -> list:
        """upstream GetPodReplicaSets: the ReplicaSets whose selector matches an orphan pod."""
        if not pod.metadata.labels:
            return []
        out = []
        for rs in self.rs_informer.list_namespace(pod.metadata.namespace):
            sel = _selector(rs)
            if not sel.empty and sel.matches(pod.metadata.labels):
                out.append(rs)
        return out

    def _pod_added(self, pod) -> None:
        if pod.metadata.deletionTimestamp:
            # restarted controller seeing a pod that is already going: count it as deleted
            self._pod_deleted(pod)
            return
        ref = controller_ref(pod)
        if ref is not None:
            rs = self._resolve(pod.metadata.namespace, ref)
            if rs is not None:
                key = key_of(rs)
                self.expectations.creation_observed(key)
                self.enqueue(key)
            return
        for rs in self._matching_replicasets(pod):
            self.enqueue(key_of(rs))

    def _pod_updated(self, old, cur) -> None:
        if old.metadata.resourceVersion == cur.metadata.resourceVersion:
            return                     # a resync: nothing changed
        labels_changed = dict(old.metadata.labels) != dict(cur.metadata.labels)
        if cur.metadata.deletionTimestamp:
            # graceful deletion: the pod is gone for our purposes from now on
            self._pod_deleted(cur)
            if labels_changed:
                self._pod_deleted(old)
            return
        cur_ref, old_ref = controller_ref(cur), controller_ref(old)
        ref_changed = (cur_ref.uid if cur_ref else None) != (old_ref.uid if old_ref else None)
        if ref_changed and old_ref is not None:
            rs = self._resolve(old.metadata.namespace, old_ref)
            if rs is not None:
                self.enqueue(key_of(rs))
        if cur_ref is not None:
            rs = self._resolve(cur.metadata.namespace, cur_ref)
            if rs is not None:
                key = key_of(rs)
                self.enqueue(key)
                # a pod that just turned ready becomes available minReadySeconds later
                if not is_pod_ready(old) and is_pod_ready(cur) and rs.spec.minReadySeconds > 0:
                    self.enqueue_after(key, rs.spec.minReadySeconds + 1)
            return
        if labels_changed or ref_changed:
            for rs in self._matching_replicasets(cur):
                self.enqueue(key_of(rs))

    def _pod_deleted(self, pod) -> None:
        ref = controller_ref(pod)
        if ref is None:
            return
        rs = self._resolve(pod.metadata.namespace, ref)
        if rs is None:
            return
        key = key_of(rs)
        self.expectations.deletion_observed(key, pod_key(pod))
        self.enqueue(key)

    # ------------------------------------------------------------------ sync
    async def sync_replicaset(self, key: str) -> None:
        namespace, name = split_key(key)
        rs = self.rs_informer.get(key)
        if rs is None:
            log.debug("replicaset %s has been deleted", key)
            self.expectations.forget(key)
            return
        needs_sync = self.expectations.satisfied(key)
        selector = _selector(rs)

        # the candidates: our pods (to keep, or to release if they no longer match) and the
        # namespace's orphans (to adopt if they match)
        candidates = [p for p in claim_candidates(self.pod_informer, rs) if is_pod_active(p)]
        manager = ControllerRefManager(self.client, rs, selector,
                                       recheck_owner(self.client, "ReplicaSet", namespace, name,
                                                     rs.metadata.uid))
        pods = await manager.claim(candidates)

        manage_error: Exception | None = None
        deleted: set[str] = set()
        if needs_sync and not rs.metadata.deletionTimestamp:
            try:
                deleted = await self._manage_replicas(pods, rs, key)
            except Exception as e:
                manage_error = e
        pods = [p for p in pods if p.metadata.name not in deleted]

        status = self._calculate_status(rs, pods, manage_error)
        if not needs_sync and not rs.metadata.deletionTimestamp:
            # creations or deletions still in flight: this sync did not act on the spec, so it does
            # not claim to have observed it (the Deployment controller waits for that)
            status.observedGeneration = rs.status.observedGeneration
        updated = await self._update_status(rs, status)

        if (manage_error is None and rs.spec.minReadySeconds > 0
                and updated.status.readyReplicas == _replicas(rs)
                and updated.status.availableReplicas != _replicas(rs)):
            self.enqueue_after(key, rs.spec.minReadySeconds)
        if manage_error is not None:
            raise manage_error

    async def _manage_replicas(self, pods: list, rs, key: str) -> set[str]:
        """Create or delete pods to reach spec.replicas; returns the names of the pods it deleted."""
        diff = len(pods) - _replicas(rs)
        if diff < 0:
            diff = min(-diff, BURST_REPLICAS)
            # expectations first: the watch may show a new pod before create() even returns
            self.expectations.expect_creations(key, diff)
            log.info("too few replicas for %s: need %d, creating %d", key, _replicas(rs), diff)
            try:
                successes = await slow_start_batch(diff, SLOW_START_INITIAL_BATCH, lambda: self._create_pod(rs))
                error = None
            except SlowStartError as e:
                successes, error = e.successes, e.error
            for _ in range(diff - successes):
                # creations never attempted (or failed) will never be observed
                self.expectations.creation_observed(key)
            if error is not None:
                raise error
            return set()
        if diff > 0:
            diff = min(diff, BURST_REPLICAS)
            log.info("too many replicas for %s: need %d, deleting %d", key, _replicas(rs), diff)
            victims = pods_to_delete(pods, self._related_pods(rs), diff)
            self.expectations.expect_deletions(key, [pod_key(p) for p in victims])
            results = await asyncio.gather(*(self._delete_pod(rs, key, p) for p in victims),
                                           return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            deleted = {p.metadata.name for p, r in zip(victims, results) if not isinstance(r, BaseException)}
            if errors:
                raise errors[0]
            return deleted
        return set()

    def _related_pods(self, rs) -> list:
        """The active pods of the ReplicaSets that share this one's controller (a Deployment's
        other revisions): used to spread the pods that remain across nodes."""
        ref = controller_ref(rs)
        if ref is None:
            return [p for p in self.pod_informer.by_index(CONTROLLER_UID_INDEX, rs.metadata.uid)
                    if is_pod_active(p)]
        out = []
        for sibling in self.rs_informer.by_index(CONTROLLER_UID_INDEX, ref.uid):
            out.extend(p for p in self.pod_informer.by_index(CONTROLLER_UID_INDEX, sibling.metadata.uid)
                       if is_pod_active(p))
        return out

    async def _create_pod(self, rs) -> None:
        pod = pod_from_template(rs.spec.template, rs)
        try:
            created = await self.client.create(pod)
        except Forbidden as e:
            if "being terminated" in e.message:
                return           # the namespace is going away: nothing to do (upstream ignores it too)
            self.recorder.eventf(rs, WARNING, "FailedCreate", "Error creating: %s", e.message)
            raise
        except ApiError as e:
            self.recorder.eventf(rs, WARNING, "FailedCreate", "Error creating: %s", e.message)
            raise
        log.debug("created pod %s/%s for %s", created.metadata.namespace, created.metadata.name,
                  rs.metadata.name)
        self.recorder.eventf(rs, NORMAL, "SuccessfulCreate", "Created pod: %s", created.metadata.name)

    async def _delete_pod(self, rs, key: str, pod) -> None:
        try:
            await self.client.delete("Pod", pod.metadata.name, pod.metadata.namespace,
                                     preconditions={"uid": pod.metadata.uid})
        except NotFound:
            # already gone: the watch may never tell us, so count it now
            self.expectations.deletion_observed(key, pod_key(pod))
            return
        except ApiError as e:
            self.expectations.deletion_observed(key, pod_key(pod))
            self.recorder.eventf(rs, WARNING, "FailedDelete", "Error deleting: %s", e.message)
            raise
        self.recorder.eventf(rs, NORMAL, "SuccessfulDelete", "Deleted pod: %s", pod.metadata.name)

    # ------------------------------------------------------------------ status
    def _calculate_status(self, rs, pods: list, manage_error: Exception | None) -> apps_pb2.ReplicaSetStatus:
        status = apps_pb2.ReplicaSetStatus()
        status.CopyFrom(rs.status)
        template_labels = dict(rs.spec.template.metadata.labels)
        now = self.clock.now()
        fully_labeled = ready = available = 0
        for p in pods:
            labels = p.metadata.labels
            if all(labels.get(k) == v for k, v in template_labels.items()):
                fully_labeled += 1
            if is_pod_ready(p):
                ready += 1
                if is_pod_available(p, rs.spec.minReadySeconds, now):
                    available += 1
        status.replicas = len(pods)
        status.fullyLabeledReplicas = fully_labeled
        status.readyReplicas = ready
        status.availableReplicas = available
        status.observedGeneration = rs.metadata.generation
        failure = next((c for c in status.conditions if c.type == "ReplicaFailure"), None)
        if manage_error is not None and failure is None:
            reason = "FailedCreate" if len(pods) < _replicas(rs) else "FailedDelete"
            c = status.conditions.add()
            c.type, c.status, c.reason = "ReplicaFailure", "True", reason
            c.message = getattr(manage_error, "message", str(manage_error))
            c.lastTransitionTime = rfc3339(now)
        elif manage_error is None and failure is not None:
            keep = [c for c in status.conditions if c.type != "ReplicaFailure"]
            del status.conditions[:]
            status.conditions.extend(keep)
        return status

    async def _update_status(self, rs, status: apps_pb2.ReplicaSetStatus):
        """Write `status` unless the object already has it; on a conflict, once more onto a fresh
        read (the status is computed from pods, not from the object, so it still holds)."""
        if rs.status == status:
            return rs
        obj = copy(rs)
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            obj.status.CopyFrom(status)
            try:
                return await self.client.update_status(obj)
            except NotFound:
                return rs
            except ApiError:
                if attempt == STATUS_UPDATE_RETRIES:
                    raise
                obj = await self.client.get("ReplicaSet", rs.metadata.name, rs.metadata.namespace)
                if obj.metadata.uid != rs.metadata.uid:
                    return rs
        return rs


def pod_from_template(template, owner) -> core_pb2.Pod:
    """upstream GetPodFromTemplate: a pod named after its owner (`web-7d4b9c-xk2lp` once the server
    adds the suffix), with the template's labels, annotations, finalizers and spec, controlled by
    `owner`."""
    pod = core_pb2.Pod(apiVersion="v1", kind="Pod")
    meta = pod.metadata
    meta.generateName = f"{owner.metadata.name}-"
    meta.namespace = owner.metadata.namespace
    meta.labels.update(template.metadata.labels)
    meta.annotations.update(template.metadata.annotations)
    meta.finalizers.extend(template.metadata.finalizers)
    meta.ownerReferences.append(new_controller_ref(owner))
    pod.spec.CopyFrom(template.spec)
    return pod
