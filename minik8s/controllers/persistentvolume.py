"""The persistent volume controller, after upstream's pkg/controller/volume/persistentvolume (binder),
pvcprotection and pvprotection: claims meet volumes here.

`sync_claim` gives a claim without storageClassName the default class (upstream's retroactive
assignment), binds an unbound claim to the smallest Available volume of its class whose access modes
and capacity suffice (or that is pre-bound to it), and otherwise asks the class's provisioner for a
new volume (`volume_provisioner.py`); a class that does not exist leaves the claim Pending with a
ProvisioningFailed event. A WaitForFirstConsumer claim waits for a node: the scheduler's
`volume.kubernetes.io/selected-node` annotation, or else the node of the first scheduled pod that uses
it. A bound claim whose volume vanished is Lost.

`sync_volume` keeps a volume's phase (Available, Bound, Released) and reclaims a released one: Retain
keeps it Released, Delete removes its data and the object. The protection finalizers go once nothing
needs the object: a claim's when no running pod uses it, a volume's when it is no longer Bound."""
from __future__ import annotations

import logging

from minik8s.api import selectors
from minik8s.api.clock import rfc3339
from minik8s.api.errors import ApiError, NotFound
from minik8s.api.kinds.persistentvolume import PV_PROTECTION
from minik8s.api.kinds.persistentvolumeclaim import PVC_PROTECTION
from minik8s.api.kinds.storageclass import is_default_class
from minik8s.api.pb import core_pb2
from minik8s.api.quantity import parse_quantity
from minik8s.client.events import NORMAL, WARNING
from minik8s.client.informer import copy, key_of

from minik8s.controllers.base import Controller, ControllerContext
from minik8s.controllers.volume_provisioner import PROVISIONED_BY, PROVISIONERS, delete_volume_data, volumes_root

log = logging.getLogger("minik8s.controllers.persistentvolume")

COMPONENT = "persistentvolume-controller"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"


def claim_names(pod) -> list[str]:
    return [v.persistentVolumeClaim.claimName for v in pod.spec.volumes if v.HasField("persistentVolumeClaim")]


def _storage(qty_map) -> int:
    return parse_quantity(qty_map.get("storage", "0")).value() if qty_map.get("storage") else 0


def _pod_uses_claim(pod) -> bool:
    return pod.status.phase not in ("Succeeded", "Failed")


