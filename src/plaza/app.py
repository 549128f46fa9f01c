"""The composition root: ``create_app(settings)`` builds every app-scoped object once
and wires the domains together. Nothing else constructs infrastructure."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from redis.asyncio import Redis
from sqlalchemy import text

from plaza import web
from plaza.calls import CallEnded, Calls, CallsPolicy
from plaza.calls import build_router as calls_router
from plaza.config import Settings
from plaza.core import migrations
from plaza.core.clock import Clock, OffsetFileClock, SystemClock
from plaza.core.db import Database
from plaza.core.errors import NotFound, install_problem_handlers, problem_response
from plaza.core.events import EventBus, RedisEventBus
from plaza.core.http import BodyLimitMiddleware, HttpMetrics, RequestContextMiddleware
from plaza.core.idempotency import IdempotencyStore
from plaza.core.ids import SnowflakeGenerator
from plaza.core.logging import configure_logging
from plaza.core.nodes import NodeIdLease
from plaza.core.preferences import PreferenceSection, build_settings_router
from plaza.core.ratelimit import MemoryRateLimiter, Rate, RateLimiter, RedisRateLimiter
from plaza.core.tasks import Periodic
from plaza.identity import (
    AccountLifecycle,
    Authenticator,
    IdentityPolicy,
    IdentityService,
    PasswordHasher,
    SecuritySettings,
    ServerKeys,
)
from plaza.identity import build_router as identity_router
from plaza.live import wire_live_events
from plaza.media import MediaService, build_media
from plaza.media import build_router as media_router
from plaza.messaging import Messaging, MessagingPolicy, SocialPeople
from plaza.messaging import build_router as messaging_router
from plaza.payments import Context as PaymentsContext
from plaza.payments import IdentityDirectory, Ledger, PaymentCompleted, Payments, SandboxRail
from plaza.payments import Policy as PaymentsPolicy
from plaza.payments import build_router as payments_router
from plaza.premium import Billing, BillingPolicy, Charger, Entitlements, Plans
from plaza.premium import build_router as premium_router
from plaza.realtime import Realtime, RealtimeSettings, StreamShortcut
from plaza.realtime import build_router as realtime_router
from plaza.safety import SafetyPolicy, SafetyService, load_classifier
from plaza.safety import build_router as safety_router
from plaza.social import (
    Notifications,
    PostService,
    ProfileService,
    SearchService,
    SocialGraph,
    TimelineService,
    TimelineSettings,
    build_graph_router,
    build_post_services,
    build_posts_router,
)

logger = logging.getLogger("plaza.app")


def load_models() -> None:
    """Import every domain's tables so that ``Base.metadata`` knows them (Alembic).

    A domain's public package imports its models, so importing the package is enough.
    """
    import plaza.calls
    import plaza.core.models
    import plaza.identity
    import plaza.media
    import plaza.messaging
    import plaza.payments
    import plaza.premium
    import plaza.realtime
    import plaza.safety
    import plaza.social  # noqa: F401


@dataclass
class Plaza:
    """The app-scoped objects of one process."""

    settings: Settings
    clock: Clock
    db: Database
    redis: Redis | None
    bus: EventBus
    limiter: RateLimiter
    ids: SnowflakeGenerator
    keys: ServerKeys
    identity: IdentityService
    security: SecuritySettings
    lifecycle: AccountLifecycle
    auth: Authenticator
    periodic: Periodic
    entitlements: Entitlements
    media: MediaService = field(init=False)
    profiles: ProfileService = field(init=False)
    notifications: Notifications = field(init=False)
    social_graph: SocialGraph = field(init=False)
    posts: PostService = field(init=False)
    timelines: TimelineService = field(init=False)
    post_search: SearchService = field(init=False)
    safety: SafetyService = field(init=False)
    ledger: Ledger = field(init=False)
    idempotency: IdempotencyStore = field(init=False)
    payments: Payments = field(init=False)
    realtime: Realtime = field(init=False)
    messaging: Messaging = field(init=False)
    calls: Calls = field(init=False)
    billing: Billing = field(init=False)


def build(settings: Settings, *, clock: Clock | None = None) -> Plaza:
    """Construct (without starting) everything a Plaza process needs."""
    if clock is None:
        offset_file = settings.clock_offset_file
        clock = OffsetFileClock(offset_file) if offset_file else SystemClock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    prefix = settings.redis_prefix
    bus: EventBus = RedisEventBus(redis, f"{prefix}:events") if redis else EventBus()
    limiter: RateLimiter = RedisRateLimiter(redis, prefix) if redis else MemoryRateLimiter()
    ids = SnowflakeGenerator(settings.node_id)
    keys = ServerKeys(settings.resolved_secret_key())
    hasher = PasswordHasher(
        memory_kib=settings.argon2_memory_kib,
        time_cost=settings.argon2_time_cost,
        parallelism=settings.argon2_parallelism,
        max_concurrent=settings.max_concurrent_hashes,
    )
    policy = IdentityPolicy(
        session_idle=timedelta(seconds=settings.session_idle_seconds),
        session_absolute=timedelta(seconds=settings.session_absolute_seconds),
        step_up_window=timedelta(seconds=settings.step_up_seconds),
        mfa_challenge_ttl=timedelta(seconds=settings.mfa_challenge_seconds),
        deletion_grace=timedelta(days=settings.account_deletion_grace_days),
        login_failures=Rate(settings.login_failures_per_hour, 3600),
        signups_per_ip=Rate(settings.signups_per_ip_per_hour, 3600),
        rp_name=settings.webauthn_rp_name,
    )
    identity_service = IdentityService(
        db=db,
        bus=bus,
        limiter=limiter,
        clock=clock,
        ids=ids,
        hasher=hasher,
        keys=keys,
        policy=policy,
    )
    periodic = Periodic()
    lifecycle = AccountLifecycle(identity_service)
    periodic.every(3600, "purge-deleted-accounts", lifecycle.purge_due)
    plaza = Plaza(
        settings=settings,
        clock=clock,
        db=db,
        redis=redis,
        bus=bus,
        limiter=limiter,
        ids=ids,
        keys=keys,
        identity=identity_service,
        lifecycle=lifecycle,
        security=SecuritySettings(identity_service),
        auth=Authenticator(
            identity_service,
            keys,
            public_url=settings.public_url,
            rp_name=settings.webauthn_rp_name,
        ),
        periodic=periodic,
        entitlements=Entitlements(db=db, clock=clock, ids=ids),
    )
    # Domains are built below in dependency order; each assigns its field on `plaza`.
    plaza.media = build_media(
        settings, db=db, bus=bus, clock=clock, ids=ids, limiter=limiter, periodic=periodic
    )
    plaza.safety = SafetyService(
        db=db,
        bus=bus,
        limiter=limiter,
        clock=clock,
        ids=ids,
        classifier=load_classifier(
            settings.safety_classifier, lexicon_path=settings.safety_lexicon_path
        ),
        policy=SafetyPolicy(
            report_rate=Rate(settings.safety_reports_per_hour, 3600),
            report_threshold=settings.safety_report_threshold,
        ),
    )
    lifecycle.add_exporter("safety", plaza.safety.export)
    plaza.profiles = ProfileService(
        db=db,
        bus=bus,
        clock=clock,
        identity=identity_service,
        media=plaza.media,
        entitlements=plaza.entitlements,
    )
    plaza.notifications = Notifications(
        db=db, bus=bus, clock=clock, ids=ids, profiles=plaza.profiles
    )
    plaza.social_graph = SocialGraph(
        db=db,
        bus=bus,
        clock=clock,
        ids=ids,
        limiter=limiter,
        profiles=plaza.profiles,
        notifications=plaza.notifications,
        follow_rate=Rate(settings.follows_per_day, 86_400),
    )
    post_services = build_post_services(
        db=db,
        bus=bus,
        clock=clock,
        ids=ids,
        limiter=limiter,
        redis=redis,
        profiles=plaza.profiles,
        notifications=plaza.notifications,
        media=plaza.media,
        safety=plaza.safety,
        entitlements=plaza.entitlements,
        posts_per_hour=settings.posts_per_hour,
        timeline=TimelineSettings(
            fanout=settings.timeline_fanout,
            celebrity_threshold=settings.timeline_celebrity_threshold,
            cache_size=settings.timeline_cache_size,
            cache_ttl_seconds=settings.timeline_cache_ttl_seconds,
            redis_prefix=settings.redis_prefix,
        ),
    )
    plaza.posts = post_services.posts
    plaza.timelines = post_services.timelines
    plaza.post_search = post_services.search
    plaza.realtime = Realtime(
        db=db,
        bus=bus,
        clock=clock,
        settings=RealtimeSettings(
            retention=timedelta(days=settings.realtime_retention_days),
            heartbeat_interval=settings.realtime_heartbeat_seconds,
            heartbeat_timeout=settings.realtime_heartbeat_timeout_seconds,
            queue_size=settings.realtime_queue_size,
            max_connections_per_user=settings.realtime_max_connections_per_user,
        ),
    )
    periodic.every(
        settings.realtime_heartbeat_seconds, "stream-heartbeat", plaza.realtime.heartbeat
    )
    periodic.every(settings.realtime_prune_interval_seconds, "stream-prune", plaza.realtime.prune)
    # Messaging needs social (people, blocks, notifications), media, safety and the stream.
    plaza.messaging = Messaging(
        db=db,
        bus=bus,
        clock=clock,
        ids=ids,
        limiter=limiter,
        stream=plaza.realtime,
        people=SocialPeople(plaza.profiles),
        graph=plaza.social_graph,
        entitlements=plaza.entitlements,
        notifier=plaza.notifications,
        media=plaza.media,
        policy=MessagingPolicy(
            new_conversations=Rate(settings.dm_new_conversations_per_day, 86_400),
            messages=Rate(settings.dm_messages_per_minute, 60),
            max_group_members=settings.dm_max_group_members,
            edit_window=timedelta(seconds=settings.dm_edit_window_seconds),
        ),
    )
    plaza.safety.register_subject("message", plaza.messaging.resolve_for_report)
    lifecycle.add_exporter("messaging", plaza.messaging.export)
    # Payments sent from a DM are checked against, and shown in, the conversation.
    plaza.ledger = Ledger(db, clock, ids.next_id, max_batch=settings.ledger_max_batch)
    plaza.idempotency = IdempotencyStore(
        db, clock, ttl=timedelta(hours=settings.idempotency_ttl_hours)
    )
    periodic.every(
        settings.ledger_expiry_interval_seconds,
        "ledger-expire-pending",
        plaza.ledger.expire_pending,
    )
    periodic.every(3600, "sweep-idempotency-keys", plaza.idempotency.sweep)
    plaza.payments = Payments(
        PaymentsContext(
            db=db,
            ledger=plaza.ledger,
            bus=bus,
            clock=clock,
            ids=ids,
            keys=keys,
            identity=identity_service,
            users=IdentityDirectory(identity_service),
            blocks=plaza.social_graph,
            conversations=plaza.messaging,
            policy=PaymentsPolicy.from_settings(settings),
        ),
        SandboxRail(db, clock, settings.sandbox_rail_delay_seconds),
    )
    periodic.every(settings.payments_rail_poll_seconds, "payments-rail", plaza.payments.tick)
    bus.subscribe(PaymentCompleted, lambda e: _show_payment_in_conversation(plaza.messaging, e))
    plaza.calls = Calls(
        db=db,
        bus=bus,
        clock=clock,
        ids=ids,
        limiter=limiter,
        stream=plaza.realtime,
        people=plaza.profiles,
        graph=plaza.social_graph,
        entitlements=plaza.entitlements,
        direct_messages=plaza.messaging,
        conversations=plaza.messaging,
        notifier=plaza.notifications,
        policy=CallsPolicy.from_settings(settings),
    )
    periodic.every(settings.calls_sweep_interval_seconds, "calls-missed", plaza.calls.sweep_missed)
    bus.subscribe(CallEnded, lambda e: _show_call_in_conversation(plaza.messaging, e))
    lifecycle.add_exporter("calls", plaza.calls.export)
    # Premium is billed from the wallet: it needs the ledger and tells people (through
    # notifications) when a renewal fails or the subscription ends.
    charger = Charger(
        ledger=plaza.ledger,
        ids=ids,
        bus=bus,
        notifier=plaza.notifications,
        policy=BillingPolicy.from_settings(settings),
    )
    plaza.billing = Billing(
        db=db,
        clock=clock,
        ids=ids,
        ledger=plaza.ledger,
        plans=Plans.from_settings(settings),
        charger=charger,
    )
    periodic.every(
        settings.premium_renewal_interval_seconds, "premium-renewals", plaza.billing.renew_due
    )
    lifecycle.add_exporter("premium", plaza.billing.export)
    wire_live_events(bus, db, plaza.realtime)
    return plaza


async def _show_payment_in_conversation(messaging: Messaging, event: PaymentCompleted) -> None:
    # Every process handles every bus event; the message is keyed by the payment id,
    # so it is posted once. A refund carries no conversation and posts nothing.
    if event.conversation_id is None or event.refund_of is not None:
        return
    await messaging.record_payment(
        conversation_id=event.conversation_id,
        payer_id=event.payer_id,
        payee_id=event.payee_id,
        payment_id=event.payment_id,
        amount=event.amount,
        currency=event.currency,
    )


async def _show_call_in_conversation(messaging: Messaging, event: CallEnded) -> None:
    # Keyed by the call id, like payments: every process may handle it, one line stays.
    # A call lost to glare leaves none: the other call of the pair stands for it.
    if event.reason == "glare":
        return
    await messaging.record_call(
        call_id=event.call_id,
        caller_id=event.caller_id,
        callee_id=event.callee_id,
        media=event.media,
        state=event.state,
        missed=event.missed,
        duration_seconds=event.duration_seconds,
        started_at=event.started_at,
    )


async def ensure_schema(plaza: Plaza) -> None:
    """Apply pending migrations (PLAZA_AUTO_MIGRATE, the default) or refuse to start."""
    url = plaza.settings.resolved_database_url
    heads = migrations.head_revisions(url)
    current = await migrations.current_revisions(plaza.db.engine)
    if current == heads:
        return
    if not plaza.settings.auto_migrate:
        raise RuntimeError(
            f"The database schema is at {sorted(current) or 'nothing'}, this Plaza needs "
            f"{sorted(heads)}. Run `plaza migrate`, or set PLAZA_AUTO_MIGRATE=true."
        )
    logger.info("applying database migrations", extra={"to": sorted(heads)})
    await asyncio.to_thread(migrations.upgrade, url)


async def start(plaza: Plaza) -> NodeIdLease | None:
    """Check the schema, lease a node id, connect the bus and start background jobs.
    On failure, whatever was started is stopped again before the error propagates."""
    lease = None
    try:
        await ensure_schema(plaza)
        if plaza.ids.node_id is None:
            lease = NodeIdLease(plaza.db, plaza.clock, plaza.ids)
            await lease.claim()
        if plaza.redis is not None:
            await plaza.redis.ping()
        await plaza.bus.start()
        await plaza.ledger.start()  # before the periodic jobs that submit transfers
        await plaza.periodic.start()
        await plaza.media.start()  # video workers; re-queues videos left processing
    except BaseException:
        await stop(plaza, lease)
        raise
    return lease


async def stop(plaza: Plaza, lease: NodeIdLease | None) -> None:
    await plaza.media.stop()
    await plaza.periodic.stop()
    await plaza.ledger.stop()  # finishes the batches already queued
    await plaza.bus.stop()
    if lease is not None:
        await lease.release()
    await plaza.db.dispose()
    if plaza.redis is not None:
        await plaza.redis.aclose()


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build the Plaza ASGI app. ``clock`` lets tests control time."""
    settings = settings or Settings()
    plaza = build(settings, clock=clock)
    registry = CollectorRegistry()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        lease = await start(plaza)
        # Everything built at start-up lives as long as the process: moving it out of
        # the collector's view keeps full collections (event-loop pauses of ~170 ms
        # measured in bench/) short.
        gc.freeze()
        try:
            yield
        finally:
            await stop(plaza, lease)

    app = FastAPI(
        title="Plaza",
        version="0.1.0",
        summary="Posts, messages, calls and a wallet in one account, with no phone number.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.plaza = plaza
    install_problem_handlers(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        try:
            async with plaza.db.session(write=False) as session:
                await session.execute(text("SELECT 1"))
            if plaza.redis is not None:
                await plaza.redis.ping()
        except Exception as exc:
            # The cause (hosts, ports) goes to the log, not to whoever asks.
            logger.warning("not ready", extra={"error": repr(exc)})
            return problem_response(503, detail="The database or Redis is not answering.")
        return Response('{"status":"ready"}', media_type="application/json")

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(
        identity_router(
            plaza.identity,
            plaza.security,
            plaza.lifecycle,
            plaza.auth,
            cookie_secure=settings.cookie_secure,
        )
    )
    app.include_router(
        premium_router(
            plaza.entitlements,
            plaza.auth,
            plaza.billing,
            plaza.idempotency,
            IdentityUsernames(plaza.identity),
        )
    )
    app.include_router(media_router(plaza.media, plaza.auth))
    app.include_router(safety_router(plaza.safety, plaza.auth))
    # GET/PATCH /api/v1/me/settings: one flat object composed of each domain's section.
    settings_sections: list[PreferenceSection] = [
        plaza.safety.preferences,
        plaza.messaging.preferences,
        plaza.calls.preferences,
    ]
    app.include_router(
        build_settings_router(plaza.auth.required, lambda me: me.user.id, settings_sections)
    )
    app.include_router(
        build_graph_router(plaza.social_graph, plaza.profiles, plaza.notifications, plaza.auth)
    )
    app.include_router(
        build_posts_router(plaza.posts, plaza.timelines, plaza.post_search, plaza.auth)
    )
    app.include_router(payments_router(plaza.payments, plaza.auth, plaza.idempotency))
    app.include_router(realtime_router(plaza.realtime, plaza.auth))
    app.include_router(messaging_router(plaza.messaging, plaza.auth))
    app.include_router(calls_router(plaza.calls, plaza.auth))
    site = web.mount(app, plaza.auth)
    web.mount_safety(app, site, plaza.safety)
    web.mount_social_posts(app, site, entitlements=plaza.entitlements)
    web.mount_social_graph(app, site, profiles=plaza.profiles, graph=plaza.social_graph)
    web.mount_payments(app, site, plaza.payments)
    web.mount_messaging(app, site)
    web.mount_calls(app, site, plaza.calls.policy)
    web.mount_premium(app, site, plaza.billing)

    app.add_middleware(
        BodyLimitMiddleware, max_body=settings.max_body_bytes, max_upload=settings.max_upload_bytes
    )
    app.add_middleware(RequestContextMiddleware, metrics=HttpMetrics(registry))
    # Outermost: an idle stream socket then holds none of the HTTP layers' frames.
    app.add_middleware(StreamShortcut, realtime=plaza.realtime, auth=plaza.auth)
    return app


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory``: settings from the environment."""
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    return create_app(settings)


class IdentityUsernames:
    """``plaza.premium.Usernames`` over the identity service (for the admin view)."""

    def __init__(self, identity: IdentityService) -> None:
        self.identity = identity

    async def usernames(self, user_ids: set[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        for user_id in user_ids:
            with contextlib.suppress(NotFound):  # a deleted account shows without a name
                found[user_id] = (await self.identity.get_user(user_id)).username
        return found
