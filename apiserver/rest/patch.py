"""The patch types of the REST API, applied to an object's JSON form: JSON merge patch (RFC 7386),
JSON patch (RFC 6902), strategic merge patch (lists of containers, ports, env, volumes, ... merged by
their key, `$patch` directives) and server-side apply (`application/apply-patch+yaml`), done here as a
strategic merge of the applied configuration into the live object."""
from __future__ import annotations

import copy
from typing import Any

from minik8s.api import mergepatch
from minik8s.api.errors import BadRequest, Conflict, Invalid

from apiserver.rest.status import RestError

MERGE = "application/merge-patch+json"
JSON = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
TYPES = (MERGE, JSON, STRATEGIC, APPLY)

# list field -> the key its items are merged by (upstream's patchMergeKey); the first key an item has
# wins, so container ports merge by containerPort and Service ports by port
MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",),
    "env": ("name",), "volumes": ("name",), "volumeMounts": ("mountPath",), "volumeDevices": ("devicePath",),
    "ports": ("containerPort", "port"), "conditions": ("type",), "imagePullSecrets": ("name",),
    "hostAliases": ("ip",), "topologySpreadConstraints": ("topologyKey",), "ownerReferences": ("uid",),
    "addresses": ("type",), "taints": ("key",),
}
# lists of scalars merged as sets
MERGE_SETS = {"finalizers"}


def content_type(header: str) -> str:
    ct = header.split(";")[0].strip().lower()
    if ct not in TYPES:
        raise RestError("UnsupportedMediaType", f'the body of the request was in an unknown format - accepted '
                        f'media types include: {", ".join(TYPES)}')
    return ct


def apply_patch(kind_of_patch: str, current: dict, patch: Any) -> dict:
    if kind_of_patch == JSON:
        return json_patch(current, patch)
    if not isinstance(patch, dict):
        raise BadRequest("the patch must be a JSON object")
    if kind_of_patch == MERGE:
        return mergepatch.merge_patch(current, patch)
    return strategic_merge(current, patch)


# ---------------------------------------------------------------- JSON patch (RFC 6902)
def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise BadRequest(f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _walk(doc: Any, parts: list[str]) -> Any:
    for p in parts:
        if isinstance(doc, dict) and p in doc:
            doc = doc[p]
        elif isinstance(doc, list) and p.isdigit() and int(p) < len(doc):
            doc = doc[int(p)]
        else:
            raise Invalid(f'the server rejected our request due to an error in our request: '
                          f'path "/{"/".join(parts)}" does not exist', [])
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        raise BadRequest("cannot remove the whole document")
    parent, last = _walk(doc, parts[:-1]), parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise Invalid(f'unable to remove nonexistent key: "{last}"', [])


def _add(doc: Any, parts: list[str], value: Any, replace: bool = False) -> Any:
    if not parts:
        return value
    parent, last = _walk(doc, parts[:-1]), parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise Invalid(f'replace operation does not apply: doc is missing key: /{"/".join(parts)}', [])
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            raise Invalid(f"index out of range: /{'/'.join(parts)}", [])
    else:
        raise Invalid(f'path "/{"/".join(parts)}" does not exist', [])
    return doc


def json_patch(doc: dict, ops: Any) -> dict:
    if not isinstance(ops, list):
        raise BadRequest("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or op.get("op") not in ("add", "remove", "replace", "move", "copy", "test"):
            raise BadRequest(f"unexpected JSON patch operation: {op!r}")
        kind, path = op["op"], _pointer(op.get("path"))
        if kind in ("add", "replace", "test") and "value" not in op:
            raise BadRequest(f'JSON patch operation "{kind}" needs a value')
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op["value"]), replace=True)
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "test":
            if _walk(doc, path) != op["value"]:
                raise Conflict(f"testing value /{'/'.join(path)} failed")
        else:
            src = _pointer(op.get("from"))
            value = _remove(doc, src) if kind == "move" else copy.deepcopy(_walk(doc, src))
            doc = _add(doc, path, value)
    if not isinstance(doc, dict):
        raise BadRequest("a JSON patch must leave an object")
    return doc


# ---------------------------------------------------------------- strategic merge patch
def strategic_merge(original: Any, patch: dict) -> Any:
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip({k: v for k, v in patch.items() if k != "$patch"})
    if directive == "delete":
        return None
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list) and isinstance(value, list):
                result[field] = [v for v in result[field] if v not in value]
            continue
        if key.startswith("$"):           # $setElementOrder, $retainKeys: order and pruning hints
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and key in MERGE_KEYS and all(isinstance(v, dict) for v in value):
            result[key] = _merge_list(result.get(key) or [], value, MERGE_KEYS[key])
        elif isinstance(value, list) and key in MERGE_SETS:
            have = result.get(key) or []
            result[key] = have + [v for v in value if v not in have]
        else:
            result[key] = _strip(copy.deepcopy(value))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _key_of(item: dict, keys: tuple[str, ...]) -> tuple[str, Any] | None:
    for k in keys:
        if k in item:
            return k, item[k]
    return None


def _merge_list(original: list, patch: list, keys: tuple[str, ...]) -> list:
    if any(p.get("$patch") == "replace" for p in patch):
        return [_strip(p) for p in patch if p.get("$patch") != "replace"]
    out = copy.deepcopy(original)
    for item in patch:
        key = _key_of(item, keys)
        at = next((i for i, o in enumerate(out) if isinstance(o, dict) and key and o.get(key[0]) == key[1]), None)
        if item.get("$patch") == "delete":
            if at is not None:
                out.pop(at)
        elif at is None:
            out.append(_strip(copy.deepcopy(item)))
        else:
            out[at] = strategic_merge(out[at], item)
    return out


def _strip(value: Any) -> Any:
    """Drop directives from a value stored as given."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value
