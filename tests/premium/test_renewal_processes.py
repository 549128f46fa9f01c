"""Two processes run the renewal job at the same moment on the same due subscriptions:
every subscription is charged exactly once, and (on PostgreSQL, where due rows are
claimed with ``FOR UPDATE SKIP LOCKED``) both processes share the work.

Each process builds and starts Plaza from the environment on the suite's database,
says READY, and waits on its stdin; the test starts the renewal in both by writing to
both stdins at once (the start barrier). Runs on PostgreSQL in CI's second pass, and on
SQLite in the first: SQLite has one writer at a time, so there the processes take
turns (or one does everything); exactly once must hold all the same.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson
import pytest

from plaza.config import Settings
from tests.conftest import PG_URL
from tests.premium.seed import (
    REPO,
    SETTINGS,
    check_renewed_once,
    finish,
    plaza_command,
    plaza_env,
    read_state,
    seed_due_subscriptions,
    verify_ledger,
)

COUNT = 3_000
BATCH = 75  # 40 transactions to share
WORKER = """
import asyncio, sys, orjson
from plaza.app import build, start, stop
from plaza.config import Settings

async def main() -> None:
    plaza = build(Settings())
    lease = await start(plaza)
    try:
        # Open what the first batch would open, so that both start level at the barrier.
        await plaza.billing.charger.revenue_account()
        print("READY", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        report = await plaza.billing.renew_due()
        print(orjson.dumps(report.__dict__).decode(), flush=True)
    finally:
        await stop(plaza, lease)

asyncio.run(main())
"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update=SETTINGS)


async def test_two_processes_renewing_at_once_charge_each_subscription_once(
    plaza: Any, settings: Settings
) -> None:
    db, ledger = plaza.db, plaza.ledger
    seeded = await seed_due_subscriptions(
        db, ledger, plaza.ids.next_id, count=COUNT, cancelling_every=100
    )
    env = plaza_env(settings, PLAZA_PREMIUM_RENEWAL_BATCH=str(BATCH))
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER,
            env=env,
            cwd=REPO,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        for proc in workers:
            assert proc.stdout is not None
            assert proc.stderr is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 120)
            assert line == b"READY\n", line + await proc.stderr.read()
        for proc in workers:  # go
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
        await asyncio.gather(*(p.stdin.drain() for p in workers if p.stdin))
        reports = []
        for proc in workers:
            out, err = await asyncio.wait_for(proc.communicate(), 300)
            assert proc.returncode == 0, err.decode()
            reports.append(orjson.loads(out.splitlines()[-1]))
    finally:
        for proc in workers:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    print(f"renewal reports of the two processes: {reports}")  # shown with -s or on failure
    total = {k: sum(r[k] for r in reports) for k in ("charged", "failed", "expired")}
    assert total == {
        "charged": len(seeded.funded),
        "failed": len(seeded.unfunded),
        "expired": len(seeded.cancelling),
    }
    if PG_URL:
        # SKIP LOCKED lets the second process claim the next batch while the first
        # holds its own: both must have charged some.
        assert all(r["charged"] > 0 for r in reports), reports

    check_renewed_once(seeded, await read_state(db, seeded))
    await verify_ledger(ledger)
    verified = await finish(await plaza_command(env, "ledger", "verify"), timeout=120)
    assert "every transfer balances" in verified
