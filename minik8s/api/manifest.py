"""Manifest loading for `minictl apply/create/delete -f`: files, directories and stdin, YAML (one or
many documents) or JSON, `kind: List` expanded into its items.

Every document becomes the protobuf message of its apiVersion/kind through the strict decoder, so a
manifest is checked before anything reaches the server. Errors name the source, the document and the
field (`deployment.yaml: doc 2: spec.template.spec.containers[0].imagePull: unknown field`); all of
them, across all documents, are raised together as one ManifestError, and nothing is returned when
any document is bad, so a command that applies a manifest applies all of it or none of it."""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from minik8s.api import codec
from minik8s.api.conversion import to_stored
from minik8s.api.kinds import KINDS, KindInfo, UnknownKind

STDIN = "-"
STDIN_NAME = "STDIN"            # kubectl's name for it in messages
EXTENSIONS = (".yaml", ".yml", ".json")


class ManifestError(ValueError):
    """Every problem found in a set of manifests; `errors` holds one line per problem."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


@dataclass
class Manifest:
    source: str                 # the file as the user named it (`STDIN` for -)
    doc: int                    # 1-based document number within the source
    info: KindInfo
    obj: Any                    # the decoded message
    data: dict = field(repr=False)   # the document (or List item) as loaded
    item: int | None = None     # index within a `kind: List` document

    @property
    def where(self) -> str:
        """`web.yaml: doc 2` (`web.yaml: doc 1: items[3]` for a List item)."""
        w = f"{self.source}: doc {self.doc}"
        return f"{w}: items[{self.item}]" if self.item is not None else w


# ---------------------------------------------------------------- YAML without surprises
_LOADER = None


def _loader():
    """A safe loader that keeps timestamps as strings, as Kubernetes' YAML-to-JSON step does
    (`creationTimestamp: 2024-01-01T00:00:00Z` stays the string the API expects)."""
    global _LOADER
    if _LOADER is None:
        import yaml
        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class _Loader(base):  # type: ignore[misc, valid-type]
            pass

        _Loader.yaml_implicit_resolvers = {
            ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
            for ch, resolvers in base.yaml_implicit_resolvers.items()}
        # any remaining explicit timestamp/binary nodes become plain strings
        _Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_str)
        _LOADER = _Loader
    return _LOADER


def _yaml_error(e) -> str:
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    context = getattr(e, "context", None)
    text = f"{context} ({problem})" if context and problem and context not in problem else problem
    if mark is not None:
        return f"yaml: line {mark.line + 1}, column {mark.column + 1}: {text}"
    return f"yaml: {text}"


def _documents(text: str, source: str, is_json: bool) -> tuple[list[Any], str | None]:
    """The documents of one source, and the syntax error that ended it early, if any."""
    if is_json:
        try:
            return [json.loads(text)], None
        except ValueError as e:
            msg = getattr(e, "msg", str(e))
            line, col = getattr(e, "lineno", None), getattr(e, "colno", None)
            where = f" line {line}, column {col}:" if line is not None else ""
            return [], f"{source}: doc 1: json:{where} {msg}"
    import yaml
    docs: list[Any] = []
    try:
        for d in yaml.load_all(text, Loader=_loader()):
            docs.append(d)
    except yaml.YAMLError as e:
        return docs, f"{source}: doc {len(docs) + 1}: {_yaml_error(e)}"
    except (ValueError, TypeError, RecursionError) as e:   # e.g. unhashable keys, deep nesting
        return docs, f"{source}: doc {len(docs) + 1}: yaml: {e}"
    return docs, None


# ---------------------------------------------------------------- decoding
def _type_name(v: Any) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(v), type(v).__name__)


def _list_kind(api_version: Any, kind: Any) -> bool:
    if kind == "List":
        return True
    return (isinstance(kind, str) and kind.endswith("List") and kind[:-4] in KINDS
            and api_version == KINDS[kind[:-4]].api_version)


def decode_object(data: Any, prefix: str = "") -> tuple[KindInfo | None, Any, list[str]]:
    """Decode one object dict to its message; returns (info, message, errors as `path: msg`)."""
    if not isinstance(data, dict):
        return None, None, [f"{prefix.rstrip('.') or 'document'}: expected an object, "
                            f"got {_type_name(data)}"]
    errors = []
    api_version, kind = data.get("apiVersion"), data.get("kind")
    for name, value in (("apiVersion", api_version), ("kind", kind)):
        if value is None or value == "":
            errors.append(f"{prefix}{name}: Required value")
        elif not isinstance(value, str):
            errors.append(f"{prefix}{name}: expected string, got {_type_name(value)}")
    if errors:
        return None, None, errors
    try:
        info, stored = to_stored(data)          # a kind served at another version is converted first
    except UnknownKind as e:
        msg = e.args[0] if e.args else str(e)
        return None, None, [f"{prefix.rstrip('.')}: {msg}" if prefix else msg]
    except codec.FieldError as e:
        return None, None, [f"{prefix}{p}: {m}" for p, m in e.errors]
    try:
        obj = codec.from_dict(info.message, stored)
    except codec.FieldError as e:
        return info, None, [f"{prefix}{p}: {m}" if p else f"{prefix.rstrip('.') or 'document'}: {m}"
                            for p, m in e.errors]
    return info, obj, []


def _decode_doc(source: str, doc: int, data: Any, out: list[Manifest], errors: list[str]) -> None:
    where = f"{source}: doc {doc}"
    if not isinstance(data, dict):
        errors.append(f"{where}: expected an object (a mapping of fields), got {_type_name(data)}")
        return
    if _list_kind(data.get("apiVersion"), data.get("kind")):
        unknown = [k for k in data if k not in ("apiVersion", "kind", "metadata", "items")]
        for k in unknown:
            errors.append(f"{where}: {k}: unknown field")
        items = data.get("items")
        if items is None:
            items = []
        if not isinstance(items, list):
            errors.append(f"{where}: items: expected array, got {_type_name(items)}")
            return
        for i, item in enumerate(items):
            if item is None:
                continue
            info, obj, errs = decode_object(item, f"items[{i}].")
            errors.extend(f"{where}: {e}" for e in errs)
            if not errs:
                out.append(Manifest(source, doc, info, obj, item, i))
        return
    info, obj, errs = decode_object(data)
    errors.extend(f"{where}: {e}" for e in errs)
    if not errs:
        out.append(Manifest(source, doc, info, obj, data))


def load_text(text: str, source: str, is_json: bool = False) -> list[Manifest]:
    """Decode the documents of one source; raise ManifestError listing every problem."""
    out: list[Manifest] = []
    errors: list[str] = []
    _load_text(text, source, is_json, out, errors)
    if errors:
        raise ManifestError(errors)
    return out


def _load_text(text: str, source: str, is_json: bool, out: list[Manifest], errors: list[str]) -> None:
    docs, syntax = _documents(text, source, is_json)
    for i, data in enumerate(docs, 1):
        if data is None:
            continue                      # empty document (`---` with nothing after it)
        _decode_doc(source, i, data, out, errors)
    if syntax:
        errors.append(syntax)


# ---------------------------------------------------------------- sources
def expand_paths(paths: list[str], recursive: bool = False) -> tuple[list[str], list[str]]:
    """The files to read for `-f` arguments (a directory gives its .yaml/.yml/.json files, sorted;
    subdirectories only when recursive), and an error for each path that does not exist."""
    files, errors = [], []
    for p in paths:
        if p == STDIN:
            files.append(p)
        elif os.path.isdir(p):
            found = []
            for dirpath, dirnames, names in os.walk(p):
                dirnames.sort()
                found.extend(os.path.join(dirpath, n) for n in names if n.endswith(EXTENSIONS))
                if not recursive:
                    break
            files.extend(sorted(found))
        elif os.path.exists(p):
            files.append(p)
        else:
            errors.append(f'the path "{p}" does not exist')
    return files, errors


def load_paths(paths: list[str], stdin: TextIO | None = None, recursive: bool = False) -> list[Manifest]:
    """Load every manifest named by `paths` (files, directories, `-` for stdin), in order.

    Raises ManifestError with every problem found, across all sources, if there is any."""
    files, errors = expand_paths(paths, recursive)
    out: list[Manifest] = []
    stdin_read = False
    for f in files:
        if f == STDIN:
            if stdin_read:
                continue
            stdin_read = True
            text = (stdin or sys.stdin).read()
            _load_text(text, STDIN_NAME, False, out, errors)
            continue
        try:
            with open(f, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as e:
            errors.append(f"{f}: {e.strerror if isinstance(e, OSError) and e.strerror else e}")
            continue
        _load_text(text, f, f.endswith(".json"), out, errors)
    if errors:
        raise ManifestError(errors)
    return out
