"""Premium API shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from plaza.core.schemas import IdStr, Input, Output, Timestamp


class EntitlementsOut(Output):
    premium: bool
    entitlements: list[str]
    premium_until: Timestamp | None


class MoneyOut(BaseModel):
    amount: int
    currency: str


class PlanOut(BaseModel):
    id: str
    name: str
    interval: Literal["month", "year"]
    months: int
    price: MoneyOut
    monthly_price: MoneyOut
    discount_percent: int


class SubscribeIn(Input):
    plan: str = Field(min_length=1, max_length=32, description="A plan id from /premium/plans.")


class SubscriptionOut(BaseModel):
    id: IdStr
    plan: PlanOut
    status: Literal["active", "past_due", "expired"]
    cancel_at_period_end: bool
    current_period_start: Timestamp
    current_period_end: Timestamp
    next_charge_at: Timestamp | None
    next_charge: MoneyOut | None
    access_until: Timestamp | None
    past_due_since: Timestamp | None
    next_attempt_at: Timestamp | None
    grace_ends_at: Timestamp | None
    ended_at: Timestamp | None
    ended_reason: Literal["canceled", "unpaid"] | None
    created_at: Timestamp


class ReceiptOut(BaseModel):
    id: IdStr
    number: str
    subscription_id: IdStr
    plan: PlanOut
    period_start: Timestamp
    period_end: Timestamp
    amount: MoneyOut
    paid_at: Timestamp
    transfer_id: IdStr


class PastDueAccountOut(BaseModel):
    user_id: IdStr
    username: str | None
    plan: str
    past_due_since: Timestamp
    grace_ends_at: Timestamp
    attempts: int


class OverviewOut(BaseModel):
    active: int
    cancelling: int
    past_due: int
    mrr: MoneyOut
    churned_30d: int
    churn_rate_30d: float
    past_due_accounts: list[PastDueAccountOut]
