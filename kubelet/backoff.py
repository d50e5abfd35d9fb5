"""Restart backoff, after client-go's flowcontrol.Backoff as the kubelet uses it for CrashLoopBackOff and
ImagePullBackOff: a per-key delay that starts at `base`, doubles on each failure up to `cap`, and is
forgotten once the key has gone `2 * cap` without a failure (upstream: 10 s doubling to 300 s, reset
after 10 minutes of clean running). Time comes from the injected Clock."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable

from minik8s.api.clock import Clock


@dataclass
class _Entry:
    backoff: float
    last_update: float


class Backoff:
    def __init__(self, base: float = 10.0, cap: float = 300.0, clock: Clock | None = None):
        self.base, self.cap = base, cap
        self.clock = clock or Clock()
        self._entries: dict[Hashable, _Entry] = {}

    def _expired(self, entry: _Entry, event_time: float) -> bool:
        return event_time - entry.last_update > 2 * self.cap

    def in_backoff_since(self, key: Hashable, event_time: float) -> bool:
        """Whether `key`, which last failed at `event_time`, must still wait before its next try."""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, event_time):
            return False
        return self.clock.now() - event_time < entry.backoff

    def remaining(self, key: Hashable, event_time: float) -> float:
        """Seconds left of the wait that began at `event_time` (0 when none)."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        return max(0.0, entry.backoff - (self.clock.now() - event_time))

    def current(self, key: Hashable) -> float:
        entry = self._entries.get(key)
        return entry.backoff if entry else 0.0

    def next(self, key: Hashable, event_time: float) -> None:
        """Count a failure of `key` at `event_time`: the next wait doubles (or starts at base)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, event_time):
            self._entries[key] = _Entry(self.base, event_time)
        else:
            entry.backoff = min(entry.backoff * 2, self.cap)
            entry.last_update = event_time

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: Hashable) -> None:
        """Drop every tuple key that starts with `prefix` (a pod's uid)."""
        for k in [k for k in self._entries if isinstance(k, tuple) and k and k[0] == prefix]:
            del self._entries[k]
