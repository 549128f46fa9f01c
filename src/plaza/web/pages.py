"""Page routes. Pages are templates; their ES modules talk to the JSON API."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from plaza.core.errors import DomainError
from plaza.identity import Authenticator
from plaza.web.site import STATIC_DIR, NavItem, Site, StaticAssets, safe_next

DEFAULT_NAV = [
    NavItem("Home", "/", order=0),
    NavItem("Security", "/settings/security", order=90),
]

ExceptionHandler = Callable[[Request, Any], Response | Awaitable[Response]]


def long_date(moment: datetime) -> str:
    return f"{moment.day} {moment:%B %Y}"


def mount(app: FastAPI, auth: Authenticator, nav: list[NavItem] | None = None) -> Site:
    """Add the web pages and static files to ``app``; returns the ``Site`` that other
    domains' pages use to add navigation and render templates."""
    site = Site(auth, DEFAULT_NAV if nav is None else nav)
    site.env.filters["long_date"] = long_date
    grace_days = auth.identity.policy.deletion_grace.days

    app.mount("/static", StaticAssets(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False, response_model=None)
    async def home(request: Request) -> Response:
        principal = await site.principal(request)
        if principal is None:
            return site.login_redirect(request)
        if site.home_page is not None:
            return await site.home_page(request, principal)
        return site.render(request, "home.html", principal, title="Home")

    @app.get("/login", include_in_schema=False, response_model=None)
    async def login(request: Request, next: str | None = None) -> Response:
        target = safe_next(next)
        if await site.principal(request) is not None:
            return RedirectResponse(target, status_code=303)
        return site.render(request, "login.html", None, title="Sign in", next=target)

    @app.get("/signup", include_in_schema=False, response_model=None)
    async def signup(request: Request, next: str | None = None) -> Response:
        target = safe_next(next)
        if await site.principal(request) is not None:
            return RedirectResponse(target, status_code=303)
        return site.render(request, "signup.html", None, title="Create your account", next=target)

    @app.get("/settings/security", include_in_schema=False, response_model=None)
    async def security(request: Request) -> Response:
        principal = await site.principal(request)
        if principal is None:
            return site.login_redirect(request)
        return site.render(
            request,
            "security.html",
            principal,
            title="Security settings",
            grace_days=grace_days,
        )

    _html_not_found(app, site)
    app.state.web = site
    return site


def _html_not_found(app: FastAPI, site: Site) -> None:
    """Unknown pages get an HTML 404 in a browser; /api and other clients keep problem JSON."""
    fallback: ExceptionHandler | None = app.exception_handlers.get(StarletteHTTPException)

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        wants_html = "text/html" in request.headers.get("accept", "")
        path = request.url.path
        if (
            exc.status_code == 404
            and wants_html
            and not path.startswith(("/api/", "/static/"))
            and path != "/api"
        ):
            try:
                principal = await site.principal(request)
            except DomainError:
                principal = None
            return site.render(
                request, "not_found.html", principal, status_code=404, title="Page not found"
            )
        if fallback is None:
            raise exc
        answer = fallback(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    app.add_exception_handler(StarletteHTTPException, not_found)
