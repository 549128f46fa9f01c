"""Many concurrent clients, two pipelines (as two processes would run), reused ids and
retries: every id is applied at most once and every invariant holds afterwards."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from plaza.core.clock import ManualClock
from plaza.core.db import Database
from plaza.core.ids import SnowflakeGenerator
from plaza.payments.ledger import Ledger, LedgerUnavailable, TransferSpec, TransferStatus

S = TransferStatus
CLIENTS = 50
SUBMISSIONS = 12


@pytest.fixture
async def ledgers(database_url: str, clock: ManualClock) -> AsyncIterator[list[Ledger]]:
    # Two databases handles and two pipelines: the row locks (PostgreSQL) or the write
    # lock (SQLite) must keep them from interleaving wrongly.
    dbs = [Database(database_url), Database(database_url)]
    books = [Ledger(db, clock, SnowflakeGenerator(20 + n).next_id) for n, db in enumerate(dbs)]
    for book in books:
        await book.start()
    yield books
    for book in books:
        await book.stop()
    for db in dbs:
        await db.dispose()


async def submit_with_retries(ledger: Ledger, specs: list[TransferSpec]) -> list[S]:
    for _ in range(20):
        try:
            return [r.status for r in await ledger.submit(specs)]
        except LedgerUnavailable:
            await asyncio.sleep(0)  # retry the same ids: safe by design
    raise AssertionError("the ledger stayed unavailable")


async def test_concurrent_clients_apply_each_id_once(ledgers: list[Ledger]) -> None:
    first = ledgers[0]
    bank = await first.system_account("bank")
    fees = await first.system_account("fees")
    wallets = [await first.wallet_of(user) for user in range(1, 21)]
    funding = [TransferSpec(10_000 + n, bank, w, 500, "deposit") for n, w in enumerate(wallets)]
    assert set(await submit_with_retries(first, funding)) == {S.OK}

    rng = random.Random(1234)
    # A shared pool of transfers: clients pick from it, so the same id (with the same
    # fields) arrives many times, concurrently, through both pipelines.
    pool: list[TransferSpec] = []
    for n in range(300):
        payer, payee = rng.sample(wallets, 2)
        target = fees if rng.random() < 0.1 else payee  # a hot account
        pool.append(TransferSpec(20_000 + n, payer, target, rng.randint(1, 120), "p2p"))
    # Some linked pairs (payment + fee) too.
    for n in range(40):
        payer, payee = rng.sample(wallets, 2)
        pool.append(TransferSpec(30_000 + 2 * n, payer, payee, 50, "p2p", linked=True))
        pool.append(TransferSpec(30_001 + 2 * n, payer, fees, 2, "fee"))
    chains = [pool[i : i + 1] for i in range(300)] + [
        pool[300 + 2 * n : 302 + 2 * n] for n in range(40)
    ]
    outcomes: Counter[tuple[int, S]] = Counter()

    async def client(number: int) -> None:
        local = random.Random(number)
        ledger = ledgers[number % 2]
        for _ in range(SUBMISSIONS):
            request = local.choice(chains)
            for spec, status in zip(
                request, await submit_with_retries(ledger, request), strict=True
            ):
                outcomes[spec.id, status] += 1

    await asyncio.gather(*(client(n) for n in range(CLIENTS)))

    stored = await first.lookup([s.id for s in pool])
    for spec in pool:
        oks = outcomes[spec.id, S.OK]
        assert oks == (1 if spec.id in stored else 0), spec
        if spec.id in stored:
            assert stored[spec.id].amount == spec.amount
    for n in range(40):
        pay, fee = pool[300 + 2 * n], pool[301 + 2 * n]
        assert (pay.id in stored) == (fee.id in stored)  # linked pairs: both or neither
    assert sum(outcomes.values()) >= CLIENTS * SUBMISSIONS
    assert all(
        status in {S.OK, S.EXISTS, S.INSUFFICIENT_FUNDS, S.LINKED_EVENT_FAILED}
        for _, status in outcomes
    )

    balances = await first.balances([bank, fees, *wallets])
    assert sum(b.balance for b in balances.values()) == 0
    assert all(balances[w].balance >= 0 for w in wallets)
    moved = sum(s.amount for s in pool if s.id in stored)
    assert balances[fees].balance + sum(balances[w].balance for w in wallets) == 500 * 20
    assert moved > 0
    report = await ledgers[1].verify()
    assert report.ok, report.checks
