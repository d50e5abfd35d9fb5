"""The configuration `apply` records and sends for a manifest's object: the object as written, its
namespace settled, under the last-applied annotation that the next apply's three-way patch reads.
Shared by apply and diff, which must agree on what apply would send."""
from __future__ import annotations

import json

from minik8s.api.workloads import LAST_APPLIED_ANNOTATION as LAST_APPLIED


def modified_config(m, namespace: str) -> tuple[dict, dict]:
    """(the configuration to record as last-applied, the same with the annotation set)."""
    from minik8s.api.codec import to_dict
    cfg = to_dict(m.obj)
    cfg["apiVersion"], cfg["kind"] = m.info.api_version, m.info.kind
    meta = cfg.setdefault("metadata", {})
    if namespace:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)       # cluster-scoped: the server drops it; so must the patch
    anns = dict(meta.get("annotations") or {})
    anns.pop(LAST_APPLIED, None)
    meta["annotations"] = anns          # kubectl records `"annotations":{}` too: the same bytes as its apply
    recorded = json.dumps(cfg, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    full = json.loads(json.dumps(cfg))
    full["metadata"].setdefault("annotations", {})[LAST_APPLIED] = recorded
    return cfg, full
