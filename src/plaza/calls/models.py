"""Calls tables (``call_*``). Only this package reads them.

A call row is the whole signalling record and, once ended, the call log entry. The
SDPs and trickled candidates carry network addresses, so they are kept only while the
call is live: ending a call blanks the SDPs and deletes its candidates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plaza.core.db import Base, UTCDateTime

USER_FK = "identity_user.id"


class CallRecord(Base):
    __tablename__ = "call_record"
    __table_args__ = (
        # The call log reads each side newest first; the busy/glare check reads the
        # live calls of a user.
        Index("ix_call_record_caller_id_id", "caller_id", "id"),
        Index("ix_call_record_callee_id_id", "callee_id", "id"),
        # The missed-call sweep: ringing calls by age.
        Index("ix_call_record_state_created_at", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    caller_id: Mapped[int] = mapped_column(BigInteger, ForeignKey(USER_FK, ondelete="CASCADE"))
    callee_id: Mapped[int] = mapped_column(BigInteger, ForeignKey(USER_FK, ondelete="CASCADE"))
    # The DM conversation the call was started from, if any (no foreign key: messaging
    # owns that table and the call log outlives a deleted conversation).
    conversation_id: Mapped[int | None] = mapped_column(BigInteger)
    media: Mapped[str] = mapped_column(String(8))  # "audio" | "video"
    # ringing | accepted | rejected | busy | cancelled | missed | ended | failed
    state: Mapped[str] = mapped_column(String(16))
    end_reason: Mapped[str | None] = mapped_column(String(16))
    # The user who ended it (hang-up, reject, cancel); None when the server did.
    ended_by: Mapped[int | None] = mapped_column(BigInteger)
    # The surviving call when this one lost a glare.
    replaced_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Session ids (devices): the one that placed the call, the one that answered it.
    caller_device: Mapped[int] = mapped_column(BigInteger)
    answered_device: Mapped[int | None] = mapped_column(BigInteger)
    offer_sdp: Mapped[str | None] = mapped_column(Text)
    answer_sdp: Mapped[str | None] = mapped_column(Text)


class CallCandidate(Base):
    """One batch of trickled ICE candidates from one side, kept while the call is live
    so that a device that joins late (``GET /calls/{id}``) can still read them."""

    __tablename__ = "call_candidate"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    call_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("call_record.id", ondelete="CASCADE"), index=True
    )
    sender_id: Mapped[int] = mapped_column(BigInteger)
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CallPreference(Base):
    """A user's call settings; also the row locked to serialise call set-ups that
    involve the user (busy and glare checks)."""

    __tablename__ = "call_preference"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(USER_FK, ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    calls_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # dm_contacts | following | verified | everyone
    call_policy: Mapped[str] = mapped_column(String(16), default="following")
    calls_relay_only: Mapped[bool] = mapped_column(Boolean, default=True)
