"""The Deployment controller's helpers, after upstream's
pkg/controller/deployment/util/deployment_util.go: the pod-template hash, revisions and their
annotations, maxSurge/maxUnavailable resolution (surge rounds up, unavailable rounds down), replica
counting over ReplicaSets, conditions, and the complete / progressing / timed-out tests. The names on
the objects (annotations, labels, condition types and reasons) and what `minictl rollout` reads too
(revisions, templates without their hash) are minik8s/api/workloads.py's."""
from __future__ import annotations

import math
from typing import Iterable

from minik8s.api.clock import parse_time, rfc3339
from minik8s.api.pb import apps_pb2
# the controller reads the vocabulary through this module (`du.PROGRESSING`), beside the helpers
from minik8s.api.workloads import (AVAILABLE, DESIRED_REPLICAS_ANNOTATION, FAILED_RS_CREATE_REASON,  # noqa: F401
                                   FOUND_NEW_RS_REASON, MAX_REPLICAS_ANNOTATION, MIN_REPLICAS_AVAILABLE,
                                   MIN_REPLICAS_UNAVAILABLE, NEW_RS_AVAILABLE_REASON, NEW_RS_REASON,
                                   PAUSED_REASON, POD_TEMPLATE_HASH_LABEL, PROGRESSING, REPLICA_FAILURE,
                                   RESUMED_REASON, REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION,
                                   RS_UPDATED_REASON, SKIP_ANNOTATIONS, TIMED_OUT_REASON, equal_ignore_hash,
                                   get_condition, replicas_of, revision)

MAX_REV_HISTORY_LENGTH = 2000

_SAFE_CHARS = "bcdfghjklmnpqrstvwxz2456789"


# ---------------------------------------------------------------- hashing
def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """upstream rand.SafeEncodeString: map each character into an alphabet without vowels (no words)
    and without look-alikes."""
    return "".join(_SAFE_CHARS[ord(c) % len(_SAFE_CHARS)] for c in s)


def compute_hash(template, collision_count: int | None = None) -> str:
    """The `pod-template-hash` of a pod template: FNV-1a over its deterministic encoding (plus the
    collision count, when set, to move off a name taken by someone else), safe-encoded."""
    data = template.SerializeToString(deterministic=True)
    if collision_count is not None:
        data += int(collision_count).to_bytes(4, "little", signed=False)
    return safe_encode(str(_fnv32a(data)))


# ---------------------------------------------------------------- replicas and revisions
def max_revision(rss: Iterable) -> int:
    return max((revision(rs) for rs in rss if rs is not None), default=0)


def sum_spec(rss: Iterable) -> int:
    return sum(replicas_of(rs) for rs in rss if rs is not None)


def sum_actual(rss: Iterable) -> int:
    return sum(rs.status.replicas for rs in rss if rs is not None)


def sum_ready(rss: Iterable) -> int:
    return sum(rs.status.readyReplicas for rs in rss if rs is not None)


def sum_available(rss: Iterable) -> int:
    return sum(rs.status.availableReplicas for rs in rss if rs is not None)


def creation_key(rs):
    return (parse_time(rs.metadata.creationTimestamp), rs.metadata.name)


def by_creation(rss: Iterable) -> list:
    """Oldest first (upstream ReplicaSetsByCreationTimestamp)."""
    return sorted((rs for rs in rss if rs is not None), key=creation_key)


def by_revision(rss: Iterable) -> list:
    """Lowest revision first, then oldest (upstream ReplicaSetsByRevision)."""
    return sorted((rs for rs in rss if rs is not None), key=lambda rs: (revision(rs), creation_key(rs)))


def active(rss: Iterable) -> list:
    """ReplicaSets that should have pods (upstream FilterActiveReplicaSets)."""
    return [rs for rs in rss if rs is not None and replicas_of(rs) > 0]


def find_new_rs(d, rss: Iterable):
    """The ReplicaSet whose template is the Deployment's (the oldest, should there be several)."""
    for rs in by_creation(rss):
        if equal_ignore_hash(rs.spec.template, d.spec.template):
            return rs
    return None


def find_old_rss(d, rss: Iterable, new_rs) -> tuple[list, list]:
    """(old ReplicaSets that have pods, all old ReplicaSets)."""
    new_uid = new_rs.metadata.uid if new_rs is not None else None
    all_old = [rs for rs in rss if rs.metadata.uid != new_uid]
    return [rs for rs in all_old if replicas_of(rs) > 0], all_old


