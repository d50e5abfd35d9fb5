"""The `meta.k8s.io/v1` Table form of lists and watch events, which `kubectl get` asks for: each kind's
columns and cells from minik8s.api.printing, the ones minictl prints too. Every column is served;
kubectl shows those of priority 1 only with -o wide, as with an upstream server."""
from __future__ import annotations

from minik8s.api import codec
from minik8s.api.kinds import KindInfo
from minik8s.api.printing import table_for

from apiserver.rest.target import message_json


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def _embedded(info: KindInfo, obj, include: str, version: str) -> dict | None:
    """The object a row carries: none, whole, or (upstream's default) its metadata alone."""
    if include == "None":
        return None
    if include == "Object":
        return message_json(info, obj, version)
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": codec.to_dict(obj.metadata)}


def table(info: KindInfo, objs: list, now: float, include: str, version: str = "", list_meta: dict | None = None,
          headers: bool = True) -> dict:
    """A Table of `objs`, messages of `info`'s kind; `headers=False` for a watch's events after the first."""
    kind_table = table_for(info)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta or {},
            "columnDefinitions": [c.definition() for c in kind_table.columns] if headers else [],
            "rows": [{"cells": kind_table.row(o, now), "object": _embedded(info, o, include, version)} for o in objs]}
