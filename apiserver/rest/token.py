"""POST /api/v1/namespaces/NS/serviceaccounts/NAME/token: a TokenRequest (authentication.k8s.io/v1,
JSON or YAML) answered 201 with the signed token in its status, as `kubectl create token` and the
official clients' `create_namespaced_service_account_token` expect."""
from __future__ import annotations

from aiohttp import web

from minik8s.api import codec
from minik8s.api.errors import BadRequest, NotFound
from minik8s.api.pb import authentication_pb2

from apiserver.rest.handlers import dumps
from apiserver.rest.target import NOT_FOUND, Target, parse_body


async def create(request, t: Target, ident, authz, tokens) -> web.Response:
    if t.info.kind != "ServiceAccount" or request.method != "POST" or tokens is None:
        raise NotFound(NOT_FOUND)
    body = parse_body(await request.read(), request.headers.get("Content-Type", ""))
    if not isinstance(body, dict) or body.get("kind", "TokenRequest") != "TokenRequest":
        raise BadRequest("the body of the request must be a TokenRequest object")
    try:
        req = codec.from_dict(authentication_pb2.TokenRequest, body)
    except codec.FieldError as e:
        raise BadRequest(f"strict decoding error: {e}", e.errors) from None
    authz.check(ident, "create", "ServiceAccount", t.namespace, t.name, "token")
    resp = dumps(codec.to_dict(tokens.create_token(ident, t.namespace, t.name, req)))
    resp.set_status(201)
    return resp
