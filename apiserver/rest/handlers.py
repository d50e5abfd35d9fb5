"""Object verbs over HTTP: get, list (selectors, limit/continue, Table), create, update, patch (every
patch type, server-side apply), delete, and the status, scale and binding subresources. Each verb
authorizes as the gRPC front end does and hands the same registry the same call."""
from __future__ import annotations

import base64
import json
from types import SimpleNamespace

from aiohttp import web

from minik8s.api import codec
from minik8s.api.errors import ApiError, BadRequest, Conflict, NotFound
from minik8s.api.kinds import KINDS

from apiserver.authorizer import Authorizer
from apiserver.eviction import evict
from apiserver.node_authorizer import node_write_check
from apiserver.registry import Registry
from apiserver.rest import patch as patches, tables
from apiserver.rest.status import CODES, SUCCESS, RestError, response, status
from apiserver.rest.target import Target, decode_object, parse_body, to_json
from apiserver.scale import get_scale, update_scale
from apiserver.server import _selectors

CONFLICT_RETRIES = 5


def dumps(body, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(body, separators=(",", ":")).encode(),
                        content_type="application/json")


def _dry_run(request) -> bool:
    values = request.query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise BadRequest(f'Invalid dry run value: "{v}": valid values are "All"')
    return bool(values)


def _bool(request, name: str) -> bool:
    return request.query.get(name, "false").lower() in ("true", "1")


