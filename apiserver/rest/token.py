"""POST /api/v1/namespaces/NS/serviceaccounts/NAME/token: a TokenRequest (authentication.k8s.io/v1)
answered 201 with the signed token in its status. JSON or YAML as the official clients'
`create_namespaced_service_account_token` sends it, or Kubernetes protobuf as `kubectl create token`
does (answered in kind)."""
from __future__ import annotations

from aiohttp import web

from minik8s.api import codec
from minik8s.api.clock import parse_time
from minik8s.api.errors import BadRequest, NotFound
from minik8s.api.pb import authentication_pb2, k8swire_pb2

from apiserver.rest.handlers import dumps
from apiserver.rest.k8sproto import MAGIC, PROTOBUF
from apiserver.rest.target import NOT_FOUND, Target, parse_body

API_VERSION = "authentication.k8s.io/v1"


async def create(request, t: Target, ident, authz, tokens) -> web.Response:
    if t.info.kind != "ServiceAccount" or request.method != "POST" or tokens is None:
        raise NotFound(NOT_FOUND)
    raw = await request.read()
    if request.headers.get("Content-Type", "").startswith(PROTOBUF):
        req = _from_wire(raw)
    else:
        req = _from_json(parse_body(raw, request.headers.get("Content-Type", "")))
    authz.check(ident, "create", "ServiceAccount", t.namespace, t.name, "token")
    answer = tokens.create_token(ident, t.namespace, t.name, req)
    if PROTOBUF in request.headers.get("Accept", ""):
        return web.Response(status=201, body=_to_wire(answer), content_type=PROTOBUF)
    resp = dumps(codec.to_dict(answer))
    resp.set_status(201)
    return resp


def _from_json(body):
    if not isinstance(body, dict) or body.get("kind", "TokenRequest") != "TokenRequest":
        raise BadRequest("the body of the request must be a TokenRequest object")
    try:
        return codec.from_dict(authentication_pb2.TokenRequest, body)
    except codec.FieldError as e:
        raise BadRequest(f"strict decoding error: {e}", e.errors) from None


def _from_wire(raw: bytes):
    try:
        if not raw.startswith(MAGIC):
            raise ValueError("no k8s envelope")
        wire = k8swire_pb2.TokenRequest.FromString(k8swire_pb2.Unknown.FromString(raw[len(MAGIC):]).raw)
    except Exception:
        raise BadRequest("cannot decode TokenRequest: malformed protobuf") from None
    req = authentication_pb2.TokenRequest(apiVersion=API_VERSION, kind="TokenRequest")
    req.spec.audiences.extend(wire.spec.audiences)
    if wire.spec.HasField("expirationSeconds"):
        req.spec.expirationSeconds = wire.spec.expirationSeconds
    if wire.spec.HasField("boundObjectRef"):
        ref = wire.spec.boundObjectRef       # the same field numbers in both messages
        req.spec.boundObjectRef.ParseFromString(ref.SerializeToString())
    return req


def _to_wire(answer) -> bytes:
    wire = k8swire_pb2.TokenRequest()
    wire.spec.audiences.extend(answer.spec.audiences)
    wire.spec.expirationSeconds = answer.spec.expirationSeconds
    if answer.spec.HasField("boundObjectRef"):
        wire.spec.boundObjectRef.ParseFromString(answer.spec.boundObjectRef.SerializeToString())
    wire.status.token = answer.status.token
    wire.status.expirationTimestamp.seconds = int(parse_time(answer.status.expirationTimestamp))
    envelope = k8swire_pb2.Unknown(typeMeta=k8swire_pb2.TypeMeta(apiVersion=API_VERSION, kind="TokenRequest"),
                                   raw=wire.SerializeToString(), contentType=PROTOBUF)
    return MAGIC + envelope.SerializeToString()
