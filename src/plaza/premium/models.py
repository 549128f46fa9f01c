"""Premium tables: grants, subscriptions and invoices. Only this package reads them;
other domains ask ``Entitlements``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
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


# A subscription is live until it expires; one live subscription per user.
_LIVE = text("status != 'expired'")


class Subscription(Base):
    """A Premium subscription, modelled on Stripe Billing's.

    Periods are computed from ``anchor_at`` (see ``plans.period_bounds``);
    ``period_index`` is the period the subscription is in. ``due_at`` is when the
    renewal job must next look at it (renew, retry, or expire) and is NULL once it
    has expired. ``access_until`` is when its entitlements end, so that they end on
    time whether or not the job has run.
    """

    __tablename__ = "premium_subscription"
    __table_args__ = (
        Index(
            "uq_premium_subscription_live",
            "user_id",
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        ),
        Index("ix_premium_subscription_due_at", "due_at"),
        # Not (user_id, access_until): renewals move access_until, and an index on it
        # would be rewritten for every row renewed; a user has few subscriptions.
        Index("ix_premium_subscription_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"))
    plan: Mapped[str] = mapped_column(String(16))
    # The price is fixed when subscribing: a later price change applies to new ones.
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    months: Mapped[int] = mapped_column(Integer)
    # The wallet charged, resolved when subscribing (renewals never open accounts).
    wallet_account_id: Mapped[int] = mapped_column(BigInteger)
    # "active", "past_due" or "expired".
    status: Mapped[str] = mapped_column(String(16))
    anchor_at: Mapped[datetime] = mapped_column(UTCDateTime())
    period_index: Mapped[int] = mapped_column(Integer)
    current_period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    current_period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    past_due_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Failed charges of the current period.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    access_until: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # "canceled" or "unpaid".
    ended_reason: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Invoice(Base):
    """The charge of one period of one subscription; paid invoices are the receipts.

    The unique (subscription, period) pair is what makes each period chargeable once,
    whatever runs the renewal and however often.
    """

    __tablename__ = "premium_invoice"
    __table_args__ = (
        UniqueConstraint("subscription_id", "period_index", name="uq_premium_invoice_period"),
        Index("ix_premium_invoice_user_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("premium_subscription.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"))
    period_index: Mapped[int] = mapped_column(Integer)
    plan: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    # "open" (charge failed, being retried), "paid" or "void" (never paid: expired).
    status: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    pending_transfer_id: Mapped[int | None] = mapped_column(BigInteger)
    transfer_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
