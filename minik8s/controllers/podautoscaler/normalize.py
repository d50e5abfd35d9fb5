"""Turning a metric proposal into the replica count to set, after upstream's horizontal.go
normalization: stabilization over recent recommendations, then rate and min/max limits.

Without `behavior` (the legacy path) the highest recommendation of the downscale stabilization
window (300 s) wins and a step may at most double the count (at least to 4). With `behavior`, the
lowest recommendation of the scale-up window and the highest of the scale-down window bound the
result, and each direction's policies (Pods or Percent over periodSeconds, combined by selectPolicy
Max, Min or Disabled) limit the change against the count at the start of their period, computed from
the scale events this controller recorded. `Recommender` keeps those recommendations and events per
HPA; every method takes `now` from the controller's clock. Each step returns the AbleToScale or
ScalingLimited reason and message upstream sets."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

DOWNSCALE_STABILIZATION_WINDOW = 300.0     # upstream --horizontal-pod-autoscaler-downscale-stabilization
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0

SCALE_UP_STABILIZED = ("ScaleUpStabilized", "recent recommendations were lower than current one, "
                                            "applying the lowest recent recommendation")
SCALE_DOWN_STABILIZED = ("ScaleDownStabilized", "recent recommendations were higher than current one, "
                                                "applying the highest recent recommendation")
READY_FOR_NEW_SCALE = ("ReadyForNewScale", "recommended size matches current size")
WITHIN_RANGE = ("DesiredWithinRange", "the desired count is within the acceptable range")
SCALE_UP_LIMIT = ("ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
SCALE_DOWN_LIMIT = ("ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate")
TOO_MANY = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
TOO_FEW = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")


@dataclass(frozen=True)
class Policy:
    type: str               # Pods | Percent
    value: int
    period_seconds: int


@dataclass(frozen=True)
class ScalingRules:
    stabilization_window: float
    select_policy: str = "Max"            # Max | Min | Disabled
    policies: tuple[Policy, ...] = ()


@dataclass
class _History:
    recommendations: list[tuple[int, float]] = field(default_factory=list)   # (replicas, when)
    scale_up_events: list[tuple[int, float]] = field(default_factory=list)   # (replicas added, when)
    scale_down_events: list[tuple[int, float]] = field(default_factory=list)


def _changed_in_period(events: list[tuple[int, float]], period: float, now: float) -> int:
    return sum(change for change, when in events if when > now - period)


def scale_up_limit(current: int, up_events, down_events, rules: ScalingRules, now: float) -> int:
    """The most replicas the scale-up policies allow now (upstream calculateScaleUpLimitWithScalingRules)."""
    if rules.select_policy == "Disabled":
        return current
    pick = min if rules.select_policy == "Min" else max
    result = None
    for p in rules.policies:
        start = (current - _changed_in_period(up_events, p.period_seconds, now)
                 + _changed_in_period(down_events, p.period_seconds, now))
        proposed = start + p.value if p.type == "Pods" else math.ceil(start * (1 + p.value / 100))
        result = proposed if result is None else pick(result, proposed)
    return current if result is None else result


def scale_down_limit(current: int, up_events, down_events, rules: ScalingRules, now: float) -> int:
    """The fewest replicas the scale-down policies allow now (upstream calculateScaleDownLimitWithBehaviors)."""
    if rules.select_policy == "Disabled":
        return current
    pick = max if rules.select_policy == "Min" else min
    result = None
    for p in rules.policies:
        start = (current - _changed_in_period(up_events, p.period_seconds, now)
                 + _changed_in_period(down_events, p.period_seconds, now))
        proposed = start - p.value if p.type == "Pods" else int(start * (1 - p.value / 100))
        result = proposed if result is None else pick(result, proposed)
    return current if result is None else result


def convert_with_rules(current: int, desired: int, min_replicas: int, max_replicas: int) -> tuple[int, str, str]:
    """The legacy limits (upstream convertDesiredReplicasWithRules): min, max, and at most
    max(2 x current, 4) in one step."""
    scale_up = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
    if max_replicas > scale_up:
        maximum, limiting = scale_up, SCALE_UP_LIMIT
    else:
        maximum, limiting = max_replicas, TOO_MANY
    if desired < min_replicas:
        return (min_replicas, *TOO_FEW)
    if desired > maximum:
        return (maximum, *limiting)
    return (desired, *WITHIN_RANGE)


class Recommender:
    """The recommendations and scale events of every HPA this controller runs, by key."""

    def __init__(self, downscale_stabilization_window: float = DOWNSCALE_STABILIZATION_WINDOW):
        self.downscale_window = downscale_stabilization_window
        self._history: dict[str, _History] = {}

    def forget(self, key: str) -> None:
        self._history.pop(key, None)

    def record_initial(self, key: str, current: int, now: float) -> None:
        """The first look at an HPA counts the current size as a recommendation, so a fresh
        controller does not scale down at once."""
        if key not in self._history:
            self._history[key] = _History(recommendations=[(current, now)])

    def _record(self, key: str, desired: int, now: float, cutoff: float) -> None:
        # samples older than every window are dropped as new ones come in
        recs = self._history.setdefault(key, _History()).recommendations
        recs[:] = [r for r in recs if r[1] >= cutoff]
        recs.append((desired, now))

    def stabilize(self, key: str, desired: int, now: float) -> tuple[int, str, str]:
        """Legacy stabilization: the highest recommendation of the downscale window, this one included."""
        cutoff = now - self.downscale_window
        recs = self._history.get(key, _History()).recommendations
        highest = max([desired] + [r for r, when in recs if when >= cutoff])
        self._record(key, desired, now, cutoff)
        return (highest, *(SCALE_DOWN_STABILIZED if highest != desired else READY_FOR_NEW_SCALE))

    def stabilize_with_behavior(self, key: str, current: int, desired: int, up: ScalingRules,
                                down: ScalingRules, now: float) -> tuple[int, str, str]:
        """upstream stabilizeRecommendationWithBehaviors: current raised to the lowest recommendation
        of the scale-up window, lowered to the highest of the scale-down window."""
        up_cutoff, down_cutoff = now - up.stabilization_window, now - down.stabilization_window
        recs = self._history.get(key, _History()).recommendations
        up_rec = min([desired] + [r for r, when in recs if when > up_cutoff])
        down_rec = max([desired] + [r for r, when in recs if when > down_cutoff])
        result = min(max(current, up_rec), down_rec)
        self._record(key, desired, now, min(up_cutoff, down_cutoff))
        if result == desired:
            return (result, *READY_FOR_NEW_SCALE)
        return (result, *(SCALE_UP_STABILIZED if desired >= current else SCALE_DOWN_STABILIZED))

    def limit_with_behavior(self, key: str, current: int, desired: int, min_replicas: int, max_replicas: int,
                            up: ScalingRules, down: ScalingRules, now: float) -> tuple[int, str, str]:
        """upstream convertDesiredReplicasWithBehaviorRate: the policies' rate, then min and max."""
        h = self._history.get(key, _History())
        if desired > current:
            limit = max(scale_up_limit(current, h.scale_up_events, h.scale_down_events, up, now), current)
            maximum, limiting = (limit, SCALE_UP_LIMIT) if max_replicas > limit else (max_replicas, TOO_MANY)
            if desired > maximum:
                return (maximum, *limiting)
        elif desired < current:
            limit = min(scale_down_limit(current, h.scale_up_events, h.scale_down_events, down, now), current)
            minimum, limiting = (limit, SCALE_DOWN_LIMIT) if min_replicas < limit else (min_replicas, TOO_FEW)
            if desired < minimum:
                return (minimum, *limiting)
        return (desired, *WITHIN_RANGE)

    def record_scale(self, key: str, up: ScalingRules, down: ScalingRules, previous: int, new: int,
                     now: float) -> None:
        """Remember a rescale for the rate policies, keeping only what the longest period still sees."""
        h = self._history.setdefault(key, _History())
        rules, events = (up, h.scale_up_events) if new > previous else (down, h.scale_down_events)
        longest = max((p.period_seconds for p in rules.policies), default=0)
        events[:] = [e for e in events if e[1] > now - longest]
        events.append((abs(new - previous), now))
