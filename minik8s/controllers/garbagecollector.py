"""The garbage collector, after upstream's pkg/controller/garbagecollector: ownerReferences drive
cascading deletion.

It watches every kind (but Events and metrics) through the shared informers, indexing objects by the
uids of their owners, so the dependents of any object are one index lookup away. Handlers only
enqueue `(kind, namespace, name)` keys; `sync(key)` then does what the object's state asks for:

  * Background (the default): once an owner is gone, each dependent whose owners are all gone
    (checked against the cache, then confirmed with a live read, matched by uid) is deleted; a
    dependent that still has a live owner only loses its references to the gone ones.
  * Foreground: an owner deleted with propagationPolicy=Foreground carries a deletionTimestamp and
    the `foregroundDeletion` finalizer. Its dependents are deleted (those that themselves have
    dependents, in the foreground too); once no dependent with blockOwnerDeletion is left, the
    finalizer is removed and the owner goes, last.
  * Orphan: an owner deleted with propagationPolicy=Orphan carries the `orphan` finalizer; the
    collector removes the owner's references from its dependents, then the finalizer.

Every action is idempotent and conditional (deletes carry the uid as a precondition, reference
changes the resourceVersion), so a stale cache can delay the collector but not misdirect it."""
from __future__ import annotations

import functools
import logging
from collections import OrderedDict

from minik8s.api.errors import Conflict, NotFound
from minik8s.api.kinds import KINDS
from minik8s.client.informer import copy

from minik8s.controllers.base import Controller, ControllerContext
from minik8s.controllers.controller_utils import ensure_indexer, patch_owner_refs

log = logging.getLogger("minik8s.controllers.garbagecollector")

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
OWNER_UID_INDEX = "gc-owner-uid"
IGNORED_KINDS = frozenset({"Event", "NodeMetrics", "PodMetrics"})
ABSENT_CACHE_SIZE = 4096
RETRIES = 5


def owner_uids(obj) -> list[str]:
    return [r.uid for r in obj.metadata.ownerReferences]


def deleting_dependents(obj) -> bool:
    return bool(obj.metadata.deletionTimestamp) and FOREGROUND in obj.metadata.finalizers


def orphaning(obj) -> bool:
    return bool(obj.metadata.deletionTimestamp) and ORPHAN in obj.metadata.finalizers


def _blocks(ref) -> bool:
    return ref.HasField("blockOwnerDeletion") and ref.blockOwnerDeletion


