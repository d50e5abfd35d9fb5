"""Helpers the workload controllers share, after upstream's pkg/controller/controller_utils.go and
controller_ref_manager.go: controller references, adoption and release, expectations, pod readiness
and availability, the order in which surplus pods are deleted, and slow-start batching."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterable

from minik8s.api.clock import Clock, parse_time
from minik8s.api.errors import Conflict, NotFound
from minik8s.api.kinds import for_message
from minik8s.api.pb import meta_pb2
from minik8s.api.workloads import controller_ref

log = logging.getLogger("minik8s.controllers")

EXPECTATIONS_TIMEOUT = 300.0     # upstream ExpectationsTimeout: 5 minutes
BURST_REPLICAS = 500             # upstream BurstReplicas: at most this many creations/deletions per sync
SLOW_START_INITIAL_BATCH = 1     # upstream SlowStartInitialBatchSize
POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"


# ---------------------------------------------------------------- controller references
def new_controller_ref(owner) -> meta_pb2.OwnerReference:
    info = for_message(owner)
    return meta_pb2.OwnerReference(apiVersion=info.api_version, kind=info.kind, name=owner.metadata.name,
                                   uid=owner.metadata.uid, controller=True, blockOwnerDeletion=True)


def refs_to_dicts(refs: Iterable[meta_pb2.OwnerReference]) -> list[dict]:
    out = []
    for r in refs:
        d = {"apiVersion": r.apiVersion, "kind": r.kind, "name": r.name, "uid": r.uid}
        if r.HasField("controller"):
            d["controller"] = r.controller
        if r.HasField("blockOwnerDeletion"):
            d["blockOwnerDeletion"] = r.blockOwnerDeletion
        out.append(d)
    return out


async def patch_owner_refs(client, obj, refs: list[meta_pb2.OwnerReference]) -> object:
    """Replace `obj`'s ownerReferences, only if it is still the version we looked at (a merge patch
    carrying the resourceVersion: Conflict when it moved on)."""
    info = for_message(obj)
    patch = {"metadata": {"ownerReferences": refs_to_dicts(refs),
                          "resourceVersion": obj.metadata.resourceVersion}}
    return await client.patch(info, obj.metadata.name, patch, obj.metadata.namespace)


class ControllerRefManager:
    """Adopts orphans that match an owner's selector and releases owned objects that no longer match,
    as upstream's BaseControllerRefManager.ClaimObject does. `can_adopt` is awaited at most once per
    claim and must confirm with a live read that the owner still exists and is not being deleted."""

    def __init__(self, client, owner, selector, can_adopt: Callable[[], Awaitable[None]]):
        self.client = client
        self.owner = owner
        self.selector = selector
        self._can_adopt = can_adopt
        self._can_adopt_result: Exception | None | bool = False

    async def _check_can_adopt(self) -> None:
        if self._can_adopt_result is False:
            try:
                await self._can_adopt()
                self._can_adopt_result = None
            except Exception as e:
                self._can_adopt_result = e
        if self._can_adopt_result is not None:
            raise self._can_adopt_result

    async def claim(self, objs: Iterable, filters: Iterable[Callable] = ()) -> list:
        """The objects this owner controls after adopting and releasing; errors on single objects are
        logged and leave that object out (the next sync tries again)."""
        claimed = []
        errors = []
        uid = self.owner.metadata.uid
        for obj in objs:
            labels = obj.metadata.labels
            ref = controller_ref(obj)
            try:
                if ref is not None:
                    if ref.uid != uid:
                        continue                     # someone else's
                    if self.selector.matches(labels):
                        claimed.append(obj)
                        continue
                    if self.owner.metadata.deletionTimestamp:
                        continue                     # an owner being deleted neither adopts nor releases
                    await self._release(obj)
                    continue
                # an orphan
                if self.owner.metadata.deletionTimestamp or not self.selector.matches(labels):
                    continue
                if obj.metadata.deletionTimestamp or not all(f(obj) for f in filters):
                    continue
                adopted = await self._adopt(obj)
                if adopted is not None:
                    claimed.append(adopted)
            except (NotFound, Conflict):
                # gone, or changed under us: the informer will bring the new version and a new sync
                continue
            except Exception as e:
                errors.append(e)
        if errors:
            raise errors[0]
        return claimed

    async def _adopt(self, obj):
        await self._check_can_adopt()
        refs = [r for r in obj.metadata.ownerReferences]
        refs.append(new_controller_ref(self.owner))
        info = for_message(obj)
        log.info("%s %s/%s adopting %s %s", for_message(self.owner).kind, self.owner.metadata.namespace,
                 self.owner.metadata.name, info.kind, obj.metadata.name)
        return await patch_owner_refs(self.client, obj, refs)

    async def _release(self, obj):
        info = for_message(obj)
        log.info("%s %s/%s releasing %s %s", for_message(self.owner).kind, self.owner.metadata.namespace,
                 self.owner.metadata.name, info.kind, obj.metadata.name)
        refs = [r for r in obj.metadata.ownerReferences if r.uid != self.owner.metadata.uid]
        try:
            await patch_owner_refs(self.client, obj, refs)
        except NotFound:
            pass


def recheck_owner(client, kind, namespace: str, name: str, uid: str) -> Callable[[], Awaitable[None]]:
    """upstream RecheckDeletionTimestamp: a live read of the owner before the first adoption."""
    async def check() -> None:
        fresh = await client.get(kind, name, namespace)
        if fresh.metadata.uid != uid:
            raise NotFound(f"original {kind} {namespace}/{name} is gone: got uid {fresh.metadata.uid}, "
                           f"wanted {uid}")
        if fresh.metadata.deletionTimestamp:
            raise Conflict(f"{kind} {namespace}/{name} has just been deleted at "
                           f"{fresh.metadata.deletionTimestamp}")
    return check


# ---------------------------------------------------------------- expectations
@dataclass
class _Expectation:
    add: int
    delete: int
    timestamp: float
    deleting: set = field(default_factory=set)


class Expectations:
    """upstream UIDTrackingControllerExpectations: how many creations and which deletions a controller
    is still waiting to see through its informer. Until they are seen (or 5 minutes pass), the
    controller does not act on the owner again, so a slow watch never makes it create twice."""

    def __init__(self, clock: Clock, timeout: float = EXPECTATIONS_TIMEOUT):
        self.clock = clock
        self.timeout = timeout
        self._items: dict[str, _Expectation] = {}

    def satisfied(self, key: str) -> bool:
        e = self._items.get(key)
        if e is None:
            return True          # never set (new owner, or a restart): sync
        if e.add <= 0 and e.delete <= 0:
            return True
        if self.clock.monotonic() - e.timestamp > self.timeout:
            log.info("expectations for %s expired (add %d, delete %d)", key, e.add, e.delete)
            return True
        return False

    def expect_creations(self, key: str, n: int) -> None:
        self._items[key] = _Expectation(n, 0, self.clock.monotonic())

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        keys = set(pod_keys)
        self._items[key] = _Expectation(0, len(keys), self.clock.monotonic(), keys)

    def creation_observed(self, key: str) -> None:
        e = self._items.get(key)
        if e is not None:
            e.add -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        e = self._items.get(key)
        if e is not None and pod_key in e.deleting:
            e.deleting.discard(pod_key)
            e.delete -= 1

    def forget(self, key: str) -> None:
        self._items.pop(key, None)

    def get(self, key: str) -> tuple[int, int] | None:
        e = self._items.get(key)
        return None if e is None else (e.add, e.delete)


# ---------------------------------------------------------------- pods
def is_pod_active(pod) -> bool:
    """upstream IsPodActive: not finished and not being deleted."""
    return pod.status.phase not in ("Succeeded", "Failed") and not pod.metadata.deletionTimestamp


def _ready_condition(pod):
    for c in pod.status.conditions:
        if c.type == "Ready":
            return c
    return None


def is_pod_ready(pod) -> bool:
    c = _ready_condition(pod)
    return c is not None and c.status == "True"


def pod_ready_time(pod) -> float:
    c = _ready_condition(pod)
    return parse_time(c.lastTransitionTime) if c is not None and c.status == "True" else 0.0


def is_pod_available(pod, min_ready_seconds: int, now: float) -> bool:
    """Ready, and Ready for at least minReadySeconds."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    t = pod_ready_time(pod)
    return bool(t) and t + min_ready_seconds <= now


