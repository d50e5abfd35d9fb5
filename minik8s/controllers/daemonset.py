"""The DaemonSet controller, after upstream's pkg/controller/daemon: one pod of the set on every node
that should run it, none elsewhere.

A node should run the pod when the template's nodeSelector and required node affinity match it and
the pod tolerates the node's NoSchedule and NoExecute taints; a pod already there may stay on a node
whose only untolerated taints are NoSchedule. Every pod carries upstream's automatic tolerations
(not-ready and unreachable NoExecute forever, the pressure and unschedulable NoSchedule taints, and
network-unavailable for hostNetwork pods), so a cordoned or unreachable node keeps its pod. Pods are
placed as upstream places them: the controller pins a pod to its node with the required node
affinity `metadata.name In [node]` and the scheduler binds it.

RollingUpdate with maxSurge 0 deletes old pods while at most maxUnavailable nodes lack an available
pod, and the next sync creates their replacements; with maxSurge it first starts a new pod beside
the old one and deletes the old one once the new one is available. OnDelete replaces a pod only once
someone deleted it. Revisions are a hash of the template in each pod's `controller-revision-hash`
label (ControllerRevision objects are not kept)."""
from __future__ import annotations

import hashlib
import logging
import math

from minik8s.api import selectors
from minik8s.api.clock import parse_time
from minik8s.api.errors import ApiError, NotFound
from minik8s.api.pb import apps_pb2, core_pb2
from minik8s.api.validation_common import _int_or_string
from minik8s.client.events import NORMAL, WARNING
from minik8s.client.informer import copy, key_of

from minik8s.controllers.base import Controller, ControllerContext, split_key
from minik8s.controllers.controller_utils import (CONTROLLER_UID_INDEX, ControllerRefManager, Expectations,
                                                  by_controller_uid, claim_candidates, controller_ref,
                                                  ensure_indexer, is_pod_available, is_pod_ready,
                                                  new_controller_ref, pod_key, recheck_owner)
from minik8s.controllers.persistentvolume import node_selector_terms_match
from minik8s.controllers.tainteviction import tolerates

log = logging.getLogger("minik8s.controllers.daemonset")

COMPONENT = "daemonset-controller"
REVISION_LABEL = "controller-revision-hash"

# upstream util.AddOrUpdateDaemonPodTolerations: (key, effect), none with tolerationSeconds
_AUTOMATIC_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
_HOST_NETWORK_TOLERATION = ("node.kubernetes.io/network-unavailable", "NoSchedule")


def template_hash(ds) -> str:
    return hashlib.sha256(ds.spec.template.SerializeToString(deterministic=True)).hexdigest()[:10]


def _selector(ds):
    try:
        return selectors.from_label_selector_obj(ds.spec.selector if ds.spec.HasField("selector") else None)
    except selectors.SelectorError:
        return selectors.LabelSelector.nothing()


def add_daemon_tolerations(spec) -> None:
    """Add upstream's automatic tolerations to a pod spec, replacing a toleration of the same key and
    effect that the template carries (so a template cannot shorten them)."""
    wanted = list(_AUTOMATIC_TOLERATIONS)
    if spec.hostNetwork:
        wanted.append(_HOST_NETWORK_TOLERATION)
    for key, effect in wanted:
        kept = [t for t in spec.tolerations if not (t.key == key and t.effect == effect)]
        del spec.tolerations[:]
        spec.tolerations.extend(kept)
        spec.tolerations.add(key=key, operator="Exists", effect=effect)


def pin_to_node(spec, node: str) -> None:
    """upstream ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity becomes the one
    term `metadata.name In [node]`; preferred terms stay."""
    required = spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
    del required.nodeSelectorTerms[:]
    term = required.nodeSelectorTerms.add()
    term.matchFields.add(key="metadata.name", operator="In", values=[node])


def target_node(pod) -> str:
    """The node a daemon pod belongs to: where it is bound, or where its node affinity pins it."""
    if pod.spec.nodeName:
        return pod.spec.nodeName
    aff = pod.spec.affinity
    if aff.HasField("nodeAffinity"):
        for term in aff.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms:
            for f in term.matchFields:
                if f.key == "metadata.name" and f.operator == "In" and len(f.values) == 1:
                    return f.values[0]
    return ""


