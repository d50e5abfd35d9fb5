"""The REST front end's routing: authentication (the same bearer tokens as gRPC), errors as upstream
`Status` objects, discovery and OpenAPI paths, and resource URLs dispatched by verb and subresource.
`make_runner` readies it for the API server's own event loop, on its own port (apiserver/rest/lazy.py)."""
from __future__ import annotations

import logging

from aiohttp import web

from minik8s.api import codec
from minik8s.api.errors import ApiError, BadRequest, NotFound, TooLarge, Unauthenticated
from minik8s.api.kinds import UnknownKind

from apiserver import access_review
from apiserver.auth import TokenAuthenticator
from apiserver.authorizer import Authorizer
from apiserver.registry import Registry
from apiserver.rest import discovery, exec as remote, k8sproto, openapi, token, watch as watches
from apiserver.rest.handlers import Objects, dumps
from apiserver.rest.status import RestError, error_response, response, status
from apiserver.rest.target import NOT_FOUND, parse_body, resolve
from apiserver.tunnel import TunnelRegistry

log = logging.getLogger("apiserver.rest")
MAX_BODY = 3 * 1024 * 1024      # upstream's request body limit
PUBLIC = {"/version", "/healthz", "/livez", "/readyz"}      # upstream's system:public-info-viewer paths


@web.middleware
async def _errors(request, handler):
    try:
        return await handler(request)
    except (ApiError, RestError) as e:
        return error_response(e, request.get("target"))
    except UnknownKind as e:
        return error_response(NotFound(str(e)))
    except web.HTTPRequestEntityTooLarge as e:
        return error_response(TooLarge(f"Request entity too large: limit is {MAX_BODY}"))
    except web.HTTPException as e:
        if e.status == 404:
            return response(status("NotFound", NOT_FOUND))
        if e.status == 405:
            return response(status("MethodNotAllowed", "the server does not allow this method on the requested "
                                   "resource"))
        raise
    except Exception:  # noqa: BLE001 - no request may take the server down
        log.exception("%s %s failed", request.method, request.path)
        return response(status("InternalError", "Internal error: see the API server's log"))


def _auth(authenticator: TokenAuthenticator, authz: Authorizer):
    @web.middleware
    async def middleware(request, handler):
        header = request.headers.get("Authorization", "")
        if request.path in PUBLIC and not header:
            return await handler(request)
        ident = authenticator.authenticate([("authorization", header)])
        impersonation = [("impersonate-user", v) for v in request.headers.getall("Impersonate-User", [])] + \
                        [("impersonate-group", v) for v in request.headers.getall("Impersonate-Group", [])]
        request["ident"] = access_review.impersonate(authz, ident, impersonation)
        return await handler(request)
    return middleware


