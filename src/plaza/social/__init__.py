"""Social: profiles, the follow graph, blocks and mutes, notifications, posts and
timelines.

Other domains use only what this module exports.
"""

from plaza.social.api_graph import build_graph_router
from plaza.social.api_posts import build_posts_router
from plaza.social.events import (
    Blocked,
    Followed,
    Muted,
    NotificationCreated,
    PostDeleted,
    PostPublished,
    Unblocked,
    Unfollowed,
    Unmuted,
)
from plaza.social.graph import Relation, SocialGraph
from plaza.social.notifications import Notifications
from plaza.social.post_views import PostViews
from plaza.social.posts import NewPost, PostPolicy, PostService
from plaza.social.profiles import Author, ProfileService
from plaza.social.schemas_graph import AuthorOut, ProfileOut
from plaza.social.search import SearchService
from plaza.social.setup_posts import PostServices, TimelineSettings, build_post_services
from plaza.social.timelines import TimelineCache, TimelineService

__all__ = [
    "Author",
    "AuthorOut",
    "Blocked",
    "Followed",
    "Muted",
    "NewPost",
    "NotificationCreated",
    "Notifications",
    "PostDeleted",
    "PostPolicy",
    "PostPublished",
    "PostService",
    "PostServices",
    "PostViews",
    "ProfileOut",
    "ProfileService",
    "Relation",
    "SearchService",
    "SocialGraph",
    "TimelineCache",
    "TimelineService",
    "TimelineSettings",
    "Unblocked",
    "Unfollowed",
    "Unmuted",
    "build_graph_router",
    "build_post_services",
    "build_posts_router",
]