def node_should_run(node, template_spec) -> tuple[bool, bool]:
    """upstream NodeShouldRunDaemonPod: (should run a pod there, may a pod already there keep running).
    `template_spec` carries the automatic tolerations."""
    if template_spec.nodeName and template_spec.nodeName != node.metadata.name:
        return False, False
    labels = node.metadata.labels
    if any(labels.get(k) != v for k, v in template_spec.nodeSelector.items()):
        return False, False
    aff = template_spec.affinity
    if aff.HasField("nodeAffinity") and aff.nodeAffinity.HasField("requiredDuringSchedulingIgnoredDuringExecution"):
        if not node_selector_terms_match(aff.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
                                         .nodeSelectorTerms, node):
            return False, False
    untolerated = [t for t in node.spec.taints if t.effect in ("NoSchedule", "NoExecute")
                   and not any(tolerates(tol, t) for tol in template_spec.tolerations)]
    if not untolerated:
        return True, True
    return False, not any(t.effect == "NoExecute" for t in untolerated)


def _oldest_first(pods: list) -> list:
    return sorted(pods, key=lambda p: (parse_time(p.metadata.creationTimestamp), p.metadata.name))


def scaled_value(value, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent rounding up."""
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


class DaemonSetController(Controller):
    name = "daemonset"
    default_workers = 2

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder(COMPONENT)
        self.expectations = Expectations(ctx.clock)
        self.sets = ctx.informers.informer("DaemonSet")
        self.pods = ctx.informers.informer("Pod")
        self.nodes = ctx.informers.informer("Node")
        ensure_indexer(self.pods, CONTROLLER_UID_INDEX, by_controller_uid)
        self.sets.add_event_handler(self._set_changed, lambda old, new: self._set_changed(new),
                                    self._set_deleted)
        self.pods.add_event_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.nodes.add_event_handler(self._node_changed, self._node_updated, self._node_changed)

    # ------------------------------------------------------------------ handlers (enqueue only)
    def _set_changed(self, ds) -> None:
        self.enqueue(key_of(ds))

    def _set_deleted(self, ds) -> None:
        self.expectations.forget(key_of(ds))

    def _owner_key(self, pod) -> str | None:
        ref = controller_ref(pod)
        if ref is None or ref.kind != "DaemonSet":
            return None
        ds = self.sets.get_by(pod.metadata.namespace, ref.name)
        return key_of(ds) if ds is not None and ds.metadata.uid == ref.uid else None

    def _pod_added(self, pod) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.creation_observed(key)
            self.enqueue(key)
        elif controller_ref(pod) is None:
            for ds in self.sets.list_namespace(pod.metadata.namespace):
                sel = _selector(ds)
                if not sel.empty and sel.matches(dict(pod.metadata.labels)):
                    self.enqueue(key_of(ds))

    def _pod_updated(self, old, pod) -> None:
        key = self._owner_key(pod)
        if key is None:
            self._pod_added(pod)
            return
        if pod.metadata.deletionTimestamp:
            self.expectations.deletion_observed(key, pod_key(pod))
        self.enqueue(key)

    def _pod_deleted(self, pod) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key, pod_key(pod))
            self.enqueue(key)

    def _node_changed(self, _node) -> None:
        for ds in self.sets.list():
            self.enqueue(key_of(ds))

    def _node_updated(self, old, node) -> None:
        # only what decides where daemon pods run (upstream shouldIgnoreNodeUpdate)
        if (old.metadata.labels, old.spec.taints, old.spec.unschedulable) != \
                (node.metadata.labels, node.spec.taints, node.spec.unschedulable):
            self._node_changed(node)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        ds = self.sets.get(key)
        if ds is None or ds.metadata.deletionTimestamp:
            self.expectations.forget(key)
            return
        if _selector(ds).empty:
            self.recorder.event(ds, WARNING, "SelectingAll",
                                "This daemon set is selecting all pods. A non-empty selector is required.")
            return
        manager = ControllerRefManager(self.client, ds, _selector(ds),
                                       recheck_owner(self.client, "DaemonSet", namespace, name, ds.metadata.uid))
        await manager.claim(claim_candidates(self.pods, ds))
        template = self.pod_template(ds)
        revision = template_hash(ds)
        if self.expectations.satisfied(key):
            by_node = self._pods_by_node(ds)
            plan = self._plan(ds, template.spec, by_node)
            if ds.spec.updateStrategy.type == "RollingUpdate":
                plan_create, plan_delete = plan
                more_create, more_delete = self._rolling_update(ds, template.spec, by_node, revision, plan_delete)
                plan = (plan_create + more_create, plan_delete + more_delete)
            await self._sync_nodes(ds, key, template, revision, *plan)
        await self._update_status(ds, template.spec, self._pods_by_node(ds), revision)

    def _pods_by_node(self, ds) -> dict[str, list]:
        """The set's pods by node, those terminating included: a node keeps its terminating pod until
        it is gone before it gets a new one, as upstream."""
        out: dict[str, list] = {}
        for pod in self.pods.by_index(CONTROLLER_UID_INDEX, ds.metadata.uid):
            out.setdefault(target_node(pod), []).append(pod)
        return out

    def _plan(self, ds, spec, by_node: dict) -> tuple[list[str], list]:
        """upstream manage/podsShouldBeOnNode: the nodes that need a pod and the pods that must go."""
        create, delete = [], []
        nodes = {n.metadata.name: n for n in self.nodes.list()}
        for name, node in nodes.items():
            should_run, may_continue = node_should_run(node, spec)
            pods = by_node.get(name, [])
            live = [p for p in pods if not p.metadata.deletionTimestamp]
            if should_run and not pods:
                create.append(name)
            elif may_continue:
                failed = [p for p in live if p.status.phase == "Failed"]
                for p in failed:
                    self.recorder.event(ds, WARNING, "FailedDaemonPod",
                                        f"Found failed daemon pod {p.metadata.namespace}/{p.metadata.name} on "
                                        f"node {name}, will try to kill it")
                delete.extend(failed)
                running = _oldest_first([p for p in live if p.status.phase != "Failed"])
                if len(running) > 1 and _max_surge(ds, 1) == 0:
                    delete.extend(running[1:])          # keep the oldest
            else:
                delete.extend(live)
        for name, pods in by_node.items():
            if name and name not in nodes:
                delete.extend(p for p in pods if not p.metadata.deletionTimestamp)   # the node is gone
        return create, delete

    def _rolling_update(self, ds, spec, by_node: dict, revision: str, already: list) -> tuple[list[str], list]:
        """upstream rollingUpdate: which old pods to replace now within maxUnavailable (or maxSurge)."""
        going = {p.metadata.uid for p in already}
        now = self.clock.now()
        eligible = [n.metadata.name for n in self.nodes.list() if node_should_run(n, spec)[0]]
        desired = len(eligible)
        max_surge = _max_surge(ds, desired)
        max_unavailable = scaled_value(_int_or_string(ds.spec.updateStrategy.rollingUpdate.maxUnavailable), desired)
        if max_surge == 0 and max_unavailable == 0:
            max_unavailable = 1
        min_ready = ds.spec.minReadySeconds
        unavailable, replace_now, candidates, surge_nodes, old_to_drop = 0, [], [], [], []
        for node in sorted(eligible):
            pods = [p for p in by_node.get(node, []) if p.metadata.uid not in going
                    and not p.metadata.deletionTimestamp and p.status.phase != "Failed"]
            new = [p for p in pods if p.metadata.labels.get(REVISION_LABEL) == revision]
            old = [p for p in pods if p.metadata.labels.get(REVISION_LABEL) != revision]
            if len(new) > 1 or len(old) > 1 or (not new and not old):
                unavailable += 1
                continue
            if new and old:
                if max_surge and is_pod_available(new[0], min_ready, now):
                    old_to_drop.append(old[0])          # the surge pod took over
                else:
                    unavailable += 1
            elif new:
                if not is_pod_available(new[0], min_ready, now):
                    unavailable += 1
            elif not is_pod_available(old[0], min_ready, now):
                replace_now.append((node, old[0]))      # not serving anyway
            else:
                candidates.append((node, old[0]))
        if max_surge:
            surging = sum(1 for n in eligible if len(by_node.get(n, [])) > 1)
            room = max(0, max_surge - surging)
            surge_nodes = [n for n, _ in replace_now + candidates][:room]
            return surge_nodes, old_to_drop
        room = min(max(0, max_unavailable - unavailable), len(candidates))
        return [], [p for _, p in replace_now + candidates[:room]]

    # ------------------------------------------------------------------ pods
    def pod_template(self, ds) -> core_pb2.PodTemplateSpec:
        """The template every pod of the set starts from, automatic tolerations added."""
        template = core_pb2.PodTemplateSpec()
        template.CopyFrom(ds.spec.template)
        add_daemon_tolerations(template.spec)
        return template

    def new_pod(self, ds, template, node: str, revision: str) -> core_pb2.Pod:
        pod = core_pb2.Pod(apiVersion="v1", kind="Pod")
        pod.metadata.generateName = f"{ds.metadata.name}-"
        pod.metadata.namespace = ds.metadata.namespace
        pod.metadata.labels.update(template.metadata.labels)
        pod.metadata.labels[REVISION_LABEL] = revision
        pod.metadata.annotations.update(template.metadata.annotations)
        pod.metadata.ownerReferences.append(new_controller_ref(ds))
        pod.spec.CopyFrom(template.spec)
        pin_to_node(pod.spec, node)
        return pod

    async def _sync_nodes(self, ds, key: str, template, revision: str, create: list[str], delete: list) -> None:
        if delete:
            # deletions first; the creations wait for the next sync, once the deletions are seen
            create = []
            self.expectations.expect_deletions(key, [pod_key(p) for p in delete])
        elif create:
            self.expectations.expect_creations(key, len(create))
        errors = []
        for node in create:
            try:
                created = await self.client.create(self.new_pod(ds, template, node, revision))
            except ApiError as e:
                self.expectations.creation_observed(key)
                self.recorder.event(ds, WARNING, "FailedCreate", f"Error creating: {e.message}")
                errors.append(e)
                continue
            self.recorder.event(ds, NORMAL, "SuccessfulCreate", f"Created pod: {created.metadata.name}")
        for pod in delete:
            try:
                await self.client.delete("Pod", pod.metadata.name, pod.metadata.namespace,
                                         preconditions={"uid": pod.metadata.uid})
            except NotFound:
                self.expectations.deletion_observed(key, pod_key(pod))
                continue
            except ApiError as e:
                self.expectations.deletion_observed(key, pod_key(pod))
                self.recorder.event(ds, WARNING, "FailedDelete", f"Error deleting: {e.message}")
                errors.append(e)
                continue
            self.recorder.event(ds, NORMAL, "SuccessfulDelete", f"Deleted pod: {pod.metadata.name}")
        if errors:
            raise errors[0]

    # ------------------------------------------------------------------ status
    async def _update_status(self, ds, spec, by_node: dict, revision: str) -> None:
        """upstream updateDaemonSetStatus: counted per node, from the oldest pod on it."""
        status = apps_pb2.DaemonSetStatus()
        status.CopyFrom(ds.status)
        desired = current = ready = available = updated = misscheduled = 0
        now = self.clock.now()
        for node in self.nodes.list():
            should_run, _ = node_should_run(node, spec)
            pods = [p for p in by_node.get(node.metadata.name, []) if not p.metadata.deletionTimestamp]
            if not should_run:
                misscheduled += 1 if pods else 0
                continue
            desired += 1
            if not pods:
                continue
            current += 1
            pod = _oldest_first(pods)[0]
            if is_pod_ready(pod):
                ready += 1
                if is_pod_available(pod, ds.spec.minReadySeconds, now):
                    available += 1
            if pod.metadata.labels.get(REVISION_LABEL) == revision:
                updated += 1
        status.desiredNumberScheduled, status.currentNumberScheduled = desired, current
        status.numberReady, status.numberAvailable, status.numberUnavailable = ready, available, desired - available
        status.updatedNumberScheduled, status.numberMisscheduled = updated, misscheduled
        status.observedGeneration = ds.metadata.generation
        if available < ready and ds.spec.minReadySeconds > 0:
            # a pod becomes available minReadySeconds after it became ready: look again then
            self.enqueue_after(key_of(ds), ds.spec.minReadySeconds)
        if status == ds.status:
            return
        new = copy(ds)
        new.status.CopyFrom(status)
        try:
            await self.client.update_status(new)
        except NotFound:
            pass


def _max_surge(ds, desired: int) -> int:
    strategy = ds.spec.updateStrategy
    if strategy.type != "RollingUpdate":
        return 0
    return scaled_value(_int_or_string(strategy.rollingUpdate.maxSurge), desired)
