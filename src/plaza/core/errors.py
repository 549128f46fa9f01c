"""Domain errors and their one translation into RFC 9457 problem documents.

Services raise these; ``install_problem_handlers`` turns them, FastAPI's validation
errors and anything unexpected into ``application/problem+json``. No route builds
error JSON by hand.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

PROBLEM_TYPE_BASE = "https://plaza.example/problems/"
logger = logging.getLogger("plaza.errors")


class DomainError(Exception):
    """A rule said no. ``status`` and ``slug`` pick the problem the client sees."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Not signed in"


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Forbidden"


class Gone(DomainError):
    status, slug, title = 410, "gone", "Gone"


class InvalidInput(DomainError):
    """A well-formed request that breaks a rule about one field."""

    status, slug, title = 422, "validation-error", "Invalid input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])


class RateLimited(DomainError):
    status, slug, title = 429, "rate-limited", "Too many requests"

    def __init__(self, retry_after: float, detail: str | None = None) -> None:
        super().__init__(detail or "Too many requests; try again later.")
        self.retry_after = max(1, int(retry_after + 0.999))


class PayloadTooLarge(DomainError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class ServiceUnavailable(DomainError):
    status, slug, title = 503, "unavailable", "Service unavailable"


_TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem_response(
    status: int,
    *,
    detail: str,
    slug: str | None = None,
    title: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (slug or str(status)),
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    # FastAPI prefixes the location ("body", "query", ...); keep it, it tells the
    # client where the field was, and join the rest as a dotted path.
    return ".".join(str(part) for part in loc)


def install_problem_handlers(app: FastAPI) -> None:
    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return problem_response(
            exc.status,
            detail=exc.detail,
            slug=exc.slug,
            title=exc.title,
            instance=request.url.path,
            headers=headers,
            **exc.extra,
        )

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": _field_name(err.get("loc", ())), "message": err.get("msg", "invalid")}
            for err in exc.errors()
        ]
        fields = ", ".join(e["field"] for e in errors) or "request"
        return problem_response(
            422,
            detail=f"Invalid fields: {fields}",
            slug="validation-error",
            instance=request.url.path,
            errors=errors,
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "")
        return problem_response(
            exc.status_code,
            detail=detail,
            instance=request.url.path,
            headers=dict(exc.headers) if exc.headers else None,
        )

    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error", exc_info=exc)
        return problem_response(
            500, detail="Something went wrong on our side.", instance=request.url.path
        )

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