class PersistentVolumeController(Controller):
    name = "persistentvolume-binder"

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder(COMPONENT)
        self.root = volumes_root(ctx.setting("home", None))
        self.claims = ctx.informers.informer("PersistentVolumeClaim")
        self.volumes = ctx.informers.informer("PersistentVolume")
        self.classes = ctx.informers.informer("StorageClass")
        self.pods = ctx.informers.informer("Pod")
        self.nodes = ctx.informers.informer("Node")
        self.claims.add_event_handler(self._claim_changed, lambda old, new: self._claim_changed(new),
                                      self._claim_changed)
        self.volumes.add_event_handler(self._volume_changed, lambda old, new: self._volume_changed(new),
                                       self._volume_changed)
        self.classes.add_event_handler(self._pending_claims_changed,
                                       lambda old, new: self._pending_claims_changed(new), None)
        self.pods.add_event_handler(self._pod_changed, lambda old, new: self._pod_changed(new), self._pod_changed)

    # ------------------------------------------------------------------ handlers (enqueue only)
    def _claim_changed(self, pvc) -> None:
        self.enqueue(("claim", key_of(pvc)))
        if pvc.spec.volumeName:
            self.enqueue(("volume", pvc.spec.volumeName))

    def _volume_changed(self, pv) -> None:
        self.enqueue(("volume", pv.metadata.name))
        ref = pv.spec.claimRef
        if ref.name:
            self.enqueue(("claim", f"{ref.namespace}/{ref.name}"))
        else:
            # a free volume may be what a pending claim waits for (upstream finds it on its 15 s resync)
            self._pending_claims_changed(pv)

    def _pending_claims_changed(self, _obj) -> None:
        for pvc in self.claims.list():
            if not pvc.spec.volumeName:
                self.enqueue(("claim", key_of(pvc)))

    def _pod_changed(self, pod) -> None:
        for name in claim_names(pod):
            self.enqueue(("claim", f"{pod.metadata.namespace}/{name}"))

    async def sync(self, key) -> None:
        what, name = key
        if what == "claim":
            await self.sync_claim(name)
        else:
            await self.sync_volume(name)

    # ------------------------------------------------------------------ claims
    async def sync_claim(self, key: str) -> None:
        pvc = self.claims.get(key)
        if pvc is None:
            return
        if pvc.metadata.deletionTimestamp:
            await self._release_claim_protection(pvc)
            return
        if not pvc.spec.HasField("storageClassName"):
            default = self._default_class()
            if default is not None:
                new = copy(pvc)
                new.spec.storageClassName = default.metadata.name
                await self.client.update(new)
                return                      # the update comes back through the informer
        if pvc.spec.volumeName:
            await self._sync_bound_claim(pvc)
            return
        pv = self._prebound_volume(pvc) or self._find_volume(pvc)
        if pv is not None:
            await self._bind(pvc, pv)
            return
        await self._provision_or_wait(pvc)

    def _default_class(self):
        defaults = [sc for sc in self.classes.list() if is_default_class(sc)]
        # upstream: the newest default class wins when there are several
        return max(defaults, key=lambda sc: (sc.metadata.creationTimestamp, sc.metadata.name), default=None)

    def _class_of(self, pvc):
        return self.classes.get(pvc.spec.storageClassName) if pvc.spec.storageClassName else None

    def _selected_node(self, pvc) -> str:
        node = pvc.metadata.annotations.get(SELECTED_NODE, "")
        if node:
            return node
        for pod in self.pods.list_namespace(pvc.metadata.namespace):
            if pod.spec.nodeName and _pod_uses_claim(pod) and pvc.metadata.name in claim_names(pod):
                return pod.spec.nodeName
        return ""

    def _prebound_volume(self, pvc):
        for pv in self.volumes.list():
            ref = pv.spec.claimRef
            if (ref.name == pvc.metadata.name and ref.namespace == pvc.metadata.namespace
                    and ref.uid in ("", pvc.metadata.uid) and not pv.metadata.deletionTimestamp):
                return pv
        return None

    def _find_volume(self, pvc):
        """upstream findBestMatchForClaim: the smallest Available volume that satisfies the claim."""
        want = _storage(pvc.spec.resources.requests)
        modes = set(pvc.spec.accessModes)
        sel = selectors.from_label_selector_obj(pvc.spec.selector) if pvc.spec.HasField("selector") else None
        sc = self._class_of(pvc)
        node = ""
        if sc is not None and sc.volumeBindingMode == "WaitForFirstConsumer":
            node = self._selected_node(pvc)
            if not node:
                return None
        best = None
        for pv in self.volumes.list():
            if (pv.spec.claimRef.name or pv.metadata.deletionTimestamp or pv.status.phase not in ("Available", "Pending")
                    or pv.spec.storageClassName != pvc.spec.storageClassName
                    or not modes <= set(pv.spec.accessModes) or pv.spec.volumeMode != pvc.spec.volumeMode
                    or _storage(pv.spec.capacity) < want
                    or (sel is not None and not sel.matches(dict(pv.metadata.labels)))
                    or (node and not self._volume_fits_node(pv, node))):
                continue
            if best is None or _storage(pv.spec.capacity) < _storage(best.spec.capacity):
                best = pv
        return best

    def _volume_fits_node(self, pv, node_name: str) -> bool:
        if not pv.spec.HasField("nodeAffinity"):
            return True
        node = self.nodes.get(node_name)
        if node is None:
            return False
        return volume_node_affinity_matches(pv, node)

    async def _bind(self, pvc, pv) -> None:
        """Volume first, then claim, as upstream: a crash between the two leaves a pre-bound volume
        that the next sync completes."""
        if pv.spec.claimRef.uid != pvc.metadata.uid or pv.status.phase != "Bound":
            new_pv = copy(pv)
            ref = new_pv.spec.claimRef
            ref.kind, ref.apiVersion = "PersistentVolumeClaim", "v1"
            ref.namespace, ref.name, ref.uid = pvc.metadata.namespace, pvc.metadata.name, pvc.metadata.uid
            ref.resourceVersion = pvc.metadata.resourceVersion
            if not pv.spec.claimRef.name:
                new_pv.metadata.annotations[BOUND_BY_CONTROLLER] = "yes"
            new_pv = await self.client.update(new_pv)
            new_pv.status.phase = "Bound"
            await self.client.update_status(new_pv)
        new = copy(pvc)
        new.spec.volumeName = pv.metadata.name
        new.metadata.annotations[BIND_COMPLETED] = "yes"
        new.metadata.annotations[BOUND_BY_CONTROLLER] = "yes"
        new = await self.client.update(new)
        await self._set_claim_bound(new, pv)

    async def _set_claim_bound(self, pvc, pv) -> None:
        want = core_pb2.PersistentVolumeClaimStatus(phase="Bound", accessModes=list(pv.spec.accessModes),
                                                    capacity=dict(pv.spec.capacity))
        if pvc.status == want:
            return
        new = copy(pvc)
        new.status.CopyFrom(want)
        await self.client.update_status(new)

    async def _sync_bound_claim(self, pvc) -> None:
        pv = self.volumes.get(pvc.spec.volumeName)
        if pv is None:
            try:
                pv = await self.client.get("PersistentVolume", pvc.spec.volumeName)
            except NotFound:
                if pvc.status.phase != "Lost":
                    new = copy(pvc)
                    new.status.phase = "Lost"
                    await self.client.update_status(new)
                    self.recorder.event(pvc, WARNING, "ClaimLost",
                                        "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
                return
        if pv.spec.claimRef.uid in ("", pvc.metadata.uid):
            if pv.spec.claimRef.uid != pvc.metadata.uid or pv.status.phase != "Bound":
                await self._bind(pvc, pv)
            else:
                await self._set_claim_bound(pvc, pv)

    async def _provision_or_wait(self, pvc) -> None:
        name = pvc.spec.storageClassName
        if not name:
            self.recorder.event(pvc, NORMAL, "FailedBinding",
                                "no persistent volumes available for this claim and no storage class is set")
            return
        sc = self.classes.get(name)
        if sc is None:
            self.recorder.event(pvc, WARNING, "ProvisioningFailed",
                                f'storageclass.storage.k8s.io "{name}" not found')
            return
        provisioner = PROVISIONERS.get(sc.provisioner)
        if provisioner is None:
            self.recorder.event(pvc, NORMAL, "ExternalProvisioning",
                                f"Waiting for a volume to be created either by the external provisioner "
                                f"'{sc.provisioner}' or manually by the system administrator. If volume creation "
                                f"is delayed, please verify that the provisioner is running and correctly registered.")
            return
        node = ""
        if sc.volumeBindingMode == "WaitForFirstConsumer":
            node = self._selected_node(pvc)
            if not node:
                self.recorder.event(pvc, NORMAL, "WaitForFirstConsumer",
                                    "waiting for first consumer to be created before binding")
                return
            if pvc.metadata.annotations.get(SELECTED_NODE) != node:
                new = copy(pvc)
                new.metadata.annotations[SELECTED_NODE] = node
                await self.client.update(new)
                return
        try:
            pv = provisioner(self.root, pvc, sc, self._node_hostname(node))
            await self.client.create(pv)
        except ApiError as e:
            if "already exists" in e.message:
                return
            self.recorder.event(pvc, WARNING, "ProvisioningFailed", e.message)
            raise
        except OSError as e:
            self.recorder.event(pvc, WARNING, "ProvisioningFailed", f"failed to provision volume: {e}")
            raise
        self.recorder.event(pvc, NORMAL, "ProvisioningSucceeded",
                            f"Successfully provisioned volume {pv.metadata.name} using {sc.provisioner}")

    def _node_hostname(self, node_name: str) -> str:
        node = self.nodes.get(node_name) if node_name else None
        if node is None:
            return node_name
        return node.metadata.labels.get("kubernetes.io/hostname", node_name)

    async def _release_claim_protection(self, pvc) -> None:
        if PVC_PROTECTION not in pvc.metadata.finalizers:
            return
        ns, name = pvc.metadata.namespace, pvc.metadata.name
        if any(_pod_uses_claim(p) and name in claim_names(p) for p in self.pods.list_namespace(ns)):
            return
        # the cache may lag behind a pod just created: ask the server before letting the claim go
        live = await self.client.list("Pod", ns)
        if any(_pod_uses_claim(p) and name in claim_names(p) for p in live.items):
            return
        new = copy(pvc)
        new.metadata.finalizers.remove(PVC_PROTECTION)
        await self.client.update(new)

    # ------------------------------------------------------------------ volumes
    async def sync_volume(self, name: str) -> None:
        pv = self.volumes.get(name)
        if pv is None:
            return
        ref = pv.spec.claimRef
        if not ref.name:
            await self._set_volume_phase(pv, "Available")
        else:
            claim = await self._claim_of(pv)
            if claim is not None:
                if claim.spec.volumeName == pv.metadata.name:
                    await self._set_volume_phase(pv, "Bound")
                elif pv.status.phase not in ("Available", "Bound"):
                    await self._set_volume_phase(pv, "Available")    # pre-bound, waiting for its claim
            elif pv.status.phase != "Released":
                pv = await self._set_volume_phase(pv, "Released")
            else:
                await self._reclaim(pv)
        if pv.metadata.deletionTimestamp and PV_PROTECTION in pv.metadata.finalizers and pv.status.phase != "Bound":
            new = copy(pv)
            new.metadata.finalizers.remove(PV_PROTECTION)
            await self.client.update(new)

    async def _claim_of(self, pv):
        ref = pv.spec.claimRef
        claim = self.claims.get_by(ref.namespace, ref.name)
        if claim is None:
            try:
                claim = await self.client.get("PersistentVolumeClaim", ref.name, ref.namespace)
            except NotFound:
                return None
        if ref.uid and claim.metadata.uid != ref.uid:
            return None
        return claim

    async def _set_volume_phase(self, pv, phase: str):
        if pv.status.phase == phase:
            return pv
        new = copy(pv)
        new.status.phase = phase
        new.status.lastPhaseTransitionTime = rfc3339(self.clock.now())
        return await self.client.update_status(new)

    async def _reclaim(self, pv) -> None:
        policy = pv.spec.persistentVolumeReclaimPolicy
        if policy != "Delete" or pv.metadata.deletionTimestamp:
            return                          # Retain: the administrator decides
        provisioner = pv.metadata.annotations.get(PROVISIONED_BY, "")
        if provisioner in PROVISIONERS:
            try:
                delete_volume_data(self.root, pv)
            except OSError as e:
                self.recorder.event(pv, WARNING, "VolumeFailedDelete", str(e))
                raise
        try:
            await self.client.delete("PersistentVolume", pv.metadata.name, preconditions={"uid": pv.metadata.uid})
        except NotFound:
            pass


def volume_node_affinity_matches(pv, node) -> bool:
    """Whether `node` satisfies the volume's required node affinity (terms ORed, requirements ANDed)."""
    terms = pv.spec.nodeAffinity.required.nodeSelectorTerms
    return not terms or node_selector_terms_match(terms, node)


def node_selector_terms_match(terms, node) -> bool:
    """Whether `node` satisfies one of the NodeSelectorTerms (requirements ANDed), as upstream's
    nodeaffinity.NodeSelector.Match."""
    labels = dict(node.metadata.labels)
    for term in terms:
        if all(_requirement_matches(r, labels) for r in term.matchExpressions) and all(
                _field_matches(r, node) for r in term.matchFields):
            return True
    return False


def _requirement_matches(req, labels: dict) -> bool:
    value = labels.get(req.key)
    if req.operator == "In":
        return value in req.values
    if req.operator == "NotIn":
        return value not in req.values
    if req.operator == "Exists":
        return req.key in labels
    if req.operator == "DoesNotExist":
        return req.key not in labels
    try:
        if req.operator == "Gt":
            return value is not None and int(value) > int(req.values[0])
        if req.operator == "Lt":
            return value is not None and int(value) < int(req.values[0])
    except ValueError:
        return False
    return False


def _field_matches(req, node) -> bool:
    name = node.metadata.name
    return name in req.values if req.operator == "In" else name not in req.values
