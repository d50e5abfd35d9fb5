"""The object registry: every object in memory, every write serialized through one writer.

Writes are ops (functions of a transaction) queued to a single writer task. The writer takes all queued
ops as one batch, runs them in order against the committed state plus the batch's own staged changes,
commits the batch to storage in one durable transaction, and only then makes it visible: readers,
watchers and the writers' replies all see a change after it is on disk. Ops never await, so a batch is
atomic with respect to reads."""
from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Callable

from minik8s.api import codec, mergepatch
from minik8s.api.clock import Clock, rfc3339
from minik8s.api.defaults import apply_defaults
from minik8s.api.errors import (AlreadyExists, ApiError, BadRequest, Conflict, Forbidden, Invalid,
                                NotFound, Timeout, TooLarge, Unavailable)
from minik8s.api.kinds import KINDS, NAMESPACE, POD, KindInfo
from minik8s.api.service_allocation import SERVICE_CIDR
from minik8s.api.validation import validate

from apiserver import strategy
from apiserver.storage import Storage, StoredChange
from apiserver.watch import Change, WatchHub, WatchLimits

log = logging.getLogger("apiserver.registry")

MAX_OBJECT_BYTES = 1536 * 1024
MAX_BATCH = 2000
LINGER_SECONDS = 0.002  # how long a batch waits for more writes while writers are concurrent
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_ABSENT = object()


class Fields(Mapping):
    """An object's selectable fields (`metadata.name`, `spec.nodeName`, ...) as field selectors read them:
    the kind's field names, one dict shared by every object of the kind, and a tuple of this object's
    values. Every version of every object keeps its fields, in the registry and in the watch window; a
    dict each would cost its keys' table again for each one."""
    __slots__ = ("names", "values")

    def __init__(self, names: dict[str, int], values: tuple[str, ...]):
        self.names, self.values = names, values

    def __getitem__(self, name: str) -> str:
        return self.values[self.names[name]]

    def get(self, name: str, default=None):
        i = self.names.get(name)
        return default if i is None else self.values[i]

    def __iter__(self):
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.values)


_NO_LABELS: dict[str, str] = {}     # shared by every object without labels (most events): never changed
_FIELD_NAMES: dict[str, dict[str, int]] = {}    # kind -> its selectable field names, by position


@dataclass(slots=True)
class Record:
    kind: str
    namespace: str
    name: str
    rv: int
    raw: bytes
    labels: dict
    fields: Fields

    def decode(self):
        return KINDS[self.kind].message.FromString(self.raw)


def _record(kind: str, obj, rv: int, old: Record | None = None) -> Record:
    meta = obj.metadata
    meta.resourceVersion = str(rv)
    raw = obj.SerializeToString()
    labels = meta.labels
    # interned, so that every version of the object, and its selectable fields, share one name string
    return Record(kind, sys.intern(meta.namespace), sys.intern(meta.name), rv, raw,
                  # a comprehension over the map's own iterator: dict(labels) goes through the slower
                  # Mapping mixin
                  _labels({k: labels[k] for k in labels}, old.labels if old else None),
                  _fields(kind, obj, old.fields if old else None))


# The registry and the watch window keep the labels and selectable fields of every version as they are,
# never changed: versions that did not change them share one copy, and the objects of a template, a
# namespace or a node share one string for each repeated key and value, instead of a copy per version.
def _labels(new: dict, old: dict | None) -> dict:
    """`new`, or the previous version's equal dict, with interned strings."""
    if not new:
        return _NO_LABELS
    if old is not None and old == new:
        return old
    intern = sys.intern
    return {intern(k): intern(v) for k, v in new.items()}


def _fields(kind: str, obj, old: Fields | None) -> Fields:
    """The object's selectable fields, or the previous version's when equal, with interned values."""
    fields = strategy.selectable_fields(KINDS[kind], obj)
    intern = sys.intern
    values = tuple([intern(v) for v in fields.values()])
    if old is not None and old.values == values:
        return old
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = {intern(name): i for i, name in enumerate(fields)}
    return Fields(names, values)


