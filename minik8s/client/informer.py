"""Informers, after client-go's shared informer and reflector: list a kind, then watch it from the
list's resourceVersion, keeping a local indexed cache that the scheduler and controllers read instead of
the API server, and telling registered handlers about every add, update and delete.

The watch resumes from the last resourceVersion its stream delivered (bookmarks included), after an
exponential backoff timed by the injected Clock; when that version has left the server's window
(Expired) the informer lists again and diffs the list against its cache, so handlers still see each
change once. Cached objects are shared by every reader: never mutate one, take a `copy()`."""
from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass
from typing import Callable, Iterable

from minik8s.api.clock import Clock
from minik8s.api.errors import Expired
from minik8s.client import transport as t

log = logging.getLogger("minik8s.client.informer")

NAMESPACE_INDEX = "namespace"
LABEL_INDEX = "label"              # values are "key=value"
NODE_NAME_INDEX = "spec.nodeName"  # pods only; unscheduled pods index under ""

BACKOFF_BASE = 0.2
BACKOFF_CAP = 10.0

IndexFunc = Callable[[object], "Iterable[str] | str | None"]


def key_of(obj) -> str:
    """The cache key: `namespace/name`, or `name` for a cluster-scoped object."""
    meta = obj.metadata
    return f"{meta.namespace}/{meta.name}" if meta.namespace else meta.name


def copy(obj):
    """A private copy of a cached object, safe to change and send back to the server."""
    out = type(obj)()
    out.CopyFrom(obj)
    return out


def _by_namespace(obj) -> str:
    return obj.metadata.namespace


def _by_label(obj) -> list[str]:
    return [f"{k}={v}" for k, v in obj.metadata.labels.items()]


def _by_node_name(pod) -> str:
    return pod.spec.nodeName


