"""A feed: the cluster as one bearer token sees it, kept current by informers (list, then watch) on the
API server and offered to the pages that hold that token. Each change becomes a summary (summaries.py);
one that leaves the summary as it was (a node's heartbeat) is not sent. Every page gets a snapshot,
then the changes in order; a page too slow to keep up is sent a fresh snapshot instead of a backlog.
An HPA's samples are kept here, so a page opened late still draws its history."""
from __future__ import annotations

import asyncio
import collections
import json
import logging
import time

from minik8s.api import kinds
from minik8s.client.informer import SharedInformerFactory, key_of
from minik8s.dashboard.summaries import DECISION_ANNOTATION, SUMMARIES

log = logging.getLogger("minik8s.dashboard")

PAGE_BACKLOG = 10_000        # changes queued for one page before it is sent a snapshot instead
EVENTS_KEPT = 200            # the newest events a snapshot carries
HPA_SAMPLES = 720            # an HPA's samples kept: an hour at the controller's 5 s sync
SYNC_WAIT_S = 3.0            # how long a new feed waits for its first lists
RESYNC = object()            # a page's queue marker: send a snapshot
END = object()               # ... and: the feed stopped (its token no longer works), end the stream


class Feed:
    def __init__(self, client):
        self.client = client
        self.factory = SharedInformerFactory(client)
        self.objects: dict[str, dict[str, dict]] = {info.kind: {} for info in SUMMARIES}
        self.samples: dict[str, collections.deque] = {}
        self.pages: set[asyncio.Queue] = set()
        self.user = ""
        for info, summarize in SUMMARIES.items():
            self.factory.informer(info).add_event_handler(
                on_add=lambda o, i=info, s=summarize: self._upsert(i.kind, o, s),
                on_update=lambda _old, o, i=info, s=summarize: self._upsert(i.kind, o, s),
                on_delete=lambda o, i=info: self._delete(i.kind, o))

    async def start(self) -> None:
        """Start the watches, and wait a little for their first lists, so the first page's snapshot
        holds the cluster (a kind the token may not list never lists: that wait is cut short)."""
        await self.factory.start_all()
        await self.factory.wait_for_cache_sync(SYNC_WAIT_S)

    def stop(self) -> asyncio.Future:
        return self.factory.stop_all()

    # ---------------------------------------------------------------- pages
    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(PAGE_BACKLOG)
        self.pages.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self.pages.discard(q)

    def end_pages(self) -> None:
        for q in self.pages:
            while not q.empty():
                q.get_nowait()
            q.put_nowait(END)

    def snapshot(self) -> dict:
        objects = dict(self.objects)
        events = sorted(objects[kinds.EVENT.kind].values(), key=lambda e: e["time"])
        objects[kinds.EVENT.kind] = {f"{e['ns']}/{e['name']}": e for e in events[-EVENTS_KEPT:]}
        return {"user": self.user, "objects": objects}

    def decision(self, namespace: str, name: str) -> dict | None:
        """The scheduler's decision record of a pod, from the watch cache; None when it has none."""
        pod = self.factory.informer(kinds.POD).get_by(namespace, name)
        raw = pod.metadata.annotations.get(DECISION_ANNOTATION) if pod is not None else None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    # ---------------------------------------------------------------- changes
    def _upsert(self, kind: str, obj, summarize) -> None:
        key, summary = key_of(obj), summarize(obj)
        if kind == kinds.HORIZONTAL_POD_AUTOSCALER.kind:
            summary["samples"] = self._sample(key, summary)
        if self.objects[kind].get(key) == summary:
            return
        self.objects[kind][key] = summary
        self._send({"kind": kind, "key": key, "object": summary})

    def _delete(self, kind: str, obj) -> None:
        key = key_of(obj)
        if self.objects[kind].pop(key, None) is not None:
            self.samples.pop(key, None)
            self._send({"kind": kind, "key": key, "object": None})

    def _sample(self, key: str, hpa: dict) -> list:
        samples = self.samples.setdefault(key, collections.deque(maxlen=HPA_SAMPLES))
        point = [hpa["utilization"], hpa["targetUtilization"], hpa["replicas"], hpa["desired"]]
        if not samples or samples[-1][1:] != point:
            samples.append([round(time.time(), 3), *point])
        return list(samples)

    def _send(self, change: dict) -> None:
        for q in self.pages:
            try:
                q.put_nowait(change)
            except asyncio.QueueFull:
                # behind by a whole backlog: what it holds is stale, a snapshot replaces it
                while not q.empty():
                    q.get_nowait()
                q.put_nowait(RESYNC)
