"""Social pages, graph side: profiles (/@username) with their follower lists, the
notifications page and the privacy settings. The header of a profile is rendered here;
buttons, lists and forms are ES modules calling the JSON API."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from plaza.core.errors import NotFound
from plaza.identity import Principal
from plaza.social import ProfileOut, ProfileService, SocialGraph
from plaza.web.site import NavItem, Site

PROFILE_TABS = (("posts", "Posts"), ("replies", "Replies"), ("media", "Media"))
LISTS = {"followers": "Followers", "following": "Following"}


def mount_social_graph(
    app: FastAPI, site: Site, *, profiles: ProfileService, graph: SocialGraph
) -> None:
    """Add /@username (and its follower lists), /notifications and /settings/privacy."""
    site.add_nav(NavItem("Notifications", "/notifications", order=20))
    site.add_nav(NavItem("Privacy", "/settings/privacy", order=92))

    def not_found(request: Request, principal: Principal | None) -> Response:
        return site.render(
            request, "not_found.html", principal, status_code=404, title="Page not found"
        )

    async def profile_of(username: str, principal: Principal | None) -> ProfileOut | None:
        viewer_id = principal.user.id if principal else None
        try:
            row = await profiles.visible(username, viewer_id)
        except NotFound:
            return None
        verified = row.user_id in await profiles.verified_ids([row.user_id])
        relation = None
        if viewer_id is not None and viewer_id != row.user_id:
            relation = await graph.relation(viewer_id, row.user_id)
        return ProfileOut.of(row, verified=verified, relation=relation)

    @app.get("/@{username}", include_in_schema=False, response_model=None)
    async def profile_page(request: Request, username: str) -> Response:
        principal = await site.principal(request)
        profile = await profile_of(username, principal) if len(username) <= 32 else None
        if profile is None:
            return not_found(request, principal)
        is_me = principal is not None and principal.user.id == profile.id
        can_see = is_me or await graph.can_see_posts_of(
            principal.user.id if principal else None, profile.id
        )
        return site.render(
            request,
            "social/profile.html",
            principal,
            title=f"{profile.display_name or profile.username} (@{profile.username})",
            profile=profile,
            is_me=is_me,
            can_see=can_see,
            tabs=PROFILE_TABS,
        )

    @app.get("/@{username}/{which}", include_in_schema=False, response_model=None)
    async def list_page(request: Request, username: str, which: str) -> Response:
        principal = await site.principal(request)
        if which not in LISTS:
            return not_found(request, principal)
        profile = await profile_of(username, principal) if len(username) <= 32 else None
        if profile is None:
            return not_found(request, principal)
        return site.render(
            request,
            "social/people.html",
            principal,
            title=f"{LISTS[which]} of @{profile.username}",
            profile=profile,
            which=which,
            heading=LISTS[which],
        )

    @app.get("/notifications", include_in_schema=False, response_model=None)
    async def notifications_page(request: Request) -> Response:
        principal = await site.principal(request)
        if principal is None:
            return site.login_redirect(request)
        return site.render(request, "social/notifications.html", principal, title="Notifications")

    @app.get("/settings/privacy", include_in_schema=False, response_model=None)
    async def privacy_page(request: Request) -> Response:
        principal = await site.principal(request)
        if principal is None:
            return site.login_redirect(request)
        me = await profiles.get(principal.user.id)
        return site.render(
            request,
            "social/settings_privacy.html",
            principal,
            title="Privacy settings",
            is_private=me.is_private,
        )