# ---------------------------------------------------------------- maxSurge / maxUnavailable
def int_or_percent(value, total: int, round_up: bool) -> int:
    """upstream intstr.GetScaledValueFromIntOrPercent for a google.protobuf.Value (number or "25%")."""
    kind = value.WhichOneof("kind") if value is not None else None
    if kind is None:
        return 0
    if kind == "number_value":
        return int(value.number_value)
    if kind == "string_value":
        s = value.string_value
        if s.endswith("%"):
            try:
                pct = int(s[:-1])
            except ValueError:
                raise ValueError(f"invalid value for IntOrString: invalid value {s!r}") from None
            scaled = pct * total / 100
            return math.ceil(scaled) if round_up else math.floor(scaled)
        try:
            return int(s)
        except ValueError:
            raise ValueError(f"invalid value for IntOrString: invalid type: string is not a percentage") from None
    raise ValueError(f"invalid value for IntOrString: {value}")


def resolve_fenceposts(max_surge, max_unavailable, desired: int) -> tuple[int, int]:
    """(surge, unavailable) in pods for `desired` replicas: surge rounds up, unavailable down, and when
    both come out 0, unavailable is 1 so that a rollout can proceed."""
    surge = int_or_percent(max_surge, desired, True)
    unavailable = int_or_percent(max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def is_rolling(d) -> bool:
    return d.spec.strategy.type == "RollingUpdate"


def max_surge(d) -> int:
    if not is_rolling(d):
        return 0
    ru = d.spec.strategy.rollingUpdate
    return resolve_fenceposts(ru.maxSurge, ru.maxUnavailable, replicas_of(d))[0]


def max_unavailable(d) -> int:
    if not is_rolling(d) or replicas_of(d) == 0:
        return 0
    ru = d.spec.strategy.rollingUpdate
    unavailable = resolve_fenceposts(ru.maxSurge, ru.maxUnavailable, replicas_of(d))[1]
    return min(unavailable, replicas_of(d))


def new_rs_new_replicas(d, all_rss: list, new_rs) -> int:
    """How many replicas the new ReplicaSet may have now (upstream NewRSNewReplicas)."""
    if is_rolling(d):
        current = sum_spec(all_rss)
        max_total = replicas_of(d) + max_surge(d)
        if current >= max_total:
            return replicas_of(new_rs)
        scale_up = min(max_total - current, replicas_of(d) - replicas_of(new_rs))
        return replicas_of(new_rs) + scale_up
    return replicas_of(d)                      # Recreate


def set_replicas_annotations(rs, desired: int, max_replicas: int) -> bool:
    changed = False
    ann = rs.metadata.annotations
    for key, value in ((DESIRED_REPLICAS_ANNOTATION, str(desired)), (MAX_REPLICAS_ANNOTATION, str(max_replicas))):
        if ann.get(key) != value:
            ann[key] = value
            changed = True
    return changed


def replicas_annotations_differ(rs, desired: int, max_replicas: int) -> bool:
    ann = rs.metadata.annotations
    return ann.get(DESIRED_REPLICAS_ANNOTATION) != str(desired) or ann.get(MAX_REPLICAS_ANNOTATION) != str(max_replicas)


def annotated_int(rs, key: str) -> int | None:
    try:
        return int(rs.metadata.annotations[key])
    except (KeyError, ValueError):
        return None


def copy_annotations_to_rs(d, rs) -> bool:
    """Pass the Deployment's annotations (but for those of the rollout machinery) on to `rs`."""
    changed = False
    for k, v in d.metadata.annotations.items():
        if k in SKIP_ANNOTATIONS or rs.metadata.annotations.get(k) == v:
            continue
        rs.metadata.annotations[k] = v
        changed = True
    return changed


def set_new_rs_annotations(d, rs, new_revision: int, exists: bool) -> bool:
    """upstream SetNewReplicaSetAnnotations: copy the Deployment's annotations, raise the revision
    (keeping the revisions it had in revision-history when an old ReplicaSet comes back, as on undo),
    and on a ReplicaSet about to be created, its replica annotations."""
    changed = copy_annotations_to_rs(d, rs)
    ann = rs.metadata.annotations
    old = ann.get(REVISION_ANNOTATION)
    try:
        old_int = int(old) if old else 0
    except ValueError:
        return changed
    if old_int < new_revision:
        ann[REVISION_ANNOTATION] = str(new_revision)
        changed = True
        if old:
            history = ann.get(REVISION_HISTORY_ANNOTATION, "")
            revs = [r for r in history.split(",") if r]
            if not revs:
                ann[REVISION_HISTORY_ANNOTATION] = old
            elif len(history) + len(old) + 1 <= MAX_REV_HISTORY_LENGTH:
                ann[REVISION_HISTORY_ANNOTATION] = history + "," + old
            else:
                while revs and len(",".join(revs + [old])) > MAX_REV_HISTORY_LENGTH:
                    revs.pop(0)
                ann[REVISION_HISTORY_ANNOTATION] = ",".join(revs + [old])
    if not exists and set_replicas_annotations(rs, replicas_of(d), replicas_of(d) + max_surge(d)):
        changed = True
    return changed


def is_saturated(d, rs) -> bool:
    """The ReplicaSet runs the Deployment's full size and all of it is available."""
    if rs is None:
        return False
    desired = annotated_int(rs, DESIRED_REPLICAS_ANNOTATION)
    return (replicas_of(rs) == replicas_of(d) and desired == replicas_of(d)
            and rs.status.availableReplicas == replicas_of(d))


def round_half_away(x: float) -> int:
    """Go's math.Round: halves away from zero (Python's round() goes to even)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def rs_fraction(rs, d) -> int:
    """upstream getReplicaSetFraction: how much `rs` should grow or shrink for a proportional scale."""
    if replicas_of(d) == 0:
        return -replicas_of(rs)
    deployment_replicas = replicas_of(d) + max_surge(d)
    annotated = annotated_int(rs, MAX_REPLICAS_ANNOTATION)
    if annotated is None:
        annotated = d.status.replicas
    if annotated == 0:
        return 0
    new_size = replicas_of(rs) * deployment_replicas / annotated
    return round_half_away(new_size) - replicas_of(rs)


def proportion(rs, d, to_add: int, added: int) -> int:
    if rs is None or replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = rs_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


# ---------------------------------------------------------------- conditions
def new_condition(type_: str, status: str, reason: str, message: str, now: float) -> apps_pb2.DeploymentCondition:
    ts = rfc3339(now)
    return apps_pb2.DeploymentCondition(type=type_, status=status, reason=reason, message=message,
                                        lastUpdateTime=ts, lastTransitionTime=ts)


def remove_condition(status, type_: str) -> None:
    keep = [c for c in status.conditions if c.type != type_]
    if len(keep) != len(status.conditions):
        del status.conditions[:]
        status.conditions.extend(keep)


def set_condition(status, cond) -> None:
    """upstream SetDeploymentCondition: no change when status and reason are the same; keep the
    transition time when only the reason changes."""
    cur = get_condition(status, cond.type)
    if cur is not None and cur.status == cond.status and cur.reason == cond.reason:
        return
    new = apps_pb2.DeploymentCondition()
    new.CopyFrom(cond)
    if cur is not None and cur.status == cond.status:
        new.lastTransitionTime = cur.lastTransitionTime
    remove_condition(status, cond.type)
    status.conditions.append(new)


def has_progress_deadline(d) -> bool:
    return d.spec.HasField("progressDeadlineSeconds") and d.spec.progressDeadlineSeconds != 2**31 - 1


def deployment_complete(d, status) -> bool:
    n = replicas_of(d)
    return (status.updatedReplicas == n and status.replicas == n and status.availableReplicas == n
            and status.observedGeneration >= d.metadata.generation)


def deployment_progressing(d, new_status) -> bool:
    old = d.status
    old_old = old.replicas - old.updatedReplicas
    new_old = new_status.replicas - new_status.updatedReplicas
    return (new_status.updatedReplicas > old.updatedReplicas or new_old < old_old
            or new_status.readyReplicas > old.readyReplicas
            or new_status.availableReplicas > old.availableReplicas)


def deployment_timed_out(d, status, now: float) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, PROGRESSING)
    if cond is None:
        return False
    if cond.reason == NEW_RS_AVAILABLE_REASON:
        return False
    if cond.reason == TIMED_OUT_REASON:
        return True
    start = parse_time(cond.lastUpdateTime)
    return start + d.spec.progressDeadlineSeconds < now

