"""The synchronous client (minictl, tests, scripts). Objects in and out are the protobuf messages of
their kinds; failures are the typed errors of minik8s.api.errors."""
from __future__ import annotations

import copy
import json
from typing import Iterator

import grpc

from minik8s.api.pb import api_pb2

from minik8s.client import transport as t
from minik8s.client.transport import from_rpc_error
from minik8s.client.config import ClientConfig


class Client:
    def __init__(self, server: str | None = None, token: str | None = None, ca_file: str | None = None,
                 config: ClientConfig | None = None, home: str | None = None, timeout: float = 30.0,
                 insecure_skip_tls_verify: bool = False):
        if server is None:
            config = config or ClientConfig.load(home)
            server, token, ca_file = config.server, config.token, config.ca_file
            insecure_skip_tls_verify = insecure_skip_tls_verify or config.insecure_skip_tls_verify
        creds, extra = t.channel_security(server, ca_file, insecure_skip_tls_verify)
        target, options = t.channel_target(server), t.CHANNEL_OPTIONS + extra
        self._channel = (grpc.secure_channel(target, creds, options) if creds
                         else grpc.insecure_channel(target, options))
        self._stubs = t.stubs(self._channel)
        self._md = (("authorization", f"Bearer {token or ''}"),)
        self.timeout = timeout

    def close(self) -> None:
        self._channel.close()

    def with_token(self, token: str) -> "Client":
        """A client on this one's channel that sends `token` instead: many identities over one
        connection. The channel stays shared, so it is closed once, through the client that made it."""
        other = copy.copy(self)
        other._md = (("authorization", f"Bearer {token}"),)
        return other

    def impersonating(self, user: str, groups=()) -> "Client":
        """A client on this one's channel whose requests run as `user` in `groups` (kubectl's --as and
        --as-group); the server allows it only to those who may `impersonate`."""
        other = copy.copy(self)
        other._md = self._md[:1] + (("impersonate-user", user),) + tuple(("impersonate-group", g) for g in groups)
        return other

    def review(self, obj):
        """Ask the authorizer: `obj` is a rbac_pb2.SubjectAccessReview sent as its `kind`
        (SelfSubjectAccessReview or SubjectAccessReview) or a SelfSubjectRulesReview; the answer is
        in the returned object's status."""
        resp = self._call("Create", api_pb2.ObjectRequest(kind=obj.kind, object=obj.SerializeToString()))
        return type(obj).FromString(resp.object)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, name: str, req, timeout: float | None = None):
        try:
            return self._stubs[name](req, metadata=self._md, timeout=timeout or self.timeout)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def _obj(self, resp):
        return t.kind_info(resp.kind).message.FromString(resp.object)

    # ---------------------------------------------------------------- verbs
    def create(self, obj, dry_run: bool = False):
        info = t.kind_info(type(obj))
        return self._obj(self._call("Create", api_pb2.ObjectRequest(
            kind=info.kind, object=obj.SerializeToString(), dryRun=dry_run)))

    def get(self, kind, name: str, namespace: str | None = None):
        info = t.kind_info(kind)
        return self._obj(self._call("Get", api_pb2.GetRequest(
            kind=info.kind, namespace=t.namespace_of(info, namespace), name=name)))

    def list(self, kind, namespace: str = "", label_selector: str = "", field_selector: str = "",
             timeout: float | None = None) -> t.ObjectList:
        info = t.kind_info(kind)
        resp = self._call("List", api_pb2.ListRequest(kind=info.kind, namespace=namespace if info.namespaced else "",
                                                      labelSelector=label_selector, fieldSelector=field_selector),
                          timeout)
        return t.decode_list(info, resp)

    def update(self, obj, dry_run: bool = False):
        info = t.kind_info(type(obj))
        return self._obj(self._call("Update", api_pb2.ObjectRequest(
            kind=info.kind, object=obj.SerializeToString(), dryRun=dry_run)))

    def update_status(self, obj):
        info = t.kind_info(type(obj))
        return self._obj(self._call("UpdateStatus", api_pb2.ObjectRequest(
            kind=info.kind, object=obj.SerializeToString())))

    def patch(self, kind, name: str, patch: dict, namespace: str | None = None, status: bool = False):
        info = t.kind_info(kind)
        return self._obj(self._call("Patch", api_pb2.PatchRequest(
            kind=info.kind, namespace=t.namespace_of(info, namespace), name=name, patchType="merge",
            patch=json.dumps(patch).encode(), status=status)))

    def delete(self, kind, name: str, namespace: str | None = None, grace_period: int | None = None,
               propagation_policy: str = "", preconditions: dict | None = None):
        info = t.kind_info(kind)
        return self._obj(self._call("Delete", t.delete_request(info, name, namespace, grace_period,
                                                               propagation_policy, preconditions)))

    def bind(self, namespace: str, name: str, node: str, uid: str = "", annotations: dict | None = None):
        return self._obj(self._call("Bind", api_pb2.BindRequest(namespace=namespace or "default", name=name,
                                                                nodeName=node, uid=uid,
                                                                annotations=annotations or {})))

    def evict(self, namespace: str, name: str, grace_period: int | None = None,
              preconditions: dict | None = None):
        """The pods/eviction subresource: delete the pod unless a disruption budget forbids it now
        (TooManyRequests: try again later). Returns the pod as the eviction left it."""
        return self._obj(self._call("Evict", t.evict_request(namespace, name, grace_period, preconditions)))

    def get_scale(self, kind, name: str, namespace: str | None = None):
        """The scale subresource of a Deployment, ReplicaSet or StatefulSet (an autoscaling/v1 Scale)."""
        return t.scale(self._call("GetScale", t.get_scale_request(kind, name, namespace)))

    def update_scale(self, kind, name: str, replicas: int, namespace: str | None = None,
                     resource_version: str = "", dry_run: bool = False):
        """Set spec.replicas through the scale subresource; a resource_version must be the current one."""
        return t.scale(self._call("UpdateScale", t.update_scale_request(kind, name, namespace, replicas,
                                                                         resource_version, dry_run)))

    def create_token(self, namespace: str, name: str, expiration_seconds: int | None = None,
                     audiences=(), bound: tuple[str, str, str] | None = None):
        """The serviceaccounts/token subresource: a TokenRequest answered with the signed token in its
        status; `bound` (kind, name, uid) ties the token to a Pod, Secret or Node."""
        return t.token(self._call("CreateToken", t.token_request(namespace, name, expiration_seconds,
                                                                   audiences, bound)))

    def version(self) -> api_pb2.VersionResponse:
        return self._call("Version", api_pb2.VersionRequest())

    def logs(self, name: str, namespace: str | None = None, container: str = "", follow: bool = False,
             previous: bool = False, tail_lines: int | None = None, timestamps: bool = False,
             since_seconds: int | None = None, limit_bytes: int | None = None) -> Iterator[bytes]:
        """A pod container's log, in chunks; with follow, until the container stops or the caller stops."""
        call = self._stubs["Logs"](t.logs_request(namespace, name, container, follow, previous, tail_lines,
                                                  timestamps, since_seconds, limit_bytes), metadata=self._md)
        try:
            for chunk in call:
                yield chunk.data
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                raise from_rpc_error(e) from None
        finally:
            call.cancel()

    # ---------------------------------------------------------------- the log archive
    def append_logs(self, batches: list[api_pb2.LogBatch]) -> list[int]:
        """Ship log lines to the archive (kubelets only); returns each batch's durable offset."""
        return list(self._call("AppendLogs", api_pb2.AppendLogsRequest(batches=batches)).offsets)

    def list_log_streams(self, namespace: str = "", pod: str = "",
                         label_selector: str = "") -> api_pb2.ListLogStreamsResponse:
        """The archived container logs (one stream per container instance) and the archive's use."""
        return self._call("ListLogStreams", api_pb2.ListLogStreamsRequest(namespace=namespace, pod=pod,
                                                                          labelSelector=label_selector))

    def read_logs(self, key: api_pb2.LogStreamKey, follow: bool = False, tail_lines: int | None = None,
                  since_seconds: int | None = None, timestamps: bool = False) -> Iterator[api_pb2.ArchivedLogChunk]:
        """An archived stream's lines; with follow, on into the container's next restarts until the pod is
        done or the caller stops."""
        call = self._stubs["ReadLogs"](t.read_logs_request(key, follow, tail_lines, since_seconds, timestamps),
                                       metadata=self._md)
        try:
            yield from call
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                raise from_rpc_error(e) from None
        finally:
            call.cancel()

    def exec_stream(self, requests: Iterator[api_pb2.ExecRequest]):
        """Raw bidirectional exec: `requests` starts with the target and command, then stdin frames."""
        return self._stubs["Exec"](requests, metadata=self._md)

    def port_forward_stream(self, requests: Iterator[api_pb2.PortForwardRequest]):
        """One forwarded connection: `requests` starts with the pod and port, then the bytes to send."""
        return self._stubs["PortForward"](requests, metadata=self._md)

    def exec(self, name: str, command: list[str], namespace: str | None = None, container: str = "",
             stdin: bytes | None = None) -> t.ExecResult:
        """Run a command in a container and collect its output and exit code."""
        def requests():
            yield api_pb2.ExecRequest(namespace=namespace or "default", name=name, container=container,
                                      command=command, stdin=stdin is not None)
            if stdin is not None:
                yield api_pb2.ExecRequest(stdinData=stdin, stdinClose=True)

        out, err, code = [], [], -1
        try:
            for o in self.exec_stream(requests()):
                out.append(o.stdout)
                err.append(o.stderr)
                if o.error:
                    err.append(o.error.encode())
                if o.HasField("exitCode"):
                    code = o.exitCode
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        return t.ExecResult(b"".join(out), b"".join(err), code)

    def watch(self, kind, namespace: str = "", resource_version: str = "", label_selector: str = "",
              field_selector: str = "", bookmarks: bool = False,
              timeout: float | None = None) -> "WatchStream":
        info = t.kind_info(kind)
        req = api_pb2.WatchRequest(kind=info.kind, namespace=namespace if info.namespaced else "",
                                   labelSelector=label_selector, fieldSelector=field_selector,
                                   resourceVersion=resource_version, allowWatchBookmarks=bookmarks)
        return WatchStream(self._stubs["Watch"](req, metadata=self._md, timeout=timeout))


class WatchStream:
    """Iterates WatchEvents; `cancel()` ends it from another thread. Errors come out typed."""

    def __init__(self, call):
        self._call = call

    def __iter__(self) -> Iterator[t.WatchEvent]:
        try:
            for resp in self._call:
                yield from t.decode_events(resp)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.CANCELLED:
                return
            raise from_rpc_error(e) from None

    def cancel(self) -> None:
        self._call.cancel()
