"""The calls both clients make: method paths, serializers, and how a request is built and a reply
decoded. The sync and asyncio clients differ only in whether they await.

Also how an API error travels, for the server that sends it and the clients that get it back typed: a
gRPC status code plus trailing metadata carrying the Kubernetes reason and, for Invalid, every
offending field."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import grpc

from minik8s.api.errors import (AlreadyExists, ApiError, BadRequest, Conflict, Expired, Forbidden, Invalid,
                                NotFound, Timeout, TooLarge, TooManyRequests, Unauthenticated, Unavailable)
from minik8s.api.kinds import KINDS, KindInfo, for_message, lookup
from minik8s.api.pb import api_pb2, authentication_pb2, autoscaling_pb2

SERVICE = "/minik8s.api.API/"
_METHODS = {
    "Create": (api_pb2.ObjectRequest, api_pb2.ObjectResponse),
    "Get": (api_pb2.GetRequest, api_pb2.ObjectResponse),
    "List": (api_pb2.ListRequest, api_pb2.ListResponse),
    "Update": (api_pb2.ObjectRequest, api_pb2.ObjectResponse),
    "UpdateStatus": (api_pb2.ObjectRequest, api_pb2.ObjectResponse),
    "Patch": (api_pb2.PatchRequest, api_pb2.ObjectResponse),
    "Delete": (api_pb2.DeleteRequest, api_pb2.ObjectResponse),
    "Bind": (api_pb2.BindRequest, api_pb2.ObjectResponse),
    "Evict": (api_pb2.EvictRequest, api_pb2.ObjectResponse),
    "GetScale": (api_pb2.GetRequest, api_pb2.ObjectResponse),
    "UpdateScale": (api_pb2.UpdateScaleRequest, api_pb2.ObjectResponse),
    "CreateToken": (api_pb2.CreateTokenRequest, api_pb2.ObjectResponse),
    "Version": (api_pb2.VersionRequest, api_pb2.VersionResponse),
    "AppendLogs": (api_pb2.AppendLogsRequest, api_pb2.AppendLogsResponse),
    "ListLogStreams": (api_pb2.ListLogStreamsRequest, api_pb2.ListLogStreamsResponse),
    "UpdateLeases": (api_pb2.UpdateLeasesRequest, api_pb2.UpdateLeasesResponse),
}
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 512 * 1024 * 1024),
                   ("grpc.max_send_message_length", 8 * 1024 * 1024),
                   # a channel of its own: a new client must not inherit the reconnect backoff another
                   # channel to the same address built up while the server was down
                   ("grpc.use_local_subchannel_pool", 1)]


_PARSE = {kind: info.message.FromString for kind, info in KINDS.items()}


@dataclass
class WatchEvent:
    type: str          # ADDED, MODIFIED, DELETED, BOOKMARK
    object: Any

    @property
    def resource_version(self) -> str:
        return self.object.metadata.resourceVersion


@dataclass
class ObjectList:
    items: list
    resource_version: str

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)


def kind_info(kind) -> KindInfo:
    if isinstance(kind, KindInfo):
        return kind
    if isinstance(kind, str):
        return lookup(kind)
    return for_message(kind())


def channel_target(server: str) -> str:
    return server.removeprefix("https://").removeprefix("http://")


def channel_security(server: str, ca_file: str | None, insecure_skip_tls_verify: bool = False):
    """(channel credentials or None for plaintext, extra channel options). TLS is never downgraded:
    a CA means TLS, and so does an https:// server, which without a CA is refused unless the caller
    asks to skip verification, as kubectl does (then the certificate the server shows is trusted as
    it is, for this connection)."""
    if ca_file:
        with open(ca_file, "rb") as f:
            return grpc.ssl_channel_credentials(root_certificates=f.read()), []
    if not server.startswith("https://"):
        return None, []
    if not insecure_skip_tls_verify:
        raise ValueError(f"the server {server} speaks TLS and no certificate authority is given: pass "
                         "--certificate-authority FILE (or certificateAuthority in the config), or "
                         "--insecure-skip-tls-verify to connect without verifying it (not recommended)")
    pem, name = _presented_certificate(channel_target(server))
    return grpc.ssl_channel_credentials(root_certificates=pem), [("grpc.ssl_target_name_override", name)]


def _presented_certificate(target: str) -> tuple[bytes, str]:
    """The certificate the server at host:port presents, unverified, and a name it is valid for."""
    import ssl
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    host, _, port = target.rpartition(":")
    pem = ssl.get_server_certificate((host.strip("[]"), int(port)), timeout=10).encode()
    cert = x509.load_pem_x509_certificate(pem)
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = names.get_values_for_type(x509.DNSName)
        ips = [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns, ips = [], []
    cn = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return pem, (dns or ips or cn or [host])[0]


def stubs(channel) -> dict:
    out = {name: channel.unary_unary(SERVICE + name, request_serializer=req.SerializeToString,
                                     response_deserializer=resp.FromString)
           for name, (req, resp) in _METHODS.items()}
    out["Logs"] = channel.unary_stream(SERVICE + "Logs", request_serializer=api_pb2.LogsRequest.SerializeToString,
                                       response_deserializer=api_pb2.LogChunk.FromString)
    out["Exec"] = channel.stream_stream(SERVICE + "Exec", request_serializer=api_pb2.ExecRequest.SerializeToString,
                                        response_deserializer=api_pb2.ExecOutput.FromString)
    out["PortForward"] = channel.stream_stream(SERVICE + "PortForward",
                                               request_serializer=api_pb2.PortForwardRequest.SerializeToString,
                                               response_deserializer=api_pb2.PortForwardData.FromString)
    out["Tunnel"] = channel.stream_stream(SERVICE + "Tunnel",
                                          request_serializer=api_pb2.TunnelFrame.SerializeToString,
                                          response_deserializer=api_pb2.TunnelFrame.FromString)
    out["Watch"] = channel.unary_stream(SERVICE + "Watch",
                                        request_serializer=api_pb2.WatchRequest.SerializeToString,
                                        response_deserializer=api_pb2.WatchResponse.FromString)
    out["ReadLogs"] = channel.unary_stream(SERVICE + "ReadLogs",
                                           request_serializer=api_pb2.ReadLogsRequest.SerializeToString,
                                           response_deserializer=api_pb2.ArchivedLogChunk.FromString)
    return out


def namespace_of(info: KindInfo, namespace: str | None) -> str:
    return (namespace or "default") if info.namespaced else ""


def decode_list(info: KindInfo, resp) -> ObjectList:
    parse = info.message.FromString
    return ObjectList([parse(b) for b in resp.items], resp.resourceVersion)


def decode_events(resp) -> list[WatchEvent]:
    """The events of one WatchResponse, each object parsed into its kind's message. A watcher does
    this for every event it receives, so the per-event work is one parse and nothing else."""
    return [WatchEvent(ev.type, _PARSE[ev.kind](ev.object)) for ev in resp.events]


@dataclass
class ExecResult:
    stdout: bytes
    stderr: bytes
    exit_code: int


def read_logs_request(key: api_pb2.LogStreamKey, follow: bool, tail_lines: int | None, since_seconds: int | None,
                      timestamps: bool) -> api_pb2.ReadLogsRequest:
    req = api_pb2.ReadLogsRequest(key=key, follow=follow, timestamps=timestamps)
    if tail_lines is not None:
        req.tailLines = tail_lines
    if since_seconds is not None:
        req.sinceSeconds = since_seconds
    return req


def logs_request(namespace, name, container, follow, previous, tail_lines, timestamps, since_seconds,
                 limit_bytes=None):
    req = api_pb2.LogsRequest(namespace=namespace or "default", name=name, container=container or "",
                              follow=follow, previous=previous, timestamps=timestamps)
    if tail_lines is not None:
        req.tailLines = tail_lines
    if since_seconds is not None:
        req.sinceSeconds = since_seconds
    if limit_bytes is not None:
        req.limitBytes = limit_bytes
    return req


def delete_request(info, name, namespace, grace_period, propagation_policy, preconditions):
    req = api_pb2.DeleteRequest(kind=info.kind, namespace=namespace_of(info, namespace), name=name,
                                propagationPolicy=propagation_policy or "")
    if grace_period is not None:
        req.gracePeriodSeconds = grace_period
    if preconditions:
        req.preconditions.uid = preconditions.get("uid", "")
        req.preconditions.resourceVersion = preconditions.get("resourceVersion", "")
    return req


def get_scale_request(kind, name, namespace) -> api_pb2.GetRequest:
    info = kind_info(kind)
    return api_pb2.GetRequest(kind=info.kind, namespace=namespace_of(info, namespace), name=name)


def update_scale_request(kind, name, namespace, replicas, resource_version, dry_run) -> api_pb2.UpdateScaleRequest:
    info = kind_info(kind)
    return api_pb2.UpdateScaleRequest(kind=info.kind, namespace=namespace_of(info, namespace), name=name,
                                      replicas=replicas, resourceVersion=resource_version, dryRun=dry_run)


def scale(resp: api_pb2.ObjectResponse) -> autoscaling_pb2.Scale:
    return autoscaling_pb2.Scale.FromString(resp.object)


def token_request(namespace, name, expiration_seconds, audiences, bound) -> api_pb2.CreateTokenRequest:
    """A TokenRequest for ServiceAccount namespace/name; `bound`: (kind, name, uid) or None."""
    req = authentication_pb2.TokenRequest(apiVersion="authentication.k8s.io/v1", kind="TokenRequest")
    if expiration_seconds is not None:
        req.spec.expirationSeconds = expiration_seconds
    req.spec.audiences.extend(audiences)
    if bound:
        ref = req.spec.boundObjectRef
        ref.kind, ref.name, ref.uid = bound
        ref.apiVersion = "v1"
    return api_pb2.CreateTokenRequest(namespace=namespace or "default", name=name, request=req.SerializeToString())


def token(resp: api_pb2.ObjectResponse) -> authentication_pb2.TokenRequest:
    return authentication_pb2.TokenRequest.FromString(resp.object)


def evict_request(namespace, name, grace_period, preconditions):
    req = api_pb2.EvictRequest(namespace=namespace or "default", name=name)
    if grace_period is not None:
        req.gracePeriodSeconds = grace_period
    if preconditions:
        req.preconditions.uid = preconditions.get("uid", "")
        req.preconditions.resourceVersion = preconditions.get("resourceVersion", "")
    return req


# ---------------------------------------------------------------- API errors on the wire
_STATUS_CODES = {NotFound: grpc.StatusCode.NOT_FOUND, AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
                 Conflict: grpc.StatusCode.ABORTED, Invalid: grpc.StatusCode.INVALID_ARGUMENT,
                 BadRequest: grpc.StatusCode.INVALID_ARGUMENT, Expired: grpc.StatusCode.OUT_OF_RANGE,
                 Unauthenticated: grpc.StatusCode.UNAUTHENTICATED, Forbidden: grpc.StatusCode.PERMISSION_DENIED,
                 TooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED, Unavailable: grpc.StatusCode.UNAVAILABLE,
                 TooManyRequests: grpc.StatusCode.RESOURCE_EXHAUSTED, Timeout: grpc.StatusCode.DEADLINE_EXCEEDED}
_BY_REASON = {cls.reason: cls for cls in _STATUS_CODES}
# a reply without our metadata (a proxy, the channel itself) is typed by its code alone
_BY_CODE = {grpc.StatusCode.NOT_FOUND: NotFound, grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
            grpc.StatusCode.ABORTED: Conflict, grpc.StatusCode.INVALID_ARGUMENT: Invalid,
            grpc.StatusCode.OUT_OF_RANGE: Expired, grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
            grpc.StatusCode.PERMISSION_DENIED: Forbidden, grpc.StatusCode.RESOURCE_EXHAUSTED: TooLarge,
            grpc.StatusCode.UNAVAILABLE: Unavailable, grpc.StatusCode.DEADLINE_EXCEEDED: Unavailable}


def status_code(err: ApiError) -> grpc.StatusCode:
    """The gRPC status code the server answers `err` with."""
    return _STATUS_CODES.get(type(err), grpc.StatusCode.INTERNAL)


# gRPC clients refuse headers past 16 KiB by default: the causes, with the status message beside
# them, must stay well within that
MAX_CAUSES_BYTES = 8 * 1024


def trailing_metadata(err: ApiError) -> tuple[tuple[str, str], ...]:
    md = [("minik8s-reason", err.reason)]
    causes = list(err.causes)
    while causes:
        text = json.dumps(causes)
        if len(text) <= MAX_CAUSES_BYTES:
            md.append(("minik8s-causes", text))
            break
        causes.pop()
    return tuple(md)


def error_for(reason: str, message: str) -> ApiError:
    """The typed ApiError of a Kubernetes reason (a failure answered inside a reply, not as its status)."""
    return _BY_REASON.get(reason, ApiError)(message)


def from_rpc_error(e: grpc.RpcError) -> ApiError:
    """Turn a gRPC failure back into the typed ApiError the server raised."""
    md = dict(e.trailing_metadata() or ()) if hasattr(e, "trailing_metadata") else {}
    cls = _BY_REASON.get(md.get("minik8s-reason", "")) or _BY_CODE.get(e.code(), ApiError)
    causes = [tuple(c) for c in json.loads(md["minik8s-causes"])] if "minik8s-causes" in md else []
    return cls(e.details() or str(e.code()), causes)
