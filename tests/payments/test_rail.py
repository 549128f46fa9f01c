"""Top-ups and cash-outs through the sandbox bank rail, as ACH behaves: pending, then
settled, failed or returned as the (manual) clock moves; and the reconciliation report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from plaza.config import Settings
from plaza.core.clock import ManualClock
from tests.conftest import Users
from tests.payments.wallet_helpers import (
    WalletApi,
    expire_step_up,
    key,
    ledger_verified,
    make_admin,
    usd,
)

__all__ = ["ledger_verified"]
DELAY = timedelta(seconds=5)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sandbox_rail_delay_seconds": DELAY.total_seconds()})


@pytest.fixture
def api(client: httpx.AsyncClient) -> WalletApi:
    return WalletApi(client)


async def settle(plaza: Any, clock: ManualClock, delay: timedelta = DELAY) -> None:
    """Let the bank's delay pass and run the periodic rail job once."""
    clock.advance(delay)
    await plaza.payments.tick()


async def test_a_deposit_is_not_spendable_until_the_rail_settles_it(
    client: httpx.AsyncClient, users: Users, api: WalletApi, plaza: Any, clock: ManualClock
) -> None:
    alice, bob = await users.create(), await users.create()
    deposit = await api.deposit(alice, 10_000)
    assert deposit["status"] == "pending"
    assert deposit["direction"] == "deposit"
    wallet = await api.wallet(alice)
    assert wallet["incoming"] == usd(10_000)
    assert wallet["balance"] == usd(0)
    assert wallet["available"] == usd(0)
    early = await api.pay(alice, bob, 100)
    assert early.status_code == 422
    clock.advance(DELAY - timedelta(seconds=1))
    await plaza.payments.tick()
    assert await api.available(alice) == 0

    await settle(plaza, clock, timedelta(seconds=1))
    wallet = await api.wallet(alice)
    assert wallet["balance"] == usd(10_000)
    assert wallet["available"] == usd(10_000)
    assert wallet["incoming"] == usd(0)
    listed = await client.get(f"/api/v1/wallet/transfers/{deposit['id']}", headers=alice.headers)
    assert listed.json()["status"] == "settled"
    assert (await api.pay(alice, bob, 100)).status_code == 201


