"""The asyncio client (controllers, scheduler, kubelet): the same verbs as Client, awaited."""
from __future__ import annotations

import copy
import json
from typing import AsyncIterator

import grpc

from minik8s.api.pb import api_pb2

from minik8s.client import transport as t
from minik8s.client.transport import from_rpc_error
from minik8s.client.config import ClientConfig


class AsyncClient:
    def __init__(self, server: str | None = None, token: str | None = None, ca_file: str | None = None,
                 config: ClientConfig | None = None, home: str | None = None, timeout: float = 30.0,
                 insecure_skip_tls_verify: bool = False):
        if server is None:
            config = config or ClientConfig.load(home)
            server, token, ca_file = config.server, config.token, config.ca_file
            insecure_skip_tls_verify = insecure_skip_tls_verify or config.insecure_skip_tls_verify
        creds, extra = t.channel_security(server, ca_file, insecure_skip_tls_verify)
        target, options = t.channel_target(server), t.CHANNEL_OPTIONS + extra
        self._channel = (grpc.aio.secure_channel(target, creds, options) if creds
                         else grpc.aio.insecure_channel(target, options))
        self._stubs = t.stubs(self._channel)
        self._md = (("authorization", f"Bearer {token or ''}"),)
        self.timeout = timeout

    async def close(self) -> None:
        await self._channel.close()

    def with_token(self, token: str) -> "AsyncClient":
        """A client on this one's channel that sends `token` instead: many identities over one
        connection. The channel stays shared, so it is closed once, through the client that made it."""
        other = copy.copy(self)
        other._md = (("authorization", f"Bearer {token}"),)
        return other

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def _call(self, name: str, req, timeout: float | None = None):
        try:
            return await self._stubs[name](req, metadata=self._md, timeout=timeout or self.timeout)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def _obj(self, resp):
        return t.kind_info(resp.kind).message.FromString(resp.object)

    async def create(self, obj, dry_run: bool = False):
        info = t.kind_info(type(obj))
        return self._obj(await self._call("Create", api_pb2.ObjectRequest(
            kind=info.kind, object=obj.SerializeToString(), dryRun=dry_run)))

    async def get(self, kind, name: str, namespace: str | None = None):
        info = t.kind_info(kind)
        return self._obj(await self._call("Get", api_pb2.GetRequest(
            kind=info.kind, namespace=t.namespace_of(info, namespace), name=name)))

    async def list(self, kind, namespace: str = "", label_selector: str = "", field_selector: str = "",
                   timeout: float | None = None) -> t.ObjectList:
        info = t.kind_info(kind)
        resp = await self._call("List", api_pb2.ListRequest(
            kind=info.kind, namespace=namespace if info.namespaced else "", labelSelector=label_selector,
            fieldSelector=field_selector), timeout)
        return t.decode_list(info, resp)

    async def update(self, obj, dry_run: bool = False):
        info = t.kind_info(type(obj))
        return self._obj(await self._call("Update", api_pb2.ObjectRequest(
            kind=info.kind, object=obj.SerializeToString(), dryRun=dry_run)))

    async def update_status(self, obj):
        info = t.kind_info(type(obj))
        return self._obj(await self._call("UpdateStatus", api_pb2.ObjectRequest(
            kind=info.kind, object=obj.SerializeToString())))

    async def patch(self, kind, name: str, patch: dict, namespace: str | None = None, status: bool = False):
        info = t.kind_info(kind)
        return self._obj(await self._call("Patch", api_pb2.PatchRequest(
            kind=info.kind, namespace=t.namespace_of(info, namespace), name=name, patchType="merge",
            patch=json.dumps(patch).encode(), status=status)))

    async def delete(self, kind, name: str, namespace: str | None = None, grace_period: int | None = None,
                     propagation_policy: str = "", preconditions: dict | None = None):
        info = t.kind_info(kind)
        return self._obj(await self._call("Delete", t.delete_request(info, name, namespace, grace_period,
                                                                     propagation_policy, preconditions)))

    async def bind(self, namespace: str, name: str, node: str, uid: str = "", annotations: dict | None = None):
        return self._obj(await self._call("Bind", api_pb2.BindRequest(
            namespace=namespace or "default", name=name, nodeName=node, uid=uid, annotations=annotations or {})))

    async def evict(self, namespace: str, name: str, grace_period: int | None = None,
                    preconditions: dict | None = None):
        """The pods/eviction subresource: delete the pod unless a disruption budget forbids it now
        (TooManyRequests: try again later). Returns the pod as the eviction left it."""
        return self._obj(await self._call("Evict", t.evict_request(namespace, name, grace_period,
                                                                   preconditions)))

    async def get_scale(self, kind, name: str, namespace: str | None = None):
        """The scale subresource of a Deployment, ReplicaSet or StatefulSet (an autoscaling/v1 Scale)."""
        return t.scale(await self._call("GetScale", t.get_scale_request(kind, name, namespace)))

    async def update_scale(self, kind, name: str, replicas: int, namespace: str | None = None,
                           resource_version: str = "", dry_run: bool = False):
        """Set spec.replicas through the scale subresource; a resource_version must be the current one."""
        return t.scale(await self._call("UpdateScale", t.update_scale_request(kind, name, namespace, replicas,
                                                                               resource_version, dry_run)))

    async def create_token(self, namespace: str, name: str, expiration_seconds: int | None = None,
                     audiences=(), bound: tuple[str, str, str] | None = None):
        """The serviceaccounts/token subresource: a TokenRequest answered with the signed token in its
        status; `bound` (kind, name, uid) ties the token to a Pod, Secret or Node."""
        return t.token(await self._call("CreateToken", t.token_request(namespace, name, expiration_seconds,
                                                                   audiences, bound)))

    async def version(self) -> api_pb2.VersionResponse:
        return await self._call("Version", api_pb2.VersionRequest())

    async def logs(self, name: str, namespace: str | None = None, container: str = "", follow: bool = False,
                   previous: bool = False, tail_lines: int | None = None, timestamps: bool = False,
                   since_seconds: int | None = None, limit_bytes: int | None = None):
        call = self._stubs["Logs"](t.logs_request(namespace, name, container, follow, previous, tail_lines,
                                                  timestamps, since_seconds, limit_bytes), metadata=self._md)
        try:
            async for chunk in call:
                yield chunk.data
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                raise from_rpc_error(e) from None
        finally:
            call.cancel()

    async def update_leases(self, leases: list[tuple[str, object]]) -> list:
        """Many Lease updates in one call (UpdateLeases, a minik8s extension for a host of many fake
        nodes: apiserver/lease_batch.py). `leases`: (token, Lease) pairs, each updated as that token's
        identity ("": this client's). Returns, in order, each Lease's new resourceVersion, or the
        ApiError its own update failed with (Conflict, Forbidden, ...)."""
        resp = await self._call("UpdateLeases", api_pb2.UpdateLeasesRequest(
            items=[api_pb2.LeaseUpdate(token=token, lease=lease.SerializeToString()) for token, lease in leases]))
        return [t.error_for(r.reason, r.message) if r.reason else r.resourceVersion for r in resp.results]

    # ---------------------------------------------------------------- the log archive
    async def append_logs(self, batches: list[api_pb2.LogBatch]) -> list[int]:
        """Ship log lines to the archive (kubelets only); returns each batch's durable offset."""
        return list((await self._call("AppendLogs", api_pb2.AppendLogsRequest(batches=batches))).offsets)

    async def list_log_streams(self, namespace: str = "", pod: str = "",
                               label_selector: str = "") -> api_pb2.ListLogStreamsResponse:
        return await self._call("ListLogStreams", api_pb2.ListLogStreamsRequest(
            namespace=namespace, pod=pod, labelSelector=label_selector))

    async def read_logs(self, key: api_pb2.LogStreamKey, follow: bool = False, tail_lines: int | None = None,
                        since_seconds: int | None = None, timestamps: bool = False):
        call = self._stubs["ReadLogs"](t.read_logs_request(key, follow, tail_lines, since_seconds, timestamps),
                                       metadata=self._md)
        try:
            async for chunk in call:
                yield chunk
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                raise from_rpc_error(e) from None
        finally:
            call.cancel()

    def tunnel(self, frames):
        """The kubelet's end of its node tunnel: send `frames` (an async iterator of TunnelFrame) and
        iterate the returned call for the server's frames."""
        return self._stubs["Tunnel"](frames, metadata=self._md)

    async def watch(self, kind, namespace: str = "", resource_version: str = "", label_selector: str = "",
                    field_selector: str = "", bookmarks: bool = False) -> AsyncIterator[t.WatchEvent]:
        """Yield WatchEvents until the stream ends; raises Expired when resource_version is too old."""
        info = t.kind_info(kind)
        req = api_pb2.WatchRequest(kind=info.kind, namespace=namespace if info.namespaced else "",
                                   labelSelector=label_selector, fieldSelector=field_selector,
                                   resourceVersion=resource_version, allowWatchBookmarks=bookmarks)
        call = self._stubs["Watch"](req, metadata=self._md)
        try:
            async for resp in call:
                for ev in t.decode_events(resp):
                    yield ev
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.CANCELLED:
                return
            raise from_rpc_error(e) from None
        finally:
            call.cancel()
