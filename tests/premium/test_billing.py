"""The billing service through its lifecycle: subscribing from the wallet (and being
refused), the ledger's view of each charge, renewal runs that charge each period once,
paying a past-due period, cancelling one, the in-process scheduler and the command
line, and what a subscription unlocks in other domains (long and edited posts)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from plaza.cli import main
from plaza.core.clock import ManualClock
from plaza.core.errors import Conflict, DomainError, InvalidInput, NotFound
from plaza.premium import Entitlement
from tests.conftest import Account, Users
from tests.premium.billing_helpers import (
    GRACE,
    MONTHLY,
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

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
END = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


async def _funded(users: Users, premium: PremiumApi, amount: int) -> Account:
    who = await users.create()
    if amount:
        await premium.fund(who, amount)
    return who


async def _premium_transfers(plaza: Any, who: Account) -> list[Any]:
    """The ledger transfers with the Premium code on ``who``'s wallet, oldest first."""
    wallet = await plaza.ledger.wallet_of(int(who.id))
    records = await plaza.ledger.history(wallet, before_id=None, limit=100)
    return sorted((r for r in records if r.code == "premium"), key=lambda r: r.id)


def _slug(exc: DomainError) -> str:
    return exc.slug


# ---- subscribing ----------------------------------------------------------------------------


async def test_subscribing_charges_the_first_period_from_the_wallet(
    users: Users, premium: PremiumApi, plaza: Any
) -> None:
    alice = await _funded(users, premium, 1_000)
    assert await plaza.billing.current(int(alice.id)) is None
    view = await plaza.billing.subscribe(int(alice.id), "monthly")
    assert (view.status, view.cancel_at_period_end, view.plan.id) == ("active", False, "monthly")
    assert (view.current_period_start, view.current_period_end) == (START, END)
    assert (view.next_charge_at, view.next_charge) == (END, MONTHLY)
    assert view.access_until == END + GRACE
    assert (view.past_due_since, view.ended_at, view.ended_reason) == (None, None, None)
    assert await plaza.billing.current(int(alice.id)) == view
    assert await premium.balance(alice) == 1_000 - MONTHLY
    assert await holds_premium(plaza, alice.id)

    receipts, cursor = await plaza.billing.receipts(int(alice.id))
    assert cursor is None
    [receipt] = receipts
    assert (receipt.subscription_id, receipt.amount, receipt.currency) == (view.id, MONTHLY, "USD")
    assert (receipt.period_start, receipt.period_end, receipt.paid_at) == (START, END, START)


async def test_an_unknown_plan_is_refused_naming_the_field(
    users: Users, premium: PremiumApi, plaza: Any
) -> None:
    alice = await _funded(users, premium, 1_000)
    with pytest.raises(InvalidInput) as refused:
        await plaza.billing.subscribe(int(alice.id), "lifetime")
    assert [e["field"] for e in refused.value.extra["errors"]] == ["plan"]
    assert await plaza.billing.current(int(alice.id)) is None
    assert await premium.balance(alice) == 1_000


async def test_without_the_funds_nothing_is_stored_or_reserved(
    users: Users, premium: PremiumApi, plaza: Any
) -> None:
    alice = await _funded(users, premium, YEARLY - 1)
    with pytest.raises(DomainError) as refused:
        await plaza.billing.subscribe(int(alice.id), "yearly")
    assert (refused.value.status, _slug(refused.value)) == (422, "insufficient-funds")
    assert await plaza.billing.current(int(alice.id)) is None
    assert await plaza.billing.receipts(int(alice.id)) == ([], None)
    assert await _premium_transfers(plaza, alice) == []
    assert await premium.balance(alice) == YEARLY - 1  # also: nothing left reserved
    assert not await holds_premium(plaza, alice.id)
    # Nothing half-made stands in the way of subscribing to what the wallet covers.
    assert (await plaza.billing.subscribe(int(alice.id), "monthly")).status == "active"


