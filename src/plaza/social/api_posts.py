"""The posts HTTP API: posts, likes, reposts, bookmarks, timelines, threads, search.

No `from __future__ import annotations` here: FastAPI must see the real types of
the `Annotated` aliases defined inside `build_posts_router`.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status

from plaza.core.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit, decode_cursor, encode_cursor
from plaza.core.schemas import IdPath, Page
from plaza.identity import Authenticator, Principal
from plaza.social import schemas_posts as s
from plaza.social.post_views import ItemView, PostView
from plaza.social.posts import NewPost, PostService
from plaza.social.schemas_graph import AuthorOut
from plaza.social.search import SearchService
from plaza.social.timelines import TimelineService

UsernamePath = Annotated[str, Path(min_length=1, max_length=32)]
SearchQuery = Annotated[str, Query(min_length=1, max_length=500, description="Words to find.")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such post, deleted, or not visible to you"}
}


def _cursor(before: int | None) -> str | None:
    return encode_cursor(before) if before is not None else None


def _posts(views: list[PostView], next_before: int | None) -> Page[s.PostOut]:
    return Page(data=[s.PostOut.of(v) for v in views], next_cursor=_cursor(next_before))


def _items(items: list[ItemView], next_before: int | None) -> Page[s.TimelineItem]:
    return Page(data=[s.TimelineItem.of(i) for i in items], next_cursor=_cursor(next_before))


def build_posts_router(
    posts: PostService,
    timelines: TimelineService,
    search: SearchService,
    auth: Authenticator,
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["posts"])
    Me = Annotated[Principal, Depends(auth.required)]
    Viewer = Annotated[Principal | None, Depends(auth.optional)]

    def no_content() -> Response:
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    # ---- posts ------------------------------------------------------------------------

    @router.post(
        "/posts",
        status_code=status.HTTP_201_CREATED,
        response_model=s.PostOut,
        responses={**NOT_FOUND, 429: {"description": "Posting too fast"}},
    )
    async def create_post(body: s.PostIn, me: Me) -> s.PostOut:
        """Publish a post: up to 280 characters (graphemes; a URL counts 23; longer with
        Premium), up to 4 images or 1 video, optionally replying to or quoting a post."""
        view = await posts.create(
            me.user.id,
            NewPost(
                text=body.text,
                media_ids=body.media_ids,
                reply_to=body.reply_to,
                quote_of=body.quote_of,
                labels=[str(c) for c in body.labels],
            ),
        )
        return s.PostOut.of(view)

    @router.get("/posts/{post_id}", response_model=s.PostOut, responses=NOT_FOUND)
    async def get_post(post_id: IdPath, viewer: Viewer) -> s.PostOut:
        return s.PostOut.of(await posts.get(post_id, viewer.user.id if viewer else None))

    @router.patch(
        "/posts/{post_id}",
        response_model=s.PostOut,
        responses={**NOT_FOUND, 403: {"description": "Not the author, no Premium, or too late"}},
    )
    async def edit_post(post_id: IdPath, body: s.PostEditIn, me: Me) -> s.PostOut:
        """Edit one's post within an hour of publishing (Premium: edit_posts)."""
        return s.PostOut.of(await posts.edit(me.user.id, post_id, body.text))

    @router.get("/posts/{post_id}/edits", response_model=Page[s.PostEditOut], responses=NOT_FOUND)
    async def post_edits(post_id: IdPath, viewer: Viewer) -> Page[s.PostEditOut]:
        """Earlier versions of an edited post, newest first."""
        rows = await posts.edits(post_id, viewer.user.id if viewer else None)
        return Page(data=[s.PostEditOut.model_validate(r, from_attributes=True) for r in rows])

    @router.delete(
        "/posts/{post_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses={**NOT_FOUND, 403: {"description": "Not the author"}},
    )
    async def delete_post(post_id: IdPath, me: Me) -> Response:
        await posts.delete(me.user.id, post_id)
        return no_content()

    @router.get("/posts/{post_id}/thread", response_model=s.ThreadOut, responses=NOT_FOUND)
    async def thread(
        post_id: IdPath, viewer: Viewer, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
    ) -> s.ThreadOut:
        """The post, the posts it replies to (root first) and its replies, oldest first."""
        found = await timelines.thread(
            post_id, viewer.user.id if viewer else None, after=decode_cursor(cursor), limit=limit
        )
        return s.ThreadOut(
            ancestors=[s.PostOut.of(v) for v in found.ancestors],
            post=s.PostOut.of(found.post),
            replies=s.RepliesPage(
                data=[s.PostOut.of(v) for v in found.replies],
                next_cursor=_cursor(found.next_after),
            ),
        )

    # ---- likes, reposts, bookmarks ------------------------------------------------------

    @router.post("/posts/{post_id}/like", status_code=204, responses=NOT_FOUND)
    async def like(post_id: IdPath, me: Me) -> Response:
        await posts.like(me.user.id, post_id)
        return no_content()

    @router.delete("/posts/{post_id}/like", status_code=204, responses=NOT_FOUND)
    async def unlike(post_id: IdPath, me: Me) -> Response:
        await posts.unlike(me.user.id, post_id)
        return no_content()

    @router.post(
        "/posts/{post_id}/repost",
        status_code=204,
        responses={**NOT_FOUND, 403: {"description": "A private account's post"}},
    )
    async def repost(post_id: IdPath, me: Me) -> Response:
        await posts.repost(me.user.id, post_id)
        return no_content()

    @router.delete("/posts/{post_id}/repost", status_code=204, responses=NOT_FOUND)
    async def unrepost(post_id: IdPath, me: Me) -> Response:
        await posts.unrepost(me.user.id, post_id)
        return no_content()

    @router.post("/posts/{post_id}/bookmark", status_code=204, responses=NOT_FOUND)
    async def bookmark(post_id: IdPath, me: Me) -> Response:
        await posts.bookmark(me.user.id, post_id)
        return no_content()

    @router.delete("/posts/{post_id}/bookmark", status_code=204)
    async def unbookmark(post_id: IdPath, me: Me) -> Response:
        await posts.unbookmark(me.user.id, post_id)
        return no_content()

    @router.get("/me/bookmarks", response_model=Page[s.PostOut])
    async def my_bookmarks(
        me: Me, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
    ) -> Page[s.PostOut]:
        """Your bookmarks, newest first. Nobody else sees them."""
        views, next_before = await posts.bookmarks(
            me.user.id, before=decode_cursor(cursor), limit=limit
        )
        return _posts(views, next_before)

    # ---- timelines --------------------------------------------------------------------

    @router.get("/timelines/home", response_model=Page[s.TimelineItem])
    async def home(
        me: Me, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
    ) -> Page[s.TimelineItem]:
        """Posts and reposts of the people you follow and your own, newest first."""
        items, next_before = await timelines.home(
            me.user.id, before=decode_cursor(cursor), limit=limit
        )
        return _items(items, next_before)

    @router.get(
        "/users/{username}/posts",
        response_model=Page[s.TimelineItem],
        responses={404: {"description": "No such user, or one of you blocked the other"}},
    )
    async def profile_posts(
        username: UsernamePath,
        viewer: Viewer,
        tab: Literal["posts", "replies", "media"] = "posts",
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> Page[s.TimelineItem]:
        """A profile tab: posts (with reposts, without replies), replies, or media."""
        items, next_before = await timelines.profile(
            username,
            viewer.user.id if viewer else None,
            tab,
            before=decode_cursor(cursor),
            limit=limit,
        )
        return _items(items, next_before)

    # ---- search -----------------------------------------------------------------------

    @router.get("/search/posts", response_model=Page[s.PostOut])
    async def search_posts(
        q: SearchQuery, viewer: Viewer, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
    ) -> Page[s.PostOut]:
        """Posts containing the words, newest first."""
        views, next_before = await search.posts(
            q, viewer.user.id if viewer else None, before=decode_cursor(cursor), limit=limit
        )
        return _posts(views, next_before)

    @router.get("/search/users", response_model=Page[AuthorOut])
    async def search_users(
        q: SearchQuery, viewer: Viewer, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
    ) -> Page[AuthorOut]:
        """Users by username or display name, best match first."""
        offset = decode_cursor(cursor) or 0
        found, next_offset = await search.users(
            q, viewer.user.id if viewer else None, offset=offset, limit=limit
        )
        return Page(data=[AuthorOut.of(a) for a in found], next_cursor=_cursor(next_offset))

    return router
