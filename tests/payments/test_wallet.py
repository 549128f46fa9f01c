"""The wallet: balance and available, the history with filters and cursors, monthly
statements and their CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from plaza.core.clock import ManualClock
from tests.conftest import Users
from tests.payments.wallet_helpers import (
    WalletApi,
    key,
    ledger_verified,
    problem_fields,
    settings,
    usd,
)

__all__ = ["ledger_verified", "settings"]


@pytest.fixture
def api(client: httpx.AsyncClient) -> WalletApi:
    return WalletApi(client)


@pytest.fixture
def clock() -> ManualClock:
    # Mid-month, so a test can step into the next month on purpose.
    return ManualClock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))


async def test_a_new_wallet_is_empty_and_unverified(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice = await users.create()
    wallet = await api.wallet(alice)
    assert wallet["balance"] == usd(0)
    assert wallet["available"] == usd(0)
    assert wallet["tier"] == "unverified"
    assert wallet["restricted"] is None
    client.cookies.clear()  # signing in through this client left a session cookie
    assert (await client.get("/api/v1/wallet")).status_code == 401


async def test_history_filters_by_kind_direction_and_dates_with_cursor_pages(
    client: httpx.AsyncClient, users: Users, api: WalletApi, clock: ManualClock
) -> None:
    alice, bob = await users.create(), await users.create()
    await api.deposit(alice, 10_000)
    first = await api.paid(alice, bob, 1_000, "lunch")
    clock.advance(timedelta(days=2))
    middle = clock.now()
    await api.paid(bob, alice, 300, "coffee")
    await api.paid(alice, bob, 200)

    everything = await client.get("/api/v1/wallet/history", headers=alice.headers)
    lines = everything.json()["data"]
    assert [(x["kind"], x["direction"], x["amount"]["amount"]) for x in lines] == [
        ("payment", "out", 200),
        ("payment", "in", 300),
        ("payment", "out", 1_000),
        ("deposit", "in", 10_000),
    ]
    assert lines[2]["counterparty"]["username"] == bob.username
    assert lines[2]["note"] == "lunch"
    assert lines[2]["payment_id"] == first["id"]
    assert lines[3]["counterparty"] is None

    outgoing = await client.get(
        "/api/v1/wallet/history", params={"direction": "out"}, headers=alice.headers
    )
    assert [x["amount"]["amount"] for x in outgoing.json()["data"]] == [200, 1_000]
    deposits = await client.get(
        "/api/v1/wallet/history", params={"kind": "deposit"}, headers=alice.headers
    )
    assert [x["kind"] for x in deposits.json()["data"]] == ["deposit"]
    recent = await client.get(
        "/api/v1/wallet/history",
        params={"since": middle.isoformat()},
        headers=alice.headers,
    )
    assert [x["amount"]["amount"] for x in recent.json()["data"]] == [200, 300]
    older = await client.get(
        "/api/v1/wallet/history",
        params={"until": middle.isoformat(), "direction": "out"},
        headers=alice.headers,
    )
    assert [x["amount"]["amount"] for x in older.json()["data"]] == [1_000]

    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 1, "direction": "in"}
        if cursor:
            params["cursor"] = cursor
        page = (
            await client.get("/api/v1/wallet/history", params=params, headers=alice.headers)
        ).json()
        seen += [x["amount"]["amount"] for x in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [300, 10_000]

    bad = await client.get(
        "/api/v1/wallet/history", params={"kind": "bribe"}, headers=alice.headers
    )
    assert bad.status_code == 422
    assert problem_fields(bad) == ["query.kind"]


async def test_a_monthly_statement_opens_where_the_last_one_closed(
    client: httpx.AsyncClient, users: Users, api: WalletApi, clock: ManualClock
) -> None:
    alice, bob = await users.create(), await users.create()
    await api.deposit(alice, 10_000)
    await api.paid(alice, bob, 2_500)
    clock.set(datetime(2026, 12, 3, 9, 0, tzinfo=UTC))
    await api.paid(bob, alice, 1_000)
    await api.paid(alice, bob, 4_000)

    november = (
        await client.get(
            "/api/v1/wallet/statement", params={"month": "2026-11"}, headers=alice.headers
        )
    ).json()
    assert november["opening_balance"] == usd(0)
    assert november["closing_balance"] == usd(7_500)
    assert november["total_in"] == usd(10_000)
    assert november["total_out"] == usd(2_500)
    assert [line["balance_after"]["amount"] for line in november["lines"]] == [10_000, 7_500]

    december = (
        await client.get(
            "/api/v1/wallet/statement", params={"month": "2026-12"}, headers=alice.headers
        )
    ).json()
    assert december["opening_balance"] == usd(7_500)
    assert december["closing_balance"] == usd(4_500)
    assert [line["balance_after"]["amount"] for line in december["lines"]] == [8_500, 4_500]
    october = (
        await client.get(
            "/api/v1/wallet/statement", params={"month": "2026-10"}, headers=alice.headers
        )
    ).json()
    assert october["lines"] == []
    assert october["closing_balance"] == usd(0)
    bad = await client.get(
        "/api/v1/wallet/statement", params={"month": "2026-13"}, headers=alice.headers
    )
    assert bad.status_code == 422


async def test_the_csv_export_quotes_properly_and_defuses_formulas(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob = await users.create(), await users.create()
    await api.deposit(alice, 10_000)
    await api.paid(alice, bob, 1_234, '=HYPERLINK("http://evil.example","click"), "quoted"')
    await api.paid(alice, bob, 5, "line one\nline two")
    await api.paid(alice, bob, 6, "@SUM(A1:A2)")
    response = await client.get(
        "/api/v1/wallet/statement.csv", params={"month": "2026-11"}, headers=alice.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "date",
        "id",
        "kind",
        "direction",
        "counterparty",
        "note",
        "amount",
        "balance",
        "currency",
    ]
    assert rows[1][2] == "opening_balance"
    assert rows[1][7] == "0.00"
    notes = [row[5] for row in rows[2:-1]]
    assert notes == [
        "",
        '\'=HYPERLINK("http://evil.example","click"), "quoted"',
        "line one\nline two",
        "'@SUM(A1:A2)",
    ]
    assert [row[6] for row in rows[2:-1]] == ["100.00", "-12.34", "-0.05", "-0.06"]
    assert rows[3][4] == bob.username
    assert rows[-1][2] == "closing_balance"
    assert rows[-1][7] == "87.55"
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


async def test_a_deposit_key_replays_the_same_transfer(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice = await users.create()
    headers = alice.headers | key()
    first = await client.post("/api/v1/wallet/deposits", json={"amount": usd(700)}, headers=headers)
    again = await client.post("/api/v1/wallet/deposits", json={"amount": usd(700)}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert await api.available(alice) == 700
