"""Many due Premium subscriptions, fast, and the checks that each was charged once.

Used by the renewal reliability tests (``test_renewal_crash``, ``test_renewal_processes``)
and by the renewal benchmark (``bench/premium_renewals.py``).

``seed_due_subscriptions`` writes what ``Billing.subscribe`` would have left a month
ago, for ``count`` users at once: the account and its profile, a funded wallet, a monthly
subscription in period 0 whose period has just ended (so it is due now) and the paid
invoice of period 0. Rows go in with bulk inserts, one transaction per chunk, because subscribing
100,000 users one by one would take longer than what is measured; money goes through
the real ledger (``Ledger.submit_in``: a deposit from a funding account, then the
period-0 charge to the Premium revenue account) so that ``plaza ledger verify`` holds.

Funding decides what a renewal must do:
- funded (most): 3 prices, so that after period 0 two are left: a renewal leaves one,
  and a second charge of the same period would show in the balance (it would not be
  refused for lack of funds);
- unfunded (every ``unfunded_every``-th): 2 prices less a cent, so that the renewal is
  refused and the subscription goes past due;
- cancelling (every ``cancelling_every``-th): funded, but cancelled at period end: it
  must expire without a charge.

``check_money_matches_invoices`` holds at any moment, even right after a process was
killed mid-run; ``check_renewed_once`` is the expected end state of the renewal.
``plaza_env`` and ``plaza_command`` run ``plaza`` subprocesses on a test's database.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, text

from plaza.config import Settings
from plaza.core.db import Database
from plaza.identity.models import User
from plaza.payments.ledger import Ledger, TransferSpec, TransferStatus
from plaza.payments.ledger.models import account_table as A
from plaza.payments.ledger.models import transfer_table as T
from plaza.premium.charging import PREMIUM_CODE, REVENUE_ACCOUNT, describe
from plaza.premium.models import Invoice, Subscription
from plaza.premium.plans import add_months
from plaza.social.models.graph import SocialProfile

REPO = Path(__file__).resolve().parents[2]
CURRENCY = "USD"
FUNDING_ACCOUNT = "premium_seed_funding"
GRACE = timedelta(days=7)
CHUNK = 5_000
# The settings under which the seeded state renews as described above, for a Plaza
# built in a test or a subprocess: the seeded price, and an in-process scheduler that
# never runs by itself (the tests and the benchmark call the renewal when they choose).
SETTINGS: dict[str, Any] = {
    "premium_monthly_price": 800,
    "premium_grace_seconds": int(GRACE.total_seconds()),
    "premium_renewal_interval_seconds": 86_400.0,
}
ENV = {
    "PLAZA_PREMIUM_MONTHLY_PRICE": "800",
    "PLAZA_PREMIUM_GRACE_SECONDS": str(int(GRACE.total_seconds())),
    "PLAZA_PREMIUM_RENEWAL_INTERVAL_SECONDS": "86400",
}


@dataclass
class Seeded:
    """What was seeded: user ids by expected outcome, and each user's wallet, deposit
    and subscription."""

    price: int
    revenue_account: int
    revenue_before: int  # the revenue account's balance once seeded
    wallets: dict[int, int] = field(default_factory=dict)  # user -> wallet account
    funds: dict[int, int] = field(default_factory=dict)  # user -> deposited
    subscriptions: dict[int, int] = field(default_factory=dict)  # user -> subscription
    funded: set[int] = field(default_factory=set)
    unfunded: set[int] = field(default_factory=set)
    cancelling: set[int] = field(default_factory=set)

    @property
    def count(self) -> int:
        return len(self.subscriptions)


async def seed_due_subscriptions(
    db: Database,
    ledger: Ledger,
    new_id: Callable[[], int],
    *,
    count: int,
    price: int = 800,
    unfunded_every: int = 20,
    cancelling_every: int = 0,
    now: datetime | None = None,
    chunk: int = CHUNK,
) -> Seeded:
    """Seed ``count`` monthly subscriptions due now (see the module docstring).

    Their periods end within the hour before ``now`` (default: the wall clock), spread
    over it, so that the renewal job's ``ORDER BY due_at`` is not the insertion order.
    Every row is committed when this returns."""
    now = now or datetime.now(UTC)
    # Before any write session: on SQLite opening an account needs the write lock.
    revenue = await ledger.system_account(REVENUE_ACCOUNT, CURRENCY)
    funding = await ledger.system_account(FUNDING_ACCOUNT, CURRENCY)
    seeded = Seeded(price=price, revenue_account=revenue, revenue_before=0)
    tag = uuid.uuid4().hex[:8]
    month_ago = add_months(now, -1)
    for first in range(0, count, chunk):
        users: list[dict[str, Any]] = []
        profiles: list[dict[str, Any]] = []
        accounts: list[dict[str, Any]] = []
        subscriptions: list[dict[str, Any]] = []
        invoices: list[dict[str, Any]] = []
        specs: list[TransferSpec] = []
        for n in range(first, min(count, first + chunk)):
            user_id, wallet, sub_id, invoice_id = new_id(), new_id(), new_id(), new_id()
            if unfunded_every and n % unfunded_every == unfunded_every - 1:
                seeded.unfunded.add(user_id)
                funds = 2 * price - 1
            elif cancelling_every and n % cancelling_every == cancelling_every - 2:
                seeded.cancelling.add(user_id)
                funds = 3 * price
            else:
                seeded.funded.add(user_id)
                funds = 3 * price
            # Deterministic spread over the last hour (n * a prime, mod an hour).
            anchor = month_ago - timedelta(seconds=1 + (n * 7919) % 3600)
            end = add_months(anchor, 1)
            assert end < now, (anchor, end, now)
            username = f"r{n}_{tag}"
            users.append(
                {
                    "id": user_id,
                    "username": username,
                    "username_key": username.lower(),
                    "email": None,
                    "password_hash": "!",  # no password signs in
                    "is_admin": False,
                    "created_at": anchor,
                    "password_changed_at": anchor,
                    "deletion_scheduled_for": None,
                }
            )
            # The profile every account gets when it registers (notifications need it).
            profiles.append(
                {
                    "user_id": user_id,
                    "username": username,
                    "username_key": username.lower(),
                    "display_name": "",
                    "bio": "",
                    "website": "",
                    "is_private": False,
                    "is_creator": False,
                    "followers_count": 0,
                    "following_count": 0,
                    "posts_count": 0,
                    "notifications_read_id": 0,
                    "joined_at": anchor,
                }
            )
            accounts.append(_wallet_row(wallet, user_id, anchor))
            cancelling = user_id in seeded.cancelling
            subscriptions.append(
                {
                    "id": sub_id,
                    "user_id": user_id,
                    "plan": "monthly",
                    "price": price,
                    "currency": CURRENCY,
                    "months": 1,
                    "wallet_account_id": wallet,
                    "status": "active",
                    "anchor_at": anchor,
                    "period_index": 0,
                    "current_period_start": anchor,
                    "current_period_end": end,
                    "cancel_at_period_end": cancelling,
                    "canceled_at": anchor + timedelta(days=1) if cancelling else None,
                    "past_due_since": None,
                    "attempts": 0,
                    "next_attempt_at": None,
                    "due_at": end,
                    "access_until": end if cancelling else end + GRACE,
                    "ended_at": None,
                    "ended_reason": None,
                    "created_at": anchor,
                    "updated_at": anchor,
                }
            )
            charge_id = new_id()
            invoices.append(
                {
                    "id": invoice_id,
                    "subscription_id": sub_id,
                    "user_id": user_id,
                    "period_index": 0,
                    "plan": "monthly",
                    "amount": price,
                    "currency": CURRENCY,
                    "period_start": anchor,
                    "period_end": end,
                    "status": "paid",
                    "attempts": 0,
                    "pending_transfer_id": None,
                    "transfer_id": charge_id,
                    "created_at": anchor,
                    "paid_at": anchor,
                }
            )
            specs.append(TransferSpec(new_id(), funding, wallet, funds, "deposit"))
            specs.append(
                TransferSpec(
                    charge_id,
                    wallet,
                    revenue,
                    price,
                    PREMIUM_CODE,
                    metadata={
                        "receipt_id": str(invoice_id),
                        "subscription_id": str(sub_id),
                        "description": describe("monthly", anchor, end),
                    },
                )
            )
            seeded.wallets[user_id] = wallet
            seeded.funds[user_id] = funds
            seeded.subscriptions[user_id] = sub_id
        async with db.session() as session:
            await session.execute(insert(_table(User)), users)
            await session.execute(insert(_table(SocialProfile)), profiles)
            await session.execute(insert(A), accounts)
            results = await ledger.submit_in(session, specs)
            refused = Counter(r.status for r in results if r.status is not TransferStatus.OK)
            assert not refused, refused
            await session.execute(insert(_table(Subscription)), subscriptions)
            await session.execute(insert(_table(Invoice)), invoices)
            await session.commit()
    # Period 0 included: renewals add to this.
    seeded.revenue_before = (await ledger.balance(revenue)).balance
    return seeded


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _wallet_row(account_id: int, owner: int, at: datetime) -> dict[str, Any]:
    # What ``Ledger.wallet_of`` opens: no overdraft.
    return {
        "id": account_id,
        "code": "wallet",
        "currency": CURRENCY,
        "owner_id": owner,
        "name": None,
        "debits_must_not_exceed_credits": True,
        "credits_must_not_exceed_debits": False,
        "debits_posted": 0,
        "credits_posted": 0,
        "debits_pending": 0,
        "credits_pending": 0,
        "created_at": at,
    }


@dataclass
class State:
    """The seeded subscriptions as stored now."""

    status: dict[int, str] = field(default_factory=dict)  # user -> subscription status
    ended_reason: dict[int, str | None] = field(default_factory=dict)
    # user -> {period index: invoice status}, and -> {period index: its transfer id}
    invoices: defaultdict[int, dict[int, str]] = field(default_factory=lambda: defaultdict(dict))
    paid_transfer: defaultdict[int, dict[int, int | None]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    # wallet -> premium transfers by kind; kind -> their ids
    charges: defaultdict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    charge_ids: defaultdict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    balances: dict[int, tuple[int, int]] = field(default_factory=dict)  # wallet -> (bal, held)
    revenue: int = 0
    failed_notices: Counter[int] = field(default_factory=Counter)  # user -> notifications


async def read_state(db: Database, seeded: Seeded) -> State:
    """One consistent read of everything the checks compare (a read transaction)."""
    users = set(seeded.subscriptions)
    wallets = set(seeded.wallets.values())
    owner = {w: u for u, w in seeded.wallets.items()}
    state = State()
    async with db.session(write=False) as session:
        if not db.is_sqlite:  # one snapshot for every statement, as SQLite's read has
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        subs = await session.execute(
            select(Subscription.user_id, Subscription.status, Subscription.ended_reason)
        )
        for user, status, reason in subs:
            if user in users:
                state.status[user] = status
                state.ended_reason[user] = reason
        invoices = await session.execute(
            select(Invoice.user_id, Invoice.period_index, Invoice.status, Invoice.transfer_id)
        )
        for user, index, status, transfer in invoices:
            if user in users:
                assert index not in state.invoices[user], f"two invoices for {user}/{index}"
                state.invoices[user][index] = status
                state.paid_transfer[user][index] = transfer
        transfers = await session.execute(
            select(T.c.id, T.c.debit_account_id, T.c.kind).where(T.c.code == PREMIUM_CODE)
        )
        for transfer_id, debit, kind in transfers:
            if debit in wallets:
                state.charges[debit][kind] += 1
                state.charge_ids[kind].add(transfer_id)
        accounts = await session.execute(
            select(A.c.id, A.c.credits_posted - A.c.debits_posted, A.c.debits_pending).where(
                A.c.owner_id.is_not(None), A.c.code == "wallet"
            )
        )
        for account, balance, pending in accounts:
            if account in owner:
                state.balances[account] = (int(balance), int(pending))
        revenue = await session.execute(
            select(A.c.credits_posted - A.c.debits_posted).where(A.c.id == seeded.revenue_account)
        )
        state.revenue = int(revenue.scalar_one())
        notices = await session.execute(
            text(
                "SELECT recipient_id, count(*) FROM social_notification "
                "WHERE kind = 'premium_payment_failed' GROUP BY recipient_id"
            )
        )
        for user, n in notices:
            if user in users:
                state.failed_notices[int(user)] = int(n)
    return state


def check_money_matches_invoices(seeded: Seeded, state: State) -> int:
    """Every renewal charge has its paid invoice and every paid invoice its one charge,
    wallet by wallet; nothing is left reserved. Holds at every moment, including right
    after a process was killed mid-run. Returns how many periods were renewed."""
    renewed = 0
    problems: list[str] = []
    for user, wallet in seeded.wallets.items():
        invoices = state.invoices.get(user, {})
        paid = [i for i, status in invoices.items() if status == "paid"]
        renewals = len([i for i in paid if i > 0])
        renewed += renewals
        kinds = state.charges.get(wallet, Counter())
        expected = Counter({"posted": 1, "pending": renewals, "post_pending": renewals})
        if +kinds != +expected:
            problems.append(f"user {user}: invoices {invoices}, premium transfers {dict(kinds)}")
        balance, reserved = state.balances[wallet]
        if (balance, reserved) != (seeded.funds[user] - len(paid) * seeded.price, 0):
            problems.append(
                f"user {user}: balance {balance} (reserved {reserved}) with {len(paid)} paid "
                f"periods of {seeded.price} from {seeded.funds[user]}"
            )
    posts = {
        state.paid_transfer[user][i]
        for user, invoices in state.invoices.items()
        for i, status in invoices.items()
        if i > 0 and status == "paid"
    }
    if posts != state.charge_ids["post_pending"]:
        problems.append("the paid invoices do not name exactly the posted renewal charges")
    revenue = seeded.revenue_before + seeded.price * renewed
    if state.revenue != revenue:
        problems.append(f"revenue {state.revenue}, expected {revenue}")
    assert not problems, f"{len(problems)} problems, first ones: {problems[:5]}"
    return renewed


def check_renewed_once(seeded: Seeded, state: State) -> None:
    """The end state of renewing the seeded subscriptions (any number of runs, killed or
    concurrent): funded ones active in period 1, paid once; unfunded ones past due with
    an open invoice and one notification; cancelling ones expired, not charged."""
    renewed = check_money_matches_invoices(seeded, state)
    wrong: list[str] = []
    for user in seeded.funded:
        if (state.status[user], state.invoices[user]) != ("active", {0: "paid", 1: "paid"}):
            wrong.append(f"funded {user}: {state.status[user]} {state.invoices[user]}")
    for user in seeded.unfunded:
        if (state.status[user], state.invoices[user]) != ("past_due", {0: "paid", 1: "open"}):
            wrong.append(f"unfunded {user}: {state.status[user]} {state.invoices[user]}")
    for user in seeded.cancelling:
        got = (state.status[user], state.ended_reason[user], state.invoices[user])
        if got != ("expired", "canceled", {0: "paid"}):
            wrong.append(f"cancelling {user}: {got}")
    assert not wrong, f"{len(wrong)} subscriptions in the wrong state, e.g. {wrong[:5]}"
    assert renewed == len(seeded.funded)
    notices = dict(state.failed_notices)
    assert notices == dict.fromkeys(seeded.unfunded, 1), (
        f"premium_payment_failed notifications: {len(notices)} users notified "
        f"(counts {sorted(Counter(notices.values()).items())}), "
        f"{len(seeded.unfunded)} went past due"
    )


async def renewal_invoices(db: Database, seeded: Seeded) -> int:
    """How many invoices of period 1 exist (paid or open): the renewal's progress, as
    another process sees its commits."""
    async with db.session(write=False) as session:
        found = await session.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.period_index == 1)
        )
    return int(found or 0)


async def verify_ledger(ledger: Ledger) -> None:
    report = await ledger.verify()
    assert report.ok, [c for c in report.checks if not c[1]]
    assert report.counts["pending_open"] == 0, report.counts


def plaza_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``plaza`` subprocess on the test's database."""
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
        **ENV,
        **extra,
    )
    # The suite's Redis switch (tests/conftest.py), read here so the bench needs no pytest.
    redis_url = os.environ.get("PLAZA_TEST_REDIS_URL")
    if redis_url:
        env["PLAZA_REDIS_URL"] = redis_url
    return env


async def plaza_command(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "plaza.cli",
        *args,
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def finish(proc: asyncio.subprocess.Process, timeout: float = 300) -> str:
    """Wait for ``proc`` and return its output; it must exit 0."""
    output, _ = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode == 0, output.decode()
    return output.decode()
