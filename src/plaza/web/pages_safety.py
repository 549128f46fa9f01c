"""Safety pages: the sensitive-media choice (/settings/content) and the moderators'
report queue (/moderation). The pages are shells; their ES modules call the JSON API."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from plaza.safety import Category, Risk, SafetyService, SensitiveMedia
from plaza.web.site import NavItem, Site

SENSITIVE_CHOICES = [
    (SensitiveMedia.SHOW, "Show it", "Sensitive photos and videos appear like any other."),
    (
        SensitiveMedia.WARN,
        "Warn me first",
        "They stay hidden behind a warning until you choose to see them.",
    ),
    (SensitiveMedia.HIDE, "Hide it", "Posts with sensitive media are left out altogether."),
]


def mount_safety(app: FastAPI, site: Site, safety: SafetyService) -> None:
    """Add the content settings page and the moderation page with their links."""
    site.add_nav(NavItem("Content", "/settings/content", order=91))
    site.add_nav(NavItem("Moderation", "/moderation", order=95, admin_only=True))

    @app.get("/settings/content", include_in_schema=False, response_model=None)
    async def content_settings(request: Request) -> Response:
        principal = await site.principal(request)
        if principal is None:
            return site.login_redirect(request)
        current = await safety.sensitive_media_preference(principal.user.id)
        return site.render(
            request,
            "safety/content.html",
            principal,
            title="Content settings",
            choices=SENSITIVE_CHOICES,
            current=current.value,
        )

    @app.get("/moderation", include_in_schema=False, response_model=None)
    async def moderation(request: Request) -> Response:
        principal = await site.principal(request)
        if principal is None:
            return site.login_redirect(request)
        if not principal.user.is_admin:
            # Like the API's objects one may not see: no hint that the page exists.
            return site.render(
                request, "not_found.html", principal, status_code=404, title="Page not found"
            )
        return site.render(
            request,
            "safety/moderation.html",
            principal,
            title="Moderation",
            categories=[c.value for c in Category],
            risks=[r.value for r in Risk],
        )
