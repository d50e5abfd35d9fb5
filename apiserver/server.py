"""The gRPC front end: authenticate, authorize, decode, hand to the registry, encode.

Handlers are registered as generic method handlers so List and Watch can send bytes assembled from
stored objects without decoding them (a list of 10,000 pods is a concatenation, not 10,000 parses)."""
from __future__ import annotations

import asyncio
import functools
import logging
import platform

import grpc

from minik8s.api import selectors
from minik8s.api.errors import ApiError, BadRequest, Expired, Forbidden, NotFound, Unavailable
from minik8s.api.kinds import KINDS, UnknownKind, lookup
from minik8s.api.pb import api_pb2, authentication_pb2
from minik8s.client.home import is_loopback
from minik8s.client.transport import status_code, trailing_metadata

from apiserver import strategy
from apiserver import access_review, bootstrap_policy
from apiserver.auth import Identity, TokenAuthenticator
from apiserver.authorizer import Attributes, Authorizer
from apiserver.eviction import evict
from apiserver.lease_batch import update_leases
from apiserver.logarchive import LogArchive, authorize_append, stream_key
from apiserver.node_authorizer import node_write_check
from apiserver.registry import Registry
from apiserver.scale import get_scale, update_scale
from apiserver.tunnel import TunnelRegistry
from apiserver.watch import field_bytes

log = logging.getLogger("apiserver")
VERSION = "v0.1.0-minik8s"
SERVICE = "minik8s.api.API"
MAX_MESSAGE = 8 * 1024 * 1024
# gRPC core keeps the calls that arrive before the server's loop takes them (one a turn of the loop)
# and, past its default backlog (1,000 waiting, every arrival past 3,000, any waiting over 30 s),
# cancels them unlogged: the caller sees CANCELLED. A thousand kubelets on a busy loop pass that;
# a waiting call costs a kilobyte or two, and each caller's own deadline bounds its wait.
BACKLOG_OPTIONS = [("grpc.server.max_pending_requests", 20_000),
                   ("grpc.server.max_pending_requests_hard_limit", 50_000),
                   ("grpc.server_max_unrequested_time_in_server", 24 * 3600)]


class _Undecodable:
    """What a request's deserializer returns for bytes that are no such message: the handler answers
    InvalidArgument (400), where a raising deserializer would make gRPC answer UNKNOWN."""
    __slots__ = ("what",)

    def __init__(self, what: str):
        self.what = what


def _decoder(message):
    def decode(raw: bytes):
        try:
            return message.FromString(raw)
        except Exception:
            return _Undecodable(message.DESCRIPTOR.full_name)
    return decode


def _decoded(request):
    """`request`, or BadRequest when its bytes were undecodable."""
    if isinstance(request, _Undecodable):
        raise BadRequest(f"cannot decode the request: malformed {request.what}")
    return request


def _rpc(fn):
    """Turn ApiErrors into gRPC statuses; anything else is logged as an internal error."""
    @functools.wraps(fn)
    async def wrapper(self, request, context):
        try:
            return await fn(self, _decoded(request), context)
        except ApiError as e:
            context.set_trailing_metadata(trailing_metadata(e))
            await context.abort(status_code(e), e.message)
        except UnknownKind as e:
            err = BadRequest(str(e))
            context.set_trailing_metadata(trailing_metadata(err))
            await context.abort(status_code(err), err.message)
    return wrapper


def _kind(name: str):
    try:
        return lookup(name)
    except UnknownKind as e:
        raise BadRequest(str(e)) from None


def _selectors(kind: str, label: str, field: str):
    try:
        ls = selectors.parse_label_selector(label) if label else None
        fs = selectors.parse_field_selector(field) if field else None
    except ValueError as e:
        raise BadRequest(str(e)) from None
    if fs is not None:
        supported = strategy.supported_fields(kind)
        for f, _, _ in fs.requirements:
            if f not in supported:
                raise BadRequest(f'field label not supported: {f}')
    return ls, fs


def _decode(info, raw: bytes):
    try:
        return info.message.FromString(raw)
    except Exception:
        raise BadRequest(f"cannot decode {info.kind}: malformed protobuf") from None


