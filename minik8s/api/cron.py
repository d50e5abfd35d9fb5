"""A CronJob's schedule: the standard five-field cron format, the @hourly/@daily/... macros and
`@every <duration>`, read in a time zone, as upstream's parser (robfig/cron ParseStandard) accepts
them. `parse` says what is wrong with a bad schedule in upstream's words; `Schedule.next` and
`Schedule.most_recent` are what the CronJob controller plans with. croniter does the calendar work.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
           "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_GO_DURATION = re.compile(r"(?:(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# upstream's validTimeZoneCharacters, checked per path segment before loading the zone
_TZ_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")


class ScheduleError(ValueError):
    pass


def load_time_zone(name: str) -> ZoneInfo:
    """The IANA zone `name` (Go's time.LoadLocation); ScheduleError("unknown time zone X") if none."""
    parts = name.split("/")
    if any(p in (".", "..") or p.startswith("-") or not _TZ_PART.fullmatch(p) for p in parts):
        raise ScheduleError(f"unknown time zone {name}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name}") from None


def _go_duration(text: str) -> float:
    if not _GO_DURATION.fullmatch(text):
        raise ScheduleError(f'failed to parse duration @every {text}: time: invalid duration "{text}"')
    return sum(float(n) * _GO_UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", text))


def parse(schedule: str, tz: ZoneInfo | None = None) -> "Schedule":
    """Parse `schedule` (a leading TZ=/CRON_TZ= picks its zone, as upstream's parser allows for old
    objects); ScheduleError carries upstream's message."""
    spec = schedule.strip()
    if spec.startswith(("TZ=", "CRON_TZ=")):
        zone, _, spec = spec.partition(" ")
        tz = load_time_zone(zone.split("=", 1)[1])
        spec = spec.strip()
    if spec.startswith("@every "):
        return Schedule(None, max(1.0, float(int(_go_duration(spec[len("@every "):].strip())))), tz)
    if spec.startswith("@"):
        if spec not in _MACROS:
            raise ScheduleError(f"unrecognized descriptor: {spec}")
        spec = _MACROS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    from croniter import croniter           # here, not at the top: with dateutil it costs a process
    from croniter.croniter import CroniterError     # that has no CronJob to parse 3-4 MB
    try:
        croniter(spec)
    except CroniterError as e:
        raise ScheduleError(str(e)) from None
    return Schedule(spec, 0.0, tz)


class Schedule:
    """A parsed schedule in its zone (UTC when none is given)."""

    def __init__(self, expr: str | None, every: float, tz: ZoneInfo | None):
        self.expr, self.every, self.tz = expr, every, tz or timezone.utc

    def _at(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, self.tz)

    def next(self, after: float) -> float | None:
        """The first activation strictly after `after` (seconds since the epoch); None if never."""
        if self.expr is None:
            return float(int(after)) + self.every
        from croniter import croniter
        from croniter.croniter import CroniterBadDateError
        try:
            return croniter(self.expr, self._at(after)).get_next(datetime).timestamp()
        except CroniterBadDateError:
            return None            # a date that never comes, such as 30 February

    def most_recent(self, since: float, now: float) -> tuple[float | None, int]:
        """The latest activation in (since, now] and how many there were (upstream
        mostRecentScheduleTime); (None, 0) when none is due."""
        t1 = self.next(since)
        if t1 is None or t1 > now:
            return None, 0
        t2 = self.next(t1)
        if t2 is None or t2 > now:
            return t1, 1
        if self.expr is None:
            missed = int((now - t1) // self.every) + 1
            return t1 + (missed - 1) * self.every, missed
        from croniter import croniter
        latest = croniter(self.expr, self._at(now)).get_prev(datetime).timestamp()
        following = self.next(latest)
        if following is not None and following <= now:
            latest = following
        # counting one by one is exact for irregular schedules; beyond the threshold the warning
        # only needs an estimate, taken from the first interval as upstream does
        count, t = 2, t2
        while count <= 101:
            t = self.next(t)
            if t is None or t > now:
                return latest, count
            count += 1
        return latest, int((now - t1) // (t2 - t1)) + 1


def scheduled_timestamp(ts: float, tz: ZoneInfo | None) -> str:
    """The time a Job was scheduled for, RFC 3339 in the CronJob's zone (upstream's annotation)."""
    at = datetime.fromtimestamp(int(ts), tz or timezone.utc)
    if at.utcoffset() == timedelta(0):
        return at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return at.isoformat()
