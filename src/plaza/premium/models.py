"""Premium tables. Only this package reads them; other domains ask ``Entitlements``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from plaza.core.db import Base, UTCDateTime


class EntitlementGrant(Base):
    """A grant of Premium (every Premium entitlement) or of one entitlement, for a span.

    Grants are never edited to shorten them: revoking stamps ``revoked_at``, so that
    support can see what somebody had and when.
    """

    __tablename__ = "premium_entitlement_grant"
    __table_args__ = (Index("ix_premium_entitlement_grant_user_id", "user_id", "entitlement"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"))
    # "premium" or one Entitlement value.
    entitlement: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
