"""RFC 7386 JSON merge patch: applying one, and computing the minimal one.

This module owns ``merge_patch`` (what the API server does for
``application/merge-patch+json``) and ``create_merge_patch`` (what
``minictl apply`` uses to tell "unchanged" from "configured"). Values are
JSON-shaped Python data: dict, list, str, int, float, bool and None.
Neither function mutates its inputs or returns structure shared with them.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["create_merge_patch", "merge_patch"]

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
