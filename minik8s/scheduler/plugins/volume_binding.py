"""VolumeBinding: a pod's PersistentVolumeClaims decide where it may run, after upstream's volumebinding
plugin (PreFilter, Filter, PreBind).

PreFilter reads each claim the pod mounts: one that does not exist or is being deleted fails the pod
everywhere, and so does an unbound claim whose class binds at once ("pod has unbound immediate
PersistentVolumeClaims": the volume controller binds it first, and the claim's update retries the pod).
Filter keeps the pod off nodes that a bound volume's node affinity excludes ("node(s) had volume node
affinity conflict": a `local` volume holds its data on one node), and off nodes where a
WaitForFirstConsumer claim could get no volume: no Available static volume of its class fits there and
its class cannot provision there ("node(s) didn't find available persistent volumes to bind"). PreBind
writes the chosen node into each waiting claim's `volume.kubernetes.io/selected-node` annotation, so
the volume controller binds or provisions the claim on the node the pod went to.

The claims, volumes and classes are read from the scheduler's shared informers (the Handle's)."""
from __future__ import annotations

from minik8s.api.nodefit import compile_term
from minik8s.api.quantity import QuantityError, parse_quantity
from minik8s.scheduler.framework import SKIP, unschedulable

NAME = "VolumeBinding"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
NODE_CONFLICT = "node(s) had volume node affinity conflict"
BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"

_NODE_CONFLICT = unschedulable(NAME, NODE_CONFLICT, resolvable=False)
_BIND_CONFLICT = unschedulable(NAME, BIND_CONFLICT, resolvable=False)


def claim_names(pod) -> list[str]:
    return [v.persistentVolumeClaim.claimName for v in pod.spec.volumes if v.HasField("persistentVolumeClaim")]


def _storage(quantities) -> int:
    try:
        return parse_quantity(quantities["storage"]).value() if quantities.get("storage") else 0
    except QuantityError:
        return 0


def volume_node_terms(pv):
    """The compiled required node affinity terms of a volume (ORed), or None when any node will do."""
    if not pv.spec.HasField("nodeAffinity") or not pv.spec.nodeAffinity.HasField("required"):
        return None
    return [compile_term(t) for t in pv.spec.nodeAffinity.required.nodeSelectorTerms]


def _admits(terms, node) -> bool:
    return terms is None or any(t(node.labels, node.name) for t in terms)


def _topology_admits(sc, node) -> bool:
    """A class's allowedTopologies (terms ORed, expressions ANDed) hold for the node; none: every node."""
    terms = sc.allowedTopologies
    return not terms or any(all(node.labels.get(e.key) in e.values for e in t.matchLabelExpressions)
                            for t in terms)


class VolumeBinding:
    name = NAME
    node_local = False          # the verdict depends on claims and volumes, not on the pod and node alone
    events = frozenset({"PersistentVolumeClaimAdd", "PersistentVolumeClaimUpdate", "PersistentVolumeAdd",
                        "PersistentVolumeUpdate", "StorageClassAdd", "StorageClassUpdate", "NodeAdd",
                        "NodeUpdate"})

    def __init__(self, args: dict, handle=None):
        self.handle = handle
        informers = getattr(handle, "informers", None)
        if informers is None:       # a framework with no API behind it: claims cannot be checked
            self.claims = self.volumes = self.classes = None
            return
        self.claims = informers.informer("PersistentVolumeClaim")
        self.volumes = informers.informer("PersistentVolume")
        self.classes = informers.informer("StorageClass")

    def pre_filter(self, state, pod, snapshot):
        names = claim_names(pod.pod)
        if not names or self.claims is None:
            return SKIP
        bound, waiting = [], []
        for name in names:
            pvc = self.claims.get_by(pod.namespace, name)
            if pvc is None:
                return unschedulable(NAME, f'persistentvolumeclaim "{name}" not found', resolvable=False)
            if pvc.metadata.deletionTimestamp:
                return unschedulable(NAME, f'persistentvolumeclaim "{name}" is being deleted', resolvable=False)
            if pvc.spec.volumeName:
                pv = self.volumes.get(pvc.spec.volumeName)
                if pv is None:
                    return unschedulable(NAME, f'persistentvolume "{pvc.spec.volumeName}" not found',
                                         resolvable=False)
                bound.append(volume_node_terms(pv))
                continue
            sc = self.classes.get(pvc.spec.storageClassName) if pvc.spec.storageClassName else None
            if sc is None or sc.volumeBindingMode != WAIT_FOR_FIRST_CONSUMER:
                return unschedulable(NAME, UNBOUND_IMMEDIATE, resolvable=False)
            waiting.append((pvc, sc))
        state[NAME] = (bound, waiting)
        return None

    def filter(self, state, pod, node):
        bound, waiting = state[NAME]
        if not all(_admits(terms, node) for terms in bound):
            return _NODE_CONFLICT
        if not all(self._can_bind(pvc, sc, node) for pvc, sc in waiting):
            return _BIND_CONFLICT
        return None

    def _can_bind(self, pvc, sc, node) -> bool:
        selected = pvc.metadata.annotations.get(SELECTED_NODE)
        if selected:                # provisioning for one node has begun: only that node will have it
            return selected == node.name
        if any(self._static_fits(pvc, pv, node) for pv in self.volumes.list()):
            return True
        return sc.provisioner != NO_PROVISIONER and _topology_admits(sc, node)

    @staticmethod
    def _static_fits(pvc, pv, node) -> bool:
        ref = pv.spec.claimRef
        if ref.name and (ref.namespace, ref.name) != (pvc.metadata.namespace, pvc.metadata.name):
            return False
        return (pv.status.phase == "Available" and not pv.metadata.deletionTimestamp
                and pv.spec.storageClassName == pvc.spec.storageClassName
                and set(pvc.spec.accessModes) <= set(pv.spec.accessModes)
                and _storage(pv.spec.capacity) >= _storage(pvc.spec.resources.requests)
                and _admits(volume_node_terms(pv), node))

    async def pre_bind(self, state, pod, node_name: str) -> None:
        """Name the chosen node on every claim waiting for its first consumer (a merge patch: the
        claim's other fields stay the controller's)."""
        _, waiting = state[NAME]
        for pvc, _sc in waiting:
            if pvc.metadata.annotations.get(SELECTED_NODE) != node_name:
                await self.handle.client.patch("PersistentVolumeClaim", pvc.metadata.name,
                                               {"metadata": {"annotations": {SELECTED_NODE: node_name}}},
                                               pvc.metadata.namespace)
