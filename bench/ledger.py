"""Ledger throughput: P2P transfers per second with durable commits, through Plaza's
group-commit pipeline beside a naive one-transaction-per-transfer ledger, same run.

For each database (SQLite with ``synchronous=FULL``, PostgreSQL with its default
``synchronous_commit=on``) on a fresh database: 10,000 wallets funded from a bank
account and one fee account. ``--clients`` asyncio tasks in this process each submit
one transfer at a time (payer and payee at random; 10% of transfers credit the fee
account instead: a hot account), measuring each call's latency.

- ``pipeline``: ``Ledger.submit`` (plaza.payments.ledger): requests queue up, one task
  applies each batch in memory and commits it in one transaction.
- ``naive``: the textbook version, written here: per transfer one transaction that
  checks the id, reads (on PostgreSQL locks, in id order) both accounts, checks the
  funds, inserts the transfer and updates both balances, then commits. Same tables,
  same rows, same durability, SQLAlchemy Core.

Reported: transfers/s, p50/p99 latency, the ratio, and where the pipeline's time goes
(per-batch phases: load = reads and row locks, apply = the rules in Python, write =
inserts and balance updates, commit = the durable commit, i.e. the fsync), and the CPU
this process used.

    .venv/bin/python -m bench.ledger [--backends sqlite,postgres] [--seconds 10]
        [--clients 256,1024] [--naive-clients 32] [--accounts 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import uvloop
from sqlalchemy import insert, select, update

from bench._common import backend, exit_on_sigterm, table
from bench._system import machine, wait_quiet
from plaza.core import migrations
from plaza.core.clock import SystemClock
from plaza.core.db import Database
from plaza.core.ids import SnowflakeGenerator
from plaza.payments.ledger import Ledger, TransferSpec, TransferStatus
from plaza.payments.ledger.engine import prepare
from plaza.payments.ledger.models import account_table as A
from plaza.payments.ledger.models import transfer_table as T

GOAL_TPS = 10_000
GOAL_P99_MS = 50.0
GOAL_RATIO = 10.0
FUNDS = 10**9


@dataclass
class Result:
    backend: str
    impl: str
    clients: int
    transfers: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float
    rejected: int

    @property
    def tps(self) -> float:
        return self.transfers / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


async def setup(db: Database, ids: SnowflakeGenerator, accounts: int) -> tuple[int, int, list[int]]:
    """The accounts, inserted in bulk (set-up is not what is measured)."""
    now = datetime.now(UTC)

    def account(owner: int | None, name: str | None, no_overdraft: bool) -> dict[str, Any]:
        return {
            "id": ids.next_id(),
            "code": "wallet" if owner else "system",
            "currency": "USD",
            "owner_id": owner,
            "name": name,
            "debits_must_not_exceed_credits": no_overdraft,
            "credits_must_not_exceed_debits": False,
            "debits_posted": 0,
            "credits_posted": 0,
            "debits_pending": 0,
            "credits_pending": 0,
            "created_at": now,
        }

    bank, fees = account(None, "bank", False), account(None, "fees", False)
    wallets = [account(n + 1, None, True) for n in range(accounts)]
    async with db.session() as session:
        await session.execute(insert(A), [bank, fees, *wallets])
        await session.commit()
    return bank["id"], fees["id"], [w["id"] for w in wallets]


async def fund(ledger: Ledger, ids: SnowflakeGenerator, bank: int, wallets: list[int]) -> None:
    for start in range(0, len(wallets), 2000):
        specs = [
            TransferSpec(ids.next_id(), bank, w, FUNDS, "deposit")
            for w in wallets[start : start + 2000]
        ]
        results = await ledger.submit(specs)
        assert {r.status for r in results} == {TransferStatus.OK}


class Naive:
    """One transaction per transfer (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.postgres = not db.is_sqlite

    async def submit(self, spec: TransferSpec) -> TransferStatus:
        prepared = prepare(spec)
        now = datetime.now(UTC)
        async with self.db.engine.connect() as conn:
            await conn.begin()
            if (await conn.execute(select(T.c.id).where(T.c.id == spec.id))).first():
                return TransferStatus.EXISTS
            query = (
                select(
                    A.c.id,
                    A.c.debits_must_not_exceed_credits,
                    A.c.debits_posted,
                    A.c.credits_posted,
                    A.c.debits_pending,
                )
                .where(A.c.id.in_([spec.debit_account_id, spec.credit_account_id]))
                .order_by(A.c.id)
            )
            if self.postgres:
                query = query.with_for_update()
            rows = {r.id: r for r in await conn.execute(query)}
            dr = rows[spec.debit_account_id]
            if dr[1] and dr[2] + dr[4] + spec.amount > dr[3]:
                return TransferStatus.INSUFFICIENT_FUNDS
            await conn.execute(
                insert(T).values(
                    id=spec.id,
                    debit_account_id=spec.debit_account_id,
                    credit_account_id=spec.credit_account_id,
                    amount=spec.amount,
                    currency="USD",
                    code=spec.code,
                    metadata_json=prepared.metadata_json,
                    kind="posted",
                    pending_id=None,
                    timeout_at=None,
                    fingerprint=prepared.fingerprint,
                    created_at=now,
                )
            )
            await conn.execute(
                update(A)
                .where(A.c.id == spec.debit_account_id)
                .values(debits_posted=A.c.debits_posted + spec.amount)
            )
            await conn.execute(
                update(A)
                .where(A.c.id == spec.credit_account_id)
                .values(credits_posted=A.c.credits_posted + spec.amount)
            )
            await conn.commit()
        return TransferStatus.OK


async def load(
    name: str,
    impl: str,
    submit: Callable[[TransferSpec], Awaitable[TransferStatus]],
    ids: SnowflakeGenerator,
    fees: int,
    wallets: list[int],
    clients: int,
    seconds: float,
) -> Result:
    latencies: list[float] = []
    count = rejected = 0
    measuring = False
    stop_at = time.monotonic() + 1.0 + seconds  # one second of warm-up

    async def client(seed: int) -> None:
        nonlocal count, rejected
        rng = random.Random(seed)
        while time.monotonic() < stop_at:
            payer, payee = rng.sample(wallets, 2)
            credit = fees if rng.random() < 0.1 else payee
            spec = TransferSpec(ids.next_id(), payer, credit, rng.randint(1, 1000), "p2p")
            started = time.perf_counter()
            status = await submit(spec)
            if measuring:
                latencies.append(time.perf_counter() - started)
                count += 1
                rejected += status is not TransferStatus.OK

    async def clock() -> tuple[float, float]:
        nonlocal measuring
        await asyncio.sleep(1.0)
        measuring = True
        cpu0, t0 = _cpu(), time.perf_counter()
        await asyncio.sleep(seconds)
        measuring = False
        return _cpu() - cpu0, time.perf_counter() - t0

    tasks = [asyncio.create_task(client(n)) for n in range(clients)]
    cpu, elapsed = await clock()
    await asyncio.gather(*tasks)
    return Result(name, impl, clients, count, elapsed, latencies, cpu, rejected)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_backend(name: str, args: argparse.Namespace) -> tuple[list[Result], str]:
    with backend(name) as b:
        await asyncio.to_thread(migrations.upgrade, b.url)
        db = Database(b.url, pool_size=max(10, args.naive_clients))
        ids = SnowflakeGenerator(1)
        ledger = Ledger(db, SystemClock(), ids.next_id)
        await ledger.start()
        try:
            bank, fees, wallets = await setup(db, ids, args.accounts)
            await fund(ledger, ids, bank, wallets)
            wait_quiet(30)
            times = ledger.pipeline.times
            before = (
                times.batches,
                times.specs,
                times.load,
                times.apply,
                times.write,
                times.commit,
            )

            async def piped(spec: TransferSpec) -> TransferStatus:
                [result] = await ledger.submit([spec])
                return result.status

            results = []
            for clients in (int(c) for c in args.clients.split(",")):
                results.append(
                    await load(name, "pipeline", piped, ids, fees, wallets, clients, args.seconds)
                )
            after = (times.batches, times.specs, times.load, times.apply, times.write, times.commit)
            batches = after[0] - before[0]
            specs = after[1] - before[1]
            phases = [after[i] - before[i] for i in range(2, 6)]
            wait_quiet(30)
            naive = Naive(db)
            results.append(
                await load(
                    name,
                    "naive",
                    naive.submit,
                    ids,
                    fees,
                    wallets,
                    args.naive_clients,
                    args.seconds,
                )
            )
            report = await ledger.verify()
            assert report.ok, report.checks
        finally:
            await ledger.stop()
            await db.dispose()
    total = sum(phases)
    profile = (
        f"{name}: {batches} batches incl. warm-up, {specs / max(1, batches):.0f} transfers per "
        f"batch on average; per batch: "
        + ", ".join(
            f"{label} {1000 * p / max(1, batches):.1f} ms ({100 * p / max(total, 1e-9):.0f}%)"
            for label, p in zip(("load", "apply", "write", "commit"), phases, strict=True)
        )
        + f"; {1e6 * phases[1] / max(1, specs):.1f} µs of Python rules per transfer"
    )
    return results, profile


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", default="256", help="pipeline clients, e.g. 64,256,1024")
    parser.add_argument("--naive-clients", type=int, default=32)
    parser.add_argument("--accounts", type=int, default=10_000)
    args = parser.parse_args(argv)
    exit_on_sigterm()
    print(machine(), flush=True)
    rows, profiles = [], []
    for name in args.backends.split(","):
        results, profile = uvloop.run(run_backend(name, args))
        profiles.append(profile)
        naive = results[-1]
        for r in results:
            rows.append(
                [
                    r.backend,
                    r.impl,
                    r.clients,
                    round(r.tps),
                    r.pct(0.5),
                    r.pct(0.99),
                    f"{r.tps / naive.tps:.1f}x",
                    f"{100 * r.cpu_seconds / r.seconds:.0f}",
                    r.rejected,
                ]
            )
        print(f"{name} done", flush=True)
    print(
        table(
            [
                "db",
                "impl",
                "clients",
                "transfers/s",
                "p50 ms",
                "p99 ms",
                "vs naive",
                "cpu %",
                "rejected",
            ],
            rows,
        )
    )
    print("\nWhere the pipeline's time goes:")
    for p in profiles:
        print("- " + p)
    print(f"\nGoals: >= {GOAL_TPS}/s, p99 < {GOAL_P99_MS} ms, >= {GOAL_RATIO}x naive.")


if __name__ == "__main__":
    main()