def _restarts(pod) -> int:
    return max((s.restartCount for s in pod.status.containerStatuses), default=0)


def _deletion_cost(pod) -> int:
    try:
        return int(pod.metadata.annotations.get(POD_DELETION_COST, "0"))
    except ValueError:
        return 0


_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_order_key(pod, rank: int = 0):
    """Sort key putting the pods to delete first, as upstream's ActivePodsWithRanks: unscheduled before
    scheduled; Pending before Unknown before Running; not ready before ready; lower
    pod-deletion-cost first; pods doubled up on a node (higher rank) first; ready for less time
    first; more restarts first; younger first."""
    ready = is_pod_ready(pod)
    if ready:
        t = pod_ready_time(pod)
        ready_key = (0, 0.0) if not t else (1, -t)
    else:
        ready_key = (0, 0.0)
    created = parse_time(pod.metadata.creationTimestamp)
    created_key = (0, 0.0) if not created else (1, -created)
    return (1 if pod.spec.nodeName else 0, _PHASE_ORDER.get(pod.status.phase, 0), 1 if ready else 0,
            _deletion_cost(pod), -rank, ready_key, -_restarts(pod), created_key, pod.metadata.name)


def pods_to_delete(pods: list, related: list, count: int) -> list:
    """The `count` pods of `pods` to delete first. `related` are the active pods of the owner's
    siblings (same Deployment): a pod sharing its node with more of them ranks higher (deleted
    sooner), spreading what remains."""
    if count >= len(pods):
        return list(pods)
    per_node: dict[str, int] = {}
    for p in related:
        if p.spec.nodeName:
            per_node[p.spec.nodeName] = per_node.get(p.spec.nodeName, 0) + 1
    ranked = sorted(pods, key=lambda p: deletion_order_key(p, per_node.get(p.spec.nodeName, 0)
                                                           if p.spec.nodeName else 0))
    return ranked[:count]


