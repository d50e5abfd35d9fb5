"""The Deployment controller, after upstream's pkg/controller/deployment (sync.go, rolling.go,
recreate.go, progress.go): a Deployment owns one ReplicaSet per pod template, told apart by the
`pod-template-hash` label, and rolls pods from the old ones to the new one.

`sync_deployment(key)`:
  * claims ReplicaSets (adopting orphans that match the selector, releasing those that no longer do);
  * a Deployment being deleted only gets its status refreshed;
  * paused: keeps the Paused condition, scales proportionally and cleans up history, never rolls;
  * a change of replicas alone (a scaling event) scales the ReplicaSets proportionally;
  * otherwise rolls: RollingUpdate scales the new ReplicaSet up within maxSurge and the old ones down
    within maxUnavailable, unhealthy old pods first; Recreate scales every old ReplicaSet to 0, waits
    until no old pod runs, then scales the new one up;
  * then writes status and the Progressing / Available / ReplicaFailure conditions, requeueing itself
    for when the progress deadline would pass, and prunes ReplicaSets beyond revisionHistoryLimit.

Revisions: the new ReplicaSet gets `deployment.kubernetes.io/revision` = highest old revision + 1, so
an undo (the Deployment's template set back to an old ReplicaSet's, which `minictl rollout undo` does)
makes that old ReplicaSet the new one, under a new revision.

A rollout step is taken only once every ReplicaSet's status has caught up with its spec
(observedGeneration), so the replica counts it is based on are never stale: pods in excess of
`replicas + maxSurge`, or fewer than `replicas - maxUnavailable` available, are not caused by a
decision made on old numbers."""
from __future__ import annotations

import logging

from minik8s.api import selectors
from minik8s.api.clock import parse_time
from minik8s.api.errors import AlreadyExists, ApiError, NotFound
from minik8s.api.pb import apps_pb2
from minik8s.client.events import NORMAL, WARNING
from minik8s.client.informer import copy, key_of

from minik8s.controllers import deploymentutil as du
from minik8s.controllers.base import Controller, ControllerContext, split_key
from minik8s.controllers.controller_utils import (CONTROLLER_UID_INDEX, ORPHAN_INDEX, ControllerRefManager,
                                                  claim_candidates, orphan_namespace,
                                                  by_controller_uid, controller_ref, ensure_indexer,
                                                  new_controller_ref, recheck_owner)

log = logging.getLogger("minik8s.controllers.deployment")

COMPONENT = "deployment-controller"


def _selector(d):
    try:
        return selectors.from_label_selector_obj(d.spec.selector if d.spec.HasField("selector") else None)
    except selectors.SelectorError:
        return selectors.LabelSelector.nothing()


def rs_synced(rs) -> bool:
    """The ReplicaSet controller has acted on this ReplicaSet's current spec and reported it."""
    return rs.status.observedGeneration >= rs.metadata.generation


