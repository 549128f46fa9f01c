"""Premium plans (from the settings) and the calendar arithmetic of billing periods."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

from plaza.config import Settings
from plaza.core.errors import InvalidInput


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    interval: str  # "month" or "year"
    months: int
    price: int  # minor units of ``currency``
    currency: str

    @property
    def monthly_price(self) -> int:
        """The price per month, rounded to the minor unit (for MRR and comparisons)."""
        return round(self.price / self.months)

    def discount_percent(self, monthly: Plan) -> int:
        """How much cheaper than paying ``monthly`` for the same months, in whole percent,
        rounded down so that the page never promises more than the price gives."""
        full = monthly.price * self.months // monthly.months
        return max(0, 100 * (full - self.price) // full) if full else 0


class Plans:
    """The plans on offer, in display order."""

    def __init__(self, plans: list[Plan]) -> None:
        self._plans = {plan.id: plan for plan in plans}

    @classmethod
    def from_settings(cls, settings: Settings) -> Plans:
        currency = settings.payments_currency
        return cls(
            [
                Plan(
                    "monthly",
                    "Premium monthly",
                    "month",
                    1,
                    settings.premium_monthly_price,
                    currency,
                ),
                Plan(
                    "yearly", "Premium yearly", "year", 12, settings.premium_yearly_price, currency
                ),
            ]
        )

    def all(self) -> list[Plan]:
        return list(self._plans.values())

    @property
    def monthly(self) -> Plan:
        return self._plans["monthly"]

    def get(self, plan_id: str) -> Plan:
        """The plan with this id; ``InvalidInput`` naming ``plan`` otherwise."""
        try:
            return self._plans[plan_id]
        except KeyError:
            choices = ", ".join(self._plans)
            raise InvalidInput(
                "plan", f"unknown plan {plan_id!r}; choose one of {choices}"
            ) from None


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` moved by whole calendar months, the day clamped to the month's length
    (Jan 31 + 1 month = Feb 28, or 29 in a leap year), the time of day kept."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def period_bounds(anchor: datetime, index: int, months: int) -> tuple[datetime, datetime]:
    """Period ``index`` (0 for the first) of a subscription started at ``anchor``.

    Every boundary is computed from the anchor, not from the previous boundary, so a
    subscription started on the 31st renews on the last day of short months and goes
    back to the 31st after them (Stripe's billing-cycle anchor)."""
    return add_months(anchor, index * months), add_months(anchor, (index + 1) * months)