class RestAPI:
    def __init__(self, registry: Registry, tunnels: TunnelRegistry, bookmark_interval: float, version: str,
                 authz: Authorizer):
        self.registry = registry
        self.authz = authz
        self.tunnels = tunnels
        self.bookmark_interval = bookmark_interval
        self.version = version
        self.objects = Objects(registry, authz)

    # ---------------------------------------------------------------- discovery
    async def version_(self, request):
        return dumps(discovery.version(self.version))

    async def healthz(self, request):
        return web.Response(text="ok")

    async def api(self, request):
        return dumps(discovery.api_versions(request.host))

    async def apis(self, request):
        return dumps(discovery.api_group_list())

    async def group(self, request):
        doc = discovery.api_group(request.match_info["group"])
        if doc is None:
            raise NotFound(NOT_FOUND)
        return dumps(doc)

    async def resources(self, request):
        doc = discovery.resource_list(request.match_info.get("group", ""), request.match_info["version"])
        if doc is None:
            raise NotFound(NOT_FOUND)
        return dumps(doc)

    async def openapi_root(self, request):
        return dumps(openapi.root())

    async def openapi_gv(self, request):
        group, version = request.match_info.get("group", ""), request.match_info["version"]
        if version not in discovery.group_versions().get(group, []):
            raise NotFound(NOT_FOUND)
        return web.Response(body=openapi.group_version_document(group, version), content_type="application/json")

    async def review(self, request):
        """POST a SelfSubjectAccessReview, SubjectAccessReview or SelfSubjectRulesReview: 201 with the
        answer in its status (kubectl auth can-i)."""
        kind = request.match_info.route.name
        raw, content_type = await request.read(), request.headers.get("Content-Type", "")
        body = k8sproto.decode(kind, raw) if content_type.startswith(k8sproto.PROTOBUF) \
            else parse_body(raw, content_type)
        if not isinstance(body, dict):
            raise BadRequest(f"the body of the request must be a {kind} object")
        try:
            obj = codec.from_dict(access_review.message_for(kind), body)
        except codec.FieldError as e:
            raise BadRequest(f"strict decoding error: {e}", e.errors) from None
        answer = codec.to_dict(access_review.review(self.authz, request["ident"], kind, obj))
        if k8sproto.PROTOBUF in request.headers.get("Accept", ""):
            return web.Response(status=201, body=k8sproto.encode(kind, answer["apiVersion"], answer),
                                content_type=k8sproto.PROTOBUF)
        resp = dumps(answer)
        resp.set_status(201)
        return resp

    # ---------------------------------------------------------------- resources
    async def resource(self, request):
        m = request.match_info
        t = request["target"] = resolve(m.get("group", ""), m["version"], m["path"])
        ident = request["ident"]
        method, sub = request.method, t.subresource
        if method == "GET" and t.info is not None:
            watching = request.query.get("watch", "").lower() in ("1", "true")
            self.authz.check(ident, "watch" if watching else "get" if t.name else "list", t.info.kind,
                             t.namespace, t.name, sub, request.query.get("fieldSelector", ""))
        if sub in ("", "status"):
            if not t.name:
                if sub:
                    raise NotFound(NOT_FOUND)
                if method == "GET":
                    if request.query.get("watch", "").lower() in ("1", "true"):
                        return await watches.watch(request, t, self.registry, self.bookmark_interval)
                    return self.objects.list(request, t)
                if method == "POST":
                    return await self.objects.create(request, t, ident)
                if method == "DELETE":
                    return await self.objects.delete_collection(request, t, ident)
            else:
                if method == "GET":
                    if request.query.get("watch", "").lower() in ("1", "true"):
                        return await watches.watch(request, t, self.registry, self.bookmark_interval)
                    return self.objects.get(request, t)
                if method == "PUT":
                    return await self.objects.update(request, t, ident)
                if method == "PATCH":
                    return await self.objects.patch(request, t, ident)
                if method == "DELETE" and not sub:
                    return await self.objects.delete(request, t, ident)
            raise RestError("MethodNotAllowed", "the server does not allow this method on the requested resource")
        if sub == "scale":
            return await self.objects.scale(request, t, ident)
        if sub == "binding":
            return await self.objects.binding(request, t, ident)
        if sub == "eviction":
            return await self.objects.eviction(request, t, ident)
        if sub == "token":
            return await token.create(request, t, ident, self.authz, self.tokens)
        if sub == "log" and method == "GET":
            return await remote.logs(request, t, self.registry, self.tunnels)
        if sub == "exec" and method in ("GET", "POST"):
            self.authz.check(ident, "create", "Pod", t.namespace, t.name, "exec")
            return await remote.exec_(request, t, ident, self.registry, self.tunnels)
        raise NotFound(NOT_FOUND)


def build_app(registry: Registry, auth: TokenAuthenticator, tunnels: TunnelRegistry,
              bookmark_interval: float = 60.0, version: str = "",
              authorizer: Authorizer | None = None) -> web.Application:
    api = RestAPI(registry, tunnels, bookmark_interval, version, authorizer or Authorizer(registry))
    api.tokens = auth.service_accounts      # ServiceAccount tokens (the `token` subresource)
    app = web.Application(middlewares=[_errors, _auth(auth, api.authz)], client_max_size=MAX_BODY)
    r = app.router
    for kind, plural in (("SelfSubjectAccessReview", "selfsubjectaccessreviews"),
                         ("SubjectAccessReview", "subjectaccessreviews"),
                         ("SelfSubjectRulesReview", "selfsubjectrulesreviews")):
        r.add_post(f"/apis/{access_review.GROUP}/{access_review.VERSION}/{plural}", api.review,
                   name=kind)
    r.add_get("/version", api.version_)
    for path in ("/healthz", "/livez", "/readyz"):
        r.add_get(path, api.healthz)
    r.add_get("/api", api.api)
    r.add_get("/apis", api.apis)
    r.add_get("/api/{version}", api.resources)
    r.add_get("/apis/{group}", api.group)
    r.add_get("/apis/{group}/{version}", api.resources)
    r.add_get("/openapi/v3", api.openapi_root)
    r.add_get("/openapi/v3/api/{version}", api.openapi_gv)
    r.add_get("/openapi/v3/apis/{group}/{version}", api.openapi_gv)
    r.add_route("*", "/api/{version}/{path:.+}", api.resource)
    r.add_route("*", "/apis/{group}/{version}/{path:.+}", api.resource)
    return app


async def make_runner(app: web.Application) -> web.AppRunner:
    """`app` set up to serve; apiserver/rest/lazy.py listens for it."""
    # a watch whose client went away must end: handlers are cancelled on disconnect
    runner = web.AppRunner(app, access_log=None, handle_signals=False, handler_cancellation=True,
                           shutdown_timeout=2.0)
    await runner.setup()
    return runner
