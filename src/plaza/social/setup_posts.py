"""Builds the posts half of social (posts, timelines, search) for the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.events import EventBus
from plaza.core.ids import SnowflakeGenerator
from plaza.core.ratelimit import Rate, RateLimiter
from plaza.media import MediaService
from plaza.premium import Entitlements
from plaza.safety import SafetyService
from plaza.social.notifications import Notifications
from plaza.social.post_views import PostViews
from plaza.social.posts import PostPolicy, PostService
from plaza.social.profiles import ProfileService
from plaza.social.search import SearchService
from plaza.social.timelines import TimelineCache, TimelineService


@dataclass(frozen=True)
class TimelineSettings:
    fanout: Literal["read", "write"]
    celebrity_threshold: int
    cache_size: int
    cache_ttl_seconds: int
    redis_prefix: str


@dataclass(frozen=True)
class PostServices:
    posts: PostService
    timelines: TimelineService
    search: SearchService


def build_post_services(
    *,
    db: Database,
    bus: EventBus,
    clock: Clock,
    ids: SnowflakeGenerator,
    limiter: RateLimiter,
    redis: Redis | None,
    profiles: ProfileService,
    notifications: Notifications,
    media: MediaService,
    safety: SafetyService,
    entitlements: Entitlements,
    posts_per_hour: int,
    timeline: TimelineSettings,
) -> PostServices:
    """Posts, timelines and search wired together. Fan-out on write needs Redis;
    without it the setting is refused rather than silently ignored."""
    views = PostViews(db=db, profiles=profiles, media=media, safety=safety)
    cache = None
    if timeline.fanout == "write":
        if redis is None:
            raise ValueError("PLAZA_TIMELINE_FANOUT=write needs PLAZA_REDIS_URL")
        cache = TimelineCache(
            redis,
            timeline.redis_prefix,
            size=timeline.cache_size,
            ttl_seconds=timeline.cache_ttl_seconds,
        )
    timelines = TimelineService(
        db=db,
        views=views,
        profiles=profiles,
        cache=cache,
        celebrity_threshold=timeline.celebrity_threshold,
    )
    posts = PostService(
        db=db,
        bus=bus,
        clock=clock,
        ids=ids,
        limiter=limiter,
        profiles=profiles,
        notifications=notifications,
        media=media,
        safety=safety,
        entitlements=entitlements,
        views=views,
        policy=PostPolicy(create_rate=Rate(posts_per_hour, 3600)),
    )
    if cache is not None:
        posts.fanout = timelines.fan_out
    return PostServices(
        posts=posts,
        timelines=timelines,
        search=SearchService(db=db, views=views, profiles=profiles),
    )
