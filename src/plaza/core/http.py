"""ASGI middleware: request ids, access logs, Prometheus metrics and body limits.

Written as plain ASGI (not ``BaseHTTPMiddleware``) so that each layer costs one
function call per request and streaming bodies stay streaming.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plaza.core.errors import problem_response
from plaza.core.logging import request_id_var

access_log = logging.getLogger("plaza.access")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "plaza_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "plaza_http_request_duration_seconds",
            "Time to serve an HTTP request",
            ["method", "route"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )


class RequestContextMiddleware:
    """Give every request an id (or keep a sane incoming ``X-Request-ID``), log it, time it."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _VALID_REQUEST_ID.match(incoming) else None
        request_id = request_id or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "WS")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            if route not in ("/healthz", "/metrics"):
                access_log.info(
                    "%s %s %s",
                    method,
                    scope.get("path"),
                    status,
                    extra={"status": status, "duration_ms": round(elapsed * 1000, 2)},
                )
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Refuse request bodies over the limit with a 413 problem, declared or streamed.

    Only the requests that carry files get the (larger) upload limit: a one-request
    upload (``POST /api/v1/media``) and the chunks of a resumable one (``PATCH
    /api/v1/media/uploads/{id}``). Every other body, the media API's small JSON ones
    included, keeps the ordinary limit.
    """

    # (method, path, whether ``path`` is a prefix)
    UPLOADS: tuple[tuple[str, str, bool], ...] = (
        ("POST", "/api/v1/media", False),
        ("PATCH", "/api/v1/media/uploads/", True),
    )

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        max_upload: int,
        uploads: tuple[tuple[str, str, bool], ...] = UPLOADS,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload
        self.uploads = uploads

    def _is_upload(self, method: str, path: str) -> bool:
        return any(
            method == m and (path.startswith(p) if prefix else path == p)
            for m, p, prefix in self.uploads
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        upload = self._is_upload(scope.get("method", ""), path)
        limit = self.max_upload if upload else self.max_body
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(limit)(scope, receive, send)
            return
        seen = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await _too_large(limit)(scope, receive, send)


class _BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` mid-stream; the app's HTTP error handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body exceeds the limit of {limit} bytes.")


def _too_large(limit: int) -> ASGIApp:
    return problem_response(
        413, detail=f"Request body exceeds the limit of {limit} bytes.", slug="payload-too-large"
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None
