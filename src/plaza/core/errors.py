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
from sqlalchemy.exc import OperationalError
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
    # Body fields are named as the client wrote them ("password", "passkey.credential"),
    # the same names that domain errors use; other locations keep their prefix
    # ("query.limit", "path.session_id") so that the client knows where to look.
    parts = [str(part) for part in loc]
    if len(parts) > 1 and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem document.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "On a 422: which fields were refused, and why.",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _document_problems(document: dict[str, Any]) -> None:
    """Say in the OpenAPI document what the handlers below really send: every error
    (FastAPI's own 422 included) is a problem, and any status not listed may be one."""
    document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    content = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            for status, response in responses.items():
                if status[:1] in ("4", "5"):
                    response["content"] = content
            responses.setdefault(
                "default", {"description": "Any other outcome: a problem", "content": content}
            )


def _database_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite giving up on its write lock ("database is locked")."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


def install_problem_handlers(app: FastAPI) -> None:
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document_problems(build_openapi())  # FastAPI caches it in app.openapi_schema
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]

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

    async def database_error(request: Request, exc: Exception) -> Response:
        if not _database_busy(exc):
            return await unexpected(request, exc)
        # SQLite's one writer was held longer than the busy timeout: the server is
        # overloaded, the transaction was rolled back, and the request can be sent again.
        logger.warning("database busy", extra={"path": request.url.path})
        return problem_response(
            503,
            detail="The server is busy; nothing was changed. Try again shortly.",
            slug="unavailable",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )

    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error", exc_info=exc)
        return problem_response(
            500, detail="Something went wrong on our side.", instance=request.url.path
        )

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(OperationalError, database_error)
    app.add_exception_handler(Exception, unexpected)
