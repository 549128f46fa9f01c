"""Realtime tables. Only this package reads them; producers call ``Realtime.deliver``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plaza.core.db import Base, UTCDateTime


class StreamCounter(Base):
    """The last seq handed out for one user.

    Bumping this row is what serialises concurrent deliveries to one user: the row
    lock (PostgreSQL) or the write transaction (SQLite) is held until the producer
    commits, so seqs become visible in order and without holes.
    """

    __tablename__ = "realtime_counter"

    user_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("identity_user.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    last_seq: Mapped[int] = mapped_column(BigInteger)


class StreamEvent(Base):
    """One persisted event of one user's stream, kept for the retention window."""

    __tablename__ = "realtime_event"
    __table_args__ = (Index("ix_realtime_event_created_at", "created_at"),)

    user_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("identity_user.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(64))
    # The JSON text of the event's data, serialised once by the producer and sent as is.
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StreamDeliveryKey(Base):
    """A producer's idempotency key for one user's stream, kept as long as the events.

    Bus handlers run once in every process; the key lets all but the first of them see
    that the event is already in the stream."""

    __tablename__ = "realtime_delivery_key"
    __table_args__ = (Index("ix_realtime_delivery_key_created_at", "created_at"),)

    user_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("identity_user.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