async def test_a_failed_deposit_never_reaches_the_wallet(
    client: httpx.AsyncClient, users: Users, api: WalletApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await users.create()
    by_amount = await api.deposit(alice, 666)
    by_note = await api.deposit(alice, 5_000, note="test [fail]")
    await settle(plaza, clock)
    for made in (by_amount, by_note):
        found = await client.get(f"/api/v1/wallet/transfers/{made['id']}", headers=alice.headers)
        assert found.json()["status"] == "failed"
        assert found.json()["failure_code"] == "R01"
    wallet = await api.wallet(alice)
    assert wallet["balance"] == usd(0)
    assert wallet["incoming"] == usd(0)


async def test_a_return_claws_back_and_what_was_spent_becomes_a_debt(
    client: httpx.AsyncClient, users: Users, api: WalletApi, plaza: Any, clock: ManualClock
) -> None:
    alice, bob = await users.create(), await users.create()
    deposit = await api.deposit(alice, 1_313)
    await settle(plaza, clock)
    assert await api.available(alice) == 1_313
    await api.paid(alice, bob, 1_000)  # spent before the bank took it back

    await settle(plaza, clock)
    found = await client.get(f"/api/v1/wallet/transfers/{deposit['id']}", headers=alice.headers)
    assert found.json()["status"] == "returned"
    assert found.json()["failure_code"] == "R10"
    assert found.json()["shortfall"] == usd(1_000)
    wallet = await api.wallet(alice)
    assert wallet["balance"] == usd(0)
    assert "returned" in wallet["restricted"]
    # Bob keeps the payment; Plaza carries the debt in returns_receivable.
    assert await api.available(bob) == 1_000
    receivable = await plaza.ledger.system_account("returns_receivable")
    assert (await plaza.ledger.balance(receivable)).balance == -1_000
    # A restricted wallet sends nothing until an administrator lifts it.
    await api.deposit(alice, 500)
    await settle(plaza, clock)
    held = await api.pay(alice, bob, 100)
    assert held.status_code == 403
    assert held.json()["type"].endswith("/wallet-restricted")
    admin = await users.create()
    await make_admin(plaza, admin)
    lifted = await client.delete(
        f"/api/v1/admin/payments/restrictions/{alice.id}", headers=admin.headers
    )
    assert lifted.status_code == 204
    assert (await api.pay(alice, bob, 100)).status_code == 201


async def test_a_return_fully_covered_by_the_wallet_leaves_no_debt(
    client: httpx.AsyncClient, users: Users, api: WalletApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await users.create()
    await api.deposit(alice, 2_000)
    returned = await api.deposit(alice, 1_000, note="[return]")
    await settle(plaza, clock)
    assert await api.available(alice) == 3_000
    await settle(plaza, clock)
    wallet = await api.wallet(alice)
    assert wallet["balance"] == usd(2_000)
    assert wallet["restricted"] is None
    found = await client.get(f"/api/v1/wallet/transfers/{returned['id']}", headers=alice.headers)
    assert found.json()["status"] == "returned"
    assert found.json()["shortfall"] == usd(0)


async def cash_out(
    client: httpx.AsyncClient, who: Any, amount: int, speed: str = "standard", note: str = ""
) -> httpx.Response:
    return await client.post(
        "/api/v1/wallet/cashouts",
        json={"amount": usd(amount), "speed": speed, "note": note},
        headers=who.headers | key(),
    )


async def test_a_standard_cash_out_holds_the_money_then_settles_free(
    client: httpx.AsyncClient, users: Users, api: WalletApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await users.create()
    await api.deposit(alice, 10_000)
    await settle(plaza, clock)
    made = await cash_out(client, alice, 4_000)
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "pending"
    assert made.json()["fee"] == usd(0)
    wallet = await api.wallet(alice)
    assert wallet["available"] == usd(6_000)
    assert wallet["outgoing"] == usd(4_000)
    assert wallet["balance"] == usd(10_000)
    await settle(plaza, clock)
    wallet = await api.wallet(alice)
    assert wallet["balance"] == usd(6_000)
    assert wallet["available"] == usd(6_000)


async def test_an_instant_cash_out_settles_at_once_with_its_fee_in_the_fees_account(
    client: httpx.AsyncClient, users: Users, api: WalletApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await users.create()
    await api.deposit(alice, 10_000)
    await settle(plaza, clock)
    made = await cash_out(client, alice, 4_000, "instant")
    assert made.status_code == 201, made.text
    fee = plaza.settings.payments_instant_fee_bps * 4_000 // 10_000
    fee = max(fee, plaza.settings.payments_instant_fee_min)
    assert made.json()["status"] == "settled"
    assert made.json()["fee"] == usd(fee)
    assert await api.available(alice) == 10_000 - 4_000 - fee
    fees = await plaza.ledger.system_account("fees")
    assert (await plaza.ledger.balance(fees)).balance == fee
    # The fee cannot push the wallet below zero: the cash-out and its fee go together.
    left = await api.available(alice)
    refused = await cash_out(client, alice, left, "instant")
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("/insufficient-funds")
    assert await api.available(alice) == left


async def test_a_failed_cash_out_gives_the_money_and_the_fee_back(
    client: httpx.AsyncClient, users: Users, api: WalletApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await users.create()
    await api.deposit(alice, 10_000)
    await settle(plaza, clock)
    failed = await cash_out(client, alice, 3_000, "instant", note="[fail]")
    assert failed.status_code == 201
    assert failed.json()["status"] == "failed"
    assert failed.json()["failure_code"] == "R03"
    standard = await cash_out(client, alice, 666)
    assert standard.json()["status"] == "pending"
    await settle(plaza, clock)
    assert await api.available(alice) == 10_000
    fees = await plaza.ledger.system_account("fees")
    assert (await plaza.ledger.balance(fees)).balance == 0


async def test_every_cash_out_needs_a_recent_step_up(
    client: httpx.AsyncClient, users: Users, api: WalletApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await users.create()
    await api.deposit(alice, 1_000)
    await settle(plaza, clock)
    await expire_step_up(plaza)
    refused = await cash_out(client, alice, 100)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/step-up-required")
    assert await api.available(alice) == 1_000
    stepped = await client.post(
        "/api/v1/me/step-up", json={"password": alice.password}, headers=alice.headers
    )
    assert stepped.status_code == 200
    assert (await cash_out(client, alice, 100)).status_code == 201
    assert await api.available(alice) == 900


async def test_reconciliation_matches_the_ledger_with_the_rail(
    client: httpx.AsyncClient, users: Users, api: WalletApi, plaza: Any, clock: ManualClock
) -> None:
    alice, admin = await users.create(), await users.create()
    refused = await client.get("/api/v1/admin/payments/reconciliation", headers=alice.headers)
    assert refused.status_code == 403
    await make_admin(plaza, admin)
    await api.deposit(alice, 10_000)
    await api.deposit(alice, 666)
    await api.deposit(alice, 1_313)
    await settle(plaza, clock)
    assert (await cash_out(client, alice, 2_000)).status_code == 201
    assert (await cash_out(client, alice, 1_000, "instant")).status_code == 201
    await settle(plaza, clock)

    report = (
        await client.get("/api/v1/admin/payments/reconciliation", headers=admin.headers)
    ).json()
    assert report["mismatches"] == []
    assert report["balanced"] is True
    assert report["checked"] == 5
    assert report["matched"] == 5
    # Deposits settled in the bank: 10_000 (the 13.13 came back, 6.66 failed);
    # cash-outs paid out of it: 3_000. Clearing says the bank owes us 7_000 net.
    assert report["ledger_clearing"] == usd(-7_000)
    assert report["rail_net"] == usd(-7_000)

    # A record the rail has but the wallet does not (an order that never was ours).
    from plaza.payments.models import WalletSandboxEntry

    async with plaza.db.session() as session:
        session.add(
            WalletSandboxEntry(
                reference="999",
                direction="deposit",
                amount=50,
                currency="USD",
                instant=False,
                note="",
                status="settled",
                submitted_at=clock.now(),
                settled_at=clock.now(),
            )
        )
        await session.commit()
    report = (
        await client.get("/api/v1/admin/payments/reconciliation", headers=admin.headers)
    ).json()
    assert report["balanced"] is False
    assert [m["reference"] for m in report["mismatches"]] == ["999"]
    assert report["mismatches"][0]["problem"] == "unknown to the wallet"


async def test_a_deposit_interrupted_by_a_crash_is_finished_by_recovery(
    client: httpx.AsyncClient, users: Users, api: WalletApi, plaza: Any, clock: ManualClock
) -> None:
    alice = await users.create()
    # Step one of a deposit ran (the row with its transfer ids), then the process died
    # before the hold was placed and the rail was told.
    row = plaza.payments.rail._row(int(alice.id), "deposit", "standard", 2_000, 0, "")
    async with plaza.db.session() as session:
        session.add(row)
        await session.commit()
    await plaza.payments.tick()
    assert (await api.wallet(alice))["incoming"] == usd(2_000)  # now counted, not yet held

    clock.advance(timedelta(seconds=plaza.settings.payments_recovery_grace_seconds + 1))
    await plaza.payments.tick()
    found = await client.get(f"/api/v1/wallet/transfers/{row.id}", headers=alice.headers)
    assert found.json()["status"] == "pending"
    await settle(plaza, clock)
    await settle(plaza, clock)  # a repeat changes nothing
    found = await client.get(f"/api/v1/wallet/transfers/{row.id}", headers=alice.headers)
    assert found.json()["status"] == "settled"
    assert await api.available(alice) == 2_000
