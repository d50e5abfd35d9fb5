"""The disruption controller, after upstream's pkg/controller/disruption: keep each
PodDisruptionBudget's status true to the pods it selects, so that evictions can be judged by it
(minik8s/api/disruption.py).

For a budget, `expectedPods` is the number of selected pods when `minAvailable` is a number, else
the sum of the scales of the pods' controllers (a ReplicaSet's replicas, or its Deployment's when a
Deployment owns it); `desiredHealthy` is minAvailable (a percentage of expectedPods, rounded up), or
expectedPods less maxUnavailable (likewise); `currentHealthy` counts the selected pods that are Ready,
not being deleted, and not in `disruptedPods` (evictions the API granted, kept until the pod is seen
going or two minutes passed). `disruptionsAllowed` is their difference (never below 0, and 0 while no
pod is expected), and the `DisruptionAllowed` condition says `SufficientPods` or `InsufficientPods`.
When the status cannot be worked out (a selected pod's controller cannot be found), the budget fails
safe: disruptionsAllowed 0 and the condition False with reason `SyncFailed`."""
from __future__ import annotations

import logging

from minik8s.api import disruption as rules
from minik8s.api.clock import parse_time
from minik8s.client.events import NORMAL, WARNING
from minik8s.client.informer import copy, key_of

from minik8s.controllers.base import Controller, ControllerContext
from minik8s.controllers.controller_utils import controller_ref
from minik8s.controllers.deploymentutil import int_or_percent

log = logging.getLogger("minik8s.controllers.disruption")

COMPONENT = "controllermanager"      # upstream's disruption controller records events under this name
DELETION_TIMEOUT = 120.0             # upstream DeletionTimeout: how long a granted eviction is held


class BudgetError(Exception):
    """The budget's status cannot be computed; the message goes into the SyncFailed condition."""


