"""The ledger's invariants, recomputed from the stored history alone.

Every query runs in one read transaction (a snapshot: SQLite's WAL read transaction,
PostgreSQL's REPEATABLE READ), so a pipeline committing meanwhile cannot make a
consistent ledger look broken.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaza.core.db import Database
from plaza.payments.ledger.models import account_table as A
from plaza.payments.ledger.models import transfer_table as T
from plaza.payments.ledger.types import VerifyReport

_POSTED = ("posted", "post_pending")
_RESOLUTIONS = ("post_pending", "void_pending")


async def verify_ledger(db: Database, now: datetime) -> VerifyReport:
    if db.is_sqlite:
        async with db.read_engine.connect() as conn:
            await conn.begin()
            return await _verify(conn, now)
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        await conn.begin()
        return await _verify(conn, now)


async def _scalar(conn: AsyncConnection, query: object) -> int:
    return int((await conn.execute(query)).scalar_one() or 0)  # type: ignore[call-overload]


async def _verify(conn: AsyncConnection, now: datetime) -> VerifyReport:
    report = VerifyReport()
    d, c = A.alias("d"), A.alias("c")
    p, r = T.alias("p"), T.alias("r")

    # Counts, for the operator's eye.
    for kind, count in await conn.execute(select(T.c.kind, func.count()).group_by(T.c.kind)):
        report.counts[f"transfers_{kind}"] = int(count)
    report.counts["transfers"] = sum(report.counts.values())
    report.counts["accounts"] = await _scalar(conn, select(func.count()).select_from(A))
    unresolved = ~select(r.c.id).where(r.c.pending_id == p.c.id).exists()
    report.counts["pending_open"] = await _scalar(
        conn, select(func.count()).select_from(p).where(p.c.kind == "pending", unresolved)
    )
    report.counts["pending_open_past_timeout"] = await _scalar(
        conn,
        select(func.count())
        .select_from(p)
        .where(p.c.kind == "pending", unresolved, p.c.timeout_at <= now),
    )

    # 1. Every transfer balances: one positive amount debited from one account and
    #    credited to another, both existing and of the transfer's currency.
    broken = await _scalar(
        conn,
        select(func.count())
        .select_from(
            T.outerjoin(d, d.c.id == T.c.debit_account_id).outerjoin(
                c, c.c.id == T.c.credit_account_id
            )
        )
        .where(
            or_(
                T.c.amount <= 0,
                T.c.debit_account_id == T.c.credit_account_id,
                d.c.id.is_(None),
                c.c.id.is_(None),
                d.c.currency != T.c.currency,
                c.c.currency != T.c.currency,
            )
        ),
    )
    report.add(
        "every transfer balances",
        broken == 0,
        f"{report.counts['transfers']} transfers checked; {broken} unbalanced or dangling",
    )

    # 2. Each pending transfer resolves at most once, by a post of at most its amount or
    #    a void of exactly its amount, between the same accounts.
    twice = await _scalar(
        conn,
        select(func.count()).select_from(
            select(T.c.pending_id)
            .where(T.c.pending_id.is_not(None))
            .group_by(T.c.pending_id)
            .having(func.count() > 1)
            .subquery()
        ),
    )
    bad = await _scalar(
        conn,
        select(func.count())
        .select_from(r.outerjoin(p, p.c.id == r.c.pending_id))
        .where(
            r.c.kind.in_(_RESOLUTIONS),
            or_(
                p.c.id.is_(None),
                p.c.kind != "pending",
                p.c.debit_account_id != r.c.debit_account_id,
                p.c.credit_account_id != r.c.credit_account_id,
                p.c.currency != r.c.currency,
                r.c.amount > p.c.amount,
                and_(r.c.kind == "void_pending", r.c.amount != p.c.amount),
            ),
        ),
    )
    resolutions = report.counts.get("transfers_post_pending", 0) + report.counts.get(
        "transfers_void_pending", 0
    )
    report.add(
        "each pending transfer resolves at most once",
        twice == 0 and bad == 0,
        f"{resolutions} resolutions checked; {twice} pending resolved twice, "
        f"{bad} resolutions not matching their pending transfer",
    )

    # 3. Stored balances equal the replay of the transfers.
    replay: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for side, column in ((0, T.c.debit_account_id), (1, T.c.credit_account_id)):
        for account_id, total in await conn.execute(
            select(column, func.sum(T.c.amount)).where(T.c.kind.in_(_POSTED)).group_by(column)
        ):
            replay[account_id][side] = int(total)
    for side, column in ((2, p.c.debit_account_id), (3, p.c.credit_account_id)):
        for account_id, total in await conn.execute(
            select(column, func.sum(p.c.amount))
            .where(p.c.kind == "pending", unresolved)
            .group_by(column)
        ):
            replay[account_id][side] = int(total)
    accounts = (
        await conn.execute(
            select(
                A.c.id,
                A.c.currency,
                A.c.debits_must_not_exceed_credits,
                A.c.credits_must_not_exceed_debits,
                A.c.debits_posted,
                A.c.credits_posted,
                A.c.debits_pending,
                A.c.credits_pending,
            )
        )
    ).all()
    mismatched = 0
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    violations = 0
    for row in accounts:
        stored = [int(row[4]), int(row[5]), int(row[6]), int(row[7])]
        replayed = replay.get(row.id, [0, 0, 0, 0])
        if stored != replayed:
            mismatched += 1
        # The sums use the stored balances (the replayed ones sum to zero by construction).
        sums[row.currency][0] += stored[1] - stored[0]
        sums[row.currency][1] += stored[3] - stored[2]
        dp, cp, dpe, cpe = replayed
        if (row[2] and dp + dpe > cp) or (row[3] and cp + cpe > dp):
            violations += 1
    orphans = len(set(replay) - {row.id for row in accounts})
    report.add(
        "stored balances equal the replay of their transfers",
        mismatched == 0 and orphans == 0,
        f"{len(accounts)} accounts replayed (posted and pending); {mismatched} differ",
    )

    # 4. Double entry: per currency, all balances sum to zero (posted and pending).
    nonzero = {cur: s for cur, s in sums.items() if s != [0, 0]}
    report.add(
        "balances sum to zero per currency",
        not nonzero,
        f"{len(sums)} currencies ({', '.join(sorted(sums)) or 'none'}); "
        + (f"non-zero (posted, pending): {nonzero}" if nonzero else "all zero"),
    )

    # 5. No account breaks its flags (a wallet never below zero).
    report.add(
        "no account violates its balance flags",
        violations == 0,
        f"{len(accounts)} accounts checked; {violations} in violation",
    )
    return report
