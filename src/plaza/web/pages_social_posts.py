"""Social pages, posts side: the home timeline (which becomes the signed-in home page),
a post's thread, and search. The pages are shells; their ES modules call the JSON API."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from plaza.identity import Principal
from plaza.premium import Entitlement, Entitlements
from plaza.web.site import NavItem, Site

# The post length the composer counts down from. The server applies the same rule and
# has the last word; Premium's long posts raise the limit.
MAX_LENGTH = 280
LONG_MAX_LENGTH = 25_000
# How often the home timeline asks for new posts while there is no real-time gateway.
POLL_SECONDS = 20
SEARCH_TABS = ("posts", "people")


def mount_social_posts(app: FastAPI, site: Site, *, entitlements: Entitlements) -> None:
    """Add the home timeline, thread and search pages, and the Search link."""
    site.add_nav(NavItem("Search", "/search", order=10))

    async def max_length(principal: Principal) -> int:
        long_posts = await entitlements.has(principal.user.id, Entitlement.LONG_POSTS)
        return LONG_MAX_LENGTH if long_posts else MAX_LENGTH

    async def home(request: Request, principal: Principal) -> Response:
        return site.render(
            request,
            "social/home.html",
            principal,
            title="Home",
            max_length=await max_length(principal),
            poll_seconds=POLL_SECONDS,
        )

    site.home_page = home

    @app.get("/@{username}/status/{post_id}", include_in_schema=False, response_model=None)
    async def thread(request: Request, username: str, post_id: str) -> Response:
        if not post_id.isdigit() or len(post_id) > 20:
            raise StarletteHTTPException(404)
        principal = await site.principal(request)
        if principal is None:
            return site.login_redirect(request)
        return site.render(
            request,
            "social/thread.html",
            principal,
            title=f"Post by @{username}",
            post_id=post_id,
            max_length=await max_length(principal),
        )

    @app.get("/search", include_in_schema=False, response_model=None)
    async def search(request: Request, q: str = "", tab: str = "posts") -> Response:
        principal = await site.principal(request)
        if principal is None:
            return site.login_redirect(request)
        query = q.strip()[:200]
        return site.render(
            request,
            "social/search.html",
            principal,
            title=f"{query} · Search" if query else "Search",
            q=query,
            tab=tab if tab in SEARCH_TABS else "posts",
        )