async def test_one_live_subscription_even_while_it_is_past_due(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await _funded(users, premium, MONTHLY)
    await plaza.billing.subscribe(int(alice.id), "monthly")
    with pytest.raises(DomainError) as twice:
        await plaza.billing.subscribe(int(alice.id), "yearly")
    assert (twice.value.status, _slug(twice.value)) == (409, "already-subscribed")

    clock.set(END)
    await plaza.billing.renew_due()
    assert (await plaza.billing.current(int(alice.id))).status == "past_due"
    await premium.fund(alice, YEARLY)
    with pytest.raises(DomainError) as past_due:
        await plaza.billing.subscribe(int(alice.id), "yearly")
    assert _slug(past_due.value) == "already-subscribed"
    assert await premium.balance(alice) == YEARLY


async def test_each_charge_reserves_then_posts_to_the_premium_revenue_account(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await _funded(users, premium, 2 * MONTHLY)
    await plaza.billing.subscribe(int(alice.id), "monthly")
    clock.set(END)
    assert (await plaza.billing.renew_due()).charged == 1

    wallet = await plaza.ledger.wallet_of(int(alice.id))
    revenue = await plaza.ledger.system_account("premium_revenue")
    receipts, _ = await plaza.billing.receipts(int(alice.id))
    transfers = await _premium_transfers(plaza, alice)
    assert [t.kind for t in transfers] == ["pending", "post_pending"] * 2
    descriptions = [
        "Plaza Premium (monthly), 1 Dec 2026 - 1 Jan 2027",
        "Plaza Premium (monthly), 1 Jan 2027 - 1 Feb 2027",
    ]
    for (reserve, post), receipt, description in zip(
        zip(transfers[::2], transfers[1::2], strict=True),
        reversed(receipts),
        descriptions,
        strict=True,
    ):
        for t in (reserve, post):
            assert (t.debit_account_id, t.credit_account_id) == (wallet, revenue)
            assert (t.amount, t.currency, t.code) == (MONTHLY, "USD", "premium")
            assert t.metadata["receipt_id"] == str(receipt.id)
            assert t.metadata["description"] == description
        assert post.pending_id == reserve.id
        assert receipt.transfer_id == post.id
    balance = await plaza.ledger.balance(revenue)
    assert (balance.credits_posted, balance.credits_pending) == (2 * MONTHLY, 0)
    assert (await plaza.ledger.verify()).ok


# ---- renewal runs -----------------------------------------------------------------------------


async def test_renewing_twice_at_the_same_instant_charges_once(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await _funded(users, premium, 4 * MONTHLY)
    await plaza.billing.subscribe(int(alice.id), "monthly")
    clock.set(END)
    assert (await plaza.billing.renew_due()).charged == 1
    assert (await plaza.billing.renew_due()).charged == 0
    assert await premium.balance(alice) == 2 * MONTHLY

    # Two runs at once (two processes' schedulers firing together) share the work.
    clock.set(datetime(2027, 2, 1, 9, 0, tzinfo=UTC))
    reports = await asyncio.gather(plaza.billing.renew_due(), plaza.billing.renew_due())
    assert sum(r.charged for r in reports) == 1
    assert sum(r.failed for r in reports) == 0
    assert await premium.balance(alice) == MONTHLY
    assert len((await plaza.billing.receipts(int(alice.id)))[0]) == 3
    assert len(await _premium_transfers(plaza, alice)) == 6


@pytest.mark.parametrize("billing_overrides", [{"premium_renewal_batch": 2}])
async def test_a_run_works_through_every_batch_and_reports_what_it_did(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    paying = [await _funded(users, premium, 2 * MONTHLY) for _ in range(3)]
    broke = [await _funded(users, premium, MONTHLY) for _ in range(2)]
    leaving = [await _funded(users, premium, 2 * MONTHLY) for _ in range(2)]
    for who in paying + broke + leaving:
        await plaza.billing.subscribe(int(who.id), "monthly")
    for who in leaving:
        await plaza.billing.cancel(int(who.id))

    clock.set(END)
    report = await plaza.billing.renew_due()
    assert (report.charged, report.failed, report.expired) == (3, 2, 2)
    for who in paying:
        assert (await plaza.billing.current(int(who.id))).current_period_start == END
        assert await premium.balance(who) == 0
    for who in broke:
        assert (await plaza.billing.current(int(who.id))).status == "past_due"
    for who in leaving:
        assert (await plaza.billing.current(int(who.id))).ended_reason == "canceled"
        assert await premium.balance(who) == MONTHLY
    again = await plaza.billing.renew_due()
    assert (again.charged, again.failed, again.expired) == (0, 0, 0)


@pytest.mark.parametrize("billing_overrides", [{"premium_renewal_interval_seconds": 0.05}])
async def test_the_in_process_scheduler_renews_on_its_own(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await _funded(users, premium, 2 * MONTHLY)
    await plaza.billing.subscribe(int(alice.id), "monthly")
    clock.set(END)
    # Nothing here calls renew_due: wait (at most 5 s) for the scheduler to do it.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while (await plaza.billing.current(int(alice.id))).current_period_start != END:
        assert loop.time() < deadline, "the scheduler did not renew within 5 s"
        await asyncio.sleep(0.02)
    assert await premium.balance(alice) == 0
    assert len((await plaza.billing.receipts(int(alice.id)))[0]) == 2


# ---- paying late, cancelling ----------------------------------------------------------------


async def test_pay_now_charges_the_open_period_once_the_wallet_covers_it(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await _funded(users, premium, MONTHLY)
    await plaza.billing.subscribe(int(alice.id), "monthly")
    with pytest.raises(Conflict):
        await plaza.billing.pay_now(int(alice.id))

    clock.set(END)
    await plaza.billing.renew_due()
    await premium.fund(alice, MONTHLY - 1)
    with pytest.raises(DomainError) as short:
        await plaza.billing.pay_now(int(alice.id))
    assert _slug(short.value) == "insufficient-funds"
    assert (await plaza.billing.current(int(alice.id))).status == "past_due"
    assert await premium.balance(alice) == MONTHLY - 1

    clock.set(END + timedelta(days=2))
    await premium.fund(alice, 1)
    view = await plaza.billing.pay_now(int(alice.id))
    assert view.status == "active"
    assert (view.current_period_start, view.current_period_end) == (
        END,
        datetime(2027, 2, 1, 9, 0, tzinfo=UTC),
    )
    assert await premium.balance(alice) == 0
    # The retry the scheduler had planned finds nothing left to charge.
    clock.set(END + timedelta(days=3))
    report = await plaza.billing.renew_due()
    assert (report.charged, report.failed) == (0, 0)
    assert len((await plaza.billing.receipts(int(alice.id)))[0]) == 2


async def test_cancelling_a_past_due_subscription_ends_it_at_once(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await _funded(users, premium, MONTHLY)
    await plaza.billing.subscribe(int(alice.id), "monthly")
    clock.set(END)
    await plaza.billing.renew_due()
    clock.set(END + timedelta(days=2, hours=3))
    assert await holds_premium(plaza, alice.id)
    view = await plaza.billing.cancel(int(alice.id))
    assert (view.status, view.ended_reason) == ("expired", "canceled")
    assert view.ended_at == END + timedelta(days=2, hours=3)
    assert not await holds_premium(plaza, alice.id)
    await premium.fund(alice, MONTHLY)
    clock.set(END + GRACE)
    report = await plaza.billing.renew_due()
    assert (report.charged, report.failed, report.expired) == (0, 0, 0)
    assert await premium.balance(alice) == MONTHLY
    with pytest.raises(NotFound):
        await plaza.billing.cancel(int(alice.id))


async def test_cancel_twice_and_resume_without_a_cancellation(
    users: Users, premium: PremiumApi, plaza: Any
) -> None:
    alice = await _funded(users, premium, MONTHLY)
    with pytest.raises(NotFound):
        await plaza.billing.cancel(int(alice.id))
    await plaza.billing.subscribe(int(alice.id), "monthly")
    with pytest.raises(Conflict):
        await plaza.billing.resume(int(alice.id))
    first = await plaza.billing.cancel(int(alice.id))
    assert await plaza.billing.cancel(int(alice.id)) == first
    assert (await plaza.billing.resume(int(alice.id))).cancel_at_period_end is False


async def test_paying_now_while_the_retry_runs_charges_the_period_once(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await _funded(users, premium, MONTHLY)
    await plaza.billing.subscribe(int(alice.id), "monthly")
    clock.set(END)
    await plaza.billing.renew_due()
    await premium.fund(alice, 2 * MONTHLY)
    clock.set(END + timedelta(days=1))  # the retry is due at this very instant
    outcomes: tuple[Any, Any] = await asyncio.gather(
        plaza.billing.pay_now(int(alice.id)), plaza.billing.renew_due(), return_exceptions=True
    )
    paid, run = outcomes
    assert not isinstance(run, BaseException), run
    # Whichever came first charged the period; the other found nothing to charge.
    assert isinstance(paid, Conflict) or run.charged == 0, (paid, run)
    assert (await plaza.billing.current(int(alice.id))).status == "active"
    assert await premium.balance(alice) == MONTHLY
    assert len((await plaza.billing.receipts(int(alice.id)))[0]) == 2


async def test_two_subscribes_at_once_make_one_subscription(
    users: Users, premium: PremiumApi, plaza: Any
) -> None:
    alice = await _funded(users, premium, 10_000)
    answers = await asyncio.gather(
        premium.subscribe(alice, "monthly"), premium.subscribe(alice, "yearly")
    )
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    [made] = [a.json() for a in answers if a.status_code == 201]
    assert (await plaza.billing.current(int(alice.id))).id == int(made["id"])
    assert await premium.balance(alice) == 10_000 - made["plan"]["price"]["amount"]
    assert len((await plaza.billing.receipts(int(alice.id)))[0]) == 1


# ---- the command line ------------------------------------------------------------------------


async def test_the_renew_command_runs_one_renewal_pass(
    users: Users,
    premium: PremiumApi,
    plaza: Any,
    clock: ManualClock,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The command runs on the system clock: subscribe 40 days "ago" (by that clock), so
    # that exactly one renewal is due when it runs.
    clock.set(datetime.now(UTC).replace(microsecond=0) - timedelta(days=40))
    alice = await _funded(users, premium, 2 * MONTHLY)
    first = await plaza.billing.subscribe(int(alice.id), "monthly")
    monkeypatch.setenv("PLAZA_DATABASE_URL", database_url)
    monkeypatch.setenv("PLAZA_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("PLAZA_SECRET_KEY", "cli-test-secret")
    monkeypatch.setenv("PLAZA_LOG_JSON", "false")
    monkeypatch.delenv("PLAZA_REDIS_URL", raising=False)

    ran = await asyncio.to_thread(CliRunner().invoke, main, ["premium", "renew"])
    assert ran.exit_code == 0, ran.output
    assert "renewed 1, failed 0, expired 0" in ran.output
    view = await plaza.billing.current(int(alice.id))
    assert view.current_period_start == first.current_period_end
    assert await premium.balance(alice) == 0


# ---- what a subscription unlocks elsewhere ------------------------------------------------------


async def test_long_posts_and_edits_come_with_a_subscription_and_go_when_it_lapses(
    client: httpx.AsyncClient, users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await _funded(users, premium, MONTHLY)
    bob = await users.create()

    async def post(who: Account, text: str) -> httpx.Response:
        return await client.post("/api/v1/posts", json={"text": text}, headers=who.headers)

    async def edit(who: Account, post_id: str, text: str) -> httpx.Response:
        return await client.patch(
            f"/api/v1/posts/{post_id}", json={"text": text}, headers=who.headers
        )

    assert (await post(alice, "x" * 25_000)).status_code == 422
    await plaza.billing.subscribe(int(alice.id), "monthly")
    await plaza.billing.cancel(int(alice.id))  # access ends exactly at END

    clock.set(END - timedelta(minutes=30))
    long = await post(alice, "x" * 25_000)
    assert long.status_code == 201, long.text
    assert (await post(alice, "x" * 25_001)).status_code == 422  # the longer limit still holds
    short = await post(alice, "first take")
    assert short.status_code == 201, short.text
    edited = await edit(alice, short.json()["id"], "second take")
    assert edited.status_code == 200, edited.text
    assert (await post(bob, "x" * 25_000)).status_code == 422

    clock.set(END + timedelta(minutes=1))
    refused = await post(alice, "x" * 25_000)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["text"]
    assert (await post(alice, "x" * 280)).status_code == 201
    # Still inside the hour, but no longer Premium: the edit is refused for that reason.
    late = await edit(alice, short.json()["id"], "third take")
    assert late.status_code == 403, late.text
    assert "edit_posts" in late.json()["detail"]
    assert not await plaza.entitlements.has(int(alice.id), Entitlement.LONG_POSTS)
