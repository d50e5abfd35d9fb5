"""The two helpers a test of a user's code needs beside a client: `Apply` puts manifests in the cluster
(YAML text, a file or a directory, every document checked before anything is written) and `WaitFor`
blocks on a watch until an object meets a condition, in kubectl wait's words or as a Python predicate.
Both work in the test's namespace unless a manifest or the caller names another; both have an `aio`
form for asyncio tests, run in a thread so that code under test on the test's event loop keeps going."""
from __future__ import annotations

import asyncio
import os
import time
from typing import Any, Callable

from minik8s.api import codec
from minik8s.api.errors import AlreadyExists
from minik8s.api.kinds import KindInfo, for_message, lookup
from minik8s.api.manifest import EXTENSIONS, Manifest, load_paths, load_text
from minik8s.cli.watchcmds import parse_for
from minik8s.cli.watching import wait_for as wait_on_watch
from minik8s.client.client import Client

DEFAULT_TIMEOUT = 60.0


def _is_path(source) -> bool:
    """A path object, or a one-line string that names an existing file or directory or ends in
    .yaml/.yml/.json (so a missing file is reported as missing, not parsed as YAML)."""
    if isinstance(source, os.PathLike):
        return True
    return "\n" not in source and (os.path.exists(source) or source.endswith(EXTENSIONS))


class Apply:
    """`apply(yaml_text_or_path, namespace=None)`: each object created, or merge-patched with the
    manifest where it exists already (so applying twice changes what the manifest names and nothing
    else). Namespaced objects without a namespace go to this helper's namespace. Returns the objects
    as the server stored them, in the manifests' order."""

    def __init__(self, client: Client, namespace: str):
        self.client, self.namespace = client, namespace

    def __call__(self, source, namespace: str | None = None) -> list:
        if _is_path(source):
            manifests = load_paths([os.fspath(source)])
        else:
            manifests = load_text(source, "manifest")
        return [self._apply_one(m, namespace) for m in manifests]

    async def aio(self, source, namespace: str | None = None) -> list:
        return await asyncio.to_thread(self, source, namespace)

    def _apply_one(self, m: Manifest, namespace: str | None):
        obj = m.obj
        if m.info.namespaced and not obj.metadata.namespace:
            obj.metadata.namespace = namespace or self.namespace
        try:
            return self.client.create(obj)
        except AlreadyExists:
            return self.client.patch(m.info, obj.metadata.name, codec.to_dict(obj), obj.metadata.namespace)


class WaitFor:
    """`wait_for(obj, condition, timeout=60)`: block until `obj` meets `condition`, then return the object
    as it was then (None for "delete"). `obj` is an object (as `apply` or a client returned it) or
    "KIND/NAME" in this helper's namespace; `condition` is kubectl wait's `--for` ("condition=Ready",
    "condition=Available=False", "delete", "create", "jsonpath={.status.readyReplicas}=2"), a bare
    condition type ("Ready"), or a predicate called with the object. Fails the test (AssertionError,
    with the last state seen) when the time is up."""

    def __init__(self, client: Client, namespace: str):
        self.client, self.namespace = client, namespace

    def __call__(self, obj, condition: str | Callable[[Any], Any], timeout: float = DEFAULT_TIMEOUT):
        info, namespace, name = self._target(obj)
        mode, predicate = self._condition(condition)
        seen = []

        def met(o) -> bool:
            seen[:] = [o]
            return bool(predicate(o))
        deadline = time.monotonic() + timeout
        # an object the code under test has yet to make is waited for, not an error
        ok = mode == "delete" or wait_on_watch(self.client, info, namespace, name, "create", None, deadline)
        if ok and mode != "create":
            ok = wait_on_watch(self.client, info, namespace, name, mode, met if predicate else None, deadline)
        if not ok:
            last = f"last seen: {self._shown(seen[0])}" if seen else "not seen"
            raise AssertionError(f"{info.resource}/{name} in {namespace or 'the cluster'}: {condition!r} not met "
                                 f"within {timeout:g} s ({last})")
        if mode == "delete":
            return None
        return seen[0] if seen else self.client.get(info, name, namespace)

    async def aio(self, obj, condition: str | Callable[[Any], Any], timeout: float = DEFAULT_TIMEOUT):
        return await asyncio.to_thread(self, obj, condition, timeout)

    @staticmethod
    def _shown(obj) -> dict:
        """What a failed wait shows of the object: its status, or the whole object for a kind without one."""
        data = codec.to_dict(obj)
        return data.get("status", data)

    def _target(self, obj) -> tuple[KindInfo, str, str]:
        if isinstance(obj, str):
            kind, sep, name = obj.partition("/")
            if not sep or not name:
                raise ValueError(f"{obj!r}: expected KIND/NAME, e.g. deployment/web")
            info = lookup(kind)
            return info, self.namespace if info.namespaced else "", name
        info = for_message(obj)
        return info, (obj.metadata.namespace or self.namespace) if info.namespaced else "", obj.metadata.name

    @staticmethod
    def _condition(condition) -> tuple[str, Callable[[Any], Any] | None]:
        if callable(condition):
            return "condition", condition
        if condition in ("delete", "create") or "=" in condition:
            return parse_for(condition)
        return parse_for(f"condition={condition}")
