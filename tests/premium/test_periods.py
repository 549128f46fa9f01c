"""Billing against a controlled clock: period boundaries at the ends of months and in
leap years, renewal at the exact end of a period, the grace period of a failed renewal
(retries, payment after a top-up, expiry), cancel and resume, re-subscribing, and
entitlements that end at the right instant whether or not the renewal job has run.

Time moves only when a test moves it, and renewals run only when a test calls
``renew_due`` (the in-process scheduler is held off; see ``billing_helpers``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from plaza.core.clock import ManualClock
from plaza.core.errors import Conflict
from tests.conftest import Account, Users
from tests.premium.billing_helpers import (
    GRACE,
    MICROSECOND,
    MONTHLY,
    RETRY,
    YEARLY,
    PremiumApi,
    billing_overrides,
    holds_premium,
    ledger_verified,
    premium,
    settings,
    users,
)

__all__ = ["billing_overrides", "ledger_verified", "premium", "settings", "users"]


@pytest.fixture
def clock() -> ManualClock:
    # Accounts are made here; each test then moves to the instants it is about.
    return ManualClock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


async def _report(plaza: Any) -> tuple[int, int, int]:
    report = await plaza.billing.renew_due()
    return report.charged, report.failed, report.expired


async def _view(plaza: Any, who: Account) -> Any:
    view = await plaza.billing.current(int(who.id))
    assert view is not None
    return view


async def _period(plaza: Any, who: Account) -> tuple[datetime, datetime]:
    view = await _view(plaza, who)
    return view.current_period_start, view.current_period_end


async def _subscriber(
    users: Users,
    premium: PremiumApi,
    plaza: Any,
    clock: ManualClock,
    *,
    at: datetime,
    funds: int,
    plan: str = "monthly",
) -> Account:
    """An account that subscribed to ``plan`` at ``at`` with ``funds`` in its wallet."""
    who = await users.create()
    await premium.fund(who, funds)
    clock.set(at)
    view = await plaza.billing.subscribe(int(who.id), plan)
    assert (view.status, view.current_period_start) == ("active", at)
    return who


# ---- period boundaries --------------------------------------------------------------------


@pytest.mark.parametrize(("year", "february_end"), [(2027, 28), (2028, 29)])
async def test_from_january_31_it_renews_on_the_last_day_of_shorter_months(
    users: Users,
    premium: PremiumApi,
    plaza: Any,
    clock: ManualClock,
    year: int,
    february_end: int,
) -> None:
    start = utc(year, 1, 31, 10, 15, 30)
    alice = await _subscriber(users, premium, plaza, clock, at=start, funds=4 * MONTHLY)
    ends = [
        utc(year, 2, february_end, 10, 15, 30),
        utc(year, 3, 31, 10, 15, 30),  # back to the 31st: bounds come from the anchor
        utc(year, 4, 30, 10, 15, 30),
        utc(year, 5, 31, 10, 15, 30),
    ]
    assert await _period(plaza, alice) == (start, ends[0])
    for previous, end, following in zip([start, *ends], ends[:3], ends[1:], strict=False):
        clock.set(end - MICROSECOND)
        assert await _report(plaza) == (0, 0, 0)
        assert await _period(plaza, alice) == (previous, end)
        clock.set(end)
        assert await _report(plaza) == (1, 0, 0)
        assert await _period(plaza, alice) == (end, following)

    receipts, _ = await plaza.billing.receipts(int(alice.id))
    assert [(r.period_start, r.period_end) for r in receipts] == list(
        reversed(list(zip([start, *ends[:3]], ends, strict=True)))
    )
    notes = [line["note"] for line in await premium.history(alice, kind="premium")]
    assert notes[-2] == (f"Plaza Premium (monthly), {february_end} Feb {year} - 31 Mar {year}")
    assert await premium.balance(alice) == 0


async def test_a_yearly_plan_from_february_29_renews_on_february_28_until_the_next_leap_year(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    start = utc(2028, 2, 29, 8, 0)
    ends = [utc(2029, 2, 28, 8, 0), utc(2030, 2, 28, 8, 0), utc(2031, 2, 28, 8, 0)]
    ends.append(utc(2032, 2, 29, 8, 0))
    alice = await _subscriber(
        users, premium, plaza, clock, at=start, funds=4 * YEARLY, plan="yearly"
    )
    assert await _period(plaza, alice) == (start, ends[0])
    for previous, end, following in zip([start, *ends], ends[:3], ends[1:], strict=False):
        clock.set(end - MICROSECOND)
        assert await _report(plaza) == (0, 0, 0)
        assert await _period(plaza, alice) == (previous, end)
        clock.set(end)
        assert await _report(plaza) == (1, 0, 0)
        assert await _period(plaza, alice) == (end, following)
    assert await premium.balance(alice) == 0


async def test_renewal_happens_at_the_period_end_and_not_a_microsecond_before(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    start, end = utc(2026, 11, 30, 23, 59, 59), utc(2026, 12, 30, 23, 59, 59)
    alice = await _subscriber(users, premium, plaza, clock, at=start, funds=2 * MONTHLY)
    clock.set(end - MICROSECOND)
    assert await _report(plaza) == (0, 0, 0)
    assert await premium.balance(alice) == MONTHLY
    assert await holds_premium(plaza, alice.id)
    clock.set(end)
    assert await _report(plaza) == (1, 0, 0)
    assert await premium.balance(alice) == 0
    view = await _view(plaza, alice)
    assert (view.status, view.next_charge_at) == ("active", utc(2027, 1, 30, 23, 59, 59))
    assert view.access_until == utc(2027, 1, 30, 23, 59, 59) + GRACE
    assert await holds_premium(plaza, alice.id)


async def test_a_late_renewal_run_keeps_the_anchor(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    start, end = utc(2027, 3, 10, 12, 0), utc(2027, 4, 10, 12, 0)
    alice = await _subscriber(users, premium, plaza, clock, at=start, funds=2 * MONTHLY)
    clock.set(end + timedelta(hours=5))  # no scheduler ran for five hours
    assert await _report(plaza) == (1, 0, 0)
    assert await _period(plaza, alice) == (end, utc(2027, 5, 10, 12, 0))


async def test_a_late_run_within_the_grace_charges_the_period_that_ended(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    # The job ran six days late (within the grace): the period that ended is charged,
    # anchored where it was, and Premium never lapsed meanwhile.
    alice = await _subscriber(
        users, premium, plaza, clock, at=utc(2027, 3, 10, 12, 0), funds=2 * MONTHLY
    )
    clock.set(utc(2027, 4, 16, 12, 0))
    assert await holds_premium(plaza, alice.id)
    assert await _report(plaza) == (1, 0, 0)
    assert await _period(plaza, alice) == (utc(2027, 4, 10, 12, 0), utc(2027, 5, 10, 12, 0))
    assert await premium.balance(alice) == 0


async def test_periods_nobody_could_use_while_no_scheduler_ran_are_not_charged(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    # No renewal ran for two months (the operator's scheduler was down): access lapsed
    # at the end of the grace. The next run charges the period running now, once, and
    # not the ones nobody could use.
    alice = await _subscriber(
        users, premium, plaza, clock, at=utc(2027, 3, 10, 12, 0), funds=3 * MONTHLY
    )
    clock.set(utc(2027, 5, 20, 13, 0))
    assert not await holds_premium(plaza, alice.id)
    assert await _report(plaza) == (1, 0, 0)
    assert await _period(plaza, alice) == (utc(2027, 5, 10, 12, 0), utc(2027, 6, 10, 12, 0))
    assert await holds_premium(plaza, alice.id)
    assert await _report(plaza) == (0, 0, 0)
    assert await premium.balance(alice) == MONTHLY


# ---- the grace period -------------------------------------------------------------------------


async def test_a_failed_renewal_is_retried_and_paid_after_a_top_up_without_moving_the_anchor(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    start, end = utc(2027, 3, 10, 12, 0), utc(2027, 4, 10, 12, 0)
    alice = await _subscriber(users, premium, plaza, clock, at=start, funds=MONTHLY)

    clock.set(end)
    assert await _report(plaza) == (0, 1, 0)
    view = await _view(plaza, alice)
    assert view.status == "past_due"
    assert view.past_due_since == end
    assert view.next_attempt_at == end + RETRY
    assert view.grace_ends_at == end + GRACE
    assert view.access_until == end + GRACE
    assert (view.current_period_start, view.current_period_end) == (end, utc(2027, 5, 10, 12, 0))
    assert await holds_premium(plaza, alice.id)  # kept through the grace
    [failed] = await premium.notifications(alice)
    assert failed["kind"] == "premium_payment_failed"
    assert failed["actor"]["username"] == alice.username  # from Plaza, not from a person

    clock.set(end + RETRY - MICROSECOND)
    assert await _report(plaza) == (0, 0, 0)
    clock.set(end + RETRY)
    assert await _report(plaza) == (0, 1, 0)
    assert (await _view(plaza, alice)).next_attempt_at == end + 2 * RETRY

    clock.set(end + RETRY + timedelta(hours=6))
    await premium.fund(alice, MONTHLY)
    # A top-up alone pays nothing: the next retry does.
    assert (await _view(plaza, alice)).status == "past_due"
    clock.set(end + 2 * RETRY)
    assert await _report(plaza) == (1, 0, 0)
    view = await _view(plaza, alice)
    assert view.status == "active"
    # The late payment covers the period that was owed; the next one starts on the anchor.
    assert (view.current_period_start, view.current_period_end) == (end, utc(2027, 5, 10, 12, 0))
    assert (view.past_due_since, view.next_attempt_at, view.grace_ends_at) == (None, None, None)
    assert view.next_charge_at == utc(2027, 5, 10, 12, 0)
    assert view.access_until == utc(2027, 5, 10, 12, 0) + GRACE
    assert await premium.balance(alice) == 0
    [newest, _] = (await plaza.billing.receipts(int(alice.id)))[0]
    assert (newest.period_start, newest.paid_at) == (end, end + 2 * RETRY)
    # One failure, one notification: the retries do not repeat it.
    assert [n["kind"] for n in await premium.notifications(alice)] == ["premium_payment_failed"]

    clock.set(utc(2027, 5, 10, 12, 0))
    assert await _report(plaza) == (0, 1, 0)  # and the next renewal goes on from the anchor


async def test_without_funds_it_expires_exactly_when_the_grace_ends(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    start, end = utc(2027, 3, 10, 12, 0), utc(2027, 4, 10, 12, 0)
    alice = await _subscriber(users, premium, plaza, clock, at=start, funds=MONTHLY)
    clock.set(end)
    assert await _report(plaza) == (0, 1, 0)
    for day in range(1, 7):
        clock.set(end + day * RETRY)
        assert await _report(plaza) == (0, 1, 0), day
        assert (await _view(plaza, alice)).status == "past_due"

    clock.set(end + GRACE - MICROSECOND)
    assert await _report(plaza) == (0, 0, 0)
    assert await holds_premium(plaza, alice.id)
    clock.set(end + GRACE)
    # Gone at this instant, before the job has even looked.
    assert not await holds_premium(plaza, alice.id)
    assert (await _report(plaza))[2] == 1
    view = await _view(plaza, alice)
    assert (view.status, view.ended_reason, view.ended_at) == ("expired", "unpaid", end + GRACE)
    assert (view.next_charge_at, view.next_attempt_at, view.access_until) == (None, None, None)
    assert [n["kind"] for n in await premium.notifications(alice)] == [
        "premium_expired",
        "premium_payment_failed",
    ]
    assert await premium.balance(alice) == 0
    assert len((await plaza.billing.receipts(int(alice.id)))[0]) == 1  # the unpaid period is none
    assert await _report(plaza) == (0, 0, 0)


async def test_an_expiry_found_late_is_dated_at_the_end_of_the_grace(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    start, end = utc(2027, 3, 10, 12, 0), utc(2027, 4, 10, 12, 0)
    alice = await _subscriber(users, premium, plaza, clock, at=start, funds=MONTHLY)
    clock.set(end)
    await _report(plaza)
    clock.set(end + GRACE + timedelta(days=3))  # the job was down
    assert (await _report(plaza))[2] == 1
    assert (await _view(plaza, alice)).ended_at == end + GRACE


async def test_entitlements_end_at_the_grace_end_even_if_no_renewal_ever_ran(
    client: Any, users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    start, end = utc(2027, 3, 10, 12, 0), utc(2027, 4, 10, 12, 0)
    alice = await _subscriber(users, premium, plaza, clock, at=start, funds=MONTHLY)
    clock.set(end + GRACE - MICROSECOND)
    assert await holds_premium(plaza, alice.id)
    clock.set(end + GRACE)
    assert not await holds_premium(plaza, alice.id)
    mine = (await client.get("/api/v1/me/entitlements", headers=alice.headers)).json()
    assert mine == {"premium": False, "entitlements": [], "premium_until": None}


# ---- cancel and resume ----------------------------------------------------------------------


async def test_cancelled_access_lasts_until_exactly_the_period_end(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    start, end = utc(2027, 1, 31, 10, 0), utc(2027, 2, 28, 10, 0)
    alice = await _subscriber(users, premium, plaza, clock, at=start, funds=2 * MONTHLY)
    clock.set(start + timedelta(days=10))
    view = await plaza.billing.cancel(int(alice.id))
    assert (view.status, view.cancel_at_period_end, view.access_until) == ("active", True, end)
    assert view.next_charge_at is None

    clock.set(end - MICROSECOND)
    assert await holds_premium(plaza, alice.id)
    clock.set(end)
    assert not await holds_premium(plaza, alice.id)  # before the job runs
    assert await _report(plaza) == (0, 0, 1)
    view = await _view(plaza, alice)
    assert (view.status, view.ended_reason, view.ended_at) == ("expired", "canceled", end)
    assert await premium.balance(alice) == MONTHLY  # never charged again
    assert not await holds_premium(plaza, alice.id)
    assert await _report(plaza) == (0, 0, 0)


async def test_a_cancellation_found_late_ends_at_the_period_end(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    start, end = utc(2027, 1, 31, 10, 0), utc(2027, 2, 28, 10, 0)
    alice = await _subscriber(users, premium, plaza, clock, at=start, funds=2 * MONTHLY)
    await plaza.billing.cancel(int(alice.id))
    clock.set(end + timedelta(days=2))
    assert await _report(plaza) == (0, 0, 1)
    assert (await _view(plaza, alice)).ended_at == end
    assert await premium.balance(alice) == MONTHLY


async def test_resumed_in_the_last_microsecond_it_keeps_renewing(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    start, end = utc(2027, 1, 31, 10, 0), utc(2027, 2, 28, 10, 0)
    alice = await _subscriber(users, premium, plaza, clock, at=start, funds=2 * MONTHLY)
    await plaza.billing.cancel(int(alice.id))
    clock.set(end - MICROSECOND)
    view = await plaza.billing.resume(int(alice.id))
    assert (view.cancel_at_period_end, view.access_until) == (False, end + GRACE)
    clock.set(end)
    assert await holds_premium(plaza, alice.id)
    assert await _report(plaza) == (1, 0, 0)
    assert await _period(plaza, alice) == (end, utc(2027, 3, 31, 10, 0))
    assert await holds_premium(plaza, alice.id)


async def test_resume_at_the_period_end_is_too_late(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    start, end = utc(2027, 1, 31, 10, 0), utc(2027, 2, 28, 10, 0)
    alice = await _subscriber(users, premium, plaza, clock, at=start, funds=2 * MONTHLY)
    await plaza.billing.cancel(int(alice.id))
    clock.set(end)
    with pytest.raises(Conflict):
        await plaza.billing.resume(int(alice.id))
    assert not await holds_premium(plaza, alice.id)
    assert await _report(plaza) == (0, 0, 1)


# ---- subscribing again ----------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["canceled", "unpaid"])
async def test_after_expiry_a_new_subscription_starts_on_a_new_anchor(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock, ending: str
) -> None:
    start, end = utc(2027, 1, 31, 10, 0), utc(2027, 2, 28, 10, 0)
    alice = await _subscriber(users, premium, plaza, clock, at=start, funds=MONTHLY)
    if ending == "canceled":
        await plaza.billing.cancel(int(alice.id))
        clock.set(end)
        await _report(plaza)
    else:
        clock.set(end)
        await _report(plaza)
        clock.set(end + GRACE)
        await _report(plaza)
    old = await _view(plaza, alice)
    assert (old.status, old.ended_reason) == ("expired", ending)

    again_at = utc(2027, 3, 20, 14, 20, 5)
    clock.set(again_at)
    await premium.fund(alice, MONTHLY)
    new = await plaza.billing.subscribe(int(alice.id), "monthly")
    assert new.id != old.id
    assert (new.status, new.current_period_start) == ("active", again_at)
    assert new.current_period_end == utc(2027, 4, 20, 14, 20, 5)
    assert (await _view(plaza, alice)).id == new.id
    assert await holds_premium(plaza, alice.id)
    receipts, _ = await plaza.billing.receipts(int(alice.id))
    assert [r.subscription_id for r in receipts] == [new.id, old.id]
    assert await premium.balance(alice) == 0