class Objects:
    def __init__(self, registry: Registry, authz: Authorizer):
        self.registry = registry
        self.authz = authz

    # ---------------------------------------------------------------- reads
    def get(self, request, t: Target) -> web.Response:
        rec = self.registry.get(t.info, t.namespace, t.name)
        if tables.wants_table(request.headers.get("Accept", "")):
            return dumps(tables.table(t.info, [t.info.message.FromString(rec.raw)], self.registry.clock.now(),
                                      request.query.get("includeObject", ""), t.version))
        return dumps(to_json(t.info, rec.raw, t.version))

    def list(self, request, t: Target) -> web.Response:
        q = request.query
        ls, fs = _selectors(t.info.kind, q.get("labelSelector", ""), q.get("fieldSelector", ""))
        recs = sorted(self.registry.list(t.info, t.namespace, ls, fs), key=lambda r: (r.namespace, r.name))
        rv = self.registry.rv
        start = _continue_from(q.get("continue", ""))
        if start is not None:
            recs = [r for r in recs if (r.namespace, r.name) > start]
        meta: dict = {"resourceVersion": str(rv)}
        limit = _limit(q.get("limit", ""))
        if limit and len(recs) > limit:
            recs, rest = recs[:limit], len(recs) - limit
            last = recs[-1]
            meta["continue"] = base64.urlsafe_b64encode(json.dumps([last.namespace, last.name]).encode()).decode()
            meta["remainingItemCount"] = rest
        if tables.wants_table(request.headers.get("Accept", "")):
            return dumps(tables.table(t.info, [t.info.message.FromString(r.raw) for r in recs],
                                      self.registry.clock.now(), q.get("includeObject", ""), t.version, meta))
        return dumps({"kind": f"{t.info.kind}List", "apiVersion": t.api_version, "metadata": meta,
                      "items": [to_json(t.info, r.raw, t.version) for r in recs]})

    # ---------------------------------------------------------------- writes
    async def create(self, request, t: Target, ident) -> web.Response:
        if t.name:
            raise RestError("MethodNotAllowed", f"the server does not allow this method on the requested resource")
        obj = decode_object(t.info, parse_body(await request.read(), request.headers.get("Content-Type", "")),
                            version=t.version)
        _namespace_matches(t, obj)
        self.authz.check(ident, "create", t.info.kind, obj.metadata.namespace or "default", obj.metadata.name)
        raw = await self.registry.create(t.info, obj, dry_run=_dry_run(request),
                                         check=node_write_check(ident, "create"))
        return dumps(to_json(t.info, raw, t.version), 201)

    async def update(self, request, t: Target, ident) -> web.Response:
        obj = decode_object(t.info, parse_body(await request.read(), request.headers.get("Content-Type", "")),
                            version=t.version)
        _namespace_matches(t, obj)
        if obj.metadata.name != t.name:
            raise BadRequest(f"the name of the object ({obj.metadata.name}) does not match the name on the URL "
                             f"({t.name})")
        status = t.subresource == "status"
        self.authz.check(ident, "update", t.info.kind, t.namespace or "default", t.name, t.subresource)
        raw = await self.registry.update(t.info, obj, status=status, check=node_write_check(ident, "update"),
                                         dry_run=_dry_run(request))
        return dumps(to_json(t.info, raw, t.version))

    async def patch(self, request, t: Target, ident) -> web.Response:
        kind_of_patch = patches.content_type(request.headers.get("Content-Type", ""))
        body = parse_body(await request.read(), "application/yaml" if kind_of_patch == patches.APPLY else "application/json")
        status = t.subresource == "status"
        self.authz.check(ident, "patch", t.info.kind, t.namespace or "default", t.name, t.subresource)
        dry_run = _dry_run(request)
        if kind_of_patch == patches.APPLY:
            if not request.query.get("fieldManager"):
                raise BadRequest("PATCH requests of type apply need a fieldManager")
            try:
                self.registry.get(t.info, t.namespace, t.name)
            except NotFound:
                obj = decode_object(t.info, body, version=t.version)
                _namespace_matches(t, obj)
                raw = await self.registry.create(t.info, obj, dry_run=dry_run, check=node_write_check(ident, "create"))
                return dumps(to_json(t.info, raw, t.version), 201)
        raw = await self._patch(t, ident, lambda cur: patches.apply_patch(kind_of_patch, cur, body), status, dry_run)
        return dumps(to_json(t.info, raw, t.version))

    async def _patch(self, t: Target, ident, change, status: bool, dry_run: bool) -> bytes:
        """Read, patch, write with the read resourceVersion; a write that lost a race is tried again."""
        for attempt in range(CONFLICT_RETRIES):
            cur = self.registry.get(t.info, t.namespace, t.name)
            current = to_json(t.info, cur.raw, t.version)
            new = change(current)
            obj = decode_object(t.info, new, version=t.version)
            if obj.metadata.name != t.name or (t.info.namespaced and obj.metadata.namespace != cur.namespace):
                raise BadRequest("the name and namespace of an object cannot be changed by a patch")
            pinned = bool(obj.metadata.resourceVersion) and obj.metadata.resourceVersion != current["metadata"]["resourceVersion"]
            if not obj.metadata.resourceVersion:
                obj.metadata.resourceVersion = str(cur.rv)
            try:
                return await self.registry.update(t.info, obj, status=status, dry_run=dry_run,
                                                  check=node_write_check(ident, "update"))
            except Conflict:
                if pinned or attempt + 1 == CONFLICT_RETRIES:
                    raise
        raise AssertionError("unreachable")

    async def delete(self, request, t: Target, ident) -> web.Response:
        opts = {}
        raw_body = await request.read()
        if raw_body.strip():
            opts = parse_body(raw_body, request.headers.get("Content-Type", "") or "application/json")
            if not isinstance(opts, dict):
                raise BadRequest("the body of a delete must be DeleteOptions")
        grace = request.query.get("gracePeriodSeconds", opts.get("gracePeriodSeconds"))
        try:
            grace = None if grace is None else int(grace)
        except (TypeError, ValueError):
            raise BadRequest(f"invalid gracePeriodSeconds: {grace!r}") from None
        propagation = request.query.get("propagationPolicy", opts.get("propagationPolicy") or "")
        pre = opts.get("preconditions") or {}
        preconditions = SimpleNamespace(uid=pre.get("uid", ""), resourceVersion=pre.get("resourceVersion", "")) \
            if isinstance(pre, dict) and pre else None
        self.authz.check(ident, "delete", t.info.kind, t.namespace or "default", t.name)
        if _dry_run(request) or opts.get("dryRun"):
            return dumps(to_json(t.info, self.registry.get(t.info, t.namespace, t.name).raw, t.version))
        raw = await self.registry.delete(t.info, t.namespace, t.name, grace=grace, propagation=str(propagation),
                                         preconditions=preconditions, check=node_write_check(ident, "delete"))
        return dumps(to_json(t.info, raw, t.version))

    async def delete_collection(self, request, t: Target, ident) -> web.Response:
        q = request.query
        ls, fs = _selectors(t.info.kind, q.get("labelSelector", ""), q.get("fieldSelector", ""))
        for rec in self.registry.list(t.info, t.namespace, ls, fs):
            self.authz.check(ident, "delete", t.info.kind, rec.namespace or "default", rec.name)
            try:
                await self.registry.delete(t.info, rec.namespace, rec.name, check=node_write_check(ident, "delete"))
            except NotFound:
                pass
        return dumps(SUCCESS)

    # ---------------------------------------------------------------- scale, binding, eviction
    async def scale(self, request, t: Target, ident) -> web.Response:
        """GET, PUT or PATCH an autoscaling/v1 Scale (apiserver/scale.py, as gRPC's GetScale/UpdateScale)."""
        current = codec.to_dict(get_scale(self.registry, t.info, t.namespace, t.name))
        if request.method == "GET":
            return dumps(current)
        self.authz.check(ident, "update", t.info.kind, t.namespace or "default", t.name, "scale")
        raw_body = await request.read()
        if request.method == "PUT":
            wanted = parse_body(raw_body, request.headers.get("Content-Type", ""))
        else:
            kind_of_patch = patches.content_type(request.headers.get("Content-Type", ""))
            wanted = patches.apply_patch(kind_of_patch, current, parse_body(raw_body, "application/json"))
        replicas = wanted.get("spec", {}).get("replicas") if isinstance(wanted, dict) else None
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise BadRequest("a Scale needs spec.replicas, an integer")
        pinned = (wanted.get("metadata") or {}).get("resourceVersion") or ""
        if request.method == "PATCH" and pinned == current["metadata"].get("resourceVersion"):
            pinned = ""                       # a patch that leaves it as read does not pin it
        scale = await update_scale(self.registry, t.info, t.namespace, t.name, replicas, str(pinned),
                                   dry_run=_dry_run(request), check=node_write_check(ident, "update"))
        return dumps(codec.to_dict(scale))

    async def binding(self, request, t: Target, ident) -> web.Response:
        if t.info.kind != "Pod" or request.method != "POST":
            raise NotFound("the server could not find the requested resource")
        body = parse_body(await request.read(), request.headers.get("Content-Type", ""))
        target = body.get("target") if isinstance(body, dict) else None
        if not isinstance(target, dict) or not target.get("name"):
            raise BadRequest("a Binding needs target.name, the node")
        self.authz.check(ident, "create", "Binding", t.namespace or "default", t.name)
        meta = body.get("metadata") or {}
        await self.registry.bind(t.namespace, t.name, str(target["name"]), uid=str(meta.get("uid", "")),
                                 annotations={str(k): str(v) for k, v in (meta.get("annotations") or {}).items()})
        return web.Response(status=201, body=json.dumps(SUCCESS).encode(), content_type="application/json")


    async def eviction(self, request, t: Target, ident) -> web.Response:
        """POST an Eviction (policy/v1, or v1beta1 as older clients send): 201 with a Success Status once
        the pod is being deleted; 429 while a disruption budget forbids it, its cause naming the budget."""
        if t.info.kind != "Pod" or request.method != "POST":
            raise NotFound("the server could not find the requested resource")
        body = parse_body(await request.read(), request.headers.get("Content-Type", ""))
        if not isinstance(body, dict) or body.get("kind", "Eviction") != "Eviction":
            raise BadRequest("the body of an eviction must be an Eviction (policy/v1)")
        meta = body.get("metadata") or {}
        if meta.get("name") and meta["name"] != t.name:
            raise BadRequest("name in URL does not match name in Eviction object")
        opts = body.get("deleteOptions") or {}
        if not isinstance(opts, dict):
            raise BadRequest("deleteOptions must be DeleteOptions")
        if request.query.getall("dryRun", []) or opts.get("dryRun"):
            raise BadRequest("dry-run evictions are not supported: the eviction would be carried out")
        grace = opts.get("gracePeriodSeconds")
        if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
            raise BadRequest(f"invalid deleteOptions.gracePeriodSeconds: {grace!r}")
        pre = opts.get("preconditions") or {}
        preconditions = SimpleNamespace(uid=str(pre.get("uid", "")), resourceVersion=str(pre.get("resourceVersion", ""))) \
            if isinstance(pre, dict) and pre else None
        self.authz.check(ident, "create", "Pod", t.namespace or "default", t.name, "eviction")
        try:
            await evict(self.registry, t.namespace, t.name, grace, preconditions, check=node_write_check(ident, "delete"))
        except ApiError as e:
            if not e.causes or e.reason not in CODES:
                raise
            details = {"name": t.name, "kind": "pods",
                       "causes": [{"reason": reason, "message": message} for reason, message in e.causes]}
            return response(status(e.reason, e.message, details))
        return web.Response(status=201, body=json.dumps(SUCCESS).encode(), content_type="application/json")


def _namespace_matches(t: Target, obj) -> None:
    if not t.info.namespaced:
        return
    if obj.metadata.namespace and t.namespace and obj.metadata.namespace != t.namespace:
        raise BadRequest("the namespace of the provided object does not match the namespace sent on the request")
    obj.metadata.namespace = t.namespace or obj.metadata.namespace


def _limit(text: str) -> int:
    if not text:
        return 0
    try:
        n = int(text)
    except ValueError:
        raise BadRequest(f'invalid limit "{text}"') from None
    return max(n, 0)


def _continue_from(token: str) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        ns, name = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(ns), str(name)
    except (ValueError, TypeError):
        raise BadRequest("continue key is not valid") from None