def _what(info: KindInfo, name: str) -> str:
    """`deployments.apps "web"` as upstream's messages name an object."""
    plural = f"{info.plural}.{info.group}" if info.group else info.plural
    return f'{plural} "{name}"'


class Txn:
    """The view one batch's ops run against: committed state plus the batch's staged changes."""

    def __init__(self, reg: "Registry"):
        self.reg = reg
        self.overlay: dict[tuple, Record | None] = {}
        self.changes: list[tuple[str, Record, Record | None]] = []   # (type, new-or-final, old)
        self.rv = reg.rv
        self._undo: list[tuple[tuple, object]] = []    # (key, overlay value before), to undo an op

    def mark(self) -> tuple[int, int, int]:
        return self.rv, len(self.changes), len(self._undo)

    def rollback(self, mark: tuple[int, int, int]) -> None:
        self.rv, n_changes, n_undo = mark
        del self.changes[n_changes:]
        while len(self._undo) > n_undo:
            key, before = self._undo.pop()
            if before is _ABSENT:
                self.overlay.pop(key, None)
            else:
                self.overlay[key] = before

    def _stage(self, key: tuple, rec: Record | None) -> None:
        self._undo.append((key, self.overlay.get(key, _ABSENT)))
        self.overlay[key] = rec

    def get(self, kind: str, namespace: str, name: str) -> Record | None:
        key = (kind, namespace, name)
        if key in self.overlay:
            return self.overlay[key]
        return self.reg.objects[kind].get((namespace, name))

    def list(self, kind: str, namespace: str):
        seen = set()
        for key, rec in self.overlay.items():
            if key[0] == kind and key[1] == namespace:
                seen.add(key[2])
                if rec is not None:
                    yield rec
        for (ns, name), rec in self.reg.objects[kind].items():
            if ns == namespace and name not in seen:
                yield rec

    def put(self, kind: str, obj, old: Record | None) -> Record:
        self.rv += 1
        rec = _record(kind, obj, self.rv, old)
        if len(rec.raw) > MAX_OBJECT_BYTES:
            self.rv -= 1
            raise TooLarge(f"Request entity too large: object is {len(rec.raw)} bytes, "
                           f"limit is {MAX_OBJECT_BYTES}")
        self._stage((kind, rec.namespace, rec.name), rec)
        self.changes.append(("ADDED" if old is None else "MODIFIED", rec, old))
        return rec

    def remove(self, kind: str, obj, old: Record) -> Record:
        self.rv += 1
        rec = _record(kind, obj, self.rv, old)
        self._stage((kind, rec.namespace, rec.name), None)
        self.changes.append(("DELETED", rec, old))
        return rec


# The longest graceful deletion: about 68 years, far past any real shutdown, yet a timestamp apart.
MAX_GRACE_PERIOD_SECONDS = 2**31 - 1

