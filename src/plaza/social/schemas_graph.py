"""Request and response bodies of the graph API (profiles, follows, blocks, mutes,
notifications)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from plaza.core.schemas import IdStr, Input, Output, Timestamp
from plaza.social.graph import Relation
from plaza.social.models import SocialProfile
from plaza.social.notifications import NotificationItem, NotificationKind
from plaza.social.profiles import Author


class AuthorOut(Output):
    """How a user appears beside posts, in lists and in notifications."""

    id: IdStr
    username: str
    display_name: str
    avatar_url: str | None
    verified: bool

    @classmethod
    def of(cls, author: Author) -> AuthorOut:
        return cls(
            id=author.id,
            username=author.username,
            display_name=author.display_name,
            avatar_url=author.avatar_url,
            verified=author.verified,
        )


class CountsOut(Output):
    followers: int
    following: int
    posts: int


class ViewerOut(Output):
    """How the signed-in viewer stands to this user."""

    following: bool
    followed_by: bool
    requested: bool
    blocking: bool
    muting: bool


class ProfileOut(Output):
    id: IdStr
    username: str
    display_name: str
    bio: str
    avatar_url: str | None
    banner_url: str | None
    website: str
    joined_at: Timestamp
    verified: bool
    is_creator: bool
    is_private: bool
    counts: CountsOut
    viewer: ViewerOut | None = Field(
        description="Null for signed-out visitors and on one's own profile."
    )

    @classmethod
    def of(cls, row: SocialProfile, *, verified: bool, relation: Relation | None) -> ProfileOut:
        return cls(
            id=row.user_id,
            username=row.username,
            display_name=row.display_name,
            bio=row.bio,
            avatar_url=row.avatar_url,
            banner_url=row.banner_url,
            website=row.website,
            joined_at=row.joined_at,
            verified=verified,
            is_creator=row.is_creator,
            is_private=row.is_private,
            counts=CountsOut(
                followers=row.followers_count,
                following=row.following_count,
                posts=row.posts_count,
            ),
            viewer=None
            if relation is None
            else ViewerOut(
                following=relation.following,
                followed_by=relation.followed_by,
                requested=relation.requested,
                blocking=relation.blocking,
                muting=relation.muting,
            ),
        )


class ProfilePatch(Input):
    """Fields left out are unchanged; ``avatar_media_id``/``banner_media_id`` null
    removes the picture. Setting ``is_private`` to false approves every pending
    follow request."""

    display_name: str | None = Field(default=None, max_length=200)
    bio: str | None = Field(default=None, max_length=1000)
    website: str | None = Field(default=None, max_length=1000)
    avatar_media_id: IdStr | None = None
    banner_media_id: IdStr | None = None
    is_private: bool | None = None
    is_creator: bool | None = None


class FollowStateOut(Output):
    state: Literal["following", "requested", "none"]


class NotificationOut(Output):
    id: IdStr
    kind: NotificationKind
    actor: AuthorOut
    post_id: IdStr | None
    created_at: Timestamp
    read: bool

    @classmethod
    def of(cls, item: NotificationItem) -> NotificationOut:
        return cls(
            id=item.id,
            kind=item.kind,
            actor=AuthorOut.of(item.actor),
            post_id=item.post_id,
            created_at=item.created_at,
            read=item.read,
        )


class UnreadCountOut(Output):
    count: int


class MarkRead(Input):
    """Without ``up_to``, everything is marked read."""

    up_to: IdStr | None = Field(
        default=None, description="The newest notification id the client has shown."
    )
