"""The ledger through its service: accounts, transfers, two-phase, linked chains, reads,
and verification (SQLite and PostgreSQL, like every test)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from plaza.core.clock import ManualClock
from plaza.core.db import Database
from plaza.core.errors import Conflict, InvalidInput, NotFound
from plaza.core.ids import SnowflakeGenerator
from plaza.payments.ledger import (
    EXPIRY_CODE,
    Ledger,
    LedgerUnavailable,
    TransferSpec,
    TransferStatus,
)

S = TransferStatus
_ids = itertools.count(1)


def tid() -> int:
    return next(_ids)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def ledger(db: Database, clock: ManualClock) -> AsyncIterator[Ledger]:
    book = Ledger(db, clock, SnowflakeGenerator(7).next_id)
    await book.start()
    yield book
    await book.stop()


async def funded(ledger: Ledger, amount: int, user: int = 1, currency: str = "USD") -> int:
    wallet = await ledger.wallet_of(user, currency)
    bank = await ledger.system_account("bank", currency)
    if amount:
        [result] = await ledger.submit([TransferSpec(tid(), bank, wallet, amount, "deposit")])
        assert result.status is S.OK
    return wallet


async def statuses(ledger: Ledger, *specs: TransferSpec) -> list[S]:
    return [r.status for r in await ledger.submit(specs)]


async def test_accounts_open_once(ledger: Ledger) -> None:
    wallet = await ledger.wallet_of(42)
    assert await ledger.wallet_of(42) == wallet
    assert await ledger.wallet_of(42, "EUR") != wallet
    fees = await ledger.system_account("fees")
    assert await ledger.system_account("fees") == fees
    info = (await ledger.accounts([wallet, fees]))[wallet]
    assert info.debits_must_not_exceed_credits
    assert info.owner_id == 42
    assert not (await ledger.accounts([fees]))[fees].debits_must_not_exceed_credits
    # A second Ledger (another process) finds the same accounts in the database.
    other = Ledger(ledger._db, ledger._clock, SnowflakeGenerator(8).next_id)
    assert await other.wallet_of(42) == wallet
    with pytest.raises(Conflict):
        await other.open_account(code="wallet", currency="USD", owner_id=42)
    with pytest.raises(InvalidInput):
        await ledger.wallet_of(42, "XXX")


async def test_posted_transfers_and_balances(ledger: Ledger) -> None:
    alice = await funded(ledger, 1000, user=1)
    bob = await funded(ledger, 0, user=2)
    bank = await ledger.system_account("bank")
    t = tid()
    assert await statuses(ledger, TransferSpec(t, alice, bob, 300, "p2p", {"note": "x"})) == [S.OK]
    balances = await ledger.balances([alice, bob, bank])
    assert (balances[alice].balance, balances[bob].balance) == (700, 300)
    assert balances[bank].balance == -1000  # the bank clearing account may go negative
    record = (await ledger.lookup([t]))[t]
    assert (record.amount, record.kind, record.metadata, record.currency) == (
        300,
        "posted",
        {"note": "x"},
        "USD",
    )


async def test_rejections(ledger: Ledger) -> None:
    alice = await funded(ledger, 100, user=1)
    bob = await funded(ledger, 0, user=2)
    euro = await funded(ledger, 0, user=3, currency="EUR")
    assert await statuses(
        ledger,
        TransferSpec(tid(), alice, bob, 101, "p2p"),
        TransferSpec(tid(), alice, alice, 1, "p2p"),
        TransferSpec(tid(), alice, 999_999, 1, "p2p"),
        TransferSpec(tid(), alice, euro, 1, "p2p"),
        TransferSpec(tid(), alice, bob, 0, "p2p"),
        TransferSpec(tid(), alice, bob, -5, "p2p"),
        TransferSpec(tid(), alice, bob, 1, ""),
        TransferSpec(tid(), alice, bob, 1, EXPIRY_CODE),
        TransferSpec(tid(), alice, bob, 1, "p2p", timeout_seconds=5),
        TransferSpec(0, alice, bob, 1, "p2p"),
        TransferSpec(tid(), alice, bob, 1, "p2p", {"bad": object()}),
    ) == [
        S.INSUFFICIENT_FUNDS,
        S.SAME_ACCOUNT,
        S.ACCOUNT_NOT_FOUND,
        S.CURRENCY_MISMATCH,
        S.INVALID_AMOUNT,
        S.INVALID_AMOUNT,
        S.INVALID_CODE,
        S.INVALID_CODE,
        S.INVALID_TIMEOUT,
        S.INVALID_ID,
        S.INVALID_METADATA,
    ]
    # Nothing moved, and all 100 can still go.
    assert await statuses(ledger, TransferSpec(tid(), alice, bob, 100, "p2p")) == [S.OK]
    assert (await ledger.balance(alice)).balance == 0
    with pytest.raises(NotFound):
        await ledger.balance(123)


async def test_credits_must_not_exceed_debits(ledger: Ledger) -> None:
    limit = await ledger.open_account(
        code="credit_line", currency="USD", name="line", credits_must_not_exceed_debits=True
    )
    bank = await ledger.system_account("bank")
    assert await statuses(ledger, TransferSpec(tid(), bank, limit, 1, "x")) == [S.EXCEEDS_CREDITS]
    assert await statuses(
        ledger, TransferSpec(tid(), limit, bank, 50, "x"), TransferSpec(tid(), bank, limit, 50, "x")
    ) == [S.OK, S.OK]


async def test_same_id_is_idempotent(ledger: Ledger) -> None:
    alice = await funded(ledger, 100, user=1)
    bob = await funded(ledger, 0, user=2)
    t = tid()
    spec = TransferSpec(t, alice, bob, 60, "p2p", {"a": 1})
    assert await statuses(ledger, spec, spec) == [S.OK, S.EXISTS]
    assert await statuses(ledger, spec) == [S.EXISTS]
    assert await statuses(ledger, TransferSpec(t, alice, bob, 61, "p2p", {"a": 1})) == [
        S.EXISTS_WITH_DIFFERENT_FIELDS
    ]
    assert await statuses(ledger, TransferSpec(t, alice, bob, 60, "p2p", {"a": 2})) == [
        S.EXISTS_WITH_DIFFERENT_FIELDS
    ]
    assert (await ledger.balance(bob)).balance == 60


async def test_pending_post_in_part_then_resolved_once(ledger: Ledger) -> None:
    alice = await funded(ledger, 100, user=1)
    bob = await funded(ledger, 0, user=2)
    hold = tid()
    assert await statuses(ledger, TransferSpec(hold, alice, bob, 80, "hold", pending=True)) == [
        S.OK
    ]
    balance = await ledger.balance(alice)
    assert (balance.balance, balance.available, balance.debits_pending) == (100, 20, 80)
    # The reservation counts: 21 more does not fit.
    assert await statuses(ledger, TransferSpec(tid(), alice, bob, 21, "p2p")) == [
        S.INSUFFICIENT_FUNDS
    ]
    assert await statuses(
        ledger,
        TransferSpec(tid(), 0, 0, 81, "settle", post_pending_id=hold),
        TransferSpec(tid(), bob, alice, 0, "settle", post_pending_id=hold),
        TransferSpec(tid(), 0, 0, 0, "settle", post_pending_id=hold + 10_000),
        TransferSpec(tid(), 0, 0, 30, "settle", post_pending_id=hold),
        TransferSpec(tid(), 0, 0, 0, "settle", post_pending_id=hold),
        TransferSpec(tid(), 0, 0, 0, "void", void_pending_id=hold),
    ) == [
        S.EXCEEDS_PENDING_AMOUNT,
        S.PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS,
        S.PENDING_TRANSFER_NOT_FOUND,
        S.OK,
        S.PENDING_TRANSFER_ALREADY_POSTED,
        S.PENDING_TRANSFER_ALREADY_POSTED,
    ]
    balances = await ledger.balances([alice, bob])
    assert (balances[alice].balance, balances[alice].debits_pending) == (70, 0)
    assert (balances[bob].balance, balances[bob].credits_pending) == (30, 0)
    assert (await ledger.verify()).ok


async def test_void_releases_the_reservation(ledger: Ledger) -> None:
    alice = await funded(ledger, 100, user=1)
    bob = await funded(ledger, 0, user=2)
    hold = tid()
    assert await statuses(
        ledger,
        TransferSpec(hold, alice, bob, 100, "hold", pending=True),
        TransferSpec(tid(), 0, 0, 99, "void", void_pending_id=hold),
        TransferSpec(tid(), alice, bob, 0, "void", void_pending_id=hold),
        TransferSpec(tid(), 0, 0, 0, "void", void_pending_id=hold),
        TransferSpec(tid(), 0, 0, 0, "settle", post_pending_id=hold),
    ) == [
        S.OK,
        S.INVALID_AMOUNT,
        S.OK,
        S.PENDING_TRANSFER_ALREADY_VOIDED,
        S.PENDING_TRANSFER_ALREADY_VOIDED,
    ]
    assert (await ledger.balance(alice)).available == 100


async def test_pending_expires_on_access_and_by_the_job(ledger: Ledger, clock: ManualClock) -> None:
    alice = await funded(ledger, 100, user=1)
    bob = await funded(ledger, 0, user=2)
    first, second = tid(), tid()
    assert await statuses(
        ledger,
        TransferSpec(first, alice, bob, 30, "hold", pending=True, timeout_seconds=60),
        TransferSpec(second, alice, bob, 40, "hold", pending=True, timeout_seconds=120),
    ) == [S.OK, S.OK]
    clock.advance(timedelta(seconds=59))
    assert await ledger.expire_pending() == 0
    clock.advance(timedelta(seconds=1))
    # On access: the post fails and the hold is voided there and then.
    assert await statuses(ledger, TransferSpec(tid(), 0, 0, 0, "x", post_pending_id=first)) == [
        S.PENDING_TRANSFER_EXPIRED
    ]
    assert (await ledger.balance(alice)).debits_pending == 40
    assert await statuses(ledger, TransferSpec(tid(), 0, 0, 0, "x", void_pending_id=first)) == [
        S.PENDING_TRANSFER_EXPIRED
    ]
    clock.advance(timedelta(seconds=60))
    assert await ledger.expire_pending() == 1
    assert await ledger.expire_pending() == 0
    balance = await ledger.balance(alice)
    assert (balance.balance, balance.available) == (100, 100)
    voids = await ledger.resolution_of([first, second])
    assert {v.code for v in voids.values()} == {EXPIRY_CODE}
    assert {v.kind for v in voids.values()} == {"void_pending"}
    report = await ledger.verify()
    assert report.ok
    assert report.counts["pending_open"] == 0


async def test_linked_chain_is_all_or_nothing(ledger: Ledger) -> None:
    alice = await funded(ledger, 100, user=1)
    bob = await funded(ledger, 0, user=2)
    fees = await ledger.system_account("fees")
    pay, fee = tid(), tid()
    # The fee does not fit: the payment before it is undone too.
    assert await statuses(
        ledger,
        TransferSpec(pay, alice, bob, 95, "p2p", linked=True),
        TransferSpec(fee, alice, fees, 10, "fee"),
        TransferSpec(tid(), alice, bob, 1, "p2p"),
    ) == [S.LINKED_EVENT_FAILED, S.INSUFFICIENT_FUNDS, S.OK]
    assert await ledger.lookup([pay, fee]) == {}
    assert (await ledger.balance(alice)).balance == 99
    chain = [
        TransferSpec(pay, alice, bob, 90, "p2p", linked=True),
        TransferSpec(fee, alice, fees, 9, "fee"),
    ]
    assert await statuses(ledger, *chain) == [S.OK, S.OK]
    # A retried chain answers EXISTS for every member.
    assert await statuses(ledger, *chain) == [S.EXISTS, S.EXISTS]
    # A chain left open at the end of a request is refused whole.
    assert await statuses(
        ledger,
        TransferSpec(tid(), bob, alice, 1, "p2p", linked=True),
        TransferSpec(tid(), bob, alice, 1, "p2p", linked=True),
    ) == [S.LINKED_EVENT_FAILED, S.LINKED_EVENT_CHAIN_OPEN]
    # Pending then post of it inside one chain.
    hold = tid()
    assert await statuses(
        ledger,
        TransferSpec(hold, bob, alice, 10, "hold", pending=True, linked=True),
        TransferSpec(tid(), 0, 0, 0, "settle", post_pending_id=hold),
    ) == [S.OK, S.OK]
    assert (await ledger.balance(bob)).balance == 1 + 90 - 10
    assert (await ledger.verify()).ok


async def test_history_pages_and_filters(ledger: Ledger, clock: ManualClock) -> None:
    alice = await funded(ledger, 1000, user=1)
    bob = await funded(ledger, 0, user=2)
    start = clock.now()
    made = []
    for n in range(5):
        clock.advance(timedelta(minutes=1))
        t = tid()
        code = "p2p" if n % 2 == 0 else "fee"
        assert await statuses(ledger, TransferSpec(t, alice, bob, n + 1, code)) == [S.OK]
        made.append(t)
    page = await ledger.history(bob, before_id=None, limit=2)
    assert [r.id for r in page] == made[::-1][:2]
    page = await ledger.history(bob, before_id=page[-1].id, limit=10)
    assert [r.id for r in page] == made[::-1][2:]
    fees = await ledger.history(bob, before_id=None, limit=10, codes=["fee"])
    assert [r.id for r in fees] == [made[3], made[1]]
    window = await ledger.history(
        bob,
        before_id=None,
        limit=10,
        since=start + timedelta(minutes=2),
        until=start + timedelta(minutes=4),
    )
    assert [r.id for r in window] == [made[2], made[1]]
    assert len(await ledger.history(alice, before_id=None, limit=10)) == 6  # with the deposit


async def test_transfers_cannot_be_edited(ledger: Ledger, db: Database) -> None:
    alice = await funded(ledger, 10, user=1)
    del alice
    for statement in (
        "UPDATE ledger_transfer SET amount = amount + 1",
        "DELETE FROM ledger_transfer",
    ):
        async with db.session() as session:
            with pytest.raises(DBAPIError, match="immutable"):
                await session.execute(text(statement))


async def test_verify_finds_a_tampered_balance(ledger: Ledger, db: Database) -> None:
    alice = await funded(ledger, 10, user=1)
    assert (await ledger.verify()).ok
    async with db.session() as session:
        await session.execute(
            text("UPDATE ledger_account SET credits_posted = 11 WHERE id = :id"), {"id": alice}
        )
        await session.commit()
    report = await ledger.verify()
    failed = {name for name, passed, _ in report.checks if not passed}
    assert failed == {
        "stored balances equal the replay of their transfers",
        "balances sum to zero per currency",
    }


async def test_submit_in_joins_the_callers_transaction(ledger: Ledger, db: Database) -> None:
    alice = await funded(ledger, 50, user=1)
    bob = await funded(ledger, 0, user=2)
    rolled_back, kept = tid(), tid()
    async with db.session() as session:
        [result] = await ledger.submit_in(session, [TransferSpec(rolled_back, alice, bob, 50, "x")])
        assert result.status is S.OK
        await session.rollback()
    async with db.session() as session:
        [result] = await ledger.submit_in(session, [TransferSpec(kept, alice, bob, 20, "x")])
        assert result.status is S.OK
        await session.commit()
    assert set(await ledger.lookup([rolled_back, kept])) == {kept}
    assert (await ledger.balance(bob)).balance == 20
    assert (await ledger.verify()).ok


async def test_a_stopped_ledger_refuses_with_a_retryable_error(ledger: Ledger) -> None:
    alice = await funded(ledger, 5, user=1)
    await ledger.stop()
    with pytest.raises(LedgerUnavailable):
        await ledger.submit([TransferSpec(tid(), alice, alice + 1, 1, "x")])
    await ledger.start()


async def test_a_failed_batch_applies_nothing_and_is_retried(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plaza.payments.ledger import pipeline

    alice = await funded(ledger, 100, user=1)
    bob = await funded(ledger, 0, user=2)
    real = pipeline.run_batch
    failures = {"left": 1}

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        results = await real(*args, **kwargs)  # rows written, not yet committed
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("the database went away mid-batch")
        return results

    monkeypatch.setattr(pipeline, "run_batch", flaky)
    # One failure: retried inside the pipeline, applied once.
    first = tid()
    assert await statuses(ledger, TransferSpec(first, alice, bob, 10, "p2p")) == [S.OK]
    # Failing every attempt: every request of the batch fails, retryably, and nothing of
    # it is left behind.
    failures["left"] = 100
    specs = [TransferSpec(tid(), alice, bob, 5, "p2p") for _ in range(3)]
    outcomes = await asyncio.gather(
        *(ledger.submit([spec]) for spec in specs), return_exceptions=True
    )
    assert all(isinstance(o, LedgerUnavailable) for o in outcomes)
    assert await ledger.lookup([s.id for s in specs]) == {}
    assert (await ledger.balance(alice)).balance == 90
    # The same ids go through once the database is back.
    failures["left"] = 0
    assert await statuses(ledger, *specs) == [S.OK] * 3
    assert (await ledger.verify()).ok
