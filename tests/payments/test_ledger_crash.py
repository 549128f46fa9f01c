"""Crash safety: SIGKILL a process running the pipeline under load, restart, and find
every acknowledged transfer stored exactly once with every invariant intact."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from plaza.config import Settings
from plaza.core.clock import SystemClock
from plaza.core.db import Database
from plaza.core.ids import SnowflakeGenerator
from plaza.payments.ledger import Ledger
from tests.conftest import REDIS_URL

WORKER = Path(__file__).with_name("ledger_crash_worker.py")
REPO = Path(__file__).resolve().parents[2]


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAZA_")}
    env.update(
        PLAZA_DATABASE_URL=settings.resolved_database_url,
        PLAZA_DATA_DIR=str(settings.data_dir),
        PLAZA_SECRET_KEY=settings.secret_key or "",
        PLAZA_REDIS_PREFIX=settings.redis_prefix,
        PLAZA_AUTO_MIGRATE="false",
        PLAZA_LOG_LEVEL="WARNING",
        PLAZA_LOG_JSON="false",
        PYTHONPATH=str(REPO),
    )
    if REDIS_URL:
        env["PLAZA_REDIS_URL"] = REDIS_URL
    return env


async def _run_and_kill(env: dict[str, str], acks_wanted: int) -> list[int]:
    """Start the worker, wait for ``acks_wanted`` acknowledgements, SIGKILL it, and
    return every id it acknowledged (reading what it printed up to its death)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    acked: list[int] = []
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        assert line == b"READY\n", line + await proc.stderr.read()
        while len(acked) < acks_wanted:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line.startswith(b"ACK "), line + await proc.stderr.read()
            acked.append(int(line.split()[1]))
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
    # Whatever was printed before the kill was acknowledged too.
    rest = await asyncio.wait_for(proc.stdout.read(), 60)
    acked += [int(line.split()[1]) for line in rest.splitlines() if line.startswith(b"ACK ")]
    await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return acked


async def test_acknowledged_transfers_survive_kill_9(settings: Settings) -> None:
    env = _env(settings)
    acked = await _run_and_kill(env, 400)
    # The restarted worker works on the same database, then dies the same way.
    acked += await _run_and_kill(env, 100)
    assert len(acked) == len(set(acked)) >= 500

    db = Database(settings.resolved_database_url)
    ledger = Ledger(db, SystemClock(), SnowflakeGenerator(900).next_id)
    try:
        stored = await ledger.lookup(acked)
        missing = set(acked) - set(stored)
        assert not missing, f"{len(missing)} acknowledged transfers lost"
        report = await ledger.verify()
        assert report.ok, report.checks
        wallets = [await ledger.wallet_of(user) for user in range(1, 21)]
        bank = await ledger.system_account("bank")
        fees = await ledger.system_account("fees")
        balances = await ledger.balances([bank, fees, *wallets])
        assert sum(b.balance for b in balances.values()) == 0
        assert min(balances[w].balance for w in wallets) >= 0
        assert balances[bank].balance == -20 * 100_000  # funded once, despite the restart
    finally:
        await db.dispose()

    verify = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "plaza.cli",
        "ledger",
        "verify",
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(verify.communicate(), 120)
    assert verify.returncode == 0, output.decode()
    assert b"every transfer balances" in output
