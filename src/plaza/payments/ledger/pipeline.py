"""The single-writer pipeline: group commit of many callers' transfers.

Callers put requests on an asyncio queue and wait on a future. One task takes every
request waiting (up to ``max_batch`` specs), loads the rows they touch once, applies
them in order in memory (``engine.Batch``), and commits the batch in one durable
transaction; then it answers each caller. While a batch commits, the next one queues
up, so the batch size follows the load and an idle ledger answers at once.

Across processes the database serialises batches: SQLite's ``BEGIN IMMEDIATE`` takes
the write lock; on PostgreSQL the batch locks its account rows in id order
(``SELECT ... FOR UPDATE``), so two processes never interleave on an account and never
deadlock on accounts. A batch that fails before its commit (a concurrent process
inserted the same transfer id, a deadlock) is retried whole; one that still fails, or
whose commit fails, fails every request in it with ``LedgerUnavailable`` and nothing
of it is applied.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.payments.ledger.engine import Batch, Prepared
from plaza.payments.ledger.store import batch_store
from plaza.payments.ledger.types import LedgerUnavailable, TransferResult

logger = logging.getLogger("plaza.ledger")


@dataclass
class PhaseTimes:
    """Seconds spent in each phase of the batches so far (for the benchmark)."""

    batches: int = 0
    specs: int = 0
    load: float = 0.0
    apply: float = 0.0
    write: float = 0.0
    commit: float = 0.0
    sizes: list[int] = field(default_factory=list)


async def run_batch(
    conn: AsyncConnection,
    requests: Sequence[Sequence[Prepared]],
    *,
    now: datetime,
    new_id: Callable[[], int],
    expiries: Collection[int] = (),
    times: PhaseTimes | None = None,
) -> list[list[TransferResult]]:
    """Apply ``requests`` in order inside ``conn``'s write transaction (not committed)."""
    started = time.perf_counter()
    store = await batch_store(conn)
    specs = [p.spec for request in requests for p in request]
    pending_ids = {
        pid for s in specs for pid in (s.post_pending_id, s.void_pending_id) if pid is not None
    }
    pending_ids.update(expiries)
    # Pending transfers are immutable rows: safe to read before taking the locks.
    pendings = await store.pendings(pending_ids)
    account_ids = {i for s in specs for i in (s.debit_account_id, s.credit_account_id)}
    for p in pendings.values():
        account_ids.update((p.debit_account_id, p.credit_account_id))
    accounts = await store.lock_accounts(account_ids)
    # After the locks: whatever another process committed on these accounts is visible.
    await store.resolve(pendings)
    known = await store.known(s.id for s in specs)
    loaded = time.perf_counter()
    batch = Batch(now, accounts, known, pendings, new_id)
    results = [batch.apply(request) for request in requests]
    for pending_id in expiries:
        batch.expire(pending_id)
    applied = time.perf_counter()
    if batch.rows:
        await store.insert(batch.rows)
    changed = [a for a in accounts.values() if a.dirty]
    if changed:
        await store.update(changed)
    if times is not None:
        times.load += loaded - started
        times.apply += applied - loaded
        times.write += time.perf_counter() - applied
    return results


@dataclass(slots=True)
class _Request:
    specs: Sequence[Prepared]
    expiries: Collection[int]
    future: asyncio.Future[list[TransferResult]]


class Pipeline:
    """The queue and the one task that drains it (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        new_id: Callable[[], int],
        *,
        max_batch: int = 4096,
        retries: int = 3,
    ) -> None:
        self._db = db
        self._clock = clock
        self._new_id = new_id
        self._max_batch = max_batch
        self._retries = retries
        self._queue: asyncio.Queue[_Request | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.times = PhaseTimes()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if not self.running:
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._drain(), name="ledger-pipeline")

    async def stop(self) -> None:
        """Finish what is queued, then end the task."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        try:
            await self._task
        finally:
            self._task = None

    async def submit(
        self, specs: Sequence[Prepared], expiries: Collection[int] = ()
    ) -> list[TransferResult]:
        if not self.running:
            raise LedgerUnavailable("The ledger is not running.")
        future: asyncio.Future[list[TransferResult]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Request(specs, expiries, future))
        return await future

    async def _drain(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            size = len(first.specs) + len(first.expiries)
            while size < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
                size += len(item.specs) + len(item.expiries)
            try:
                await self._commit(batch)
            except Exception:  # the task must outlive any one batch
                logger.exception("ledger batch failed")
                _fail(batch, "The ledger could not record these transfers; retry them.")
        # Requests that raced with stop() get an answer too.
        leftovers = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                leftovers.append(item)
        _fail(leftovers, "The ledger is stopping; retry these transfers.")

    async def _commit(self, batch: list[_Request]) -> None:
        for attempt in range(1, self._retries + 1):
            committing = False
            try:
                async with self._db.engine.connect() as conn:
                    await conn.begin()
                    results = await run_batch(
                        conn,
                        [r.specs for r in batch],
                        now=self._clock.now(),
                        new_id=self._new_id,
                        expiries=[pid for r in batch for pid in r.expiries],
                        times=self.times,
                    )
                    committing = True
                    started = time.perf_counter()
                    await conn.commit()
                    self.times.commit += time.perf_counter() - started
            except Exception as exc:
                # Driver errors arrive unwrapped (the bulk statements run on the driver),
                # hence the broad catch. Before the commit nothing is applied and a retry
                # is safe (another process may have inserted one of these ids, or a
                # deadlock was broken: the retry sees the winner's rows). A failed commit
                # is ambiguous; the callers retry with the same ids.
                if committing or attempt == self._retries:
                    logger.warning("ledger batch not committed", extra={"error": repr(exc)})
                    _fail(batch, "The ledger could not commit these transfers; retry them.")
                    return
                logger.info("ledger batch retried", extra={"error": repr(exc)})
                continue
            self.times.batches += 1
            self.times.specs += sum(len(r.specs) for r in batch)
            if len(self.times.sizes) < 100_000:
                self.times.sizes.append(len(batch))
            for request, result in zip(batch, results, strict=True):
                if not request.future.done():
                    request.future.set_result(result)
            return


def _fail(batch: list[_Request], detail: str) -> None:
    for request in batch:
        if not request.future.done():
            request.future.set_exception(LedgerUnavailable(detail))
