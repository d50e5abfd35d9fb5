"""API errors, shared by the server (which raises them) and the clients (which get them back typed).

Each error has a Kubernetes reason (NotFound, Conflict, ...) and travels as a gRPC status code plus
trailing metadata carrying the reason and, for Invalid, every offending field."""
from __future__ import annotations

import json

import grpc


class ApiError(Exception):
    reason = "InternalError"
    code = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, causes: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.message = message
        self.causes = causes or []

    def __str__(self) -> str:
        return self.message


class NotFound(ApiError):
    reason, code = "NotFound", grpc.StatusCode.NOT_FOUND


class AlreadyExists(ApiError):
    reason, code = "AlreadyExists", grpc.StatusCode.ALREADY_EXISTS


class Conflict(ApiError):
    reason, code = "Conflict", grpc.StatusCode.ABORTED


class Invalid(ApiError):
    reason, code = "Invalid", grpc.StatusCode.INVALID_ARGUMENT


class BadRequest(ApiError):
    reason, code = "BadRequest", grpc.StatusCode.INVALID_ARGUMENT


class Expired(ApiError):
    """The requested resourceVersion is older than the watch window: relist."""
    reason, code = "Expired", grpc.StatusCode.OUT_OF_RANGE


class Unauthenticated(ApiError):
    reason, code = "Unauthorized", grpc.StatusCode.UNAUTHENTICATED


class Forbidden(ApiError):
    reason, code = "Forbidden", grpc.StatusCode.PERMISSION_DENIED


class TooLarge(ApiError):
    reason, code = "RequestEntityTooLarge", grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(ApiError):
    reason, code = "ServiceUnavailable", grpc.StatusCode.UNAVAILABLE


_BY_REASON = {c.reason: c for c in (NotFound, AlreadyExists, Conflict, Invalid, BadRequest, Expired,
                                    Unauthenticated, Forbidden, TooLarge, Unavailable)}
_BY_CODE = {grpc.StatusCode.NOT_FOUND: NotFound, grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
            grpc.StatusCode.ABORTED: Conflict, grpc.StatusCode.INVALID_ARGUMENT: Invalid,
            grpc.StatusCode.OUT_OF_RANGE: Expired, grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
            grpc.StatusCode.PERMISSION_DENIED: Forbidden, grpc.StatusCode.RESOURCE_EXHAUSTED: TooLarge,
            grpc.StatusCode.UNAVAILABLE: Unavailable, grpc.StatusCode.DEADLINE_EXCEEDED: Unavailable}


def trailing_metadata(err: ApiError) -> tuple[tuple[str, str], ...]:
    md = [("minik8s-reason", err.reason)]
    if err.causes:
        md.append(("minik8s-causes", json.dumps(err.causes)))
    return tuple(md)


def from_rpc_error(e: grpc.RpcError) -> ApiError:
    """Turn a gRPC failure back into the typed ApiError the server raised."""
    md = dict(e.trailing_metadata() or ()) if hasattr(e, "trailing_metadata") else {}
    cls = _BY_REASON.get(md.get("minik8s-reason", "")) or _BY_CODE.get(e.code(), ApiError)
    causes = [tuple(c) for c in json.loads(md["minik8s-causes"])] if "minik8s-causes" in md else []
    return cls(e.details() or str(e.code()), causes)
