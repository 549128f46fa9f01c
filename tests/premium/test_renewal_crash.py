"""Crash safety of renewals: ``plaza premium renew`` killed with SIGKILL in the middle
of a run, three times, then run again to the end. Nobody is charged twice, nobody is missed,
and ``plaza ledger verify`` passes.

Runs on the suite's database (SQLite, or PostgreSQL in CI's second pass). The due
subscriptions are seeded in bulk (``tests/premium/seed.py``); the renewal runs in a
subprocess on the same database, with small batches (a transaction each), so that
the kills land between the first and the last commit, and each inside a transaction
(at a random point of it): what that transaction did must vanish whole.
"""

from __future__ import annotations

import asyncio
import random
import re
import signal
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import make_url, text

from plaza.config import Settings
from plaza.core.clock import ManualClock
from plaza.core.db import Database
from plaza.premium import RenewalReport
from tests.premium.seed import (
    SETTINGS,
    Seeded,
    check_money_matches_invoices,
    check_renewed_once,
    finish,
    plaza_command,
    plaza_env,
    read_state,
    renewal_invoices,
    seed_due_subscriptions,
    verify_ledger,
)

COUNT = 2_000
BATCH = 40  # 50 transactions for the 2,000: room for kills between the first and last


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update=SETTINGS)


def renew_report(output: str) -> tuple[int, int, int]:
    found = re.search(r"renewed (\d+), failed (\d+), expired (\d+)", output)
    assert found, output
    charged, failed, expired = (int(x) for x in found.groups())
    return charged, failed, expired


async def settled(db: Database) -> None:
    """On PostgreSQL, wait (bounded) until no other backend holds locks on subscriptions:
    the killed process's backend aborts its transaction once it notices the closed
    connection, and a run started before that would skip its rows (SKIP LOCKED)."""
    if db.is_sqlite:
        return  # a killed writer's transaction is gone with its process
    query = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname = 'premium_subscription' AND l.pid <> pg_backend_pid() "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    for _ in range(500):
        async with db.session(write=False) as session:
            if not await session.scalar(query):
                return
        await asyncio.sleep(0.02)
    raise AssertionError("a killed process's transaction still holds subscription rows")


def _sqlite_writer_busy(path: str) -> bool:
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:  # "database is locked": a writer is mid-transaction
        return True
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        connection.close()
    return False


async def renewing_now(db: Database) -> bool:
    """Whether a renewal transaction is open at this instant: on SQLite, someone holds
    the write lock (only the renewal writes here); on PostgreSQL, a backend holds the
    claim (``FOR UPDATE``) on subscription rows."""
    if db.is_sqlite:
        return _sqlite_writer_busy(make_url(db.url).database or "")
    query = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname = 'premium_subscription' AND l.mode = 'RowShareLock' "
        "AND l.pid <> pg_backend_pid() "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    async with db.session(write=False) as session:
        return bool(await session.scalar(query))


@dataclass
class Kill:
    committed: int  # period-1 invoices committed when the process died
    mid_transaction: bool  # a renewal transaction was open when the signal was sent


async def run_and_kill(
    env: dict[str, str], plaza: Any, seeded: Seeded, at_least: int, rng: random.Random
) -> Kill:
    """Start ``plaza premium renew`` and SIGKILL it once ``at_least`` period-1 invoices
    are committed: after a random part of a batch's duration (so that the kill does not
    always follow a commit), at a moment when a renewal transaction is open."""
    proc = await plaza_command(env, "premium", "renew")
    mid_transaction = False
    try:
        base = await renewal_invoices(plaza.db, seeded)
        first_progress: float | None = None
        loop = asyncio.get_running_loop()
        while (seen := await renewal_invoices(plaza.db, seeded)) < at_least:
            if proc.returncode is not None:
                output = (await proc.communicate())[0].decode()
                pytest.fail(
                    f"the renewal exited ({proc.returncode}) with {seen} renewals committed, "
                    f"before {at_least} were: nothing to kill\n{output}"
                )
            if first_progress is None and seen > base:
                first_progress, base = loop.time(), seen
            await asyncio.sleep(0.005)  # polling the committed count
        batch_seconds = 0.1
        if first_progress is not None and seen > base:
            batch_seconds = (loop.time() - first_progress) / ((seen - base) / BATCH)
        await asyncio.sleep(rng.uniform(0, batch_seconds))  # fault injection, not a sync
        for _ in range(400):
            if mid_transaction := await renewing_now(plaza.db):
                break
            await asyncio.sleep(0.002)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 60)
    assert proc.returncode == -signal.SIGKILL, (await proc.communicate())[0].decode()
    await settled(plaza.db)
    return Kill(await renewal_invoices(plaza.db, seeded), mid_transaction)


async def test_a_renewal_killed_three_times_then_rerun_charges_everyone_once(
    plaza: Any, settings: Settings, clock: ManualClock
) -> None:
    seeded = await seed_due_subscriptions(
        plaza.db, plaza.ledger, plaza.ids.next_id, count=COUNT, cancelling_every=100
    )
    to_renew = len(seeded.funded) + len(seeded.unfunded)  # each gets a period-1 invoice
    env = plaza_env(settings, PLAZA_PREMIUM_RENEWAL_BATCH=str(BATCH))
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)  # where in a batch each kill lands
    print(f"random seed {seed}")  # shown with -s or on failure

    kills: list[Kill] = []
    paid = 0
    for share in (0.2, 0.45, 0.7):
        floor = kills[-1].committed + 1 if kills else 1
        kill = await run_and_kill(env, plaza, seeded, max(floor, int(to_renew * share)), rng)
        kills.append(kill)
        assert kill.committed < to_renew, (
            f"the kill came after the last renewal ({kills}): it interrupted nothing; "
            "seed more subscriptions or use smaller batches"
        )
        # Whatever a killed run left is whole: each committed renewal has its one charge
        # and its invoice, and nothing else moved (no charge without its invoice, no
        # invoice without its charge, nothing left reserved).
        state = await read_state(plaza.db, seeded)
        renewed = check_money_matches_invoices(seeded, state)
        assert paid < renewed < len(seeded.funded), (paid, renewed, kills)
        paid = renewed
    print(f"kills: {kills}")
    assert any(k.mid_transaction for k in kills), f"no kill hit an open transaction: {kills}"

    output = await finish(await plaza_command(env, "premium", "renew"))
    charged, failed, expired = renew_report(output)
    state = await read_state(plaza.db, seeded)
    check_renewed_once(seeded, state)
    # The last run did exactly what the killed ones left undone.
    assert charged == len(seeded.funded) - paid
    assert charged + failed == to_renew - kills[-1].committed
    assert expired <= len(seeded.cancelling)

    # Nothing is due any more: one more run (here, in the test's process, at the wall
    # clock's time) charges nobody.
    clock.set(datetime.now(UTC))
    assert await plaza.billing.renew_due() == RenewalReport(0, 0, 0)
    assert await read_state(plaza.db, seeded) == state

    await verify_ledger(plaza.ledger)
    verified = await finish(await plaza_command(env, "ledger", "verify"), timeout=120)
    assert "every transfer balances" in verified
