"""The Premium billing HTTP API as a client sees it: plans, subscribing from the wallet,
cancel and resume, receipts, the wallet history lines of each charge, idempotent
retries, every refusal as an RFC 9457 problem naming its field or rule, and the admin
numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from plaza.core.clock import ManualClock
from tests.conftest import Account, Users
from tests.premium.billing_helpers import (
    GRACE,
    MONTHLY,
    YEARLY,
    PremiumApi,
    at,
    billing_overrides,
    fields,
    holds_premium,
    ledger_verified,
    premium,
    problem,
    settings,
    usd,
    users,
)

__all__ = ["billing_overrides", "ledger_verified", "premium", "settings", "users"]

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FIRST_END = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
SUBSCRIPTION_KEYS = {
    "id",
    "plan",
    "status",
    "cancel_at_period_end",
    "current_period_start",
    "current_period_end",
    "next_charge_at",
    "next_charge",
    "access_until",
    "past_due_since",
    "next_attempt_at",
    "grace_ends_at",
    "ended_at",
    "ended_reason",
    "created_at",
}
RECEIPT_KEYS = {
    "id",
    "number",
    "plan",
    "period_start",
    "period_end",
    "amount",
    "paid_at",
    "transfer_id",
    "subscription_id",
}


@pytest.fixture
def clock() -> ManualClock:
    # The example of the design: a subscription started on 1 Dec 2026.
    return ManualClock(START)


async def _plans(client: httpx.AsyncClient, who: Account) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/premium/plans", headers=who.headers)
    assert response.status_code == 200, response.text
    plans: list[dict[str, Any]] = response.json()
    return plans


# ---- plans ------------------------------------------------------------------------------


async def test_plans_show_prices_per_month_and_the_yearly_discount(
    client: httpx.AsyncClient, users: Users
) -> None:
    alice = await users.create()
    monthly, yearly = await _plans(client, alice)
    assert {k: v for k, v in monthly.items() if k != "name"} == {
        "id": "monthly",
        "interval": "month",
        "months": 1,
        "price": usd(MONTHLY),
        "monthly_price": usd(MONTHLY),
        "discount_percent": 0,
    }
    assert {k: v for k, v in yearly.items() if k != "name"} == {
        "id": "yearly",
        "interval": "year",
        "months": 12,
        "price": usd(YEARLY),
        "monthly_price": usd(700),
        # $84 instead of 12 x $8 is 12.5% off; a whole-percent label never overstates it.
        "discount_percent": 12,
    }
    assert monthly["name"]
    assert yearly["name"]
    assert monthly["name"] != yearly["name"]


# ---- subscribing ----------------------------------------------------------------------------


async def test_subscribing_charges_the_first_month_and_shows_the_subscription(
    client: httpx.AsyncClient, users: Users, premium: PremiumApi, plaza: Any
) -> None:
    alice = await users.create()
    await premium.fund(alice, 1_000)
    problem(await premium.subscription(alice), 404)
    assert not await holds_premium(plaza, alice.id)

    response = await premium.subscribe(alice, "monthly")
    assert response.status_code == 201, response.text
    sub = response.json()
    assert set(sub) == SUBSCRIPTION_KEYS
    assert isinstance(sub["id"], str)
    assert sub["id"].isdigit()
    assert sub["plan"] == (await _plans(client, alice))[0]
    assert (sub["status"], sub["cancel_at_period_end"]) == ("active", False)
    assert at(sub["current_period_start"]) == START
    assert at(sub["current_period_end"]) == FIRST_END
    assert at(sub["next_charge_at"]) == FIRST_END
    assert sub["next_charge"] == usd(MONTHLY)
    # A renewing subscription keeps access while its renewal is retried.
    assert at(sub["access_until"]) == FIRST_END + GRACE
    assert at(sub["created_at"]) == START
    nothing_due = ("past_due_since", "next_attempt_at", "grace_ends_at", "ended_at")
    assert [sub[k] for k in nothing_due] == [None] * 4
    assert sub["ended_reason"] is None

    assert await premium.balance(alice) == 1_000 - MONTHLY
    assert await premium.current(alice) == sub
    assert await holds_premium(plaza, alice.id)
    mine = (await client.get("/api/v1/me/entitlements", headers=alice.headers)).json()
    # A renewing subscription has no planned end.
    assert (mine["premium"], mine["premium_until"]) == (True, None)
    # The subscriber's other devices hear of it.
    assert sub["id"] in {e.get("id") for e in await premium.events(alice, "premium.updated")}


async def test_the_yearly_plan_charges_twelve_months_at_once(
    users: Users, premium: PremiumApi
) -> None:
    alice = await users.create()
    await premium.fund(alice, 9_000)
    sub = await premium.subscribed(alice, "yearly")
    assert sub["plan"]["id"] == "yearly"
    assert at(sub["current_period_end"]) == datetime(2027, 12, 1, 9, 0, tzinfo=UTC)
    assert sub["next_charge"] == usd(YEARLY)
    assert await premium.balance(alice) == 9_000 - YEARLY


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"plan": "gold"}, "plan"),
        ({"plan": ""}, "plan"),
        ({"plan": 1}, "plan"),
        ({"plan": None}, "plan"),
        ({}, "plan"),
        ({"plan": "monthly", "price": 1}, "price"),
    ],
)
async def test_a_bad_body_is_a_422_naming_the_field_and_charges_nothing(
    client: httpx.AsyncClient,
    users: Users,
    premium: PremiumApi,
    body: dict[str, Any],
    field: str,
) -> None:
    alice = await users.create()
    await premium.fund(alice, 1_000)
    response = await client.post(
        "/api/v1/premium/subscription",
        json=body,
        headers=alice.headers | {"Idempotency-Key": f"bad-{field}-{len(body)}"},
    )
    problem(response, 422)
    assert fields(response) == [field]
    assert (await premium.subscription(alice)).status_code == 404
    assert await premium.balance(alice) == 1_000


async def test_a_body_that_is_not_a_json_object_is_a_422(
    client: httpx.AsyncClient, users: Users, premium: PremiumApi
) -> None:
    alice = await users.create()
    await premium.fund(alice, 1_000)
    for content in (b"monthly", b"[]", b'"monthly"', b""):
        response = await client.post(
            "/api/v1/premium/subscription",
            content=content,
            headers=alice.headers
            | {"Idempotency-Key": f"raw-{content.hex()}", "Content-Type": "application/json"},
        )
        problem(response, 422)
    assert await premium.balance(alice) == 1_000


async def test_subscribing_needs_an_idempotency_key(
    client: httpx.AsyncClient, users: Users, premium: PremiumApi
) -> None:
    alice = await users.create()
    await premium.fund(alice, 1_000)
    for headers in ({}, {"Idempotency-Key": ""}, {"Idempotency-Key": "x" * 256}):
        response = await client.post(
            "/api/v1/premium/subscription",
            json={"plan": "monthly"},
            headers=alice.headers | headers,
        )
        problem(response, 422)
        assert fields(response) == ["Idempotency-Key"]
    assert await premium.balance(alice) == 1_000
    assert (await premium.subscription(alice)).status_code == 404


async def test_subscribing_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/premium/subscription", json={"plan": "monthly"}, headers={"Idempotency-Key": "k"}
    )
    problem(response, 401)
    problem(await client.get("/api/v1/premium/subscription"), 401)
    problem(await client.get("/api/v1/premium/receipts"), 401)


async def test_without_the_funds_nothing_is_stored(
    client: httpx.AsyncClient, users: Users, premium: PremiumApi, plaza: Any
) -> None:
    alice = await users.create()
    await premium.fund(alice, MONTHLY - 1)
    problem(await premium.subscribe(alice, "monthly"), 422, "insufficient-funds")
    assert (await premium.subscription(alice)).status_code == 404
    assert await premium.balance(alice) == MONTHLY - 1
    assert await premium.all_receipts(alice) == []
    assert [line["kind"] for line in await premium.history(alice)] == ["deposit"]
    assert not await holds_premium(plaza, alice.id)
    # A yearly plan is refused the same way, even though a month would be affordable now.
    await premium.fund(alice, 1)
    problem(await premium.subscribe(alice, "yearly"), 422, "insufficient-funds")
    assert (await premium.subscribed(alice, "monthly"))["status"] == "active"
    assert await premium.balance(alice) == 0


async def test_one_live_subscription_per_person(users: Users, premium: PremiumApi) -> None:
    alice = await users.create()
    await premium.fund(alice, 10_000)
    await premium.subscribed(alice, "monthly")
    problem(await premium.subscribe(alice, "monthly"), 409, "already-subscribed")
    problem(await premium.subscribe(alice, "yearly"), 409, "already-subscribed")
    # Still live while it is set to end: resume it rather than buying a second one.
    assert (await premium.cancel(alice)).status_code == 200
    problem(await premium.subscribe(alice, "yearly"), 409, "already-subscribed")
    assert await premium.balance(alice) == 10_000 - MONTHLY
    assert len(await premium.all_receipts(alice)) == 1


async def test_a_retried_subscribe_is_answered_from_the_first_and_charges_once(
    client: httpx.AsyncClient, users: Users, premium: PremiumApi
) -> None:
    alice = await users.create()
    await premium.fund(alice, 10_000)
    first = await premium.subscribe(alice, "monthly", idempotency_key="upgrade-click-1")
    again = await premium.subscribe(alice, "monthly", idempotency_key="upgrade-click-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await premium.balance(alice) == 10_000 - MONTHLY
    assert len(await premium.all_receipts(alice)) == 1

    other = await premium.subscribe(alice, "yearly", idempotency_key="upgrade-click-1")
    problem(other, 422)
    assert fields(other) == ["Idempotency-Key"]
    assert await premium.balance(alice) == 10_000 - MONTHLY


# ---- cancel, resume, pay -------------------------------------------------------------------


async def test_cancel_and_resume_before_the_period_ends(
    client: httpx.AsyncClient, users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await users.create()
    problem(await premium.cancel(alice), 404)
    problem(await premium.resume(alice), 404)
    await premium.fund(alice, 1_000)
    sub = await premium.subscribed(alice)

    cancelled = await premium.cancel(alice)
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["id"] == sub["id"]
    assert (body["status"], body["cancel_at_period_end"]) == ("active", True)
    # Access ends with the paid period, and nothing more will be charged.
    assert at(body["access_until"]) == FIRST_END
    assert (body["next_charge_at"], body["next_charge"]) == (None, None)
    assert await premium.current(alice) == body
    mine = (await client.get("/api/v1/me/entitlements", headers=alice.headers)).json()
    assert (mine["premium"], at(mine["premium_until"])) == (True, FIRST_END)

    clock.set(FIRST_END - timedelta(hours=1))
    resumed = await premium.resume(alice)
    assert resumed.status_code == 200, resumed.text
    body = resumed.json()
    assert body["cancel_at_period_end"] is False
    assert at(body["next_charge_at"]) == FIRST_END
    assert body["next_charge"] == usd(MONTHLY)
    assert at(body["access_until"]) == FIRST_END + GRACE
    problem(await premium.resume(alice), 409)
    assert await premium.balance(alice) == 1_000 - MONTHLY
    # The subscriber's devices heard of each change.
    updates = await premium.events(alice, "premium.updated")
    assert [e["cancel_at_period_end"] for e in updates] == [False, True, False]


async def test_resume_after_the_period_ended_is_refused(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await users.create()
    await premium.fund(alice, 1_000)
    await premium.subscribed(alice)
    await premium.cancel(alice)
    # The period is over (whether or not the renewal job has run yet): too late.
    clock.set(FIRST_END)
    problem(await premium.resume(alice), 409)
    await plaza.billing.renew_due()
    assert (await premium.current(alice))["status"] == "expired"
    problem(await premium.resume(alice), 404)
    problem(await premium.cancel(alice), 404)
    assert await premium.balance(alice) == 1_000 - MONTHLY


async def test_pay_now_settles_a_past_due_period_after_a_top_up(
    client: httpx.AsyncClient, users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await users.create()
    await premium.fund(alice, MONTHLY)
    await premium.subscribed(alice)
    problem(await premium.pay(alice), 409)  # nothing is owed

    clock.set(FIRST_END)
    await plaza.billing.renew_due()
    past_due = await premium.current(alice)
    assert past_due["status"] == "past_due"
    assert at(past_due["past_due_since"]) == FIRST_END
    assert at(past_due["grace_ends_at"]) == FIRST_END + GRACE
    assert at(past_due["access_until"]) == FIRST_END + GRACE
    mine = (await client.get("/api/v1/me/entitlements", headers=alice.headers)).json()
    assert (mine["premium"], at(mine["premium_until"])) == (True, FIRST_END + GRACE)
    problem(await premium.pay(alice), 422, "insufficient-funds")
    assert (await premium.current(alice))["status"] == "past_due"

    clock.set(FIRST_END + timedelta(hours=5))
    await premium.fund(alice, MONTHLY)
    paid = await premium.pay(alice)
    assert paid.status_code == 200, paid.text
    body = paid.json()
    assert body["status"] == "active"
    # Paying late covers the period that was owed: the anchor does not move.
    assert at(body["current_period_start"]) == FIRST_END
    assert at(body["current_period_end"]) == datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
    assert (body["past_due_since"], body["next_attempt_at"], body["grace_ends_at"]) == (
        None,
        None,
        None,
    )
    assert await premium.balance(alice) == 0
    problem(await premium.pay(alice), 409)


# ---- receipts and the wallet history ---------------------------------------------------------


async def test_receipts_page_newest_first_and_are_private(
    client: httpx.AsyncClient,
    users: Users,
    premium: PremiumApi,
    plaza: Any,
    clock: ManualClock,
) -> None:
    alice, bob = await users.create(), await users.create()
    await premium.fund(alice, 3 * MONTHLY)
    sub = await premium.subscribed(alice)
    for end in (FIRST_END, datetime(2027, 2, 1, 9, 0, tzinfo=UTC)):
        clock.set(end)
        assert (await plaza.billing.renew_due()).charged == 1

    receipts = await premium.all_receipts(alice, limit=1)
    assert len({r["id"] for r in receipts}) == 3
    assert [at(r["period_start"]) for r in receipts] == [
        datetime(2027, 2, 1, 9, 0, tzinfo=UTC),
        FIRST_END,
        START,
    ]
    for receipt, end in zip(
        receipts,
        [datetime(2027, 3, 1, 9, 0, tzinfo=UTC), datetime(2027, 2, 1, 9, 0, tzinfo=UTC), FIRST_END],
        strict=True,
    ):
        assert set(receipt) == RECEIPT_KEYS
        assert receipt["number"] == f"PLZ-{receipt['id']}"
        assert receipt["plan"]["id"] == "monthly"
        assert receipt["amount"] == usd(MONTHLY)
        assert receipt["subscription_id"] == sub["id"]
        assert isinstance(receipt["transfer_id"], str)
        assert receipt["transfer_id"].isdigit()
        assert at(receipt["period_end"]) == end
        assert at(receipt["paid_at"]) == at(receipt["period_start"])

    newest = receipts[0]
    one = await client.get(f"/api/v1/premium/receipts/{newest['id']}", headers=alice.headers)
    assert one.status_code == 200, one.text
    assert one.json() == newest
    # Someone else's receipt does not exist for them; neither does an unknown one.
    problem(await client.get(f"/api/v1/premium/receipts/{newest['id']}", headers=bob.headers), 404)
    problem(await client.get("/api/v1/premium/receipts/1234567", headers=alice.headers), 404)
    assert await premium.all_receipts(bob) == []
    nonsense = await client.get("/api/v1/premium/receipts/receipt-1", headers=alice.headers)
    assert nonsense.status_code in (404, 422), nonsense.text
    problem(nonsense, nonsense.status_code)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 101}, "query.limit"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
    ],
)
async def test_bad_receipt_page_parameters_are_422(
    users: Users, premium: PremiumApi, params: dict[str, Any], field: str
) -> None:
    alice = await users.create()
    response = await premium.receipts(alice, **params)
    problem(response, 422)
    assert fields(response) == [field]


async def test_each_charge_is_a_premium_line_in_the_wallet_history(
    users: Users, premium: PremiumApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await users.create()
    await premium.fund(alice, 2 * MONTHLY)
    await premium.subscribed(alice)
    clock.set(FIRST_END)
    assert (await plaza.billing.renew_due()).charged == 1

    receipts = await premium.all_receipts(alice)
    lines = await premium.history(alice)
    assert [(x["kind"], x["direction"], x["amount"]) for x in lines] == [
        ("premium", "out", usd(MONTHLY)),
        ("premium", "out", usd(MONTHLY)),
        ("deposit", "in", usd(2 * MONTHLY)),
    ]
    assert [x["note"] for x in lines[:2]] == [
        "Plaza Premium (monthly), 1 Jan 2027 - 1 Feb 2027",
        "Plaza Premium (monthly), 1 Dec 2026 - 1 Jan 2027",
    ]
    assert [x["receipt_id"] for x in lines[:2]] == [r["id"] for r in receipts]
    assert lines[2]["receipt_id"] is None
    # One line per charge: the reservation and its posting are not two lines.
    assert [x["kind"] for x in await premium.history(alice, kind="premium")] == ["premium"] * 2


# ---- admin ---------------------------------------------------------------------------------


async def test_the_admin_numbers_are_for_admins_only(
    client: httpx.AsyncClient, users: Users, plaza: Any
) -> None:
    alice = await users.create()
    refused = problem(await client.get("/api/v1/admin/premium", headers=alice.headers), 403)
    assert "admin" in refused["detail"].lower()
    problem(await client.get("/api/v1/admin/premium"), 401)
    await plaza.identity.set_admin(alice.username, True)
    assert (await client.get("/api/v1/admin/premium", headers=alice.headers)).status_code == 200


async def _admin(client: httpx.AsyncClient, users: Users, plaza: Any) -> dict[str, Any]:
    admin = await users.create()
    await plaza.identity.set_admin(admin.username, True)
    response = await client.get("/api/v1/admin/premium", headers=admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_admin_numbers_count_subscribers_mrr_churn_and_past_due_accounts(
    client: httpx.AsyncClient,
    users: Users,
    premium: PremiumApi,
    plaza: Any,
    clock: ManualClock,
) -> None:
    async def subscriber(funds: int, plan: str = "monthly") -> Account:
        who = await users.create()
        await premium.fund(who, funds)
        await premium.subscribed(who, plan)
        return who

    renewing = await subscriber(3 * MONTHLY)
    yearly = await subscriber(YEARLY, "yearly")
    cancelling = await subscriber(3 * MONTHLY)
    unpaid = await subscriber(2 * MONTHLY)  # pays December and January, not February
    churned = await subscriber(2 * MONTHLY)
    long_gone = await subscriber(MONTHLY)
    await premium.cancel(long_gone)  # ends on 1 Jan, before the 30-day window
    clock.set(FIRST_END)
    await plaza.billing.renew_due()
    clock.set(datetime(2027, 1, 15, 9, 0, tzinfo=UTC))
    await premium.cancel(churned)  # ends on 1 Feb, inside the window
    february = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
    for day in range(3):
        clock.set(february + timedelta(days=day))
        if day == 1:
            await premium.cancel(cancelling)
        await plaza.billing.renew_due()

    numbers = await _admin(client, users, plaza)
    assert (numbers["active"], numbers["cancelling"], numbers["past_due"]) == (2, 1, 1)
    # Paying now: two monthly (one of them cancelling) and a yearly at a twelfth;
    # the past-due one pays nothing until it pays.
    assert numbers["mrr"] == usd(MONTHLY + YEARLY // 12 + MONTHLY)
    assert numbers["churned_30d"] == 1
    # Five subscriptions were live when the window opened (3 Jan); one of them ended.
    assert numbers["churn_rate_30d"] == pytest.approx(0.2)
    [account] = numbers["past_due_accounts"]
    assert (account["user_id"], account["username"], account["plan"]) == (
        unpaid.id,
        unpaid.username,
        "monthly",
    )
    assert at(account["past_due_since"]) == february
    assert at(account["grace_ends_at"]) == february + GRACE
    assert account["attempts"] == 3  # 1, 2 and 3 February
    assert {renewing.id, yearly.id, churned.id}.isdisjoint(
        {a["user_id"] for a in numbers["past_due_accounts"]}
    )


@pytest.mark.parametrize("someone_stays", [True, False])
async def test_the_churn_rate_is_a_fraction_of_the_subscribers_it_counts(
    client: httpx.AsyncClient,
    users: Users,
    premium: PremiumApi,
    plaza: Any,
    clock: ManualClock,
    someone_stays: bool,
) -> None:
    # Two people who joined this month leave again, beside one long-standing subscriber
    # who stays (or nobody else).
    if someone_stays:
        stays = await users.create()
        await premium.fund(stays, YEARLY)
        await premium.subscribed(stays, "yearly")
    clock.set(datetime(2027, 2, 1, 9, 0, tzinfo=UTC))
    for _ in range(2):
        leaver = await users.create()
        await premium.fund(leaver, MONTHLY)
        await premium.subscribed(leaver)
        await premium.cancel(leaver)
    clock.set(datetime(2027, 3, 1, 10, 0, tzinfo=UTC))  # 28 days: February is short
    assert (await plaza.billing.renew_due()).expired == 2

    numbers = await _admin(client, users, plaza)
    assert numbers["churned_30d"] == 2
    # Whatever the exact definition, a rate is never 0 when people left, nor above 100%.
    assert 0 < numbers["churn_rate_30d"] <= 1, numbers
