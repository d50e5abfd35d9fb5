"""API errors, shared by the server (which raises them) and the clients (which get them back typed).

Each error has a Kubernetes reason (NotFound, Conflict, ...) and, for Invalid, every offending field.
How they travel (a gRPC status code plus trailing metadata) is minik8s/client/transport.py's: the object
model knows nothing of the wire."""
from __future__ import annotations


class ApiError(Exception):
    reason = "InternalError"

    def __init__(self, message: str, causes: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.message = message
        self.causes = causes or []

    def __str__(self) -> str:
        return self.message


class NotFound(ApiError):
    reason = "NotFound"


class AlreadyExists(ApiError):
    reason = "AlreadyExists"


class Conflict(ApiError):
    reason = "Conflict"


class Invalid(ApiError):
    reason = "Invalid"


class BadRequest(ApiError):
    reason = "BadRequest"


class Expired(ApiError):
    """The requested resourceVersion is older than the watch window: relist."""
    reason = "Expired"


class Timeout(ApiError):
    """The server could not answer in time, e.g. a resourceVersion it has not reached: retry (504)."""
    reason = "Timeout"


class Unauthenticated(ApiError):
    reason = "Unauthorized"


class Forbidden(ApiError):
    reason = "Forbidden"


class TooLarge(ApiError):
    reason = "RequestEntityTooLarge"


class Unavailable(ApiError):
    reason = "ServiceUnavailable"


class TooManyRequests(ApiError):
    """Not now, try again later: an eviction a disruption budget refuses (HTTP 429)."""
    reason = "TooManyRequests"

