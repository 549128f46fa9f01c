"""The subscription lifecycle end to end through the HTTP API, with the clock moved:
subscribe, renew, fail, recover, cancel, expire (the detailed rules are in
test_billing.py and test_periods.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from plaza.core.clock import ManualClock
from tests.conftest import Users
from tests.payments.wallet_helpers import WalletApi, key, ledger_verified, settings

__all__ = ["ledger_verified", "settings"]


async def test_a_subscription_lives_renews_lapses_and_comes_back(
    client: httpx.AsyncClient, plaza: Any, users: Users, clock: ManualClock
) -> None:
    wallet = WalletApi(client)
    alice = await users.create()
    await wallet.deposit(alice, 1_000)

    started = await client.post(
        "/api/v1/premium/subscription", json={"plan": "monthly"}, headers=alice.headers | key()
    )
    assert started.status_code == 201, started.text
    assert started.json()["status"] == "active"
    assert await wallet.available(alice) == 200
    me = (await client.get("/api/v1/me/entitlements", headers=alice.headers)).json()
    assert me["premium"]
    assert "place_calls" in me["entitlements"]

    # The first renewal cannot be paid: past due, retried, notified, still Premium.
    clock.advance(timedelta(days=32))
    report = await plaza.billing.renew_due()
    assert (report.charged, report.failed) == (0, 1)
    alice = await users.sign_in(alice.username)  # the session idled out meanwhile
    sub = (await client.get("/api/v1/premium/subscription", headers=alice.headers)).json()
    assert sub["status"] == "past_due"
    assert (await client.get("/api/v1/me/entitlements", headers=alice.headers)).json()["premium"]
    kinds = [
        n["kind"]
        for n in (await client.get("/api/v1/notifications", headers=alice.headers)).json()["data"]
    ]
    assert "premium_payment_failed" in kinds

    # A top-up and "pay now": active again, for the period it was late for.
    await wallet.deposit(alice, 1_000)
    paid = await client.post("/api/v1/premium/subscription/pay", headers=alice.headers)
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "active"
    assert paid.json()["current_period_start"] == sub["current_period_start"]

    history = (await client.get("/api/v1/wallet/history", headers=alice.headers)).json()["data"]
    charges = [line for line in history if line["kind"] == "premium"]
    assert len(charges) == 2
    assert all(c["receipt_id"] and c["note"] for c in charges)
    receipts = (await client.get("/api/v1/premium/receipts", headers=alice.headers)).json()
    assert {r["id"] for r in receipts["data"]} == {c["receipt_id"] for c in charges}

    # Cancel: Premium until the period ends, not a second later.
    cancelled = await client.delete("/api/v1/premium/subscription", headers=alice.headers)
    assert cancelled.json()["cancel_at_period_end"] is True
    end = cancelled.json()["current_period_end"]
    clock.set(_parse(end) - timedelta(seconds=1))
    alice = await users.sign_in(alice.username)
    assert (await client.get("/api/v1/me/entitlements", headers=alice.headers)).json()["premium"]
    clock.advance(timedelta(seconds=1))
    assert not (await client.get("/api/v1/me/entitlements", headers=alice.headers)).json()[
        "premium"
    ]
    report = await plaza.billing.renew_due()
    assert (report.charged, report.expired) == (0, 1)

    # Coming back is a new subscription, anchored on the day it starts.
    await wallet.deposit(alice, 8_400)
    again = await client.post(
        "/api/v1/premium/subscription", json={"plan": "yearly"}, headers=alice.headers | key()
    )
    assert again.status_code == 201, again.text
    assert again.json()["plan"]["id"] == "yearly"
    assert again.json()["id"] != sub["id"]
    assert again.json()["current_period_start"] == clock.now().isoformat().replace("+00:00", "Z")

    # The data export carries both subscriptions and every invoice.
    exported = (await client.get("/api/v1/me/export", headers=alice.headers)).json()["premium"]
    assert [s["status"] for s in exported["subscriptions"]] == ["expired", "active"]
    assert sorted(i["status"] for i in exported["invoices"]) == ["paid", "paid", "paid"]


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_subscription_records_follow_the_table_columns() -> None:
    # ``charging.load`` builds records positionally from ``select(*table.c)``.
    from dataclasses import fields

    from plaza.premium.charging import SUBSCRIPTIONS, Sub

    assert [f.name for f in fields(Sub)] == [c.name for c in SUBSCRIPTIONS.c]
