"""Safety tables: labels per source with provenance, reports, the moderators' audit
trail, and each user's sensitive-media choice.

Subjects are named by kind and id ("post", 123) and are not foreign keys: safety
labels posts and messages without knowing their tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plaza.core.db import Base, UTCDateTime


class SubjectLabel(Base):
    """One source's label on one subject. At most one row per (subject, source,
    category); a moderator row with ``risk`` NULL clears the category."""

    __tablename__ = "safety_label"
    __table_args__ = (
        UniqueConstraint("subject", "subject_id", "source", "category"),
        Index("ix_safety_label_subject", "subject", "subject_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    subject: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    category: Mapped[str] = mapped_column(String(32))
    risk: Mapped[str | None] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))
    # Provenance: who (a user for author/moderator labels) or what (the classifier's
    # name@version) gave it, when, and why. A plain id, not a foreign key: the record
    # of who decided outlives the account, and the label table stays free of an index
    # that only account deletion would use.
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    origin: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Report(Base):
    """A user's report that a subject breaks a category. One per reporter and subject."""

    __tablename__ = "safety_report"
    __table_args__ = (
        UniqueConstraint("reporter_id", "subject", "subject_id"),
        Index("ix_safety_report_status_subject", "status", "subject", "subject_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    subject: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"))
    # The subject's author when reported; kept so moderators see whom it concerns.
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_user.id", ondelete="SET NULL"), index=True
    )
    category: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))  # open | resolved | dismissed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[int | None] = mapped_column(BigInteger)  # a moderator; see audit


class AuditEntry(Base):
    """What a moderator did, to which subject, and why. Append-only; the actor is a
    plain id so that the trail survives the moderator's account."""

    __tablename__ = "safety_audit"
    __table_args__ = (Index("ix_safety_audit_subject", "subject", "subject_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    actor_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Preference(Base):
    """A user's safety preferences; no row means the defaults."""

    __tablename__ = "safety_preference"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("identity_user.id", ondelete="CASCADE"), primary_key=True
    )
    sensitive_media: Mapped[str] = mapped_column(String(8))
