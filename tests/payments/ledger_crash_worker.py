"""A process that runs the ledger pipeline under load until it is killed.

Used by ``test_ledger_crash.py``: it builds and starts Plaza from the environment
(``PLAZA_*``), funds a few wallets, then keeps concurrent clients submitting P2P
transfers and prints ``ACK <id>`` for each transfer the ledger confirmed (``ok``), flushed
at once, so that the test knows what was acknowledged when it sends SIGKILL.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Callable

from plaza.app import build, start, stop
from plaza.config import Settings
from plaza.payments import Ledger, LedgerUnavailable, TransferSpec, TransferStatus

WALLETS = 20
CLIENTS = 30


async def client(
    ledger: Ledger, wallets: list[int], fees: int, seed: int, new_id: Callable[[], int]
) -> None:
    rng = random.Random(seed)
    while True:
        payer, payee = rng.sample(wallets, 2)
        credit = fees if rng.random() < 0.1 else payee
        spec = TransferSpec(new_id(), payer, credit, rng.randint(1, 50), "p2p")
        try:
            [result] = await ledger.submit([spec])
        except LedgerUnavailable:
            continue
        if result.status is TransferStatus.OK:
            sys.stdout.write(f"ACK {spec.id}\n")
            sys.stdout.flush()


async def main() -> None:
    plaza = build(Settings())
    lease = await start(plaza)
    try:
        ledger = plaza.ledger
        bank = await ledger.system_account("bank")
        fees = await ledger.system_account("fees")
        wallets = [await ledger.wallet_of(user) for user in range(1, WALLETS + 1)]
        # Fixed ids: a restarted worker funds nothing twice.
        await ledger.submit(
            [TransferSpec(1_000 + n, bank, w, 100_000, "deposit") for n, w in enumerate(wallets)]
        )
        print("READY", flush=True)
        await asyncio.gather(
            *(client(ledger, wallets, fees, n, plaza.ids.next_id) for n in range(CLIENTS))
        )
    finally:
        await stop(plaza, lease)


if __name__ == "__main__":
    asyncio.run(main())
