"""Upstream `Status` objects: every error the REST API answers is one, with Kubernetes' reason and
HTTP code (NotFound 404, AlreadyExists/Conflict 409, Invalid 422, Expired 410, ...)."""
from __future__ import annotations

import json

from aiohttp import web

from minik8s.api.errors import ApiError

CODES = {"NotFound": 404, "AlreadyExists": 409, "Conflict": 409, "Invalid": 422, "BadRequest": 400,
         "Expired": 410, "Gone": 410, "Unauthorized": 401, "Forbidden": 403, "RequestEntityTooLarge": 413,
         "UnsupportedMediaType": 415, "NotAcceptable": 406, "MethodNotAllowed": 405, "TooManyRequests": 429,
         "ServiceUnavailable": 503, "Timeout": 504, "InternalError": 500}


class RestError(Exception):
    """An error of the HTTP layer that has no ApiError of its own (415, 405, 406)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


def status(reason: str, message: str, details: dict | None = None) -> dict:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": CODES.get(reason, 500)}
    if details:
        body["details"] = details
    return body


def from_error(e: Exception, target=None) -> dict:
    """The Status for an ApiError or RestError, with details naming the object (and each field error)."""
    reason = getattr(e, "reason", "InternalError")
    details = {}
    if target is not None and target.info is not None:
        if target.name:
            details["name"] = target.name
        if target.info.group:
            details["group"] = target.info.group
        details["kind"] = target.info.plural
    causes = getattr(e, "causes", None)
    if causes:
        details["causes"] = [{"reason": "FieldValueInvalid", "message": m, "field": p} for p, m in causes]
    return status(reason, getattr(e, "message", str(e)), details or None)


def response(body: dict) -> web.Response:
    return web.Response(status=body["code"], text=json.dumps(body), content_type="application/json")


def error_response(e: ApiError | RestError, target=None) -> web.Response:
    return response(from_error(e, target))


SUCCESS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