class DisruptionController(Controller):
    name = "disruption"
    default_workers = 2

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder(COMPONENT)
        f = ctx.informers
        self.pdbs = f.informer("PodDisruptionBudget")
        self.pods = f.informer("Pod")
        self.replicasets = f.informer("ReplicaSet")
        self.deployments = f.informer("Deployment")
        self.pdbs.add_event_handler(self._enqueue, lambda old, new: self._enqueue(new), self._enqueue)
        self.pods.add_event_handler(self._pod_changed, self._pod_updated, self._pod_changed)
        # a scale change moves expectedPods
        for inf in (self.replicasets, self.deployments):
            inf.add_event_handler(self._owner_changed, lambda old, new: self._owner_changed(new),
                                  self._owner_changed)

    # ------------------------------------------------------------------ handlers (enqueue only)
    def _enqueue(self, pdb) -> None:
        self.enqueue(key_of(pdb))

    def _pod_changed(self, pod) -> None:
        for pdb in rules.budgets_for(pod, self.pdbs.list_namespace(pod.metadata.namespace)):
            self.enqueue(key_of(pdb))

    def _pod_updated(self, old, new) -> None:
        if old.metadata.resourceVersion == new.metadata.resourceVersion:
            return
        self._pod_changed(new)
        if old.metadata.labels != new.metadata.labels:
            self._pod_changed(old)

    def _owner_changed(self, owner) -> None:
        for pdb in self.pdbs.list_namespace(owner.metadata.namespace):
            if pdb.spec.HasField("maxUnavailable") or \
                    pdb.spec.minAvailable.WhichOneof("kind") == "string_value":
                self.enqueue(key_of(pdb))

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        await self.sync_budget(key)

    async def sync_budget(self, key: str) -> None:
        pdb = self.pdbs.get(key)
        if pdb is None:
            return
        pods = [p for p in self.pods.list_namespace(pdb.metadata.namespace) if rules.selects(pdb, p)]
        if not pods:
            self.recorder.event(pdb, NORMAL, "NoPods", "No matching pods found")
        try:
            expected, desired, unmanaged = self.expected_pod_count(pdb, pods)
        except BudgetError as e:
            self.recorder.eventf(pdb, WARNING, "CalculateExpectedPodCountFailed",
                                 "Failed to calculate the number of expected pods: %s", e)
            await self._fail_safe(pdb, str(e))
            return
        if unmanaged:
            self.recorder.eventf(
                pdb, WARNING, "UnmanagedPods",
                "Pods selected by this PodDisruptionBudget (selector: %s) were found to be unmanaged. As a "
                "result, the status of the PDB cannot be calculated correctly, which may result in undefined "
                "behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an "
                "integer value.", _selector_text(pdb))
        now = self.clock.now()
        disrupted, recheck = self._disrupted_pods(pdb, pods, now)
        healthy = sum(1 for p in pods if not p.metadata.deletionTimestamp and p.metadata.name not in disrupted
                      and rules.is_pod_ready(p))
        await self._update_status(pdb, healthy, desired, expected, disrupted)
        if recheck is not None:
            self.enqueue_after(key, max(0.0, recheck - now))

    def expected_pod_count(self, pdb, pods: list) -> tuple[int, int, list[str]]:
        """(expectedPods, desiredHealthy, names of selected pods without a controller)."""
        spec = pdb.spec
        try:
            if spec.HasField("maxUnavailable"):
                expected, unmanaged = self._expected_scale(pods)
                desired = max(0, expected - int_or_percent(spec.maxUnavailable, expected, True))
                return expected, desired, unmanaged
            kind = spec.minAvailable.WhichOneof("kind") if spec.HasField("minAvailable") else None
            if kind == "number_value":
                return len(pods), int(spec.minAvailable.number_value), []
            if kind == "string_value":
                expected, unmanaged = self._expected_scale(pods)
                return expected, int_or_percent(spec.minAvailable, expected, True), unmanaged
        except ValueError as e:
            raise BudgetError(str(e)) from None
        return 0, 0, []

    def _expected_scale(self, pods: list) -> tuple[int, list[str]]:
        """upstream getExpectedScale: the sum of the scales of the selected pods' controllers."""
        scales: dict[str, int] = {}
        unmanaged = []
        for pod in pods:
            ref = controller_ref(pod)
            if ref is None:
                unmanaged.append(pod.metadata.name)
                continue
            if ref.uid in scales:
                continue
            found = self._controller_scale(pod.metadata.namespace, ref)
            if found is None:
                raise BudgetError(f'found no controllers for pod "{pod.metadata.name}"')
            scales[found[0]] = found[1]
        return sum(scales.values()), unmanaged

    def _controller_scale(self, namespace: str, ref) -> tuple[str, int] | None:
        """(uid, replicas) of the workload that scales a pod's controller: its ReplicaSet, or the
        Deployment above that ReplicaSet."""
        if ref.kind != "ReplicaSet":
            return None
        rs = self.replicasets.get_by(namespace, ref.name)
        if rs is None or rs.metadata.uid != ref.uid:
            return None
        owner = controller_ref(rs)
        if owner is None:
            return rs.metadata.uid, _replicas(rs)
        if owner.kind != "Deployment":
            return None
        dep = self.deployments.get_by(namespace, owner.name)
        if dep is None or dep.metadata.uid != owner.uid:
            return None
        return dep.metadata.uid, _replicas(dep)

    def _disrupted_pods(self, pdb, pods: list, now: float) -> tuple[dict[str, str], float | None]:
        """upstream buildDisruptedPodMap: granted evictions still awaited (the pod exists, is not yet
        being deleted, and the grant is under two minutes old), and when the oldest of them expires."""
        held = pdb.status.disruptedPods
        out: dict[str, str] = {}
        recheck: float | None = None
        for pod in pods:
            name = pod.metadata.name
            if pod.metadata.deletionTimestamp or name not in held:
                continue
            expires = parse_time(held[name]) + DELETION_TIMEOUT
            if expires < now:
                self.recorder.eventf(pod, WARNING, "NotDeleted", "Pod was expected by PDB %s/%s to be deleted "
                                     "but it wasn't", pdb.metadata.namespace, pdb.metadata.name)
                continue
            out[name] = held[name]
            recheck = expires if recheck is None else min(recheck, expires)
        return out, recheck

    async def _update_status(self, pdb, healthy: int, desired: int, expected: int, disrupted: dict) -> None:
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        st = pdb.status
        if (st.currentHealthy, st.desiredHealthy, st.expectedPods, st.disruptionsAllowed,
                dict(st.disruptedPods), st.observedGeneration) == (
                healthy, desired, expected, allowed, disrupted, pdb.metadata.generation) \
                and rules.conditions_up_to_date(pdb):
            return
        new = copy(pdb)
        status = new.status
        status.currentHealthy, status.desiredHealthy, status.expectedPods = healthy, desired, expected
        status.disruptionsAllowed = allowed
        status.disruptedPods.clear()
        status.disruptedPods.update(disrupted)
        status.observedGeneration = pdb.metadata.generation
        rules.update_disruption_allowed_condition(status, self.clock.now())
        await self.client.update_status(new)

    async def _fail_safe(self, pdb, message: str) -> None:
        """upstream failSafe: no disruption is allowed while the budget cannot be worked out."""
        new = copy(pdb)
        new.status.disruptionsAllowed = 0
        rules.set_condition(new.status, "False", rules.SYNC_FAILED, message, self.clock.now())
        if new.status != pdb.status:
            await self.client.update_status(new)


def _replicas(obj) -> int:
    return obj.spec.replicas if obj.spec.HasField("replicas") else 1


def _selector_text(pdb) -> str:
    sel = pdb.spec.selector
    return str(dict(sel.matchLabels)) if pdb.spec.HasField("selector") else "nil"

