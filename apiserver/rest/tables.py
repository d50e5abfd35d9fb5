"""The `meta.k8s.io/v1` Table form of lists and watch events, which `kubectl get` asks for.

minictl's per-kind columns live in the CLI, which the API server may not import, so every kind is
served with upstream's default columns, Name and Age (what kubectl prints for a kind without a printer)."""
from __future__ import annotations

from minik8s.api.clock import parse_time

COLUMNS = [
    {"name": "Name", "type": "string", "format": "name", "priority": 0,
     "description": "Name must be unique within a namespace."},
    {"name": "Age", "type": "string", "format": "", "priority": 0,
     "description": "CreationTimestamp is the time this object was created."},
]


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def human_duration(seconds: float) -> str:
    """kubectl's short ages: 45s, 5m10s, 3h, 2d5h, 400d."""
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 48:
        return f"{h}h{m % 60}m" if h < 8 and m % 60 else f"{h}h"
    d = h // 24
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    return f"{d}d" if d < 730 else f"{d // 365}y"


def _age(meta: dict, now: float) -> str:
    ts = meta.get("creationTimestamp")
    if not ts:
        return "<unknown>"
    return human_duration(now - parse_time(ts))


def row(obj: dict, now: float, include: str) -> dict:
    meta = obj.get("metadata", {})
    if include == "None":
        embedded = None
    elif include == "Object":
        embedded = obj
    else:
        embedded = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
    return {"cells": [meta.get("name", ""), _age(meta, now)], "object": embedded}


def table(objs: list[dict], now: float, include: str, list_meta: dict | None = None,
          headers: bool = True) -> dict:
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta or {},
            "columnDefinitions": COLUMNS if headers else [], "rows": [row(o, now, include) for o in objs]}