class GarbageCollector(Controller):
    name = "garbagecollector"
    default_workers = 20

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.informers = {}
        for info in KINDS.values():
            if info.kind in IGNORED_KINDS:
                continue
            inf = ctx.informers.informer(info)
            ensure_indexer(inf, OWNER_UID_INDEX, owner_uids)
            inf.add_event_handler(functools.partial(self._added, info.kind),
                                  functools.partial(self._updated, info.kind),
                                  functools.partial(self._deleted, info.kind))
            self.informers[info.kind] = inf
        self._absent: OrderedDict[str, None] = OrderedDict()   # owner uids known to be gone

    # ------------------------------------------------------------------ graph lookups (cache)
    def dependents(self, uid: str) -> list[tuple[str, object]]:
        """(kind, object) for every cached object with an ownerReference to `uid`."""
        out = []
        for kind, inf in self.informers.items():
            out.extend((kind, o) for o in inf.by_index(OWNER_UID_INDEX, uid))
        return out

    def _cached_owner(self, ref, namespace: str):
        info = KINDS.get(ref.kind)
        inf = self.informers.get(ref.kind)
        if info is None or inf is None:
            return None
        owner = inf.get_by(namespace if info.namespaced else "", ref.name)
        if owner is None or owner.metadata.uid != ref.uid:
            return None
        return owner

    def _owner_missing_in_cache(self, obj) -> bool:
        for ref in obj.metadata.ownerReferences:
            if ref.kind not in self.informers:
                continue           # a kind we do not know: never collected on its account
            if ref.uid in self._absent or self._cached_owner(ref, obj.metadata.namespace) is None:
                return True
        return False

    def _mark_absent(self, uid: str) -> None:
        self._absent[uid] = None
        self._absent.move_to_end(uid)
        while len(self._absent) > ABSENT_CACHE_SIZE:
            self._absent.popitem(last=False)

    def _key(self, kind: str, obj) -> tuple[str, str, str]:
        return (kind, obj.metadata.namespace, obj.metadata.name)

    # ------------------------------------------------------------------ handlers (enqueue only)
    def _added(self, kind: str, obj) -> None:
        if deleting_dependents(obj) or orphaning(obj):
            self.enqueue(self._key(kind, obj))
            if deleting_dependents(obj):
                self._enqueue_dependents(obj.metadata.uid)
        if obj.metadata.ownerReferences and self._owner_missing_in_cache(obj):
            self.enqueue(self._key(kind, obj))

    def _updated(self, kind: str, old, new) -> None:
        if old.metadata.uid != new.metadata.uid:
            self._deleted(kind, old)
            self._added(kind, new)
            return
        if deleting_dependents(new):
            self.enqueue(self._key(kind, new))
            if not deleting_dependents(old):
                self._enqueue_dependents(new.metadata.uid)
        elif orphaning(new):
            self.enqueue(self._key(kind, new))
        old_refs = {r.uid: r for r in old.metadata.ownerReferences}
        new_refs = {r.uid: r for r in new.metadata.ownerReferences}
        if old_refs == new_refs:
            return
        # an owner waiting for its blocking dependents may have just lost one
        for uid, ref in old_refs.items():
            cur = new_refs.get(uid)
            if cur is None or (_blocks(ref) and not _blocks(cur)):
                owner = self._cached_owner(ref, old.metadata.namespace)
                if owner is not None and deleting_dependents(owner):
                    self.enqueue(self._key(ref.kind, owner))
        if new.metadata.ownerReferences and self._owner_missing_in_cache(new):
            self.enqueue(self._key(kind, new))

    def _deleted(self, kind: str, obj) -> None:
        self._mark_absent(obj.metadata.uid)
        self._enqueue_dependents(obj.metadata.uid)
        for ref in obj.metadata.ownerReferences:
            owner = self._cached_owner(ref, obj.metadata.namespace)
            if owner is not None and deleting_dependents(owner):
                self.enqueue(self._key(ref.kind, owner))

    def _enqueue_dependents(self, uid: str) -> None:
        for kind, dep in self.dependents(uid):
            self.enqueue(self._key(kind, dep))

    # ------------------------------------------------------------------ sync
    async def sync(self, key) -> None:
        kind, namespace, name = key
        inf = self.informers.get(kind)
        obj = inf.get_by(namespace, name) if inf is not None else None
        if obj is None:
            return
        info = KINDS[kind]
        if obj.metadata.deletionTimestamp:
            if ORPHAN in obj.metadata.finalizers:
                await self.orphan_dependents(info, obj)
            elif FOREGROUND in obj.metadata.finalizers:
                await self.process_deleting_dependents(info, obj)
            return                          # being deleted: nothing else to do for it
        if obj.metadata.ownerReferences:
            await self.attempt_to_delete(info, obj)

    async def _is_dangling(self, ref, obj):
        """(dangling, owner): whether the owner `ref` names is gone, confirmed by a live read when the
        cache does not hold it; owner is None when dangling or of an unknown kind."""
        if ref.uid in self._absent:
            return True, None
        info = KINDS.get(ref.kind)
        if info is None or info.kind in IGNORED_KINDS:
            return False, None
        if info.namespaced and not obj.metadata.namespace:
            # a cluster-scoped object cannot be owned by a namespaced one: the reference is void
            return True, None
        owner = self._cached_owner(ref, obj.metadata.namespace)
        if owner is not None:
            return False, owner
        try:
            owner = await self.client.get(info, ref.name, obj.metadata.namespace if info.namespaced else None)
        except NotFound:
            self._mark_absent(ref.uid)
            return True, None
        if owner.metadata.uid != ref.uid:
            self._mark_absent(ref.uid)
            return True, None
        return False, owner

    async def _classify(self, obj):
        solid, dangling, waiting = [], [], []
        for ref in obj.metadata.ownerReferences:
            is_dangling, owner = await self._is_dangling(ref, obj)
            if is_dangling:
                dangling.append(ref)
            elif owner is not None and deleting_dependents(owner):
                waiting.append(ref)
            else:
                solid.append(ref)
        return solid, dangling, waiting

    async def attempt_to_delete(self, info, obj) -> None:
        """upstream attemptToDeleteItem: delete an object none of whose owners is left (or whose
        owners are all deleting their dependents), drop references to owners that are gone."""
        solid, dangling, waiting = await self._classify(obj)
        if solid and not dangling and not waiting:
            return
        # decide on the object as it is now, not as the cache remembers it
        try:
            latest = await self.client.get(info, obj.metadata.name, obj.metadata.namespace or None)
        except NotFound:
            return
        if latest.metadata.uid != obj.metadata.uid or latest.metadata.deletionTimestamp:
            return
        solid, dangling, waiting = await self._classify(latest)
        what = f"{info.kind} {latest.metadata.namespace}/{latest.metadata.name}".replace(" /", " ")
        if solid:
            if not dangling and not waiting:
                return
            gone = {r.uid for r in dangling} | {r.uid for r in waiting}
            log.info("%s: removing references to owners %s", what, sorted(gone))
            await self._edit_owner_refs(info, latest, lambda refs: [r for r in refs if r.uid not in gone])
            return
        if waiting and self.dependents(latest.metadata.uid):
            for _, dep in self.dependents(latest.metadata.uid):
                if deleting_dependents(dep):
                    # a cycle of foreground deletions: stop blocking our owners, or nobody finishes
                    log.info("%s: unblocking its owner references (dependency cycle)", what)
                    await self._edit_owner_refs(info, latest, _unblocked)
                    return
            log.info("%s: deleting (foreground: its owner waits for its dependents)", what)
            await self._delete(info, latest, "Foreground")
            return
        policy = "Background"
        if ORPHAN in latest.metadata.finalizers:
            policy = "Orphan"
        elif FOREGROUND in latest.metadata.finalizers:
            policy = "Foreground"
        log.info("%s: deleting (%s): its owners are gone", what, policy.lower())
        await self._delete(info, latest, policy)

    async def process_deleting_dependents(self, info, owner) -> None:
        """An owner deleted in the foreground: delete its blocking dependents; once none is left,
        remove the `foregroundDeletion` finalizer so the owner goes too."""
        uid = owner.metadata.uid
        blocking = [(kind, dep) for kind, dep in self.dependents(uid)
                    if any(r.uid == uid and _blocks(r) for r in dep.metadata.ownerReferences)]
        if not blocking:
            await self._remove_finalizer(info, owner, FOREGROUND)
            return
        for kind, dep in blocking:
            if not deleting_dependents(dep):
                self.enqueue(self._key(kind, dep))

    async def orphan_dependents(self, info, owner) -> None:
        """An owner deleted with propagationPolicy=Orphan: its dependents lose their references to
        it, then the `orphan` finalizer goes."""
        uid = owner.metadata.uid
        for kind, dep in self.dependents(uid):
            await self._edit_owner_refs(KINDS[kind], dep, lambda refs: [r for r in refs if r.uid != uid])
        await self._remove_finalizer(info, owner, ORPHAN)

    # ------------------------------------------------------------------ writes
    async def _delete(self, info, obj, policy: str) -> None:
        try:
            await self.client.delete(info, obj.metadata.name, obj.metadata.namespace or None,
                                     propagation_policy=policy, preconditions={"uid": obj.metadata.uid})
        except NotFound:
            pass
        except Conflict:
            pass           # the uid precondition failed: that object is gone, another took its name

    async def _edit_owner_refs(self, info, obj, edit) -> None:
        """Replace obj's ownerReferences with edit(refs), re-reading and retrying on conflicts."""
        for _ in range(RETRIES):
            refs = edit(list(obj.metadata.ownerReferences))
            if [r.SerializeToString() for r in refs] == \
                    [r.SerializeToString() for r in obj.metadata.ownerReferences]:
                return
            try:
                await patch_owner_refs(self.client, obj, refs)
                return
            except NotFound:
                return
            except Conflict:
                try:
                    fresh = await self.client.get(info, obj.metadata.name, obj.metadata.namespace or None)
                except NotFound:
                    return
                if fresh.metadata.uid != obj.metadata.uid:
                    return
                obj = fresh
        raise Conflict(f"could not update the owner references of {obj.metadata.name}")

    async def _remove_finalizer(self, info, obj, finalizer: str) -> None:
        for _ in range(RETRIES):
            try:
                fresh = await self.client.get(info, obj.metadata.name, obj.metadata.namespace or None)
            except NotFound:
                return
            if fresh.metadata.uid != obj.metadata.uid or finalizer not in fresh.metadata.finalizers:
                return
            new = copy(fresh)
            keep = [f for f in new.metadata.finalizers if f != finalizer]
            del new.metadata.finalizers[:]
            new.metadata.finalizers.extend(keep)
            try:
                await self.client.update(new)
                log.info("%s %s: removed the %s finalizer", info.kind, obj.metadata.name, finalizer)
                return
            except NotFound:
                return
            except Conflict:
                continue
        raise Conflict(f"could not remove the {finalizer} finalizer of {obj.metadata.name}")


def _unblocked(refs):
    out = []
    for r in refs:
        if _blocks(r):
            r2 = type(r)()
            r2.CopyFrom(r)
            r2.blockOwnerDeletion = False
            out.append(r2)
        else:
            out.append(r)
    return out
