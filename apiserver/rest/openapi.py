"""OpenAPI v3 documents (`/openapi/v3`, `/openapi/v3/apis/GROUP/VERSION`) generated from the kinds'
protobuf descriptors: a schema per message, each kind's with its group/version/kind, and a PATCH
operation per resource that takes `fieldValidation`, so kubectl leaves validation to the server and
`kubectl explain` can walk the fields. Strategic-merge keys come from apiserver/rest/patch.py."""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from google.protobuf.descriptor import FieldDescriptor as FD

from minik8s.api import conversion
from minik8s.api.kinds import KINDS

from apiserver.rest.discovery import group_versions
from apiserver.rest.patch import MERGE_KEYS

_SCALARS = {FD.TYPE_STRING: {"type": "string"}, FD.TYPE_BYTES: {"type": "string", "format": "byte"},
            FD.TYPE_BOOL: {"type": "boolean"}, FD.TYPE_DOUBLE: {"type": "number", "format": "double"},
            FD.TYPE_FLOAT: {"type": "number", "format": "double"}}


def _scalar(field) -> dict:
    if field.type in _SCALARS:
        return dict(_SCALARS[field.type])
    if field.type == FD.TYPE_ENUM:
        return {"type": "string"}
    return {"type": "integer", "format": "int64" if "64" in str(field.type) or field.type in (
        FD.TYPE_INT64, FD.TYPE_UINT64, FD.TYPE_SINT64) else "int32"}


def _field(field, schemas: dict) -> dict:
    mt = field.message_type
    if mt is not None and mt.GetOptions().map_entry:
        return {"type": "object", "additionalProperties": _field(mt.fields_by_name["value"], schemas)}
    if mt is not None and mt.full_name == "google.protobuf.Value":
        item = {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    elif mt is not None:
        _message(mt, schemas)
        item = {"allOf": [{"$ref": f"#/components/schemas/{mt.full_name}"}]}
    else:
        item = _scalar(field)
    if field.is_repeated:
        out = {"type": "array", "items": item}
        if field.name in MERGE_KEYS:
            out["x-kubernetes-patch-merge-key"] = MERGE_KEYS[field.name][0]
            out["x-kubernetes-patch-strategy"] = "merge"
        return out
    return item


def _message(desc, schemas: dict) -> None:
    if desc.full_name in schemas:
        return
    schema: dict = {"type": "object", "properties": {}}
    schemas[desc.full_name] = schema
    for f in desc.fields:
        schema["properties"][f.name] = _field(f, schemas)


def _param(name: str) -> dict:
    return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}


def _converted_schema(info, schemas: dict) -> dict:
    """A kind served at a version other than its stored one: its metadata as stored, spec and
    status left open (the server converts and validates them)."""
    meta = info.message.DESCRIPTOR.fields_by_name["metadata"]
    open_object = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {"type": "object", "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                             "metadata": _field(meta, schemas),
                                             "spec": dict(open_object), "status": dict(open_object)}}


@lru_cache(maxsize=None)
def group_version_document(group: str, version: str) -> bytes:
    schemas: dict = {}
    paths: dict = {}
    served = [(info, info.message.DESCRIPTOR.full_name) for info in KINDS.values()
              if info.group == group and info.version == version]
    for other in conversion.other_versions():
        if other.info.group == group and other.version == version:
            name = f"{other.info.message.DESCRIPTOR.full_name}.{version}"
            schemas[name] = _converted_schema(other.info, schemas)
            served.append((other.info, name))
    for info, schema_name in served:
        if schema_name == info.message.DESCRIPTOR.full_name:
            _message(info.message.DESCRIPTOR, schemas)
        gvk = [{"group": group, "version": version, "kind": info.kind}]
        schemas[schema_name]["x-kubernetes-group-version-kind"] = gvk
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        ns = "/namespaces/{namespace}" if info.namespaced else ""
        ref = {"content": {"application/json": {"schema": {
            "$ref": f"#/components/schemas/{schema_name}"}}}}
        op = {"x-kubernetes-group-version-kind": gvk[0], "responses": {"200": {"description": "OK", **ref}}}
        paths[f"{prefix}{ns}/{info.plural}/{{name}}"] = {
            "get": dict(op, operationId=f"read{info.kind}", **{"x-kubernetes-action": "get"}),
            "put": dict(op, operationId=f"replace{info.kind}", parameters=[_param("fieldValidation")],
                        **{"x-kubernetes-action": "put"}),
            "patch": dict(op, operationId=f"patch{info.kind}", parameters=[
                _param("fieldValidation"), _param("fieldManager"), _param("dryRun"), _param("force")],
                **{"x-kubernetes-action": "patch"}),
        }
        paths[f"{prefix}{ns}/{info.plural}"] = {
            "get": dict(op, operationId=f"list{info.kind}", **{"x-kubernetes-action": "list"}),
            "post": dict(op, operationId=f"create{info.kind}", parameters=[_param("fieldValidation")],
                         **{"x-kubernetes-action": "post"}),
        }
    doc = {"openapi": "3.0.0", "info": {"title": "minik8s", "version": "v1.32.0-minik8s"},
           "paths": paths, "components": {"schemas": schemas}}
    return json.dumps(doc).encode()


def root() -> dict:
    paths = {}
    for group, versions in group_versions().items():
        for v in versions:
            path = f"apis/{group}/{v}" if group else f"api/{v}"
            digest = hashlib.sha256(group_version_document(group, v)).hexdigest()[:16].upper()
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}
