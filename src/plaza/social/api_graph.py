"""The graph HTTP API: profiles, follows and requests, blocks, mutes, notifications.

No `from __future__ import annotations` here: FastAPI must see the real types of
the `Annotated` aliases defined inside `build_graph_router`.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response, status

from plaza.core.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit, decode_cursor, encode_cursor
from plaza.core.schemas import Page
from plaza.identity import Authenticator, Principal
from plaza.social import schemas_graph as s
from plaza.social.graph import ListPage, SocialGraph
from plaza.social.models import SocialProfile
from plaza.social.notifications import Notifications
from plaza.social.profiles import ProfileChanges, ProfileService

UsernamePath = Annotated[str, Path(min_length=1, max_length=32)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such user, or one of you blocked the other"}
}


def build_graph_router(
    graph: SocialGraph,
    profiles: ProfileService,
    notifications: Notifications,
    auth: Authenticator,
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["social"])
    Me = Annotated[Principal, Depends(auth.required)]
    Viewer = Annotated[Principal | None, Depends(auth.optional)]

    async def profile_out(row: SocialProfile, viewer_id: int | None) -> s.ProfileOut:
        verified = row.user_id in await profiles.verified_ids([row.user_id])
        relation = None
        if viewer_id is not None and viewer_id != row.user_id:
            relation = await graph.relation(viewer_id, row.user_id)
        return s.ProfileOut.of(row, verified=verified, relation=relation)

    async def author_page(page: ListPage) -> Page[s.AuthorOut]:
        authors = await profiles.authors_of(page.profiles)
        return Page(
            data=[s.AuthorOut.of(authors[p.user_id]) for p in page.profiles],
            next_cursor=encode_cursor(page.next_before) if page.next_before else None,
        )

    def no_content() -> Response:
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    # ---- profiles ---------------------------------------------------------------------

    @router.get("/users/{username}", response_model=s.ProfileOut, responses=NOT_FOUND)
    async def get_profile(username: UsernamePath, viewer: Viewer) -> s.ProfileOut:
        """A public profile. 404 when either side has blocked the other."""
        viewer_id = viewer.user.id if viewer else None
        row = await profiles.visible(username, viewer_id)
        return await profile_out(row, viewer_id)

    @router.get("/me/profile", response_model=s.ProfileOut)
    async def get_my_profile(me: Me) -> s.ProfileOut:
        return await profile_out(await profiles.get(me.user.id), me.user.id)

    @router.patch("/me/profile", response_model=s.ProfileOut)
    async def update_profile(body: s.ProfilePatch, me: Me) -> s.ProfileOut:
        """Edit one's profile. Avatar and banner are ids of one's own ready images
        (``POST /api/v1/media``); null removes them. Making the account public
        (``is_private: false``) approves every pending follow request."""
        changes = ProfileChanges(fields=frozenset(body.model_fields_set), **body.model_dump())
        row, _approved = await profiles.update(me.user.id, changes)
        return await profile_out(row, me.user.id)

    # ---- follows ------------------------------------------------------------------

    @router.post(
        "/users/{username}/follow",
        response_model=s.FollowStateOut,
        responses={**NOT_FOUND, 429: {"description": "Too many follows"}},
    )
    async def follow(username: UsernamePath, me: Me) -> s.FollowStateOut:
        """Follow a user; a private account gets a request instead (``requested``)."""
        return s.FollowStateOut(state=await graph.follow(me.user.id, username))

    @router.delete("/users/{username}/follow", response_model=s.FollowStateOut, responses=NOT_FOUND)
    async def unfollow(username: UsernamePath, me: Me) -> s.FollowStateOut:
        """Unfollow, or withdraw a pending request."""
        return s.FollowStateOut(state=await graph.unfollow(me.user.id, username))

    @router.get("/me/follow-requests", response_model=Page[s.AuthorOut])
    async def follow_requests(
        me: Me, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
    ) -> Page[s.AuthorOut]:
        """Who asked to follow this (private) account, newest first."""
        page = await graph.follow_requests(me.user.id, before=decode_cursor(cursor), limit=limit)
        return await author_page(page)

    @router.post(
        "/me/follow-requests/{username}/approve",
        status_code=status.HTTP_204_NO_CONTENT,
        responses={404: {"description": "No request from that user"}},
    )
    async def approve(username: UsernamePath, me: Me) -> Response:
        await graph.approve(me.user.id, username)
        return no_content()

    @router.post(
        "/me/follow-requests/{username}/deny",
        status_code=status.HTTP_204_NO_CONTENT,
        responses={404: {"description": "No request from that user"}},
    )
    async def deny(username: UsernamePath, me: Me) -> Response:
        await graph.deny(me.user.id, username)
        return no_content()

    @router.get(
        "/users/{username}/followers",
        response_model=Page[s.AuthorOut],
        responses={**NOT_FOUND, 403: {"description": "A private account's list"}},
    )
    async def followers(
        username: UsernamePath,
        viewer: Viewer,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> Page[s.AuthorOut]:
        """Who follows the user, newest first."""
        page = await graph.followers(
            viewer.user.id if viewer else None,
            username,
            before=decode_cursor(cursor),
            limit=limit,
        )
        return await author_page(page)

    @router.get(
        "/users/{username}/following",
        response_model=Page[s.AuthorOut],
        responses={**NOT_FOUND, 403: {"description": "A private account's list"}},
    )
    async def following(
        username: UsernamePath,
        viewer: Viewer,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> Page[s.AuthorOut]:
        """Whom the user follows, newest first."""
        page = await graph.following(
            viewer.user.id if viewer else None,
            username,
            before=decode_cursor(cursor),
            limit=limit,
        )
        return await author_page(page)

    # ---- blocks and mutes -------------------------------------------------------------

    @router.post("/users/{username}/block", status_code=status.HTTP_204_NO_CONTENT)
    async def block(username: UsernamePath, me: Me) -> Response:
        """Block a user: follows and requests between you end, both ways."""
        await graph.block(me.user.id, username)
        return no_content()

    @router.delete("/users/{username}/block", status_code=status.HTTP_204_NO_CONTENT)
    async def unblock(username: UsernamePath, me: Me) -> Response:
        await graph.unblock(me.user.id, username)
        return no_content()

    @router.post("/users/{username}/mute", status_code=status.HTTP_204_NO_CONTENT)
    async def mute(username: UsernamePath, me: Me) -> Response:
        """Mute a user: their posts and notifications stop reaching you; they are not told."""
        await graph.mute(me.user.id, username)
        return no_content()

    @router.delete("/users/{username}/mute", status_code=status.HTTP_204_NO_CONTENT)
    async def unmute(username: UsernamePath, me: Me) -> Response:
        await graph.unmute(me.user.id, username)
        return no_content()

    @router.get("/me/blocks", response_model=Page[s.AuthorOut])
    async def list_blocks(
        me: Me, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
    ) -> Page[s.AuthorOut]:
        return await author_page(
            await graph.blocks(me.user.id, before=decode_cursor(cursor), limit=limit)
        )

    @router.get("/me/mutes", response_model=Page[s.AuthorOut])
    async def list_mutes(
        me: Me, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
    ) -> Page[s.AuthorOut]:
        return await author_page(
            await graph.mutes(me.user.id, before=decode_cursor(cursor), limit=limit)
        )

    # ---- notifications ------------------------------------------------------------

    @router.get("/notifications", response_model=Page[s.NotificationOut])
    async def list_notifications(
        me: Me, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
    ) -> Page[s.NotificationOut]:
        """Newest first. Nothing from users you blocked, who blocked you, or you muted."""
        page = await notifications.list(me.user.id, before=decode_cursor(cursor), limit=limit)
        return Page(
            data=[s.NotificationOut.of(item) for item in page.items],
            next_cursor=encode_cursor(page.next_before) if page.next_before else None,
        )

    @router.get("/notifications/unread-count", response_model=s.UnreadCountOut)
    async def unread_count(me: Me) -> s.UnreadCountOut:
        return s.UnreadCountOut(count=await notifications.unread_count(me.user.id))

    @router.post("/notifications/read", status_code=status.HTTP_204_NO_CONTENT)
    async def mark_read(me: Me, body: s.MarkRead | None = None) -> Response:
        """Mark notifications read: all of them, or up to ``up_to``."""
        await notifications.mark_read(me.user.id, body.up_to if body else None)
        return no_content()

    return router
