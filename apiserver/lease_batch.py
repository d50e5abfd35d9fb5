"""UpdateLeases: many Lease updates in one call. A minik8s extension, on the gRPC API only (the REST
API does not expose it), for a process that hosts many fake nodes (kubelet/fakenodes.py), as KWOK
hosts thousands of nodes in one process.

Upstream, each kubelet renews its node's Lease with one Update every 10 s. A host of 5,000 nodes would
make 500 unary calls a second, and in Python the call itself costs more than everything else an idle
node does; here one call carries the renewals that fall due in a short slot. What each renewal means
does not change: each item is authenticated by its own bearer token (the node's; the call's own
identity when the item carries none), authorized as an `update` of that Lease (the Node authorizer
lets a node touch only kube-node-lease/<its name>), and applied by the registry's ordinary update,
with its own resourceVersion precondition, so a stale item fails with Conflict alone. The items are
queued to the registry's single writer together, so they land in one storage commit and one watch
publish. Each item is answered on its own (its new resourceVersion, or the Kubernetes reason and
message of its failure); the call fails as a whole only when it is malformed or too large."""
from __future__ import annotations

import asyncio

from minik8s.api.errors import ApiError, BadRequest
from minik8s.api.kinds import LEASE
from minik8s.api.pb import api_pb2

from apiserver.auth import Identity, TokenAuthenticator
from apiserver.authorizer import Authorizer
from apiserver.node_authorizer import node_write_check
from apiserver.registry import MAX_BATCH, Registry

MAX_ITEMS = MAX_BATCH       # one call, one commit


async def update_leases(registry: Registry, authorizer: Authorizer, authenticator: TokenAuthenticator,
                        caller: Identity, req: api_pb2.UpdateLeasesRequest) -> api_pb2.UpdateLeasesResponse:
    if len(req.items) > MAX_ITEMS:
        raise BadRequest(f"items: Too many: {len(req.items)}: must have at most {MAX_ITEMS} items")
    results = [api_pb2.LeaseUpdateResult() for _ in req.items]
    writes, written = [], []
    for i, item in enumerate(req.items):
        try:
            writes.append(_update(registry, authorizer, _identity(authenticator, caller, i, item),
                                  _lease(i, item)))
            written.append(i)
        except ApiError as e:
            _failed(results[i], e)
    # every write is queued before the writer runs: one batch, one commit
    for i, outcome in zip(written, await asyncio.gather(*writes, return_exceptions=True)):
        if isinstance(outcome, ApiError):
            _failed(results[i], outcome)
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            results[i].resourceVersion = LEASE.message.FromString(outcome).metadata.resourceVersion
    return api_pb2.UpdateLeasesResponse(results=results)


def _identity(authenticator: TokenAuthenticator, caller: Identity, i: int, item) -> Identity:
    if not item.token:
        return caller
    try:
        return authenticator.authenticate((("authorization", f"Bearer {item.token}"),))
    except ApiError as e:
        raise type(e)(f"items[{i}].token: {e.message}") from None


def _lease(i: int, item):
    try:
        return LEASE.message.FromString(item.lease)
    except Exception:
        raise BadRequest(f"items[{i}].lease: cannot decode Lease: malformed protobuf") from None


def _update(registry: Registry, authorizer: Authorizer, ident: Identity, lease):
    """The Update of one Lease, authorized now and queued to the writer when awaited."""
    authorizer.check(ident, "update", LEASE.kind, lease.metadata.namespace or "default", lease.metadata.name)
    return registry.update(LEASE, lease, check=node_write_check(ident, "update"))


def _failed(result: api_pb2.LeaseUpdateResult, err: ApiError) -> None:
    result.reason, result.message = err.reason, err.message
