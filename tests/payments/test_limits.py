"""Tiers and limits: unverified and verified sending limits over rolling windows,
verification with encrypted details, and the structuring check."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from plaza.config import Settings
from plaza.core.clock import ManualClock
from tests.conftest import Users
from tests.payments.wallet_helpers import (
    IDENTITY,
    WalletApi,
    key,
    ledger_verified,
    make_admin,
    problem_fields,
    usd,
    verify_identity,
)

__all__ = ["ledger_verified"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "sandbox_rail_delay_seconds": 0.0,
            "payments_unverified_daily_limit": 3_000,
            "payments_unverified_weekly_limit": 5_000,
            "payments_verified_daily_limit": 50_000,
            "payments_verified_weekly_limit": 100_000,
            "payments_unverified_weekly_deposit_limit": 20_000,
            "payments_step_up_threshold": 1_000_000,
            "payments_structuring_threshold": 10_000,
        }
    )


@pytest.fixture
def api(client: httpx.AsyncClient) -> WalletApi:
    return WalletApi(client)


async def test_unverified_limits_hold_per_day_and_over_a_rolling_week(
    users: Users, api: WalletApi, clock: ManualClock
) -> None:
    alice, bob = await users.create(), await users.create()
    await api.deposit(alice, 20_000)
    await api.paid(alice, bob, 2_000)
    over_day = await api.pay(alice, bob, 1_001)
    assert over_day.status_code == 403
    assert over_day.json()["type"].endswith("/limit-exceeded")
    assert "daily" in over_day.json()["detail"]
    assert (await api.pay(alice, bob, 1_000)).status_code == 201

    clock.advance(timedelta(days=1, seconds=1))
    await api.paid(alice, bob, 2_000)
    over_week = await api.pay(alice, bob, 1)
    assert over_week.status_code == 403
    assert "weekly" in over_week.json()["detail"]
    # Seven days after the first payments, they leave the rolling window.
    clock.advance(timedelta(days=6))
    assert (await api.pay(alice, bob, 2_000)).status_code == 201
    assert await api.available(bob) == 7_000
    wallet = await api.wallet(alice)
    assert wallet["limits"]["tier"] == "unverified"
    assert wallet["limits"]["weekly_used"] == usd(4_000)


async def test_refunds_count_towards_no_limit(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob = await users.create(), await users.create()
    await api.deposit(bob, 20_000)
    payment = await api.paid(bob, alice, 3_000)
    await api.deposit(alice, 4_000)
    await api.paid(alice, bob, 3_000)  # alice's daily limit is now used up
    assert (await api.pay(alice, bob, 1)).status_code == 403
    refund = await client.post(
        f"/api/v1/payments/{payment['id']}/refunds", json={}, headers=alice.headers | key()
    )
    assert refund.status_code == 201, refund.text


async def test_deposits_have_a_weekly_limit(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice = await users.create()
    await api.deposit(alice, 15_000)
    over = await client.post(
        "/api/v1/wallet/deposits", json={"amount": usd(5_001)}, headers=alice.headers | key()
    )
    assert over.status_code == 403
    assert over.json()["type"].endswith("/limit-exceeded")
    assert (await api.wallet(alice))["balance"] == usd(15_000)


async def test_verification_raises_the_limits_and_stores_details_encrypted(
    client: httpx.AsyncClient, users: Users, api: WalletApi, plaza: Any
) -> None:
    alice, bob = await users.create(), await users.create()
    before = await client.get("/api/v1/wallet/verification", headers=alice.headers)
    assert before.json() == {
        "tier": "unverified",
        "status": "none",
        "submitted_at": None,
        "decided_at": None,
    }
    body = await verify_identity(client, alice)
    assert body["status"] == "verified"
    assert "legal_name" not in body
    assert "address" not in body
    await api.deposit(alice, 20_000)
    assert (await api.pay(alice, bob, 10_000)).status_code == 201
    wallet = await api.wallet(alice)
    assert wallet["tier"] == "verified"
    assert wallet["limits"]["daily_limit"] == usd(50_000)

    from plaza.payments.models import WalletProfile

    async with plaza.db.session(write=False) as session:
        blob = await session.scalar(
            select(WalletProfile.details_encrypted).where(WalletProfile.user_id == int(alice.id))
        )
        dump = await session.execute(text("SELECT * FROM wallet_profile"))
    assert blob is not None
    assert b"Alex" not in blob
    assert b"Springfield" not in blob
    assert b"1990" not in blob
    assert "Alex" not in repr(dump.all())
    details = await plaza.payments.verification.details(int(alice.id))
    assert details["legal_name"] == "Alex Example"
    assert details["address"]["city"] == "Springfield"
    assert "phone" not in repr(details)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"date_of_birth": "2015-01-01"}, "date_of_birth"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"legal_name": ""}, "legal_name"),
        (
            {"address": {"line1": "x", "city": "y", "postal_code": "1", "country": "usa"}},
            "address.country",
        ),
        ({"phone": "+15555550100"}, "phone"),
    ],
)
async def test_bad_verification_details_are_refused(
    client: httpx.AsyncClient, users: Users, change: dict[str, Any], field: str
) -> None:
    alice = await users.create()
    response = await client.post(
        "/api/v1/wallet/verification", json=IDENTITY | change, headers=alice.headers
    )
    assert response.status_code == 422
    assert field in problem_fields(response)
    status = await client.get("/api/v1/wallet/verification", headers=alice.headers)
    assert status.json()["status"] == "none"


async def test_without_auto_approval_an_administrator_decides(
    client: httpx.AsyncClient, users: Users, plaza: Any
) -> None:
    alice, admin = await users.create(), await users.create()
    await make_admin(plaza, admin)
    plaza.payments.ctx.policy = replace(plaza.payments.ctx.policy, kyc_auto_approve=False)
    submitted = await client.post(
        "/api/v1/wallet/verification", json=IDENTITY, headers=alice.headers
    )
    assert submitted.json()["status"] == "pending"
    assert submitted.json()["tier"] == "unverified"
    queue = await client.get("/api/v1/admin/payments/verifications", headers=admin.headers)
    assert [item["user"]["username"] for item in queue.json()["data"]] == [alice.username]
    assert "Alex" not in queue.text  # the details stay encrypted, even for administrators
    url = f"/api/v1/admin/payments/verifications/{alice.id}"
    refused = await client.post(url, json={"approve": True}, headers=alice.headers)
    assert refused.status_code == 403
    approved = await client.post(url, json={"approve": True}, headers=admin.headers)
    assert approved.status_code == 200
    assert approved.json()["tier"] == "verified"


async def test_structuring_is_held_for_review_until_cleared(
    client: httpx.AsyncClient, users: Users, api: WalletApi, plaza: Any
) -> None:
    alice, bob, admin = await users.create(), await users.create(), await users.create()
    await make_admin(plaza, admin)
    await verify_identity(client, alice)
    await api.deposit(alice, 20_000)
    await api.deposit(alice, 20_000)
    # Threshold 100.00, margin 10%: three payments of 90.00-99.99 within a day.
    assert (await api.pay(alice, bob, 9_500)).status_code == 201
    assert (await api.pay(alice, bob, 4_000)).status_code == 201  # not near the threshold
    assert (await api.pay(alice, bob, 9_900)).status_code == 201
    third = await api.pay(alice, bob, 9_999)
    assert third.status_code == 403
    assert third.json()["type"].endswith("/held-for-review")
    assert "structuring" in third.json()["detail"]
    assert await api.available(bob) == 23_400
    # Everything outgoing is held while the flag is open, whatever the amount.
    held = await api.pay(alice, bob, 100)
    assert held.status_code == 403
    assert held.json()["type"].endswith("/held-for-review")

    flags = await client.get("/api/v1/admin/payments/flags", headers=admin.headers)
    [flag] = flags.json()["data"]
    assert flag["user"]["username"] == alice.username
    assert flag["status"] == "open"
    assert (
        await client.get("/api/v1/admin/payments/flags", headers=alice.headers)
    ).status_code == 403
    cleared = await client.post(
        f"/api/v1/admin/payments/flags/{flag['id']}/clear", headers=admin.headers
    )
    assert cleared.status_code == 200
    assert cleared.json()["status"] == "cleared"
    assert (await api.pay(alice, bob, 100)).status_code == 201
