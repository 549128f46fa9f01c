"""Facts Premium announces after they commit."""

from __future__ import annotations

from datetime import datetime

from plaza.core.events import Event


class SubscriptionChanged(Event):
    """A subscription was started, cancelled, resumed, paid after a failure, failed to
    renew or expired. Successful routine renewals are not announced: nothing a person
    sees changes but the next charge date."""

    topic = "premium.subscription_changed"
    user_id: int
    subscription_id: int
    status: str
    cancel_at_period_end: bool
    changed_at: datetime
