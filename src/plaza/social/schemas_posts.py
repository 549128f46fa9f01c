"""Request and response bodies of the posts API (pinned in the brief: PostOut,
TimelineItem, the thread)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from plaza.core.schemas import IdStr, Input, Timestamp
from plaza.safety import Category
from plaza.social.post_views import ItemView, PostView
from plaza.social.schemas_graph import AuthorOut
from plaza.social.text import LONG_MAX_LENGTH

# The characters of a post are counted by the service (graphemes, URLs as 23); this
# bound in code points only keeps absurd bodies out before parsing. Two code points per
# grapheme of the longest post leaves room for accents and emoji sequences, and keeps
# the JSON (at most 12 bytes per code point, escaped) under the 1 MiB body limit.
_TEXT_BOUND = LONG_MAX_LENGTH * 2


class PostIn(Input):
    text: str = Field(default="", max_length=_TEXT_BOUND)
    media_ids: list[IdStr] = Field(default_factory=list, max_length=20)
    reply_to: IdStr | None = None
    quote_of: IdStr | None = None
    labels: list[Category] = Field(
        default_factory=list, max_length=12, description="The author's own content labels."
    )


class PostEditIn(Input):
    text: str = Field(max_length=_TEXT_BOUND)


class MentionOut(BaseModel):
    username: str
    start: int
    end: int


class HashtagOut(BaseModel):
    tag: str
    start: int
    end: int


class UrlOut(BaseModel):
    url: str
    start: int
    end: int


class EntitiesOut(BaseModel):
    """Offsets are code points of ``text``, end exclusive."""

    mentions: list[MentionOut] = Field(default_factory=list)
    hashtags: list[HashtagOut] = Field(default_factory=list)
    urls: list[UrlOut] = Field(default_factory=list)


class PostMediaOut(BaseModel):
    id: IdStr
    kind: Literal["image", "video"]
    url: str
    thumbnail_url: str | None
    width: int | None
    height: int | None
    duration_ms: int | None
    alt_text: str
    content_type: str


class PostCountsOut(BaseModel):
    likes: int
    reposts: int
    replies: int
    quotes: int


class PostViewerOut(BaseModel):
    liked: bool
    reposted: bool
    bookmarked: bool


class LabelOut(BaseModel):
    category: str
    risk: str
    source: str


class PostOut(BaseModel):
    id: IdStr
    author: AuthorOut
    text: str
    entities: EntitiesOut
    created_at: Timestamp
    edited_at: Timestamp | None
    reply_to: IdStr | None
    conversation_id: IdStr
    quote: PostOut | None
    quote_of: IdStr | None = Field(
        description="The quoted post's id; ``quote`` is null when it is not visible."
    )
    media: list[PostMediaOut]
    counts: PostCountsOut
    viewer: PostViewerOut | None
    labels: list[LabelOut]
    sensitive: bool
    media_warning: bool
    deleted: bool

    @classmethod
    def of(cls, view: PostView) -> PostOut:
        p = view.post
        return cls(
            id=p.id,
            author=AuthorOut.of(view.author),
            text=p.text,
            entities=EntitiesOut.model_validate(p.entities),
            created_at=p.created_at,
            edited_at=p.edited_at,
            reply_to=p.reply_to_id,
            conversation_id=p.conversation_id,
            quote=cls.of(view.quote) if view.quote is not None else None,
            quote_of=p.quote_of_id,
            media=[
                PostMediaOut(
                    id=m.id,
                    kind=m.kind,
                    url=m.url,
                    thumbnail_url=m.thumbnail_url,
                    width=m.width,
                    height=m.height,
                    duration_ms=m.duration_ms,
                    alt_text=m.alt_text,
                    content_type=m.content_type,
                )
                for m in view.media
            ],
            counts=PostCountsOut(
                likes=p.like_count,
                reposts=p.repost_count,
                replies=p.reply_count,
                quotes=p.quote_count,
            ),
            viewer=(
                PostViewerOut(liked=view.liked, reposted=view.reposted, bookmarked=view.bookmarked)
                if view.signed_in
                else None
            ),
            labels=[
                LabelOut(category=str(lb.category), risk=str(lb.risk), source=str(lb.source))
                for lb in view.labels
            ],
            sensitive=view.sensitive,
            media_warning=view.media_warning,
            deleted=view.deleted,
        )


class TimelineItem(BaseModel):
    id: IdStr
    kind: Literal["post", "repost"]
    post: PostOut
    reposted_by: AuthorOut | None
    at: Timestamp

    @classmethod
    def of(cls, item: ItemView) -> TimelineItem:
        return cls(
            id=item.id,
            kind="repost" if item.kind == "repost" else "post",
            post=PostOut.of(item.post),
            reposted_by=AuthorOut.of(item.reposted_by) if item.reposted_by else None,
            at=item.at,
        )


class RepliesPage(BaseModel):
    data: list[PostOut]
    next_cursor: str | None = None


class ThreadOut(BaseModel):
    ancestors: list[PostOut]
    post: PostOut
    replies: RepliesPage


class PostEditOut(BaseModel):
    """An earlier version of a post."""

    id: IdStr
    text: str
    entities: EntitiesOut
    written_at: Timestamp
    replaced_at: Timestamp
