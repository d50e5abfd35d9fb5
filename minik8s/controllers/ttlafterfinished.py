"""The TTL-after-finished controller, after upstream's pkg/controller/ttlafterfinished: a finished
Job (condition Complete or Failed) with `spec.ttlSecondsAfterFinished` is deleted that many seconds
after it finished, in the background, so the garbage collector takes its pods.

The finish time is the terminal condition's lastTransitionTime; a Job not yet due is re-queued for
the time left on the injected clock. Before deleting, a live read confirms the Job is still the same
finished one with the same TTL (the cache may be behind a user's edit), and the delete carries its
uid and resourceVersion as preconditions."""
from __future__ import annotations

import logging

from minik8s.api.clock import parse_time
from minik8s.api.errors import Conflict, NotFound
from minik8s.client.informer import key_of

from minik8s.controllers.base import Controller, ControllerContext, split_key

log = logging.getLogger("minik8s.controllers.ttlafterfinished")


def finish_time(job) -> float | None:
    """When the Job finished (its Complete or Failed condition turned True), or None if it has not."""
    for c in job.status.conditions:
        if c.type in ("Complete", "Failed") and c.status == "True":
            return parse_time(c.lastTransitionTime) or None
    return None


def needs_cleanup(job) -> bool:
    return job.spec.HasField("ttlSecondsAfterFinished") and not job.metadata.deletionTimestamp \
        and finish_time(job) is not None


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.job_informer = ctx.informers.informer("Job")
        self.job_informer.add_event_handler(self._changed, lambda old, cur: self._changed(cur), None)

    def _changed(self, job) -> None:
        if needs_cleanup(job):
            self.enqueue(key_of(job))

    def time_left(self, job) -> float | None:
        """Seconds until the Job expires (<= 0: due), or None when it never does."""
        if not needs_cleanup(job):
            return None
        return finish_time(job) + job.spec.ttlSecondsAfterFinished - self.clock.now()

    async def sync(self, key: str) -> None:
        job = self.job_informer.get(key)
        if job is None or (left := self.time_left(job)) is None:
            return
        if left > 0:
            self.enqueue_after(key, left)
            return
        namespace, name = split_key(key)
        try:
            fresh = await self.client.get("Job", name, namespace)
        except NotFound:
            return
        if fresh.metadata.uid != job.metadata.uid or (left := self.time_left(fresh)) is None:
            return
        if left > 0:
            self.enqueue_after(key, left)
            return
        log.info("deleting finished job %s (ttlSecondsAfterFinished %d)", key,
                 fresh.spec.ttlSecondsAfterFinished)
        try:
            await self.client.delete("Job", name, namespace, propagation_policy="Background",
                                     preconditions={"uid": fresh.metadata.uid,
                                                    "resourceVersion": fresh.metadata.resourceVersion})
        except NotFound:
            pass
        except Conflict:
            self.enqueue(key)          # it changed since the read: look again
