"""Errors with an HTTP status, rendered in the shape of the API the client speaks.

Handlers raise a :class:`ServiceError`; the app factory turns it (and validation errors, unknown
routes and anything unexpected) into a JSON body chosen by the service's ``ErrorRenderer``, so a
client never sees a traceback or a bare 500 page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request


class ServiceError(Exception):
    status = 500
    type = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, round(self.retry_after)))}


class BadRequest(ServiceError):
    status = 400
    type = "invalid_request_error"


class Unauthorized(ServiceError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class Forbidden(ServiceError):
    status = 403
    type = "permission_error"
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class Conflict(ServiceError):
    status = 409
    type = "invalid_request_error"
    code = "conflict"


class RequestTimeout(ServiceError):
    """The client took too long to send its body (a slow or stalled client): the connection is closed."""

    status = 408
    type = "invalid_request_error"
    code = "request_timeout"

    def headers(self) -> dict[str, str]:
        return {"Connection": "close"}


class PayloadTooLarge(ServiceError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class UnsupportedMediaType(ServiceError):
    """A body (or image format) we recognise but do not take: a PDF, a video, text, an SVG..."""

    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"


class QueueFull(ServiceError):
    status = 503
    type = "server_error"
    code = "queue_full"


class NotReady(ServiceError):
    """The service's own default model is not on disk: the service is up but cannot serve yet."""

    status = 503
    type = "server_error"
    code = "model_not_ready"


class EngineTimeout(ServiceError):
    status = 504
    type = "timeout_error"
    code = "timeout"


class EngineFailure(ServiceError):
    """The engine failed (a model that will not load, a device error): not the client's fault."""

    status = 500
    type = "server_error"
    code = "engine_error"


class ClientGone(Exception):
    """The client disconnected while its request waited or ran; nothing is sent back."""


# (request, status, message, type, code) -> JSON body
ErrorRenderer = Callable[[Request, int, str, str, "str | None"], dict[str, Any]]


def openai_error(request: Request, status: int, message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def plain_error(request: Request, status: int, message: str, type_: str, code: str | None) -> dict[str, Any]:
    """Ollama's shape: ``{"error": "message"}``."""
    return {"error": message}


def deepstack_error(request: Request, status: int, message: str, type_: str, code: str | None) -> dict[str, Any]:
    """DeepStack / CodeProject.AI's shape: ``{"success": false, "error": "...", "code": <status>}``."""
    return {"success": False, "error": message, "code": status}