def pod_container(registry: Registry, namespace: str, name: str, container: str):
    """The pod and container a log or exec request means (the only container when none is named)."""
    pod = registry.get(KINDS["Pod"], namespace or "default", name).decode()
    names = [c.name for c in pod.spec.containers]
    if not container:
        if len(names) != 1:
            raise BadRequest(f"a container name must be specified for pod {name}, choose one of: "
                             f"[{' '.join(names)}]")
        container = names[0]
    elif container not in names + [c.name for c in pod.spec.initContainers]:
        raise BadRequest(f"container {container} is not valid for pod {name}")
    if not pod.spec.nodeName:
        raise BadRequest(f'container "{container}" in pod "{name}" is waiting to start: '
                         "pod is not scheduled")
    return pod, container


class APIService:
    def __init__(self, registry: Registry, auth: TokenAuthenticator, bookmark_interval: float = 60.0,
                 tunnels: TunnelRegistry | None = None, archive: LogArchive | None = None,
                 authorizer: Authorizer | None = None):
        self.registry = registry
        self.authz = authorizer or Authorizer(registry)
        self.archive = archive
        self.auth = auth
        self.bookmark_interval = bookmark_interval
        self.tunnels = tunnels or TunnelRegistry()

    def _ident(self, context) -> Identity:
        md = context.invocation_metadata()
        return access_review.impersonate(self.authz, self.auth.authenticate(md), md)

    @_rpc
    async def Create(self, req, context):
        ident = self._ident(context)
        if req.kind in access_review.REVIEW_KINDS:
            answer = access_review.review(self.authz, ident, req.kind, access_review.decode(req.kind, req.object))
            return _object_reply(req.kind, answer.SerializeToString())
        info = _kind(req.kind)
        obj = _decode(info, req.object)
        self.authz.check(ident, "create", info.kind, obj.metadata.namespace or "default", obj.metadata.name)
        raw = await self.registry.create(info, obj, dry_run=req.dryRun, check=node_write_check(ident, "create"))
        return _object_reply(info.kind, raw)

    @_rpc
    async def Get(self, req, context):
        ident = self._ident(context)
        info = _kind(req.kind)
        self.authz.check(ident, "get", info.kind, req.namespace, req.name)
        return _object_reply(info.kind, self.registry.get(info, req.namespace, req.name).raw)

    @_rpc
    async def List(self, req, context):
        ident = self._ident(context)
        info = _kind(req.kind)
        self.authz.check(ident, "list", info.kind, req.namespace, field_selector=req.fieldSelector)
        ls, fs = _selectors(info.kind, req.labelSelector, req.fieldSelector)
        recs = self.registry.list(info, req.namespace if info.namespaced else "", ls, fs)
        head = field_bytes(1, info.kind.encode()) + field_bytes(2, str(self.registry.rv).encode())
        return head + b"".join([field_bytes(3, r.raw) for r in recs])

    async def _update(self, req, context, status: bool):
        ident = self._ident(context)
        info = _kind(req.kind)
        obj = _decode(info, req.object)
        self.authz.check(ident, "update", info.kind, obj.metadata.namespace or "default", obj.metadata.name,
                        "status" if status else "")
        raw = await self.registry.update(info, obj, status=status, check=node_write_check(ident, "update"),
                                         dry_run=req.dryRun)
        return _object_reply(info.kind, raw)

    @_rpc
    async def Update(self, req, context):
        return await self._update(req, context, False)

    @_rpc
    async def UpdateStatus(self, req, context):
        return await self._update(req, context, True)

    @_rpc
    async def UpdateLeases(self, req, context):
        return await update_leases(self.registry, self.authz, self.auth, self._ident(context), req)

    @_rpc
    async def Patch(self, req, context):
        ident = self._ident(context)
        info = _kind(req.kind)
        if req.patchType not in ("", "merge"):
            raise BadRequest(f'unsupported patch type "{req.patchType}": only "merge" is supported')
        self.authz.check(ident, "patch", info.kind, req.namespace or "default", req.name,
                        "status" if req.status else "")
        raw = await self.registry.patch(info, req.namespace, req.name, req.patch, status=req.status,
                                        check=node_write_check(ident, "update"))
        return _object_reply(info.kind, raw)

    @_rpc
    async def Delete(self, req, context):
        ident = self._ident(context)
        info = _kind(req.kind)
        self.authz.check(ident, "delete", info.kind, req.namespace or "default", req.name)
        grace = req.gracePeriodSeconds if req.HasField("gracePeriodSeconds") else None
        raw = await self.registry.delete(info, req.namespace, req.name, grace=grace,
                                         propagation=req.propagationPolicy,
                                         preconditions=req.preconditions if req.HasField("preconditions") else None,
                                         check=node_write_check(ident, "delete"))
        return _object_reply(info.kind, raw)

    @_rpc
    async def Bind(self, req, context):
        ident = self._ident(context)
        self.authz.check(ident, "create", "Binding", req.namespace or "default", req.name)
        raw = await self.registry.bind(req.namespace, req.name, req.nodeName, req.uid,
                                       annotations=dict(req.annotations))
        return _object_reply("Pod", raw)

    @_rpc
    async def Evict(self, req, context):
        ident = self._ident(context)
        self.authz.check(ident, "create", "Pod", req.namespace or "default", req.name, "eviction")
        grace = req.gracePeriodSeconds if req.HasField("gracePeriodSeconds") else None
        raw = await evict(self.registry, req.namespace, req.name, grace,
                          req.preconditions if req.HasField("preconditions") else None,
                          check=node_write_check(ident, "delete"))
        return _object_reply("Pod", raw)

    @_rpc
    async def GetScale(self, req, context):
        ident = self._ident(context)
        info = _kind(req.kind)
        self.authz.check(ident, "get", info.kind, req.namespace, req.name)
        scale = get_scale(self.registry, info, req.namespace, req.name)
        return api_pb2.ObjectResponse(kind="Scale", object=scale.SerializeToString())

    @_rpc
    async def UpdateScale(self, req, context):
        ident = self._ident(context)
        info = _kind(req.kind)
        self.authz.check(ident, "update", info.kind, req.namespace or "default", req.name, "scale")
        scale = await update_scale(self.registry, info, req.namespace, req.name, req.replicas, req.resourceVersion,
                                   dry_run=req.dryRun, check=node_write_check(ident, "update"))
        return api_pb2.ObjectResponse(kind="Scale", object=scale.SerializeToString())

    @_rpc
    async def CreateToken(self, req, context):
        ident = self._ident(context)
        self.authz.check(ident, "create", "ServiceAccount", req.namespace or "default", req.name, "token")
        tokens = self.auth.service_accounts
        if tokens is None:
            raise BadRequest("this server signs no ServiceAccount tokens")
        try:
            request = authentication_pb2.TokenRequest.FromString(req.request)
        except Exception:
            raise BadRequest("cannot decode TokenRequest: malformed protobuf") from None
        answer = tokens.create_token(ident, req.namespace or "default", req.name, request)
        return api_pb2.ObjectResponse(kind="TokenRequest", object=answer.SerializeToString())

    @_rpc
    async def Version(self, req, context):
        ident = self._ident(context)
        return api_pb2.VersionResponse(gitVersion=VERSION, platform=f"{platform.system().lower()}/"
                                       f"{platform.machine()}", user=ident.user, groups=list(ident.groups))

    async def Watch(self, req, context):
        try:
            req = _decoded(req)
            ident = self._ident(context)
            info = _kind(req.kind)
            self.authz.check(ident, "watch", info.kind, req.namespace,
                           field_selector=req.fieldSelector)
            ls, fs = _selectors(info.kind, req.labelSelector, req.fieldSelector)
            rv = req.resourceVersion
            if rv in ("", "0"):
                from_rv = None
            elif rv.isdigit():
                from_rv = int(rv)
            else:
                raise BadRequest(f'invalid resource version "{rv}"')
            watcher = self.registry.watch(info, req.namespace if info.namespaced else "", ls, fs, from_rv)
        except (ApiError, UnknownKind) as e:
            e = e if isinstance(e, ApiError) else BadRequest(str(e))
            context.set_trailing_metadata(trailing_metadata(e))
            await context.abort(status_code(e), e.message)
            return
        # the headers go out now, as an HTTP watch's do: a client knows its watch is registered
        # (and every later change will reach it) before the first event
        await context.send_initial_metadata(())
        try:
            async for chunk in self._stream(info, watcher, req.allowWatchBookmarks):
                yield chunk
        finally:
            self.registry.hub.unsubscribe(watcher)
        if watcher.expired:     # cut off for falling behind: the client lists again
            e = Expired(watcher.expired)
            context.set_trailing_metadata(trailing_metadata(e))
            await context.abort(status_code(e), e.message)

    async def _stream(self, info, watcher, bookmarks: bool):
        q = watcher.queue
        while True:
            if bookmarks:
                try:
                    item = await asyncio.wait_for(q.get(), self.bookmark_interval)
                except asyncio.TimeoutError:
                    yield self._bookmark(info)
                    continue
            else:
                item = await q.get()
            parts = []
            while True:
                if item is watcher.CLOSED:
                    if parts:
                        yield b"".join(parts)
                    return
                parts.append(item)
                if q.empty() or len(parts) >= 512:
                    break
                item = q.get_nowait()
            yield b"".join(parts)

    # ---------------------------------------------------------------- logs, exec, node tunnels
    def _pod_container(self, namespace: str, name: str, container: str):
        return pod_container(self.registry, namespace, name, container)

    async def Logs(self, req, context):
        try:
            req = _decoded(req)
            ident = self._ident(context)
            self.authz.check(ident, "get", "Pod", req.namespace or "default", req.name, "log")
            pod, req.container = self._pod_container(req.namespace, req.name, req.container)
            req.namespace = pod.metadata.namespace
            t, sid, q = self.tunnels.open(pod.spec.nodeName, api_pb2.TunnelFrame(logs=req))
        except ApiError as e:
            context.set_trailing_metadata(trailing_metadata(e))
            await context.abort(status_code(e), e.message)
            return
        ended = False
        try:
            while True:
                frame = await q.get()
                if frame.error:
                    ended = True
                    err = BadRequest(frame.error)
                    context.set_trailing_metadata(trailing_metadata(err))
                    await context.abort(status_code(err), err.message)
                    return
                if frame.stdout:
                    yield api_pb2.LogChunk(data=frame.stdout)
                if frame.close:
                    ended = True
                    return
        finally:
            self.tunnels.finish(t, sid, notify=not ended)

    async def Exec(self, request_iterator, context):
        try:
            ident = self._ident(context)
            first = await anext(aiter(request_iterator))
            self.authz.check(ident, "create", "Pod", first.namespace or "default", first.name, "exec")
            pod, first.container = self._pod_container(first.namespace, first.name, first.container)
            first.namespace = pod.metadata.namespace
            t, sid, q = self.tunnels.open(pod.spec.nodeName, api_pb2.TunnelFrame(exec=first))
        except ApiError as e:
            context.set_trailing_metadata(trailing_metadata(e))
            await context.abort(status_code(e), e.message)
            return

        async def pump_stdin():
            async for req in request_iterator:
                t.outgoing.put_nowait(api_pb2.TunnelFrame(session=sid, exec=req))

        pump = asyncio.create_task(pump_stdin())
        ended = False
        try:
            while True:
                frame = await q.get()
                out = api_pb2.ExecOutput(stdout=frame.stdout, stderr=frame.stderr, error=frame.error)
                if frame.HasField("exitCode"):
                    out.exitCode = frame.exitCode
                if frame.stdout or frame.stderr or frame.error or frame.HasField("exitCode"):
                    yield out
                if frame.close or frame.HasField("exitCode"):
                    ended = True
                    return
        finally:
            pump.cancel()
            self.tunnels.finish(t, sid, notify=not ended)

    async def PortForward(self, request_iterator, context):
        """One forwarded connection to a pod's port, carried over its node's tunnel (pods/portforward)."""
        try:
            ident = self._ident(context)
            first = await anext(aiter(request_iterator))
            self.authz.check(ident, "create", "Pod", first.namespace or "default", first.name, "portforward")
            pod = self.registry.get(KINDS["Pod"], first.namespace or "default", first.name).decode()
            if not 0 < first.port < 65536:
                raise BadRequest(f"invalid port {first.port}: must be between 1 and 65535")
            if pod.status.phase != "Running":
                raise BadRequest(f"unable to forward port because pod is not running. Current status="
                                 f"{pod.status.phase or 'Pending'}")
            first.namespace = pod.metadata.namespace
            t, sid, q = self.tunnels.open(pod.spec.nodeName, api_pb2.TunnelFrame(portForward=first))
        except ApiError as e:
            context.set_trailing_metadata(trailing_metadata(e))
            await context.abort(status_code(e), e.message)
            return

        async def pump_in():
            async for req in request_iterator:
                t.outgoing.put_nowait(api_pb2.TunnelFrame(session=sid, portForward=req))

        pump = asyncio.create_task(pump_in())
        ended = False
        try:
            while True:
                frame = await q.get()
                if frame.stdout or frame.error:
                    yield api_pb2.PortForwardData(data=frame.stdout, error=frame.error)
                if frame.close:
                    ended = True
                    return
        finally:
            pump.cancel()
            self.tunnels.finish(t, sid, notify=not ended)

    async def Tunnel(self, request_iterator, context):
        try:
            ident = self._ident(context)
            if ident.node_name is None:
                raise Forbidden(f'User "{ident.user}" is not a node: only kubelets open tunnels')
        except ApiError as e:
            context.set_trailing_metadata(trailing_metadata(e))
            await context.abort(status_code(e), e.message)
            return
        t = self.tunnels.connect(ident.node_name)

        async def read():
            async for frame in request_iterator:
                t.deliver(frame)
            t.close()

        reader = asyncio.create_task(read())
        try:
            while True:
                frame = await t.outgoing.get()
                if frame is None:
                    return
                yield frame
        finally:
            reader.cancel()
            self.tunnels.disconnect(t)

    # ---------------------------------------------------------------- the log archive
    def _log_archive(self) -> LogArchive:
        if self.archive is None:
            raise Unavailable("the log archive is off on this server")
        return self.archive

    def _pod_or_none(self, namespace: str, name: str):
        try:
            return self.registry.get(KINDS["Pod"], namespace, name).decode()
        except NotFound:
            return None

    @_rpc
    async def AppendLogs(self, req, context):
        ident = self._ident(context)
        archive = self._log_archive()
        labels = [authorize_append(ident.node_name, ident.user, stream_key(b.key), archive, self._pod_or_none)
                  for b in req.batches]
        return api_pb2.AppendLogsResponse(offsets=await archive.append(ident.node_name, list(req.batches), labels))

    @_rpc
    async def ListLogStreams(self, req, context):
        ident = self._ident(context)
        self.authz.authorize(ident, Attributes("list", "", "pods", "log", req.namespace, req.pod))
        archive = self._log_archive()
        ls, _ = _selectors("Pod", req.labelSelector, "")
        return api_pb2.ListLogStreamsResponse(
            streams=[s.message() for s in archive.list(req.namespace, req.pod, ls)], usedBytes=archive.used,
            maxBytes=archive.max_bytes, maxAgeSeconds=int(archive.max_age))

    async def ReadLogs(self, req, context):
        try:
            req = _decoded(req)
            ident = self._ident(context)
            archive = self._log_archive()
            key = stream_key(req.key)
            self.authz.check(ident, "get", "Pod", key[0] or "default", key[1], "log")
            since = archive.clock.now() - req.sinceSeconds if req.HasField("sinceSeconds") else None

            def pod_done() -> bool:
                pod = self._pod_or_none(key[0], key[1])
                return pod is None or pod.metadata.uid != key[2] or pod.status.phase in ("Succeeded", "Failed")

            lines = archive.read(key, req.tailLines if req.HasField("tailLines") else None, since,
                                 req.timestamps, req.follow, pod_done)
            first = await anext(lines, None)
        except ApiError as e:
            context.set_trailing_metadata(trailing_metadata(e))
            await context.abort(status_code(e), e.message)
            return
        if first is None:
            return
        yield _chunk(*first)
        async for k, data in lines:
            yield _chunk(k, data)

    def _bookmark(self, info) -> bytes:
        obj = info.message()
        obj.apiVersion, obj.kind = info.api_version, info.kind
        obj.metadata.resourceVersion = str(self.registry.rv)
        from apiserver.watch import encode_entry
        return encode_entry(info.kind, "BOOKMARK", obj.SerializeToString())


