"""The stream's storage and its producer-facing interface.

Every persisted event gets the next seq of its recipient's stream inside the
producer's write transaction, so an event exists if and only if that transaction
commits; the bus then carries it to live connections in every process. Connections
replay from these rows, so a client that reconnects with ``since`` misses nothing
that is still within the retention window.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.events import EventBus
from plaza.identity import SessionsRevoked
from plaza.realtime.events import StreamEvents
from plaza.realtime.hub import Hub
from plaza.realtime.models import StreamCounter, StreamDeliveryKey, StreamEvent

logger = logging.getLogger("plaza.realtime")

MAX_TYPE_LENGTH = 64


@dataclass(frozen=True)
class RealtimeSettings:
    retention: timedelta = timedelta(days=7)
    heartbeat_interval: float = 25.0
    heartbeat_timeout: float = 60.0
    queue_size: int = 256
    # Open streams of one user in one process (devices and tabs); more are refused.
    max_connections_per_user: int = 50
    # How long a closing handshake may wait on a client that does not read.
    close_timeout: float = 5.0
    replay_page: int = 500


class Realtime:
    """The per-user event stream: persisted delivery, ephemeral delivery, replay."""

    def __init__(
        self, *, db: Database, bus: EventBus, clock: Clock, settings: RealtimeSettings
    ) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.settings = settings
        self.hub = Hub()
        bus.subscribe(StreamEvents, self.hub.on_stream_events)
        bus.subscribe(SessionsRevoked, self._sessions_revoked)

    async def deliver(
        self,
        session: AsyncSession,
        user_ids: Collection[int],
        type: str,
        data: Mapping[str, Any],
        *,
        key: str | None = None,
    ) -> dict[int, int]:
        """Persist one event in the stream of each of ``user_ids``, within ``session``'s
        write transaction, and return each user's new seq.

        The events exist iff the caller commits; after the commit they reach every live
        connection of those users (every device, every process) through the bus. Each
        user's seqs are consecutive and commit in order. ``data`` must be JSON-ready
        (ids as strings, per the API conventions). Concurrent deliveries to the same
        user wait on each other until commit, so call this late in the transaction.

        ``key`` makes the delivery idempotent per user for the retention window: users
        who already got an event with this key are skipped (and left out of the result).
        Handlers of bus events pass one, since every process runs them.
        """
        _check_type(type)
        recipients = sorted(set(user_ids))
        if not recipients:
            return {}
        payload = orjson.dumps(dict(data)).decode()
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        now = self.clock.now()
        if key is not None:
            # A concurrent insert of the same key waits for the other transaction and
            # then does nothing, so exactly one of them delivers.
            # Statements take their rows as executemany parameters, not .values([...]):
            # SQLAlchemy cannot cache a multi-row VALUES, and compiling it again on every
            # delivery cost more than executing it.
            claim = (
                dialect.insert(StreamDeliveryKey)
                .on_conflict_do_nothing()
                .returning(StreamDeliveryKey.user_id)
            )
            rows = [{"user_id": u, "key": key, "created_at": now} for u in recipients]
            recipients = sorted(int(u) for u in (await session.execute(claim, rows)).scalars())
            if not recipients:
                return {}
        # Sorted, so that two transactions lock shared counter rows in the same order.
        bump = (
            dialect.insert(StreamCounter)
            .on_conflict_do_update(
                index_elements=[StreamCounter.user_id],
                set_={"last_seq": StreamCounter.last_seq + 1},
            )
            .returning(StreamCounter.user_id, StreamCounter.last_seq)
        )
        counters = [{"user_id": user_id, "last_seq": 1} for user_id in recipients]
        seqs = {int(row[0]): int(row[1]) for row in (await session.execute(bump, counters)).all()}
        await session.execute(
            insert(StreamEvent),
            [
                {"user_id": u, "seq": seqs[u], "type": type, "data": payload, "created_at": now}
                for u in recipients
            ],
        )
        self.bus.publish(
            session,
            StreamEvents(type=type, data=payload, deliveries=[(u, seqs[u]) for u in recipients]),
        )
        return seqs

    async def send_ephemeral(
        self, user_ids: Collection[int], type: str, data: Mapping[str, Any]
    ) -> None:
        """Send an event that is never stored (typing, presence) to the users' live
        connections; a device that is offline or reconnecting does not get it."""
        _check_type(type)
        recipients = sorted(set(user_ids))
        if recipients:
            payload = orjson.dumps(dict(data)).decode()
            deliveries: list[tuple[int, int | None]] = [(u, None) for u in recipients]
            await self.bus.publish_now(StreamEvents(type=type, data=payload, deliveries=deliveries))

    async def last_seq(self, user_id: int) -> int:
        """The seq of the user's latest committed event (0 before the first)."""
        row = await self.db.fetch_one(
            select(StreamCounter.last_seq).where(StreamCounter.user_id == user_id)
        )
        return int(row[0]) if row is not None else 0

    async def events_after(
        self, user_id: int, after: int, limit: int
    ) -> list[tuple[int, str, str]]:
        """Up to ``limit`` stored events with seq > ``after``: (seq, type, data JSON)."""
        async with self.db.session(write=False) as session:
            rows = await session.execute(
                select(StreamEvent.seq, StreamEvent.type, StreamEvent.data)
                .where(StreamEvent.user_id == user_id, StreamEvent.seq > after)
                .order_by(StreamEvent.seq)
                .limit(limit)
            )
            return [(int(seq), type_, data) for seq, type_, data in rows.all()]

    async def prune(self) -> int:
        """Delete events older than the retention window; returns how many went.

        A client whose ``since`` falls before what is left gets a resync frame."""
        cutoff = self.clock.now() - self.settings.retention
        async with self.db.session() as session:
            result = await session.execute(
                delete(StreamEvent).where(StreamEvent.created_at < cutoff)
            )
            await session.execute(
                delete(StreamDeliveryKey).where(StreamDeliveryKey.created_at < cutoff)
            )
            await session.commit()
        removed = int(getattr(result, "rowcount", 0) or 0)
        if removed:
            logger.info("pruned stream events", extra={"removed": removed})
        return removed

    async def heartbeat(self) -> None:
        """Ping live connections and close the silent or expired ones (periodic job)."""
        self.hub.beat(
            now=asyncio.get_running_loop().time(),
            timeout=self.settings.heartbeat_timeout,
            wall_now=self.clock.now(),
        )

    def live_connections(self, user_id: int | None = None) -> int:
        """Open stream connections in this process (of one user, or of everyone)."""
        return self.hub.count(user_id)

    async def _sessions_revoked(self, event: SessionsRevoked) -> None:
        self.hub.close_sessions(event.user_id, set(event.session_ids), "session revoked")


def _check_type(type: str) -> None:
    if not type or len(type) > MAX_TYPE_LENGTH:
        raise ValueError(f"a stream event type is 1 to {MAX_TYPE_LENGTH} characters")
