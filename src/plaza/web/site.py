"""The page shell every feature shares: templates, navigation, and who is signed in.

A domain's pages get the ``Site`` from ``mount()``, add their navigation items with
``site.add_nav(...)`` and render templates that extend ``base.html``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from plaza.identity import Authenticator, Principal

HomePage = Callable[[Request, Principal], Awaitable[Response]]

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

# Pages load only our own scripts and styles; the QR code arrives as a data: image, and
# the composer previews chosen images and videos from blob: object URLs.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class StaticAssets(StaticFiles):
    """/static: browsers revalidate each file (a cheap 304), so an upgrade never mixes
    old and new ES modules."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


@dataclass(frozen=True)
class NavItem:
    """One link of the header navigation.

    ``order`` sorts the links; ``signed_in`` picks who sees it (True: signed-in users,
    False: signed-out visitors, None: everyone); ``admin_only`` further limits it to
    administrators (the moderation page).
    """

    label: str
    href: str
    order: int = 50
    signed_in: bool | None = True
    admin_only: bool = False

    def is_current(self, path: str) -> bool:
        if self.href == "/":
            return path == "/"
        return path == self.href or path.startswith(self.href.rstrip("/") + "/")


def safe_next(value: str | None, default: str = "/") -> str:
    """A same-site path to return to after signing in; anything else becomes ``default``."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ch in value for ch in "\r\n\t") or value.startswith("/api/"):
        return default
    return value


class Site:
    """Templates, navigation and page helpers for every domain's pages."""

    def __init__(self, auth: Authenticator, nav: list[NavItem] | None = None) -> None:
        self.auth = auth
        self.nav: list[NavItem] = list(nav or [])
        # The signed-in home page; a domain may take it over (the social timeline does).
        self.home_page: HomePage | None = None
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR),
            autoescape=select_autoescape(["html", "svg"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def add_nav(self, item: NavItem) -> None:
        """Add a header link; later domains (messages, wallet, ...) call this."""
        self.nav.append(item)

    def nav_for(self, principal: Principal | None, path: str) -> list[dict[str, Any]]:
        signed_in = principal is not None
        is_admin = principal is not None and principal.user.is_admin
        items = sorted(
            (
                i
                for i in self.nav
                if (i.signed_in is None or i.signed_in == signed_in)
                and (is_admin or not i.admin_only)
            ),
            key=lambda i: (i.order, i.label),
        )
        return [{"label": i.label, "href": i.href, "current": i.is_current(path)} for i in items]

    async def principal(self, request: Request) -> Principal | None:
        return await self.auth.optional(request)

    def render(
        self,
        request: Request,
        template: str,
        principal: Principal | None,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """Render ``template`` inside the layout, with the page security headers."""
        page = self.env.get_template(template)
        html = page.render(
            request=request,
            path=request.url.path,
            principal=principal,
            user=principal.user if principal else None,
            csrf_token=self.auth.csrf_token(principal) if principal else None,
            nav=self.nav_for(principal, request.url.path),
            **context,
        )
        return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)

    def login_redirect(self, request: Request) -> RedirectResponse:
        """Send a signed-out visitor to /login, coming back here afterwards."""
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if target == "/":
            return RedirectResponse("/login", status_code=303)
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