def _chunk(key, data: bytes) -> api_pb2.ArchivedLogChunk:
    ns, pod, uid, container, restart = key
    return api_pb2.ArchivedLogChunk(key=api_pb2.LogStreamKey(namespace=ns, pod=pod, uid=uid, container=container,
                                                             restart=restart), data=data)


def _identity(b):
    return b


def _object_reply(kind: str, raw: bytes) -> bytes:
    """An ObjectResponse written around the stored bytes: no message built, nothing copied twice."""
    return field_bytes(1, kind.encode()) + field_bytes(2, raw)


def _handlers(svc: APIService) -> grpc.GenericRpcHandler:
    ser = lambda m: m.SerializeToString()  # noqa: E731
    u = grpc.unary_unary_rpc_method_handler
    return grpc.method_handlers_generic_handler(SERVICE, {
        "Create": u(svc.Create, _decoder(api_pb2.ObjectRequest), _identity),
        "Get": u(svc.Get, _decoder(api_pb2.GetRequest), _identity),
        "List": u(svc.List, _decoder(api_pb2.ListRequest), _identity),
        "Update": u(svc.Update, _decoder(api_pb2.ObjectRequest), _identity),
        "UpdateStatus": u(svc.UpdateStatus, _decoder(api_pb2.ObjectRequest), _identity),
        "UpdateLeases": u(svc.UpdateLeases, _decoder(api_pb2.UpdateLeasesRequest), ser),
        "Patch": u(svc.Patch, _decoder(api_pb2.PatchRequest), _identity),
        "Delete": u(svc.Delete, _decoder(api_pb2.DeleteRequest), _identity),
        "Bind": u(svc.Bind, _decoder(api_pb2.BindRequest), _identity),
        "Evict": u(svc.Evict, _decoder(api_pb2.EvictRequest), _identity),
        "GetScale": u(svc.GetScale, _decoder(api_pb2.GetRequest), ser),
        "UpdateScale": u(svc.UpdateScale, _decoder(api_pb2.UpdateScaleRequest), ser),
        "CreateToken": u(svc.CreateToken, _decoder(api_pb2.CreateTokenRequest), ser),
        "Version": u(svc.Version, _decoder(api_pb2.VersionRequest), ser),
        "Watch": grpc.unary_stream_rpc_method_handler(svc.Watch, _decoder(api_pb2.WatchRequest), _identity),
        "Logs": grpc.unary_stream_rpc_method_handler(svc.Logs, _decoder(api_pb2.LogsRequest), ser),
        "Exec": grpc.stream_stream_rpc_method_handler(svc.Exec, api_pb2.ExecRequest.FromString, ser),
        "Tunnel": grpc.stream_stream_rpc_method_handler(svc.Tunnel, api_pb2.TunnelFrame.FromString, ser),
        "PortForward": grpc.stream_stream_rpc_method_handler(svc.PortForward, api_pb2.PortForwardRequest.FromString,
                                                             ser),
        "AppendLogs": u(svc.AppendLogs, _decoder(api_pb2.AppendLogsRequest), ser),
        "ListLogStreams": u(svc.ListLogStreams, _decoder(api_pb2.ListLogStreamsRequest), ser),
        "ReadLogs": grpc.unary_stream_rpc_method_handler(svc.ReadLogs, _decoder(api_pb2.ReadLogsRequest), ser),
    })