class Registry:
    def __init__(self, storage: Storage, clock: Clock | None = None, window: int = 20_000,
                 service_cidr: str = SERVICE_CIDR, admission=None, watch_limits: WatchLimits | None = None):
        self.storage = storage
        self.admission = admission      # mutating admission on create (apiserver/admission.py)
        self.service_cidr = service_cidr
        self.clock = clock or Clock()
        self.objects: dict[str, dict[tuple[str, str], Record]] = {k: {} for k in KINDS}
        self.hub = WatchHub(window=window, limits=watch_limits, now=self.clock.monotonic)
        self._queue: list[tuple[Callable, asyncio.Future]] = []
        self._wakeup: asyncio.Event | None = None
        self._writer: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="storage")
        self._stamp: tuple[int, str] = (-1, "")
        # committed pods by spec.nodeName: the Node authorizer asks "which pods are on node N" for
        # every read a kubelet makes, which must not cost a pass over every pod in the cluster
        self._pods_by_node: dict[str, dict[tuple[str, str], Record]] = {}
        self._load(window)

    # ---------------------------------------------------------------- start-up
    def _load(self, window: int) -> None:
        for kind, ns, name, rv, raw in self.storage.load_objects():
            if kind not in KINDS:
                log.warning("skipping stored object of unknown kind %s", kind)
                continue
            obj = KINDS[kind].message.FromString(raw)
            rec = Record(kind, sys.intern(ns), sys.intern(name), rv, raw, _labels(dict(obj.metadata.labels), None),
                         _fields(kind, obj, None))
            self.objects[kind][(ns, name)] = rec
            if kind == POD.kind:
                self._index_pod((ns, name), None, rec)
        self.rv = self.storage.current_rv()
        changes = []
        last: dict[tuple, Change] = {}     # each object's previous change, whose dicts an equal one shares
        for c in self.storage.load_changes(window):
            if c.kind in KINDS:
                obj = KINDS[c.kind].message.FromString(c.raw)
                prev = last.get((c.kind, c.namespace, c.name))
                ch = Change(c.rv, c.type, c.kind, c.namespace, c.raw,
                            _labels(dict(obj.metadata.labels), prev.labels if prev else None),
                            _fields(c.kind, obj, prev.fields if prev else None))
                last[(c.kind, c.namespace, c.name)] = ch
                changes.append(ch)
        self.hub.load(changes, self.rv)

    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._writer = asyncio.create_task(self._write_loop(), name="registry-writer")
        for ns in DEFAULT_NAMESPACES:
            if ("", ns) not in self.objects[NAMESPACE.kind]:
                obj = NAMESPACE.message()
                obj.metadata.name = ns
                try:
                    await self.create(NAMESPACE, obj)
                except AlreadyExists:
                    pass

    async def stop(self) -> None:
        if self._writer:
            self._writer.cancel()
            try:
                await self._writer
            except asyncio.CancelledError:
                pass
        self.hub.close_all()
        self._executor.shutdown(wait=True)
        self.storage.close()

    # ---------------------------------------------------------------- the writer
    async def _submit(self, op: Callable[[Txn], object]):
        fut = asyncio.get_running_loop().create_future()
        self._queue.append((op, fut))
        self._wakeup.set()
        return await fut

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            last = 0
            while True:
                await self._gather(last)
                if not self._queue:
                    break
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                last = len(batch)
                await self._run_batch(loop, batch)

    async def _gather(self, last: int) -> None:
        """Let writes on their way join the next batch. One turn of the loop for a lone write; after a
        batch of several (writers are concurrent), a short linger while more arrive, so that one
        commit, and one watch message per watcher, carries many writes."""
        await asyncio.sleep(0)
        if last > 1 and len(self._queue) < MAX_BATCH:
            await asyncio.sleep(LINGER_SECONDS)

    async def _run_batch(self, loop, batch) -> None:
        tx = Txn(self)
        results = []
        for op, fut in batch:
            mark = tx.mark()
            try:
                results.append((fut, op(tx), None))
            except Exception as e:  # an op's failure must not take the batch or the server down
                if not isinstance(e, ApiError):
                    log.exception("write failed")
                    e = ApiError(f"Internal error: {e}")
                tx.rollback(mark)
                results.append((fut, None, e))
        if tx.changes:
            stored = [StoredChange(rec.rv, t, rec.kind, rec.namespace, rec.name, rec.raw)
                      for t, rec, _ in tx.changes]
            try:
                await loop.run_in_executor(self._executor, self.storage.commit, stored)
            except Exception as e:
                log.exception("storage commit failed")
                for fut, _, _ in results:
                    if not fut.done():
                        fut.set_exception(Unavailable(f"storage error: {e}"))
                return
            self.rv = tx.rv
            published = []
            for t, rec, old in tx.changes:
                table = self.objects[rec.kind]
                key = (rec.namespace, rec.name)
                before = table.pop(key, None) if t == "DELETED" else table.get(key)
                if t != "DELETED":
                    table[key] = rec
                if rec.kind == POD.kind:
                    self._index_pod(key, before, None if t == "DELETED" else rec)
                published.append(Change(rec.rv, t, rec.kind, rec.namespace, rec.raw, rec.labels,
                                        rec.fields, old.labels if old else None,
                                        old.fields if old else None))
            self.hub.publish(published)
        for fut, res, err in results:
            if fut.done():
                continue
            if err is not None:
                fut.set_exception(err)
            else:
                fut.set_result(res)

    def _timestamp(self) -> str:
        """Now as an RFC 3339 Time (whole seconds), formatted once per second rather than once per write."""
        second = int(self.clock.now())
        if second != self._stamp[0]:
            self._stamp = (second, rfc3339(second))
        return self._stamp[1]

    # ---------------------------------------------------------------- reads
    def get(self, info: KindInfo, namespace: str, name: str) -> Record:
        rec = self.find(info, namespace, name)
        if rec is None:
            raise NotFound(f"{_what(info, name)} not found")
        return rec

    def find(self, info: KindInfo, namespace: str, name: str) -> Record | None:
        """The committed object, or None: `get` without the NotFound, for lookups that expect a miss."""
        return self.objects[info.kind].get((namespace if info.namespaced else "", name))

    def _index_pod(self, key: tuple[str, str], before: Record | None, after: Record | None) -> None:
        if before is not None:
            node = before.fields.get("spec.nodeName")
            bucket = self._pods_by_node.get(node) if node else None
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del self._pods_by_node[node]
        if after is not None:
            node = after.fields.get("spec.nodeName")
            if node:
                self._pods_by_node.setdefault(node, {})[key] = after

    def pods_on_node(self, node: str, namespace: str = "") -> list[Record]:
        """The committed pods whose spec.nodeName is `node` (in `namespace`, or in all when empty)."""
        bucket = self._pods_by_node.get(node, {})
        return [rec for rec in bucket.values() if not namespace or rec.namespace == namespace]

    def list(self, info: KindInfo, namespace: str, label_sel=None, field_sel=None) -> list[Record]:
        out = []
        for rec in self.objects[info.kind].values():
            if namespace and rec.namespace != namespace:
                continue
            if label_sel is not None and not label_sel.matches(rec.labels):
                continue
            if field_sel is not None and not field_sel.matches(rec.fields):
                continue
            out.append(rec)
        return out

    def watch(self, info: KindInfo, namespace: str, label_sel, field_sel, from_rv: int | None):
        if from_rv is not None and from_rv > self.rv:
            # upstream waits a few seconds for the store to catch up, then answers this; here the
            # store is the server's own, so a version ahead of it is never going to arrive
            raise Timeout(f"Too large resource version: {from_rv}, current: {self.rv}")
        initial = ()
        if from_rv is None:
            initial = [Change(r.rv, "ADDED", r.kind, r.namespace, r.raw, r.labels, r.fields)
                       for r in self.list(info, namespace)]
        return self.hub.subscribe(info.kind, namespace, label_sel, field_sel, from_rv, initial, bounded=True)

    # ---------------------------------------------------------------- writes
    async def create(self, info: KindInfo, obj, check: Callable | None = None, dry_run: bool = False):
        _check_type_meta(info, obj)
        if not info.namespaced:
            obj.metadata.namespace = ""
        elif not obj.metadata.namespace:
            obj.metadata.namespace = "default"
        if not obj.metadata.name and obj.metadata.generateName:
            obj.metadata.name = obj.metadata.generateName + "".join(random.choices(_NAME_CHARS, k=5))
        strategy.prepare_for_create(info, obj)
        obj.metadata.uid = str(uuid.uuid4())
        hooks = info.strategy
        if hooks.before_create_defaults:
            hooks.before_create_defaults(obj)
        apply_defaults(obj)
        if hooks.after_create_defaults:
            hooks.after_create_defaults(obj)
        if self.admission is not None:
            self.admission.admit_create(info, obj)
        errors = validate(obj)
        if errors:
            raise _invalid(info, obj.metadata.name or obj.metadata.generateName, errors)

        def op(tx: Txn):
            meta = obj.metadata
            if info.namespaced:
                ns = tx.get(NAMESPACE.kind, "", meta.namespace)
                if ns is None:
                    raise NotFound(f'namespaces "{meta.namespace}" not found')
                if ns.decode().metadata.deletionTimestamp:
                    raise Forbidden(f'{_what(info, meta.name)} is forbidden: unable to create new content '
                                    f'in namespace {meta.namespace} because it is being terminated')
            if tx.get(info.kind, meta.namespace, meta.name) is not None:
                raise AlreadyExists(f"{_what(info, meta.name)} already exists")
            if check:
                check(tx, None, obj)
            meta.creationTimestamp = self._timestamp()
            meta.ClearField("deletionTimestamp")
            meta.ClearField("deletionGracePeriodSeconds")
            if hooks.allocate:
                hooks.allocate(self._all(tx, info.kind), obj, None, self.service_cidr)
            if dry_run:
                obj.metadata.resourceVersion = ""
                return obj.SerializeToString()
            return tx.put(info.kind, obj, None).raw

        return await self._submit(op)

    async def update(self, info: KindInfo, obj, *, status: bool = False, check: Callable | None = None,
                     dry_run: bool = False):
        _check_type_meta(info, obj)
        namespace = obj.metadata.namespace if info.namespaced else ""
        if info.namespaced and not namespace:
            namespace = obj.metadata.namespace = "default"
        name = obj.metadata.name
        if not name:
            raise Invalid(f"{info.kind} is invalid: metadata.name: Required value",
                          [("metadata.name", "Required value")])

        def op(tx: Txn):
            cur = tx.get(info.kind, namespace, name)
            if cur is None:
                raise NotFound(f"{_what(info, name)} not found")
            want_rv = obj.metadata.resourceVersion
            if want_rv and want_rv != str(cur.rv):
                raise Conflict(f"Operation cannot be fulfilled on {_what(info, name)}: the object has been "
                               "modified; please apply your changes to the latest version and try again")
            return self._apply_update(tx, info, cur, obj, status, check, dry_run)

        return await self._submit(op)

    async def patch(self, info: KindInfo, namespace: str, name: str, patch: bytes, *, status: bool = False,
                    check: Callable | None = None):
        namespace = namespace or "default" if info.namespaced else ""
        try:
            patch_doc = json.loads(patch)
        except ValueError as e:
            raise BadRequest(f"invalid JSON patch: {e}") from None
        except RecursionError:
            raise BadRequest("invalid JSON patch: nested too deeply") from None

        def op(tx: Txn):
            cur = tx.get(info.kind, namespace, name)
            if cur is None:
                raise NotFound(f"{_what(info, name)} not found")
            try:
                merged = mergepatch.merge_patch(codec.to_dict(cur.decode()), patch_doc)
            except RecursionError:
                raise BadRequest("invalid JSON patch: nested too deeply") from None
            try:
                new = codec.from_dict(info.message, merged)
            except codec.FieldError as e:
                raise _invalid(info, name, e.errors) from None
            want_rv = new.metadata.resourceVersion
            if want_rv and want_rv != str(cur.rv):
                raise Conflict(f"Operation cannot be fulfilled on {_what(info, name)}: the object has been "
                               "modified; please apply your changes to the latest version and try again")
            if new.metadata.name != name or (info.namespaced and new.metadata.namespace != namespace):
                raise BadRequest("the name and namespace of an object cannot be changed by a patch")
            return self._apply_update(tx, info, cur, new, status, check, False)

        return await self._submit(op)

    def _apply_update(self, tx: Txn, info: KindInfo, cur: Record, obj, status: bool, check, dry_run):
        old = cur.decode()
        new = type(old)()
        if status:
            # status subresource: take only status from the request
            new.CopyFrom(old)
            new.status.CopyFrom(obj.status)
        else:
            new.CopyFrom(obj)
            if info.has_status:
                new.status.CopyFrom(old.status) if old.HasField("status") else new.ClearField("status")
            m, o = new.metadata, old.metadata
            m.uid, m.creationTimestamp = o.uid, o.creationTimestamp
            m.namespace = o.namespace
            m.deletionTimestamp = o.deletionTimestamp
            if o.HasField("deletionGracePeriodSeconds"):
                m.deletionGracePeriodSeconds = o.deletionGracePeriodSeconds
            else:
                m.ClearField("deletionGracePeriodSeconds")
            m.generation = o.generation
            apply_defaults(new)
            if strategy.generation_changed(info, new, old):
                m.generation = o.generation + 1
        new.apiVersion, new.kind = info.api_version, info.kind
        errors = validate(new, old)
        if errors:
            raise _invalid(info, cur.name, errors)
        if check:
            check(tx, old, new)
        if info.strategy.allocate and not status:
            info.strategy.allocate(self._all(tx, info.kind), new, old, self.service_cidr)
        new.metadata.resourceVersion = str(cur.rv)
        if new.SerializeToString(deterministic=True) == old.SerializeToString(deterministic=True):
            return cur.raw          # no change: no write, no event, same resourceVersion
        if dry_run:
            return new.SerializeToString()
        if new.metadata.deletionTimestamp and not new.metadata.finalizers and info.strategy.may_remove(new):
            return tx.remove(info.kind, new, cur).raw
        return tx.put(info.kind, new, cur).raw

    def _all(self, tx: Txn, kind: str) -> list[Record]:
        merged = {(r.namespace, r.name): r for r in self.objects[kind].values()}
        for (k, ns, name), rec in tx.overlay.items():
            if k == kind:
                if rec is None:
                    merged.pop((ns, name), None)
                else:
                    merged[(ns, name)] = rec
        return list(merged.values())

    async def delete(self, info: KindInfo, namespace: str, name: str, *, grace: int | None = None,
                     propagation: str = "", preconditions=None, check: Callable | None = None):
        namespace = (namespace or "default") if info.namespaced else ""
        if propagation not in ("", "Background", "Foreground", "Orphan"):
            raise BadRequest(f'Unsupported value: "{propagation}": supported values: '
                             '"Background", "Foreground", "Orphan"')
        if grace is not None and grace < 0:
            grace = 0

        def op(tx: Txn):
            cur = tx.get(info.kind, namespace, name)
            if cur is None:
                raise NotFound(f"{_what(info, name)} not found")
            obj = cur.decode()
            if preconditions is not None:
                if preconditions.uid and preconditions.uid != obj.metadata.uid:
                    raise Conflict(f"Precondition failed: UID in precondition: {preconditions.uid}, "
                                   f"UID in object meta: {obj.metadata.uid}")
                if preconditions.resourceVersion and preconditions.resourceVersion != str(cur.rv):
                    raise Conflict(f"Precondition failed: ResourceVersion in precondition: "
                                   f"{preconditions.resourceVersion}, ResourceVersion in object meta: {cur.rv}")
            if check:
                # a check may amend the object it is shown (an eviction's condition): it is what gets written
                check(tx, obj, None)
            return self._delete_op(tx, info, cur, obj, grace, propagation)

        return await self._submit(op)

    def _delete_op(self, tx: Txn, info: KindInfo, cur: Record, obj, grace, propagation):
        meta = obj.metadata
        changed = False
        for policy, finalizer in (("Foreground", "foregroundDeletion"), ("Orphan", "orphan")):
            if propagation == policy and finalizer not in meta.finalizers:
                meta.finalizers.append(finalizer)
                changed = True
        period = info.strategy.grace_period(obj, grace) if info.strategy.grace_period else None
        if period is not None:
            # clamped, so that the deletion timestamp stays a time (a pod asking for 2^63 s still goes)
            period = min(period, MAX_GRACE_PERIOD_SECONDS)
            if period > 0 and (not meta.deletionTimestamp or period < meta.deletionGracePeriodSeconds):
                # whoever runs the object (a pod's kubelet) finishes it, then deletes with grace 0
                meta.deletionTimestamp = rfc3339(self.clock.now() + period)
                meta.deletionGracePeriodSeconds = period
                return tx.put(info.kind, obj, cur).raw
            if period > 0:
                return cur.raw if not changed else tx.put(info.kind, obj, cur).raw
            meta.deletionGracePeriodSeconds = 0
        if meta.finalizers:
            if not meta.deletionTimestamp:
                meta.deletionTimestamp = rfc3339(self.clock.now())
                meta.deletionGracePeriodSeconds = 0
                changed = True
            return tx.put(info.kind, obj, cur).raw if changed else cur.raw
        if info.strategy.removes_namespace_contents:
            self._delete_namespace_contents(tx, meta.name)
        return tx.remove(info.kind, obj, cur).raw

    def _delete_namespace_contents(self, tx: Txn, namespace: str) -> None:
        # Upstream's namespace controller empties a terminating namespace; here it happens in the
        # same transaction so a namespace never outlives or leaks its objects.
        for kind, kinfo in KINDS.items():
            if kinfo.namespaced:
                for rec in list(tx.list(kind, namespace)):
                    tx.remove(kind, rec.decode(), rec)

    async def bind(self, namespace: str, name: str, node: str, uid: str = "", check: Callable | None = None,
                   annotations: dict | None = None):
        info = POD
        namespace = namespace or "default"

        def op(tx: Txn):
            cur = tx.get(POD.kind, namespace, name)
            if cur is None:
                raise NotFound(f"{_what(info, name)} not found")
            pod = cur.decode()
            if uid and pod.metadata.uid != uid:
                raise Conflict(f"Operation cannot be fulfilled on {_what(info, name)}: the UID in the "
                               f"binding does not match the pod")
            if pod.spec.nodeName:
                raise Conflict(f"Operation cannot be fulfilled on {_what(info, name)}: pod {name} is already "
                               f"assigned to node \"{pod.spec.nodeName}\"")
            if pod.metadata.deletionTimestamp:
                raise Conflict(f"Operation cannot be fulfilled on {_what(info, name)}: pod {name} is being "
                               "deleted, cannot be assigned to a host")
            if check:
                check(tx, pod, None)
            pod.spec.nodeName = node
            if annotations:
                pod.metadata.annotations.update(annotations)
            _set_pod_condition(pod, "PodScheduled", "True", rfc3339(self.clock.now()))
            return tx.put(POD.kind, pod, cur).raw

        return await self._submit(op)


def _set_pod_condition(pod, type_: str, status: str, now: str) -> None:
    for c in pod.status.conditions:
        if c.type == type_:
            if c.status != status:
                c.status, c.lastTransitionTime = status, now
            return
    c = pod.status.conditions.add()
    c.type, c.status, c.lastTransitionTime = type_, status, now


def _check_type_meta(info: KindInfo, obj) -> None:
    if obj.kind and obj.kind != info.kind:
        raise BadRequest(f"kind {obj.kind} does not match {info.kind}")
    if obj.apiVersion and obj.apiVersion != info.api_version:
        raise BadRequest(f'no matches for kind "{info.kind}" in version "{obj.apiVersion}"')
    obj.apiVersion, obj.kind = info.api_version, info.kind


def _invalid(info: KindInfo, name: str, errors: list[tuple[str, str]]) -> Invalid:
    detail = ", ".join(f"{p}: {m}" if p else m for p, m in errors)
    return Invalid(f'{info.kind} "{name}" is invalid: [{detail}]' if len(errors) > 1
                   else f'{info.kind} "{name}" is invalid: {detail}', errors)
