"""Zone-aware eviction rate limits, after upstream's node lifecycle controller (handleDisruption,
ComputeZoneState, setLimiterInZone and the zoneNoExecuteTainter queues): how fast nodes that stopped
being Ready get the NoExecute taint that evicts their pods.

Nodes are grouped in zones by their `topology.kubernetes.io/region` and `.../zone` labels (nodes
without them share the zone ""). A zone is in one of three states, from its nodes' Ready conditions:
FullDisruption when none is Ready, PartialDisruption when more than two are not Ready and they are at
least `unhealthyZoneThreshold` (0.55) of the zone, Normal otherwise. Each zone taints its nodes one at
a time, in the order they went bad, through a token bucket of burst 1 whose rate follows the state:
`nodeEvictionRate` (0.1 node/s) when Normal, `secondaryNodeEvictionRate` (0.01) when partially
disrupted in a zone of more than `largeClusterSizeThreshold` (50) nodes and none at all in a smaller
one, the normal rate again when fully disrupted (a zone lost alone, say a rack, is evicted). When every
zone is fully disrupted the fault is most likely the control plane's own view (its network, say), not
the nodes: no node is tainted, the NoExecute taints already there are removed, and the nodes get a
fresh grace period once some come back.

Everything here is pure and runs on the caller's clock readings, so tests drive time."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")

NODE_EVICTION_RATE = 0.1                 # upstream --node-eviction-rate, nodes per second
SECONDARY_NODE_EVICTION_RATE = 0.01      # upstream --secondary-node-eviction-rate
UNHEALTHY_ZONE_THRESHOLD = 0.55          # upstream --unhealthy-zone-threshold
LARGE_CLUSTER_SIZE_THRESHOLD = 50        # upstream --large-cluster-size-threshold

QUEUE_PERIOD = 0.1                       # upstream nodeEvictionPeriod: how often a waiting node asks again

INITIAL, NORMAL = "Initial", "Normal"
PARTIAL_DISRUPTION, FULL_DISRUPTION = "PartialDisruption", "FullDisruption"


def zone_key(labels) -> str:
    """upstream GetZoneKey: region and zone joined by ":\\x00:", "" when the node has neither."""
    region = next((labels[k] for k in REGION_LABELS if labels.get(k)), "")
    zone = next((labels[k] for k in ZONE_LABELS if labels.get(k)), "")
    return f"{region}:\x00:{zone}" if region or zone else ""


def compute_zone_state(ready: list[str], unhealthy_threshold: float = UNHEALTHY_ZONE_THRESHOLD) -> str:
    """A zone's state from its nodes' Ready statuses ("True", "False", "Unknown")."""
    ready_nodes = sum(1 for s in ready if s == "True")
    not_ready = len(ready) - ready_nodes
    if ready_nodes == 0 and not_ready > 0:
        return FULL_DISRUPTION
    if not_ready > 2 and not_ready / len(ready) >= unhealthy_threshold:
        return PARTIAL_DISRUPTION
    return NORMAL


class TokenBucket:
    """A token bucket of burst 1 (upstream's EvictionRateLimiterBurst) on the caller's clock; rate 0
    never grants a token."""

    def __init__(self, rate: float, now: float):
        self.rate = rate
        self._next = now            # when the one token is (or was) there

    def try_accept(self, now: float) -> bool:
        if self.rate <= 0 or now < self._next:
            return False
        self._next = now + 1.0 / self.rate
        return True

    def wait(self, now: float) -> float:
        """Seconds until a token is there (inf at rate 0)."""
        return math.inf if self.rate <= 0 else max(0.0, self._next - now)

    def swapped(self, rate: float, now: float) -> "TokenBucket":
        """upstream SwapLimiter: a new bucket at `rate`, drained if this one has no token now."""
        if rate == self.rate:
            return self
        new = TokenBucket(rate, now)
        if rate > 0 and not self.try_accept(now):
            new.try_accept(now)
        return new


@dataclass
class Zone:
    state: str
    limiter: TokenBucket
    waiting: dict[str, None] = field(default_factory=dict)     # nodes to taint, in the order they came


@dataclass
class DisruptionChange:
    entered: bool = False        # every zone is now fully disrupted: evictions stop
    exited: bool = False         # some node is Ready again after that
    zones: dict[str, str] = field(default_factory=dict)      # zone -> its new state


class ZoneEvictionLimits:
    def __init__(self, eviction_rate: float = NODE_EVICTION_RATE,
                 secondary_rate: float = SECONDARY_NODE_EVICTION_RATE,
                 unhealthy_threshold: float = UNHEALTHY_ZONE_THRESHOLD,
                 large_cluster_threshold: int = LARGE_CLUSTER_SIZE_THRESHOLD):
        self.eviction_rate = eviction_rate
        self.secondary_rate = secondary_rate
        self.unhealthy_threshold = unhealthy_threshold
        self.large_cluster_threshold = large_cluster_threshold
        self.zones: dict[str, Zone] = {}
        self.zone_of: dict[str, str] = {}        # node -> the zone whose queue holds it

    @property
    def all_disrupted(self) -> bool:
        """Every zone fully disrupted (upstream's "master disruption mode")."""
        return bool(self.zones) and all(z.state == FULL_DISRUPTION for z in self.zones.values())

    def rate_for(self, state: str, size: int) -> float:
        """upstream setLimiterInZone: HealthyQPSFunc for Normal and FullDisruption, ReducedQPSFunc
        for PartialDisruption."""
        if state == PARTIAL_DISRUPTION:
            return self.secondary_rate if size > self.large_cluster_threshold else 0.0
        return self.eviction_rate

    def update(self, ready_by_zone: dict[str, list[str]], now: float) -> DisruptionChange:
        """upstream handleDisruption: the zones' new states from their nodes' Ready statuses, and the
        rate of each zone's limiter to match."""
        was_all = self.all_disrupted
        for gone in set(self.zones) - set(ready_by_zone):
            for name in self.zones.pop(gone).waiting:
                self.zone_of.pop(name, None)
        for key in ready_by_zone:
            if key not in self.zones:
                self.zones[key] = Zone(INITIAL, TokenBucket(self.eviction_rate, now))
        new = {k: compute_zone_state(v, self.unhealthy_threshold) for k, v in ready_by_zone.items()}
        change = DisruptionChange()
        now_all = bool(new) and all(s == FULL_DISRUPTION for s in new.values())
        if now_all:
            change.entered = not was_all
            for key, zone in self.zones.items():
                zone.state, zone.limiter = FULL_DISRUPTION, zone.limiter.swapped(0.0, now)
            return change
        change.exited = was_all
        for key, zone in self.zones.items():
            if zone.state == new[key] and not change.exited:
                continue
            zone.state = new[key]
            zone.limiter = zone.limiter.swapped(self.rate_for(new[key], len(ready_by_zone[key])), now)
            change.zones[key] = new[key]
        return change

    def try_taint(self, name: str, zone: str, now: float) -> float:
        """Ask to taint `name`, a node of `zone` that went bad: 0 when it may be tainted now (it
        leaves the queue), else how long to wait before asking again (inf: until the zone changes)."""
        if self.zone_of.get(name) not in (None, zone):
            self.forget(name)
        z = self.zones.get(zone)
        if z is None:       # a zone no update has seen yet starts at the normal rate, as upstream's
            z = self.zones[zone] = Zone(INITIAL, TokenBucket(self.eviction_rate, now))
        z.waiting.setdefault(name)
        self.zone_of[name] = zone
        if self.all_disrupted:
            return math.inf
        if next(iter(z.waiting)) != name:      # the head takes the next token; ask again after it
            return max(z.limiter.wait(now), QUEUE_PERIOD)
        if not z.limiter.try_accept(now):
            return z.limiter.wait(now)
        self.forget(name)
        return 0.0

    def forget(self, name: str) -> None:
        """`name` needs no taint any more (Ready again, deleted, or tainted)."""
        zone = self.zone_of.pop(name, None)
        if zone is not None and zone in self.zones:
            self.zones[zone].waiting.pop(name, None)

    def waiting(self, zone: str) -> list[str]:
        z = self.zones.get(zone)
        return list(z.waiting) if z is not None else []