# ---------------------------------------------------------------- slow start
async def slow_start_batch(count: int, initial: int, fn: Callable[[], Awaitable[None]]) -> int:
    """Call `fn` `count` times in batches of 1, 2, 4, ...: each batch runs concurrently and the next
    starts only if the whole batch succeeded, so a quota or a bad template costs one failure, not
    hundreds. Returns the number of successful calls; raises the first error of a failed batch
    (after that batch completes)."""
    remaining = count
    successes = 0
    batch = min(remaining, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errs = [r for r in results if isinstance(r, BaseException)]
        successes += batch - len(errs)
        if errs:
            for e in errs:
                if isinstance(e, asyncio.CancelledError):
                    raise e
            raise SlowStartError(successes, errs[0])
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes


class SlowStartError(Exception):
    def __init__(self, successes: int, error: BaseException):
        super().__init__(str(error))
        self.successes = successes
        self.error = error


# ---------------------------------------------------------------- informer helpers
def ensure_indexer(informer, name: str, fn) -> None:
    """Add an index unless a controller sharing the informer already did."""
    try:
        informer.add_indexer(name, fn)
    except ValueError:
        pass


CONTROLLER_UID_INDEX = "controller-uid"
ORPHAN_INDEX = "orphans-by-namespace"


def by_controller_uid(obj):
    ref = controller_ref(obj)
    return ref.uid if ref is not None else None


def orphan_namespace(obj):
    """Index value for objects without a controller: their namespace (None for controlled ones)."""
    return obj.metadata.namespace if controller_ref(obj) is None else None


def claim_candidates(informer, owner) -> list:
    """What an owner may claim: the objects it controls (to keep or release) and the orphans of its
    namespace (to adopt), found through indexes rather than by scanning the namespace."""
    ensure_indexer(informer, CONTROLLER_UID_INDEX, by_controller_uid)
    ensure_indexer(informer, ORPHAN_INDEX, orphan_namespace)
    return informer.by_index(CONTROLLER_UID_INDEX, owner.metadata.uid) + \
        informer.by_index(ORPHAN_INDEX, owner.metadata.namespace)


def pod_key(pod) -> str:
    return f"{pod.metadata.namespace}/{pod.metadata.name}"
