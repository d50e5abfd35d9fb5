"""Leader election through a coordination.k8s.io Lease, after client-go's tools/leaderelection.

A candidate tries every `retry_period` to take the Lease: it may when nobody holds it (no holder, or
the holder released it) or when the holder's record has not changed for `lease_duration` by the
candidate's own clock (it never compares its clock with the holder's timestamps, so clock skew between
processes does not matter). The leader renews every `retry_period`; if it cannot renew for
`renew_deadline` it has lost the lease and must stop acting. A leader that stops cleanly releases the
Lease (empty holder) so a standby takes over at its next try instead of after `lease_duration`.

Every write is a compare-and-swap on the Lease's resourceVersion, so two candidates never both win."""
from __future__ import annotations

import logging
import os
import socket
import uuid

from minik8s.api.clock import Clock, rfc3339_micro
from minik8s.api.errors import AlreadyExists, ApiError, Conflict, NotFound
from minik8s.api.pb import coordination_pb2
from minik8s.client.events import NORMAL

log = logging.getLogger("minik8s.controllers.leaderelection")

LEASE_DURATION = 15.0
RENEW_DEADLINE = 10.0
RETRY_PERIOD = 2.0


def default_identity() -> str:
    """upstream: hostname + "_" + a fresh uuid, unique per process."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


class LeaderElector:
    def __init__(self, client, namespace: str, name: str, identity: str | None = None,
                 clock: Clock | None = None, lease_duration: float = LEASE_DURATION,
                 renew_deadline: float = RENEW_DEADLINE, retry_period: float = RETRY_PERIOD,
                 recorder=None):
        if lease_duration <= renew_deadline:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if renew_deadline <= retry_period:
            raise ValueError("renewDeadline must be greater than retryPeriod")
        self.client = client
        self.namespace, self.name = namespace, name
        self.identity = identity or default_identity()
        self.clock = clock or Clock()
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.recorder = recorder
        self._observed_spec: bytes | None = None
        self._observed_at = 0.0
        self._lease: coordination_pb2.Lease | None = None
        self.leading = False

    # ------------------------------------------------------------------ public
    async def acquire(self) -> None:
        """Return once this candidate holds the Lease (retrying every retry_period)."""
        log.info("%s: attempting to acquire leader lease %s/%s", self.identity, self.namespace, self.name)
        while True:
            if await self._try_acquire_or_renew():
                self.leading = True
                log.info("%s: successfully acquired lease %s/%s", self.identity, self.namespace, self.name)
                if self.recorder is not None and self._lease is not None:
                    self.recorder.eventf(self._lease, NORMAL, "LeaderElection", "%s became leader", self.identity)
                return
            await self.clock.sleep(self.retry_period)

    async def hold(self) -> None:
        """Renew until renewing fails for renew_deadline; then return (leadership lost)."""
        while True:
            await self.clock.sleep(self.retry_period)
            deadline = self.clock.monotonic() + self.renew_deadline
            while True:
                if await self._try_acquire_or_renew():
                    break
                if self.clock.monotonic() + self.retry_period > deadline:
                    self.leading = False
                    log.error("%s: failed to renew lease %s/%s: leadership lost", self.identity,
                              self.namespace, self.name)
                    return
                await self.clock.sleep(self.retry_period)

    async def release(self) -> None:
        """Give the Lease up if we hold it, so a standby takes over at once."""
        if not self.leading or self._lease is None:
            return
        self.leading = False
        lease = coordination_pb2.Lease()
        lease.CopyFrom(self._lease)
        if lease.spec.holderIdentity != self.identity:
            return
        now = rfc3339_micro(self.clock.now())
        lease.spec.holderIdentity = ""
        lease.spec.leaseDurationSeconds = 1
        lease.spec.acquireTime = now
        lease.spec.renewTime = now
        try:
            await self.client.update(lease)
            log.info("%s: released lease %s/%s", self.identity, self.namespace, self.name)
        except ApiError as e:
            log.warning("%s: could not release lease: %s", self.identity, e)

    # ------------------------------------------------------------------ one attempt
    def _record(self, spec) -> None:
        raw = spec.SerializeToString(deterministic=True)
        if raw != self._observed_spec:
            self._observed_spec = raw
            self._observed_at = self.clock.monotonic()

    async def _try_acquire_or_renew(self) -> bool:
        now = rfc3339_micro(self.clock.now())
        try:
            lease = await self.client.get("Lease", self.name, self.namespace)
        except NotFound:
            lease = coordination_pb2.Lease(apiVersion="coordination.k8s.io/v1", kind="Lease")
            lease.metadata.name, lease.metadata.namespace = self.name, self.namespace
            lease.spec.holderIdentity = self.identity
            lease.spec.leaseDurationSeconds = int(self.lease_duration)
            lease.spec.acquireTime = now
            lease.spec.renewTime = now
            lease.spec.leaseTransitions = 0
            try:
                self._lease = await self.client.create(lease)
            except (AlreadyExists, ApiError) as e:
                log.debug("%s: creating lease failed: %s", self.identity, e)
                return False
            self._record(self._lease.spec)
            return True
        except ApiError as e:
            log.warning("%s: error retrieving lease %s/%s: %s", self.identity, self.namespace, self.name, e)
            return False

        self._record(lease.spec)
        holder = lease.spec.holderIdentity if lease.spec.HasField("holderIdentity") else ""
        duration = lease.spec.leaseDurationSeconds if lease.spec.HasField("leaseDurationSeconds") \
            else self.lease_duration
        if holder and holder != self.identity and \
                self._observed_at + duration > self.clock.monotonic():
            log.debug("%s: lease is held by %s and has not yet expired", self.identity, holder)
            return False
        new = coordination_pb2.Lease()
        new.CopyFrom(lease)
        if holder != self.identity:
            new.spec.acquireTime = now
            transitions = lease.spec.leaseTransitions if lease.spec.HasField("leaseTransitions") else 0
            new.spec.leaseTransitions = transitions + 1
        new.spec.holderIdentity = self.identity
        new.spec.leaseDurationSeconds = int(self.lease_duration)
        new.spec.renewTime = now
        try:
            self._lease = await self.client.update(new)
        except (Conflict, NotFound) as e:
            log.debug("%s: updating lease failed: %s", self.identity, e)
            return False
        except ApiError as e:
            log.warning("%s: updating lease failed: %s", self.identity, e)
            return False
        self._record(self._lease.spec)
        return True


def identity_from_env() -> str:
    return os.environ.get("MINIK8S_CONTROLLER_IDENTITY") or default_identity()
