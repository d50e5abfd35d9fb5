"""The pure cell formatters kubectl's printers share: ages in apimachinery's HumanDuration, labels,
selectors, int-or-string values, and the small readers of common object parts."""
from __future__ import annotations

import time
from datetime import datetime


def parse_time(s: str) -> float:
    """Seconds since the epoch for a timestamp; 0.0 for none or one that does not parse, which
    prints as `<unknown>` rather than failing a whole table."""
    if not s:
        return 0.0
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        sec = s % 60
        return f"{minutes}m" if sec == 0 else f"{minutes}m{sec}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def since(ts: str, now: float | None = None) -> str:
    """kubectl's translateTimestampSince: `<unknown>` for no time."""
    if not ts:
        return "<unknown>"
    t = parse_time(ts)
    if not t:
        return "<unknown>"
    return human_duration((now if now is not None else time.time()) - t)


def format_labels(labels) -> str:
    """labels.FormatLabels: `a=b,c=d` sorted by key, `<none>` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def format_selector(sel) -> str:
    """metav1.LabelSelectorAsSelector(sel).String() for a LabelSelector message."""
    from minik8s.api.selectors import from_label_selector_obj
    try:
        text = str(from_label_selector_obj(sel))
    except Exception:
        return "<invalid>"
    return text or "<none>"


def int_or_string(v) -> str:
    from minik8s.api.codec import int_or_string as ios
    x = ios(v)
    return "" if x is None else str(x)


def containers_cells(spec) -> list[str]:
    """The CONTAINERS and IMAGES cells of a pod template."""
    return [",".join(c.name for c in spec.containers), ",".join(c.image for c in spec.containers)]


def cond_true(conditions, type_: str) -> bool:
    return any(c.type == type_ and c.status == "True" for c in conditions)


def replicas(spec) -> int:
    """spec.replicas as printed: 0 when unset."""
    return spec.replicas if spec.HasField("replicas") else 0