class DeploymentController(Controller):
    name = "deployment"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder(COMPONENT)
        self.d_informer = ctx.informers.informer("Deployment")
        self.rs_informer = ctx.informers.informer("ReplicaSet")
        self.pod_informer = ctx.informers.informer("Pod")
        ensure_indexer(self.rs_informer, CONTROLLER_UID_INDEX, by_controller_uid)
        ensure_indexer(self.rs_informer, ORPHAN_INDEX, orphan_namespace)
        ensure_indexer(self.pod_informer, CONTROLLER_UID_INDEX, by_controller_uid)
        self.d_informer.add_event_handler(self._d_added, self._d_updated, self._d_deleted)
        self.rs_informer.add_event_handler(self._rs_added, self._rs_updated, self._rs_deleted)
        self.pod_informer.add_event_handler(on_delete=self._pod_deleted)

    async def sync(self, key: str) -> None:
        await self.sync_deployment(key)

    # ------------------------------------------------------------------ handlers (enqueue only)
    def _d_added(self, d) -> None:
        self.enqueue(key_of(d))

    def _d_updated(self, old, cur) -> None:
        self.enqueue(key_of(cur))

    def _d_deleted(self, d) -> None:
        self.enqueue(key_of(d))

    def _resolve(self, namespace: str, ref):
        if ref.kind != "Deployment":
            return None
        d = self.d_informer.get_by(namespace, ref.name)
        if d is None or d.metadata.uid != ref.uid:
            return None
        return d

    def _deployments_for_orphan(self, rs) -> list:
        if not rs.metadata.labels:
            return []
        out = []
        for d in self.d_informer.list_namespace(rs.metadata.namespace):
            sel = _selector(d)
            if not sel.empty and sel.matches(rs.metadata.labels):
                out.append(d)
        return out

    def _rs_added(self, rs) -> None:
        if rs.metadata.deletionTimestamp:
            self._rs_deleted(rs)
            return
        ref = controller_ref(rs)
        if ref is not None:
            d = self._resolve(rs.metadata.namespace, ref)
            if d is not None:
                self.enqueue(key_of(d))
            return
        for d in self._deployments_for_orphan(rs):
            self.enqueue(key_of(d))

    def _rs_updated(self, old, cur) -> None:
        if old.metadata.resourceVersion == cur.metadata.resourceVersion:
            return
        cur_ref, old_ref = controller_ref(cur), controller_ref(old)
        ref_changed = (cur_ref.uid if cur_ref else None) != (old_ref.uid if old_ref else None)
        if ref_changed and old_ref is not None:
            d = self._resolve(old.metadata.namespace, old_ref)
            if d is not None:
                self.enqueue(key_of(d))
        if cur_ref is not None:
            d = self._resolve(cur.metadata.namespace, cur_ref)
            if d is not None:
                self.enqueue(key_of(d))
            return
        if ref_changed or dict(old.metadata.labels) != dict(cur.metadata.labels):
            for d in self._deployments_for_orphan(cur):
                self.enqueue(key_of(d))

    def _rs_deleted(self, rs) -> None:
        ref = controller_ref(rs)
        if ref is None:
            return
        d = self._resolve(rs.metadata.namespace, ref)
        if d is not None:
            self.enqueue(key_of(d))

    def _pod_deleted(self, pod) -> None:
        # Recreate waits for the old pods to be gone: the last one going is its cue
        ref = controller_ref(pod)
        if ref is None or ref.kind != "ReplicaSet":
            return
        rs = self.rs_informer.get_by(pod.metadata.namespace, ref.name)
        if rs is None or rs.metadata.uid != ref.uid:
            return
        dref = controller_ref(rs)
        if dref is None:
            return
        d = self._resolve(rs.metadata.namespace, dref)
        if d is not None and d.spec.strategy.type == "Recreate":
            self.enqueue(key_of(d))

    # ------------------------------------------------------------------ sync
    async def sync_deployment(self, key: str) -> None:
        namespace, name = split_key(key)
        cached = self.d_informer.get(key)
        if cached is None:
            log.debug("deployment %s has been deleted", key)
            return
        d = copy(cached)          # never change the cache
        if _selector(d).empty:
            self.recorder.event(d, WARNING, "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            if d.status.observedGeneration < d.metadata.generation:
                d.status.observedGeneration = d.metadata.generation
                await self._write_status(d)
            return

        rss = await self._claim_replicasets(d)
        if d.metadata.deletionTimestamp:
            await self._sync_status_only(d, rss)
            return
        d = await self._check_paused_conditions(d)
        if d.spec.paused:
            await self._sync(d, rss)
            return
        if await self._is_scaling_event(d, rss):
            await self._sync(d, rss)
            return
        if d.spec.strategy.type == "Recreate":
            await self._rollout_recreate(d, rss)
        else:
            await self._rollout_rolling(d, rss)

    async def _claim_replicasets(self, d) -> list:
        ns = d.metadata.namespace
        manager = ControllerRefManager(self.client, d, _selector(d),
                                       recheck_owner(self.client, "Deployment", ns, d.metadata.name,
                                                     d.metadata.uid))
        return await manager.claim(claim_candidates(self.rs_informer, d))

    # ------------------------------------------------------------------ the new ReplicaSet
    async def _get_all_rss(self, d, rss: list, create: bool):
        """(d, new ReplicaSet or None, all old ReplicaSets); syncs the revision annotations, and with
        `create` makes the new ReplicaSet when there is none."""
        _, all_old = du.find_old_rss(d, rss, du.find_new_rs(d, rss))
        d, new_rs = await self._get_new_rs(d, rss, all_old, create)
        return d, new_rs, [rs for rs in all_old if new_rs is None or rs.metadata.uid != new_rs.metadata.uid]

    async def _get_new_rs(self, d, rss: list, old_rss: list, create: bool):
        existing = du.find_new_rs(d, rss)
        new_revision = du.max_revision(old_rss) + 1
        now = self.clock.now()
        if existing is not None:
            rs = copy(existing)
            annotations_updated = du.set_new_rs_annotations(d, rs, new_revision, True)
            min_ready_differs = rs.spec.minReadySeconds != d.spec.minReadySeconds
            if annotations_updated or min_ready_differs:
                rs.spec.minReadySeconds = d.spec.minReadySeconds
                return d, await self.client.update(rs)
            d = await self._set_revision(d, rs.metadata.annotations.get(du.REVISION_ANNOTATION, ""))
            if du.has_progress_deadline(d) and du.get_condition(d.status, du.PROGRESSING) is None:
                du.set_condition(d.status, du.new_condition(
                    du.PROGRESSING, "True", du.FOUND_NEW_RS_REASON,
                    f'Found new replica set "{rs.metadata.name}"', now))
                d = await self._write_status(d)
            return d, rs
        if not create:
            return d, None

        collision = d.status.collisionCount if d.status.HasField("collisionCount") else None
        template_hash = du.compute_hash(d.spec.template, collision)
        rs = apps_pb2.ReplicaSet(apiVersion="apps/v1", kind="ReplicaSet")
        rs.metadata.name = f"{d.metadata.name}-{template_hash}"
        rs.metadata.namespace = d.metadata.namespace
        rs.metadata.ownerReferences.append(new_controller_ref(d))
        rs.spec.template.CopyFrom(d.spec.template)
        rs.spec.template.metadata.labels[du.POD_TEMPLATE_HASH_LABEL] = template_hash
        rs.metadata.labels.update(rs.spec.template.metadata.labels)
        rs.spec.selector.CopyFrom(d.spec.selector)
        rs.spec.selector.matchLabels[du.POD_TEMPLATE_HASH_LABEL] = template_hash
        rs.spec.minReadySeconds = d.spec.minReadySeconds
        rs.spec.replicas = 0
        rs.spec.replicas = du.new_rs_new_replicas(d, list(old_rss) + [rs], rs)
        du.set_new_rs_annotations(d, rs, new_revision, False)

        already_exists = False
        try:
            created = await self.client.create(rs)
        except AlreadyExists:
            found = self.rs_informer.get_by(rs.metadata.namespace, rs.metadata.name)
            if found is None:
                try:
                    found = await self.client.get("ReplicaSet", rs.metadata.name, rs.metadata.namespace)
                except NotFound:
                    raise ApiError(f"replica set {rs.metadata.name} vanished while being created") from None
            ref = controller_ref(found)
            if ref is not None and ref.uid == d.metadata.uid and \
                    du.equal_ignore_hash(found.spec.template, d.spec.template):
                created, already_exists = found, True        # ours: the informer has not shown it yet
            else:
                # a hash collision with someone else's ReplicaSet: move to another name
                d.status.collisionCount = (collision or 0) + 1
                await self._write_status(d)
                log.info("deployment %s/%s: hash collision on %s, collisionCount now %d",
                         d.metadata.namespace, d.metadata.name, rs.metadata.name, d.status.collisionCount)
                raise ApiError(f"hash collision for replica set {rs.metadata.name}") from None
        except ApiError as e:
            msg = f'Failed to create new replica set "{rs.metadata.name}": {e.message}'
            if du.has_progress_deadline(d):
                du.set_condition(d.status, du.new_condition(du.PROGRESSING, "False", du.FAILED_RS_CREATE_REASON,
                                                            msg, now))
                await self._write_status(d)
            self.recorder.event(d, WARNING, du.FAILED_RS_CREATE_REASON, msg)
            raise
        if not already_exists and du.replicas_of(created) > 0:
            self.recorder.eventf(d, NORMAL, "ScalingReplicaSet", "Scaled up replica set %s to %d",
                                 created.metadata.name, du.replicas_of(created))
        d = await self._set_revision(d, str(new_revision))
        if not already_exists and du.has_progress_deadline(d):
            du.set_condition(d.status, du.new_condition(
                du.PROGRESSING, "True", du.NEW_RS_REASON, f'Created new replica set "{created.metadata.name}"', now))
            d = await self._write_status(d)
        return d, created

    async def _set_revision(self, d, rev: str):
        """Keep the Deployment's revision annotation equal to its new ReplicaSet's (metadata: a plain
        update; the status is left as the object we hold has it)."""
        if not rev or d.metadata.annotations.get(du.REVISION_ANNOTATION) == rev:
            return d
        obj = copy(d)
        obj.metadata.annotations[du.REVISION_ANNOTATION] = rev
        updated = await self.client.update(obj)
        updated.status.CopyFrom(d.status)       # keep what this sync computed so far
        return updated

    # ------------------------------------------------------------------ scaling
    async def _scale_rs(self, rs, new_scale: int, d):
        """Set `rs` to `new_scale` replicas (and the Deployment's replica annotations); an event when the
        size changes. Returns (scaled, rs)."""
        size_changes = du.replicas_of(rs) != new_scale
        max_replicas = du.replicas_of(d) + du.max_surge(d)
        annotations_change = du.replicas_annotations_differ(rs, du.replicas_of(d), max_replicas)
        if not size_changes and not annotations_change:
            return False, rs
        direction = "up" if du.replicas_of(rs) < new_scale else "down"
        obj = copy(rs)
        obj.spec.replicas = new_scale
        du.set_replicas_annotations(obj, du.replicas_of(d), max_replicas)
        updated = await self.client.update(obj)        # resourceVersion: Conflict if our copy is stale
        if size_changes:
            self.recorder.eventf(d, NORMAL, "ScalingReplicaSet", "Scaled %s replica set %s to %d",
                                 direction, rs.metadata.name, new_scale)
        return size_changes, updated

    async def _is_scaling_event(self, d, rss: list) -> bool:
        d, new_rs, old_rss = await self._get_all_rss(d, rss, create=False)
        for rs in du.active(old_rss + [new_rs]):
            desired = du.annotated_int(rs, du.DESIRED_REPLICAS_ANNOTATION)
            if desired is not None and desired != du.replicas_of(d):
                return True
        return False

    async def _scale(self, d, new_rs, old_rss: list) -> None:
        """upstream scale(): bring the ReplicaSets' sizes to the Deployment's, proportionally to their
        sizes while a rollout is under way."""
        actives = du.active(old_rss + [new_rs])
        only = actives[0] if len(actives) == 1 else None
        if only is None and not actives:
            # none active: the newest (the new one, else the latest old) takes it all
            only = new_rs if new_rs is not None else (du.by_creation(old_rss)[-1] if old_rss else None)
        if only is not None and len(actives) <= 1:
            if du.replicas_of(only) != du.replicas_of(d) or \
                    du.replicas_annotations_differ(only, du.replicas_of(d), du.replicas_of(d) + du.max_surge(d)):
                await self._scale_rs(only, du.replicas_of(d), d)
            return
        if du.is_saturated(d, new_rs):
            for rs in du.active(old_rss):
                await self._scale_rs(rs, 0, d)
            return
        if not du.is_rolling(d):
            return
        all_rss = actives
        total = du.sum_spec(all_rss)
        allowed = du.replicas_of(d) + du.max_surge(d) if du.replicas_of(d) > 0 else 0
        to_add = allowed - total
        if to_add > 0:       # larger first; among equals the newer
            all_rss = sorted(all_rss, key=lambda rs: (-du.replicas_of(rs), -du.creation_key(rs)[0]))
        elif to_add < 0:     # larger first; among equals the older
            all_rss = sorted(all_rss, key=lambda rs: (-du.replicas_of(rs), du.creation_key(rs)))
        added = 0
        sizes: dict[str, int] = {}
        for rs in all_rss:
            if to_add != 0:
                p = du.proportion(rs, d, to_add, added)
                sizes[rs.metadata.name] = du.replicas_of(rs) + p
                added += p
            else:
                sizes[rs.metadata.name] = du.replicas_of(rs)
        if to_add != 0 and all_rss:
            first = all_rss[0].metadata.name
            sizes[first] = max(0, sizes[first] + to_add - added)
        for rs in all_rss:
            await self._scale_rs(rs, sizes[rs.metadata.name], d)

    async def _sync(self, d, rss: list) -> None:
        """A paused Deployment, or a scaling event: scale, prune history (paused), report."""
        d, new_rs, old_rss = await self._get_all_rss(d, rss, create=False)
        await self._scale(d, new_rs, old_rss)
        if d.spec.paused:
            await self._cleanup(d, old_rss)
        await self._sync_deployment_status(d, self._fresh(old_rss + [new_rs]), self._fresh_one(new_rs))

    async def _sync_status_only(self, d, rss: list) -> None:
        d, new_rs, old_rss = await self._get_all_rss(d, rss, create=False)
        await self._sync_deployment_status(d, old_rss + [new_rs], new_rs)

    async def _check_paused_conditions(self, d):
        if not du.has_progress_deadline(d):
            return d
        cond = du.get_condition(d.status, du.PROGRESSING)
        if cond is not None and cond.reason == du.TIMED_OUT_REASON:
            return d            # a timed-out rollout stays timed out until it progresses again
        paused_cond = cond is not None and cond.reason == du.PAUSED_REASON
        now = self.clock.now()
        if d.spec.paused and not paused_cond:
            du.set_condition(d.status, du.new_condition(du.PROGRESSING, "Unknown", du.PAUSED_REASON,
                                                        "Deployment is paused", now))
        elif not d.spec.paused and paused_cond:
            du.set_condition(d.status, du.new_condition(du.PROGRESSING, "Unknown", du.RESUMED_REASON,
                                                        "Deployment is resumed", now))
        else:
            return d
        return await self._write_status(d)

    # ------------------------------------------------------------------ RollingUpdate
    async def _rollout_rolling(self, d, rss: list) -> None:
        d, new_rs, old_rss = await self._get_all_rss(d, rss, create=True)
        all_rss = old_rss + [new_rs]
        if not all(rs_synced(rs) for rs in all_rss):
            # a ReplicaSet's status is behind its spec: its counts would mislead the next step; its
            # status update will bring us back
            await self._sync_rollout_status(d, all_rss, new_rs)
            return
        scaled, new_rs = await self._reconcile_new_rs(d, all_rss, new_rs)
        if scaled:
            await self._sync_rollout_status(d, self._replace(all_rss, new_rs), new_rs)
            return
        scaled_down, old_rss = await self._reconcile_old_rss(d, all_rss, du.active(old_rss), old_rss, new_rs)
        all_rss = old_rss + [new_rs]
        if scaled_down:
            await self._sync_rollout_status(d, all_rss, new_rs)
            return
        if du.deployment_complete(d, d.status):
            await self._cleanup(d, old_rss)
        await self._sync_rollout_status(d, all_rss, new_rs)

    @staticmethod
    def _replace(rss: list, rs) -> list:
        return [rs if x.metadata.uid == rs.metadata.uid else x for x in rss]

    def _fresh(self, rss: list) -> list:
        return [self._fresh_one(rs) for rs in rss if rs is not None]

    def _fresh_one(self, rs):
        if rs is None:
            return None
        cached = self.rs_informer.get_by(rs.metadata.namespace, rs.metadata.name)
        if cached is not None and cached.metadata.uid == rs.metadata.uid and \
                int(cached.metadata.resourceVersion or 0) > int(rs.metadata.resourceVersion or 0):
            return cached
        return rs

    async def _reconcile_new_rs(self, d, all_rss: list, new_rs):
        want = du.replicas_of(d)
        if du.replicas_of(new_rs) == want:
            return False, new_rs
        if du.replicas_of(new_rs) > want:
            return await self._scale_rs(new_rs, want, d)
        return await self._scale_rs(new_rs, du.new_rs_new_replicas(d, all_rss, new_rs), d)

    async def _reconcile_old_rss(self, d, all_rss: list, old_active: list, old_rss: list, new_rs):
        """Scale old ReplicaSets down as far as maxUnavailable allows: unhealthy pods first, then
        available ones, oldest ReplicaSets first. Returns (scaled, old ReplicaSets as now)."""
        if du.sum_spec(old_active) == 0:
            return False, old_rss
        all_count = du.sum_spec(all_rss)
        min_available = du.replicas_of(d) - du.max_unavailable(d)
        new_unavailable = du.replicas_of(new_rs) - new_rs.status.availableReplicas
        max_scaled_down = all_count - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False, old_rss
        updated: dict[str, object] = {}
        cleaned = 0
        for rs in du.by_creation(old_active):
            if cleaned >= max_scaled_down:
                break
            if du.replicas_of(rs) == 0 or du.replicas_of(rs) == rs.status.availableReplicas:
                continue
            n = min(max_scaled_down - cleaned, du.replicas_of(rs) - rs.status.availableReplicas)
            _, new = await self._scale_rs(rs, du.replicas_of(rs) - n, d)
            updated[rs.metadata.uid] = new
            cleaned += n
        old_active = [updated.get(rs.metadata.uid, rs) for rs in old_active]
        all_now = old_active + [new_rs]

        available = du.sum_available(all_now)
        scaled_down = 0
        if available > min_available:
            budget = available - min_available
            for rs in du.by_creation(old_active):
                if scaled_down >= budget:
                    break
                if du.replicas_of(rs) == 0:
                    continue
                n = min(du.replicas_of(rs), budget - scaled_down)
                _, new = await self._scale_rs(rs, du.replicas_of(rs) - n, d)
                updated[rs.metadata.uid] = new
                scaled_down += n
        return cleaned + scaled_down > 0, [updated.get(rs.metadata.uid, rs) for rs in old_rss]

    # ------------------------------------------------------------------ Recreate
    async def _rollout_recreate(self, d, rss: list) -> None:
        d, new_rs, old_rss = await self._get_all_rss(d, rss, create=False)
        all_rss = old_rss + ([new_rs] if new_rs is not None else [])
        scaled = False
        updated = {}
        for rs in du.active(old_rss):
            s, new = await self._scale_rs(rs, 0, d)
            updated[rs.metadata.uid] = new
            scaled |= s
        old_rss = [updated.get(rs.metadata.uid, rs) for rs in old_rss]
        if scaled:
            await self._sync_rollout_status(d, old_rss + ([new_rs] if new_rs else []), new_rs)
            return
        if self._old_pods_running(new_rs, old_rss):
            await self._sync_rollout_status(d, all_rss, new_rs)
            return
        if new_rs is None:
            d, new_rs, old_rss = await self._get_all_rss(d, rss, create=True)
        all_rss = old_rss + [new_rs]
        _, new_rs = await self._scale_rs(new_rs, du.replicas_of(d), d)
        all_rss = old_rss + [new_rs]
        if du.deployment_complete(d, d.status):
            await self._cleanup(d, old_rss)
        await self._sync_rollout_status(d, all_rss, new_rs)

    def _old_pods_running(self, new_rs, old_rss: list) -> bool:
        if du.sum_actual(old_rss) > 0:
            return True
        for rs in old_rss:
            for pod in self.pod_informer.by_index(CONTROLLER_UID_INDEX, rs.metadata.uid):
                if pod.status.phase not in ("Succeeded", "Failed"):
                    return True       # running, pending, unknown or terminating: not gone yet
        return False

    # ------------------------------------------------------------------ history
    async def _cleanup(self, d, old_rss: list) -> None:
        """Delete the oldest ReplicaSets beyond revisionHistoryLimit (only those already scaled to 0)."""
        if not d.spec.HasField("revisionHistoryLimit"):
            return
        alive = [rs for rs in old_rss if not rs.metadata.deletionTimestamp]
        diff = len(alive) - d.spec.revisionHistoryLimit
        if diff <= 0:
            return
        for rs in du.by_revision(alive)[:diff]:
            if rs.status.replicas != 0 or du.replicas_of(rs) != 0 or \
                    rs.metadata.generation > rs.status.observedGeneration:
                continue
            log.info("deployment %s/%s: deleting old replica set %s", d.metadata.namespace, d.metadata.name,
                     rs.metadata.name)
            try:
                await self.client.delete("ReplicaSet", rs.metadata.name, rs.metadata.namespace,
                                         preconditions={"uid": rs.metadata.uid})
            except NotFound:
                pass

    # ------------------------------------------------------------------ status
    def _calculate_status(self, d, all_rss: list, new_rs) -> apps_pb2.DeploymentStatus:
        rss = [rs for rs in all_rss if rs is not None]
        available = du.sum_available(rss)
        unavailable = max(0, du.sum_spec(rss) - available)
        st = apps_pb2.DeploymentStatus()
        st.observedGeneration = d.metadata.generation
        st.replicas = du.sum_actual(rss)
        st.updatedReplicas = du.sum_actual([new_rs])
        st.readyReplicas = du.sum_ready(rss)
        st.availableReplicas = available
        st.unavailableReplicas = unavailable
        if d.status.HasField("collisionCount"):
            st.collisionCount = d.status.collisionCount
        st.conditions.extend(d.status.conditions)
        now = self.clock.now()
        if available >= du.replicas_of(d) - du.max_unavailable(d):
            du.set_condition(st, du.new_condition(du.AVAILABLE, "True", du.MIN_REPLICAS_AVAILABLE,
                                                  "Deployment has minimum availability.", now))
        else:
            du.set_condition(st, du.new_condition(du.AVAILABLE, "False", du.MIN_REPLICAS_UNAVAILABLE,
                                                  "Deployment does not have minimum availability.", now))
        return st

    async def _sync_deployment_status(self, d, all_rss: list, new_rs) -> None:
        st = self._calculate_status(d, all_rss, new_rs)
        if st != d.status:
            d.status.CopyFrom(st)
            await self._write_status(d)

    async def _sync_rollout_status(self, d, all_rss: list, new_rs) -> None:
        all_rss = self._fresh(all_rss)
        new_rs = self._fresh_one(new_rs)
        st = self._calculate_status(d, all_rss, new_rs)
        now = self.clock.now()
        if not du.has_progress_deadline(d):
            du.remove_condition(st, du.PROGRESSING)
        cur = du.get_condition(d.status, du.PROGRESSING)
        complete_before = (st.replicas == st.updatedReplicas and cur is not None
                           and cur.reason == du.NEW_RS_AVAILABLE_REASON)
        if du.has_progress_deadline(d) and not complete_before:
            what = (f'ReplicaSet "{new_rs.metadata.name}"' if new_rs is not None
                    else f'Deployment "{d.metadata.name}"')
            if du.deployment_complete(d, st):
                du.set_condition(st, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_AVAILABLE_REASON,
                                                      f"{what} has successfully progressed.", now))
            elif du.deployment_progressing(d, st):
                cond = du.new_condition(du.PROGRESSING, "True", du.RS_UPDATED_REASON,
                                        f"{what} is progressing.", now)
                if cur is not None:
                    if cur.status == "True":
                        cond.lastTransitionTime = cur.lastTransitionTime
                    du.remove_condition(st, du.PROGRESSING)
                du.set_condition(st, cond)
            elif du.deployment_timed_out(d, st, now):
                du.set_condition(st, du.new_condition(du.PROGRESSING, "False", du.TIMED_OUT_REASON,
                                                      f"{what} has timed out progressing.", now))
        failure = None
        for rs in ([new_rs] if new_rs is not None else []) + [x for x in all_rss if x is not new_rs]:
            c = next((c for c in rs.status.conditions if c.type == "ReplicaFailure"), None)
            if c is not None:
                failure = c
                break
        if failure is not None:
            du.set_condition(st, apps_pb2.DeploymentCondition(
                type=du.REPLICA_FAILURE, status=failure.status, reason=failure.reason, message=failure.message,
                lastUpdateTime=failure.lastTransitionTime, lastTransitionTime=failure.lastTransitionTime))
        else:
            du.remove_condition(st, du.REPLICA_FAILURE)
        if st == d.status:
            self._requeue_stuck(d, st, now)
            return
        d.status.CopyFrom(st)
        d = await self._write_status(d)
        self._requeue_stuck(d, st, now)

    def _requeue_stuck(self, d, st, now: float) -> None:
        """Come back when the progress deadline would pass, to report it timed out."""
        cond = du.get_condition(st, du.PROGRESSING)
        if not du.has_progress_deadline(d) or cond is None:
            return
        if du.deployment_complete(d, st) or cond.reason == du.TIMED_OUT_REASON:
            return
        after = parse_time(cond.lastUpdateTime) + d.spec.progressDeadlineSeconds - now
        self.enqueue_after(key_of(d), max(after, 0.0) + 1.0)

    async def _write_status(self, d):
        """Write d.status (d is our own copy). Conflicts are left to the caller's retry: the next
        sync recomputes from a fresh cache."""
        try:
            updated = await self.client.update_status(d)
        except NotFound:
            return d
        return updated