class Indexer:
    """The informer's cache: objects by key, and for each index a map from value to the keys of the
    objects whose index function yields that value."""

    def __init__(self):
        self._items: dict[str, object] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[str]]] = {}

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        if name in self._indexers:
            raise ValueError(f"indexer {name!r} already exists")
        self._indexers[name] = fn
        self._indices[name] = {}
        for key, obj in self._items.items():
            self._index_one(name, key, obj)

    def set(self, obj):
        """Store `obj` under its key; returns the object it replaced, or None."""
        key = key_of(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        for name in self._indexers:
            self._index_one(name, key, obj)
        return old

    def remove(self, key: str):
        """Drop `key`; returns the object it held, or None."""
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def get(self, key: str):
        return self._items.get(key)

    def keys(self) -> list[str]:
        return list(self._items)

    def list(self) -> list:
        return list(self._items.values())

    def by_index(self, name: str, value: str) -> list:
        """The objects indexed under `value`, in key order. KeyError for an unknown index."""
        keys = self._indices[name].get(value, ())
        return [self._items[k] for k in sorted(keys)]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def _values(self, name: str, obj) -> Iterable[str]:
        values = self._indexers[name](obj)
        if values is None:
            return ()
        return (values,) if isinstance(values, str) else values

    def _index_one(self, name: str, key: str, obj) -> None:
        index = self._indices[name]
        for v in self._values(name, obj):
            index.setdefault(v, set()).add(key)

    def _unindex(self, key: str, obj) -> None:
        for name, index in self._indices.items():
            for v in self._values(name, obj):
                keys = index.get(v)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[v]


@dataclass(frozen=True)
class _Handler:
    on_add: Callable | None
    on_update: Callable | None
    on_delete: Callable | None


class _Backoff:
    def __init__(self, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP):
        self.base, self.cap = base, cap
        self._next = base

    def reset(self) -> None:
        self._next = self.base

    def next(self) -> float:
        delay = self._next
        self._next = min(delay * 2, self.cap)
        return delay


class Informer:
    """One kind (optionally one namespace and selectors), listed and watched into an Indexer.

    Handlers run one notification at a time, in event order, on the informer's own task, after the
    cache already holds the change: they should only enqueue work. A handler may be a plain function
    or a coroutine function; one that raises is logged and the informer carries on."""

    def __init__(self, client, kind, namespace: str = "", label_selector: str = "", field_selector: str = "",
                 clock: Clock | None = None, resync_period: float = 0.0):
        self.client = client
        self.info = t.kind_info(kind)
        self.namespace = namespace if self.info.namespaced else ""
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.clock = clock or Clock()
        self.resync_period = resync_period
        self.name = self.info.plural + (f"/{self.namespace}" if self.namespace else "")
        self.indexer = Indexer()
        self.indexer.add_indexer(NAMESPACE_INDEX, _by_namespace)
        self.indexer.add_indexer(LABEL_INDEX, _by_label)
        if self.info.kind == "Pod":
            self.indexer.add_indexer(NODE_NAME_INDEX, _by_node_name)
        self.lists = 0      # how many times the informer has listed: 1, plus one per relist
        self._rv = ""
        self._handlers: tuple[_Handler, ...] = ()
        self._notifications: asyncio.Queue = asyncio.Queue()
        self._synced = asyncio.Event()
        self._backoff = _Backoff()
        self._tasks: list[asyncio.Task] = []

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start listing and watching in the background (once; later calls do nothing)."""
        if self._tasks:
            return
        self._tasks = [asyncio.create_task(self._dispatch_loop(), name=f"informer-{self.name}-handlers"),
                       asyncio.create_task(self._run(), name=f"informer-{self.name}")]
        if self.resync_period > 0:
            self._tasks.append(asyncio.create_task(self._resync_loop(), name=f"informer-{self.name}-resync"))

    async def wait_synced(self, timeout: float | None = None) -> bool:
        """Wait until the initial list is in the cache; False if `timeout` passed first."""
        try:
            await asyncio.wait_for(self._synced.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    @property
    def last_sync_resource_version(self) -> str:
        """The resourceVersion the next watch resumes from."""
        return self._rv

    def stop(self) -> asyncio.Future:
        """Stop at once; await the result to wait until the informer's tasks have ended."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        return asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ handlers and indexes
    def add_event_handler(self, on_add: Callable | None = None, on_update: Callable | None = None,
                          on_delete: Callable | None = None) -> None:
        """on_add(obj), on_update(old, new), on_delete(obj). A handler added after objects are cached
        first gets an on_add for each of them, as upstream's shared informer does."""
        handler = _Handler(on_add, on_update, on_delete)
        for obj in self.indexer.list():
            self._notifications.put_nowait(("add", None, obj, (handler,)))
        self._handlers = self._handlers + (handler,)

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        """Index the cache by `fn(obj)` (a string, strings, or None); read it with `by_index(name, v)`."""
        self.indexer.add_indexer(name, fn)

    # ------------------------------------------------------------------ reads (shared objects: do not mutate)
    def get(self, key: str):
        return self.indexer.get(key)

    def get_by(self, namespace: str, name: str):
        return self.indexer.get(f"{namespace}/{name}" if namespace and self.info.namespaced else name)

    def list(self) -> list:
        return self.indexer.list()

    def list_namespace(self, namespace: str) -> list:
        return self.indexer.by_index(NAMESPACE_INDEX, namespace)

    def by_index(self, name: str, value: str) -> list:
        return self.indexer.by_index(name, value)

    # ------------------------------------------------------------------ list and watch
    async def _run(self) -> None:
        while True:
            listed = False
            try:
                if not self._rv:
                    await self._relist()
                    listed = True
                await self._watch()
                log.debug("%s: watch ended at resourceVersion %s", self.name, self._rv)
            except asyncio.CancelledError:
                raise
            except Expired as e:
                log.info("%s: %s; relisting", self.name, e)
                self._rv = ""
                if not listed:
                    continue    # relist at once, unless a fresh list already expired (then back off)
            except Exception as e:
                log.warning("%s: list/watch failed: %s", self.name, e)
            await self.clock.sleep(self._backoff.next())

    async def _relist(self) -> None:
        result = await self.client.list(self.info, self.namespace, self.label_selector, self.field_selector)
        self.lists += 1
        self._replace(result.items)
        self._rv = result.resource_version
        self._synced.set()

    def _replace(self, items: list) -> None:
        """Make the cache equal the list, telling handlers what changed since the cache last saw it."""
        seen = set()
        for obj in items:
            seen.add(key_of(obj))
            old = self.indexer.set(obj)
            if old is None:
                self._notify("add", None, obj)
            elif old.metadata.uid != obj.metadata.uid:      # deleted and re-created while we were away
                self._notify("delete", None, old)
                self._notify("add", None, obj)
            elif old.metadata.resourceVersion != obj.metadata.resourceVersion:
                self._notify("update", old, obj)
        for key in self.indexer.keys():
            if key not in seen:
                self._notify("delete", None, self.indexer.remove(key))

    async def _watch(self) -> None:
        stream = self.client.watch(self.info, self.namespace, self._rv, self.label_selector,
                                   self.field_selector, bookmarks=True)
        async for ev in stream:
            self._backoff.reset()
            if ev.type != "BOOKMARK":
                self._apply(ev.type, ev.object)
            self._rv = ev.resource_version

    def _apply(self, type_: str, obj) -> None:
        if type_ == "DELETED":
            if self.indexer.remove(key_of(obj)) is not None:
                self._notify("delete", None, obj)
            return
        old = self.indexer.set(obj)
        if old is None:
            self._notify("add", None, obj)
        else:
            self._notify("update", old, obj)

    # ------------------------------------------------------------------ notifications
    def _notify(self, what: str, old, new) -> None:
        # The handler tuple is captured now, so a handler added later never sees this notification
        # as well as its own replay of the cache.
        self._notifications.put_nowait((what, old, new, self._handlers))

    async def _resync_loop(self) -> None:
        while True:
            await self.clock.sleep(self.resync_period)
            if self.has_synced:
                for obj in self.indexer.list():
                    self._notify("update", obj, obj)

    async def _dispatch_loop(self) -> None:
        while True:
            what, old, new, handlers = await self._notifications.get()
            for h in handlers:
                await self._call(h, what, old, new)

    async def _call(self, h: _Handler, what: str, old, new) -> None:
        try:
            if what == "add":
                result = h.on_add(new) if h.on_add else None
            elif what == "update":
                result = h.on_update(old, new) if h.on_update else None
            else:
                result = h.on_delete(new) if h.on_delete else None
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: %s handler failed for %s", self.name, what, key_of(new))


class SharedInformerFactory:
    """One informer per (kind, namespace, label selector, field selector), shared by every component
    of a process so they read one cache and the server serves one watch."""

    def __init__(self, client, clock: Clock | None = None, resync_period: float = 0.0):
        self.client = client
        self.clock = clock
        self.resync_period = resync_period
        self._informers: dict[tuple[str, str, str, str], Informer] = {}

    def informer(self, kind, namespace: str = "", label_selector: str = "",
                 field_selector: str = "") -> Informer:
        info = t.kind_info(kind)
        key = (info.kind, namespace if info.namespaced else "", label_selector, field_selector)
        inf = self._informers.get(key)
        if inf is None:
            inf = self._informers[key] = Informer(self.client, info, key[1], label_selector, field_selector,
                                                  self.clock, self.resync_period)
        return inf

    async def start_all(self) -> None:
        """Start every informer handed out so far (those already running are left alone)."""
        for inf in list(self._informers.values()):
            await inf.start()

    async def wait_for_cache_sync(self, timeout: float | None = None) -> bool:
        """Wait until every informer has listed; False if `timeout` passed first."""
        informers = list(self._informers.values())
        try:
            await asyncio.wait_for(asyncio.gather(*(inf.wait_synced() for inf in informers)), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def stop_all(self) -> asyncio.Future:
        return asyncio.gather(*(inf.stop() for inf in self._informers.values()))
