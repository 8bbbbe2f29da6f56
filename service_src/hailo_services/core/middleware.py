"""ASGI middleware every service gets: body size limit, API key, request metrics."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ErrorRenderer, PayloadTooLarge, RequestTimeout, ServiceError, Unauthorized
from .metrics import ServiceMetrics

log = logging.getLogger("hailo_services")

PUBLIC_PATHS = ("/health", "/health/ready")


def error_response(request: Request, err: ServiceError, render: ErrorRenderer) -> JSONResponse:
    body = render(request, err.status, err.message, err.type, err.code)
    return JSONResponse(body, status_code=err.status, headers=err.headers())


class BodyLimitMiddleware:
    """Limits on the request body: its size and the time a client takes to send it.

    413 for bodies over ``max_bytes``: at once from Content-Length, else while the body streams in.
    408 when the whole body has not arrived ``timeout_s`` after the route started reading it. uvicorn
    has no such limit, so a client sending a byte a second would hold its connection (and, for a route
    that reads the body inside the model's queue, the model) for as long as it likes. Every route
    reads its body before it queues, so the engine is never held by a slow upload.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, render: ErrorRenderer, timeout_s: float | None = None):
        self.app, self.max_bytes, self.render, self.timeout_s = app, max_bytes, render, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = PayloadTooLarge(f"request body is larger than the limit of {self.max_bytes} bytes")
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await error_response(Request(scope), too_big, self.render)(scope, receive, send)
                    return
        seen = 0
        deadline: float | None = None
        complete = False
        loop = asyncio.get_running_loop()

        async def limited() -> Message:
            nonlocal seen, deadline, complete
            if complete or self.timeout_s is None:
                # After the body, receive() only waits for the client to leave (streaming responses
                # poll it): no deadline there.
                message = await receive()
            else:
                if deadline is None:
                    deadline = loop.time() + self.timeout_s
                try:
                    async with asyncio.timeout_at(deadline):
                        message = await receive()
                except TimeoutError:
                    raise RequestTimeout(
                        f"the request body did not arrive within {self.timeout_s:g} s ({seen} bytes received)"
                    ) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise too_big
                if not message.get("more_body", False):
                    complete = True
            return message

        await self.app(scope, limited, send)


FORM_KEY_PENDING = "hailo.api_key_from_form"  # scope key: the route must check the form's api_key field


class ApiKeyMiddleware:
    """When a key is set, every path but the health probes needs ``Authorization: Bearer KEY`` or ``x-api-key: KEY``.

    DeepStack clients (Frigate, Blue Iris, Home Assistant) send the key as an ``api_key`` form field
    instead. Under ``form_key_paths`` a multipart request without a header key is let through marked
    as pending, and the route checks the field with :func:`check_form_api_key` before any work.
    """

    def __init__(
        self, app: ASGIApp, *, api_key: str | None, render: ErrorRenderer, form_key_paths: tuple[str, ...] = ()
    ):
        self.app, self.render = app, render
        self.key = api_key.encode() if api_key else None
        self.form_key_paths = form_key_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.key is None or scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        offered = headers.get(b"x-api-key", b"")
        auth = headers.get(b"authorization", b"")
        if auth[:7].lower() == b"bearer ":
            offered = auth[7:].strip()
        if offered and hmac.compare_digest(offered, self.key):
            await self.app(scope, receive, send)
            return
        content_type = headers.get(b"content-type", b"").lower()
        if (
            not offered
            and scope["path"].startswith(self.form_key_paths)
            and content_type.startswith((b"multipart/form-data", b"application/x-www-form-urlencoded"))
        ):
            scope[FORM_KEY_PENDING] = self.key
            await self.app(scope, receive, send)
            return
        await error_response(Request(scope), _unauthorized(), self.render)(scope, receive, send)


def _unauthorized() -> Unauthorized:
    return Unauthorized("missing or invalid API key (send 'Authorization: Bearer <key>' or 'x-api-key')")


async def check_form_api_key(request: Request) -> None:
    """For a request the middleware let through pending: its form's ``api_key`` must match (else 401)."""
    key = request.scope.get(FORM_KEY_PENDING)
    if key is None:
        return
    form = await request.form()
    offered = form.get("api_key")
    if not isinstance(offered, str) or not offered or not hmac.compare_digest(offered.encode(), key):
        raise Unauthorized(
            "missing or invalid API key (send the 'api_key' form field, 'Authorization: Bearer <key>' or 'x-api-key')"
        )


class MetricsMiddleware:
    """Counts requests and their latency per route template (not per raw path, to keep labels few)."""

    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics, clock: Callable[[], float] = time.perf_counter):
        self.app, self.metrics, self.clock = app, metrics, clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = self.clock()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            m = self.metrics
            m.requests.labels(m.service, endpoint, scope["method"], str(status)).inc()
            m.request_seconds.labels(m.service, endpoint).observe(self.clock() - started)


class CatchAllMiddleware:
    """Turn an unexpected exception into a 500 in the API's error shape and keep the connection.

    Starlette's own catch-all handler answers too, but then re-raises, and the server closes the
    keep-alive connection under the client's next request.
    """

    def __init__(self, app: ASGIApp, *, render: ErrorRenderer):
        self.app, self.render = app, render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def track(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, track)
        except Exception as exc:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                return  # a stream already under way: all we can do is end it
            request = Request(scope)
            body = self.render(request, 500, f"internal error: {type(exc).__name__}", "server_error", "internal_error")
            await JSONResponse(body, status_code=500)(scope, receive, send)
