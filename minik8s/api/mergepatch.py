"""RFC 7386 JSON merge patch: applying one, and computing the minimal one.

This module owns ``merge_patch`` (what the API server does for
``application/merge-patch+json``), ``create_merge_patch`` (what
``minictl apply`` uses to tell "unchanged" from "configured") and
``three_way_patch`` (the patch ``minictl apply`` sends, from the last applied
configuration, the new one and the live object). Values are JSON-shaped
Python data: dict, list, str, int, float, bool and None. ``merge_patch`` and
``create_merge_patch`` neither mutate their inputs nor return structure shared
with them.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["create_merge_patch", "merge_patch", "three_way_patch"]

_SCALARS = (str, int, float, bool, type(None))


def _clone(value: Any) -> Any:
    """Deep-copy JSON-shaped data (much faster than copy.deepcopy for it)."""
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, _SCALARS):
        return value
    return copy.deepcopy(value)


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply ``patch`` to ``target`` per RFC 7386 and return the new value.

    A dict patch merges key by key and a None value deletes the key; any other
    patch (list, scalar, None) replaces the target wholesale.
    """
    if not isinstance(patch, dict):
        return _clone(patch)
    result = _clone(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            # result[key] is already our own copy, so merging into it is safe.
            result[key] = merge_patch(result.get(key), value)
        else:
            result[key] = _clone(value)
    return result


def _same(a: Any, b: Any) -> bool:
    """JSON equality: unlike ==, True is not 1 and 1 is not "1"; 1 == 1.0 holds."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(b, (dict, list)):
        return False
    return type(a) is type(b) and a == b or (_is_number(a) and _is_number(b) and a == b)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def create_merge_patch(original: dict, modified: dict) -> dict:
    """The smallest merge patch turning ``original`` into ``modified``.

    An empty dict means the two are equal. Lists are replaced whole, as RFC
    7386 has no way to patch inside a list. A None stored as a dict value in
    ``modified`` cannot be expressed (None means delete) and becomes a deletion.
    """
    patch: dict = {}
    for key in original:
        if key not in modified:
            patch[key] = None
    for key, new in modified.items():
        if key not in original:
            patch[key] = _clone(new)
            continue
        old = original[key]
        if _same(old, new):
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            patch[key] = create_merge_patch(old, new)
        else:
            patch[key] = _clone(new)
    return patch


# ---------------------------------------------------------------- kubectl apply's three-way patch
def _only_nulls(patch: dict) -> dict:
    out = {}
    for k, v in patch.items():
        if v is None:
            out[k] = None
        elif isinstance(v, dict):
            sub = _only_nulls(v)
            if sub:
                out[k] = sub
    return out


def _subset(m: Any, c: Any) -> bool:
    """Whether `m` is contained in `c` (everything `m` says, `c` says too; `c` may say more, as the
    server's defaults do)."""
    if isinstance(m, dict):
        return isinstance(c, dict) and all(k in c and _subset(v, c[k]) for k, v in m.items())
    if isinstance(m, list):
        return isinstance(c, list) and len(m) == len(c) and all(_subset(a, b) for a, b in zip(m, c))
    return not create_merge_patch({"v": m}, {"v": c})


def _delta(current: dict, modified: dict, original: Any) -> dict:
    """The additions and changes that turn `current` into `modified`, ignoring what `current` has
    that `modified` does not mention. A list is left alone when the manifest did not change it
    since the last apply and the live list still holds everything it says (merge patches replace
    lists whole, which would drop the server's defaults inside them)."""
    out = {}
    for k, v in modified.items():
        if k not in current:
            out[k] = v
            continue
        c = current[k]
        o = original.get(k) if isinstance(original, dict) else None
        if isinstance(v, dict) and isinstance(c, dict):
            d = _delta(c, v, o)
            if d:
                out[k] = d
        elif isinstance(v, list):
            if _subset(v, c) and (o is None or not create_merge_patch({"v": o}, {"v": v})):
                continue
            out[k] = v
        elif create_merge_patch({"v": c}, {"v": v}):
            out[k] = v
    return out


def _deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def three_way_patch(original: dict | None, modified: dict, current: dict) -> dict:
    """kubectl apply's patch: delete what the last applied configuration had and the new one does not;
    add or change what the new one says differently from the live object."""
    deletions = _only_nulls(create_merge_patch(original, modified)) if original else {}
    return _deep_merge(deletions, _delta(current, modified, original or {}))