async def serve(registry: Registry, auth: TokenAuthenticator, address: str = "127.0.0.1", port: int = 6443,
                tls_cert: str | None = None, tls_key: str | None = None,
                bookmark_interval: float = 60.0,
                tunnels: TunnelRegistry | None = None,
                archive: LogArchive | None = None,
                authorizer: Authorizer | None = None) -> tuple[grpc.aio.Server, int]:
    """Start serving; returns the server and the bound port. Off loopback, TLS is required. `tunnels`
    is shared with the REST front end, so either reaches the kubelets' tunnels."""
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                                      ("grpc.max_send_message_length", 512 * 1024 * 1024),
                                      ("grpc.so_reuseport", 0), *BACKLOG_OPTIONS])
    svc = APIService(registry, auth, bookmark_interval, tunnels, archive, authorizer)
    server.add_generic_rpc_handlers((_handlers(svc),))
    target = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    if tls_cert and tls_key:
        with open(tls_key, "rb") as k, open(tls_cert, "rb") as c:
            creds = grpc.ssl_server_credentials([(k.read(), c.read())])
        bound = server.add_secure_port(target, creds)
    elif not is_loopback(address):
        raise ValueError(f"refusing to serve on {address} without TLS: pass --tls-cert and --tls-key")
    else:
        bound = server.add_insecure_port(target)
    await registry.start()
    await bootstrap_policy.reconcile(registry)
    if archive is not None:
        await archive.start()
    await server.start()
    return server, bound
