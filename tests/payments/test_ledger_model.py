"""A stateful property test: the ledger against a small in-memory reference model.

Hypothesis drives random sequences of account openings, requests of transfers (plain,
pending with timeouts, posts in whole or in part, voids, linked chains, reused ids with
the same or other fields, amounts beyond the funds), clock moves and expiry runs. After
every step both sides must agree on every result and every balance, and at the end
``verify()`` must pass. The model is written independently of ``engine.py``: it
validates in the documented order and undoes a failed chain by restoring a copy.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from plaza.core.clock import ManualClock
from plaza.core.db import Database
from plaza.core.ids import SnowflakeGenerator
from plaza.payments.ledger import Ledger, TransferSpec, TransferStatus

S = TransferStatus


@dataclass
class Acct:
    currency: str
    no_overdraft: bool
    dp: int = 0
    cp: int = 0
    dpe: int = 0
    cpe: int = 0


@dataclass
class Hold:
    debit: int
    credit: int
    amount: int
    timeout_at: datetime | None
    state: str | None = None


@dataclass
class Model:
    """The ledger's rules, plainly."""

    accounts: dict[int, Acct] = field(default_factory=dict)
    seen: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    holds: dict[int, Hold] = field(default_factory=dict)

    @staticmethod
    def key(s: TransferSpec) -> tuple[Any, ...]:
        return (
            s.debit_account_id,
            s.credit_account_id,
            s.amount,
            s.code,
            tuple(sorted(s.metadata.items())),
            s.pending,
            s.timeout_seconds,
            s.post_pending_id,
            s.void_pending_id,
            s.linked,
        )

    def expire(self, hold: Hold) -> None:
        self.accounts[hold.debit].dpe -= hold.amount
        self.accounts[hold.credit].cpe -= hold.amount
        hold.state = "expired"

    def one(self, s: TransferSpec, now: datetime, expired: list[int]) -> S:
        if s.id in self.seen:
            return S.EXISTS if self.seen[s.id] == self.key(s) else S.EXISTS_WITH_DIFFERENT_FIELDS
        pid = s.post_pending_id if s.post_pending_id is not None else s.void_pending_id
        if pid is not None:
            hold = self.holds.get(pid)
            if hold is None:
                return S.PENDING_TRANSFER_NOT_FOUND
            if s.debit_account_id not in (0, hold.debit) or s.credit_account_id not in (
                0,
                hold.credit,
            ):
                return S.PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS
            if hold.state is not None:
                return {
                    "posted": S.PENDING_TRANSFER_ALREADY_POSTED,
                    "voided": S.PENDING_TRANSFER_ALREADY_VOIDED,
                    "expired": S.PENDING_TRANSFER_EXPIRED,
                }[hold.state]
            if hold.timeout_at is not None and hold.timeout_at <= now:
                self.expire(hold)
                expired.append(pid)
                return S.PENDING_TRANSFER_EXPIRED
            posting = s.post_pending_id is not None
            amount = s.amount or hold.amount
            if posting and amount > hold.amount:
                return S.EXCEEDS_PENDING_AMOUNT
            if not posting and amount != hold.amount:
                return S.INVALID_AMOUNT
            dr, cr = self.accounts[hold.debit], self.accounts[hold.credit]
            dr.dpe -= hold.amount
            cr.cpe -= hold.amount
            if posting:
                dr.dp += amount
                cr.cp += amount
            hold.state = "posted" if posting else "voided"
            self.seen[s.id] = self.key(s)
            return S.OK
        if s.amount <= 0:
            return S.INVALID_AMOUNT
        if s.debit_account_id == s.credit_account_id:
            return S.SAME_ACCOUNT
        dr = self.accounts.get(s.debit_account_id)
        cr = self.accounts.get(s.credit_account_id)
        if dr is None or cr is None:
            return S.ACCOUNT_NOT_FOUND
        if dr.currency != cr.currency:
            return S.CURRENCY_MISMATCH
        if dr.no_overdraft and dr.dp + dr.dpe + s.amount > dr.cp:
            return S.INSUFFICIENT_FUNDS
        if s.pending:
            dr.dpe += s.amount
            cr.cpe += s.amount
            timeout = now + timedelta(seconds=s.timeout_seconds) if s.timeout_seconds else None
            self.holds[s.id] = Hold(s.debit_account_id, s.credit_account_id, s.amount, timeout)
        else:
            dr.dp += s.amount
            cr.cp += s.amount
        self.seen[s.id] = self.key(s)
        return S.OK

    def submit(self, specs: list[TransferSpec], now: datetime) -> list[S]:
        out: list[S] = []
        i = 0
        while i < len(specs):
            j = i
            while j < len(specs) and specs[j].linked:
                j += 1
            if j == len(specs):
                out += [S.LINKED_EVENT_FAILED] * (len(specs) - i - 1)
                out.append(S.LINKED_EVENT_CHAIN_OPEN)
                return out
            chain = specs[i : j + 1]
            saved = copy.deepcopy((self.accounts, self.seen, self.holds))
            expired: list[int] = []
            got: list[S] = []
            for s in chain:
                got.append(self.one(s, now, expired))
                if got[-1] not in (S.OK, S.EXISTS):
                    break
            if len(got) == len(chain) and (
                all(g is S.OK for g in got) or all(g is S.EXISTS for g in got)
            ):
                out += got
            else:
                bad = [k for k, g in enumerate(got) if g not in (S.OK, S.EXISTS)]
                culprit = bad[0] if bad else got.index(S.EXISTS)
                self.accounts, self.seen, self.holds = saved
                # Expiry voids made on access stand even though the chain failed.
                for pid in expired:
                    self.expire(self.holds[pid])
                out += [S.LINKED_EVENT_FAILED] * len(chain)
                out[-len(chain) + culprit] = got[culprit]
            i = j + 1
        return out

    def expire_due(self, now: datetime) -> int:
        due = [
            h
            for h in self.holds.values()
            if h.state is None and h.timeout_at is not None and h.timeout_at <= now
        ]
        for hold in due:
            self.expire(hold)
        return len(due)


def _reset_database(template: str, scratch: Path) -> str:
    """A fresh ledger database per Hypothesis example."""
    if template.startswith("sqlite"):
        target = scratch / f"model-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(make_url(template).database or "", target)
        return f"sqlite+aiosqlite:///{target}"

    async def truncate() -> None:
        engine = create_async_engine(template)
        async with engine.begin() as conn:
            await conn.execute(text("TRUNCATE ledger_transfer, ledger_account CASCADE"))
        await engine.dispose()

    asyncio.run(truncate())
    return template


def test_ledger_matches_the_model(database_template: str, tmp_path: Path) -> None:
    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.url = _reset_database(database_template, tmp_path)
            self.clock = ManualClock(datetime(2026, 12, 1, tzinfo=UTC))
            self.db = Database(self.url)
            self.ledger = Ledger(self.db, self.clock, SnowflakeGenerator(9).next_id)
            self.run(self.ledger.start())
            self.model = Model()
            self.next_user = 1
            self.next_id = 1
            self.used: list[TransferSpec] = []
            self.chains: list[list[TransferSpec]] = []
            # A starting world: banks that may go negative, wallets, a capped reserve,
            # and money in the wallets, so that most steps have something to move.
            banks = [self._open("system", "USD"), self._open("system", "EUR")]
            wallets = [self._open("wallet", c) for c in ("USD", "USD", "USD", "EUR")]
            self._open("capped", "USD")
            self._check(
                [
                    TransferSpec(self._id(), banks[w >= 3], wallet, 150, "deposit")
                    for w, wallet in enumerate(wallets)
                ]
            )

        def run(self, coro: Any) -> Any:
            return self.loop.run_until_complete(coro)

        def _id(self) -> int:
            self.next_id += 1
            return self.next_id

        def _open(self, kind: str, currency: str) -> int:
            n = self.next_user
            self.next_user += 1
            if kind == "wallet":
                account = self.run(self.ledger.wallet_of(n, currency))
            elif kind == "system":
                account = self.run(self.ledger.system_account(f"sys{n}", currency))
            else:
                # A system account that may not go negative (a reserve, say).
                account = self.run(
                    self.ledger.open_account(
                        code="reserve",
                        currency=currency,
                        name=f"reserve{n}",
                        debits_must_not_exceed_credits=True,
                    )
                )
            self.model.accounts[account] = Acct(currency, kind != "system")
            return int(account)

        def _check(self, specs: list[TransferSpec]) -> None:
            got = [r.status for r in self.run(self.ledger.submit(specs))]
            expected = self.model.submit(specs, self.clock.now())
            assert got == expected, (specs, got, expected)
            self.used += [s for s, g in zip(specs, got, strict=True) if g is S.OK]
            chain: list[TransferSpec] = []
            for spec, status in zip(specs, got, strict=True):
                chain.append(spec)
                if not spec.linked:
                    if len(chain) > 1 and status is S.OK:
                        self.chains.append(chain)
                    chain = []

        def _pair(self, data: st.DataObject) -> tuple[int, int]:
            if data.draw(st.integers(0, 9)) == 0:  # now and then: any two, to be refused
                accounts = sorted(self.model.accounts)
                return data.draw(st.sampled_from(accounts)), data.draw(st.sampled_from(accounts))
            currency = data.draw(st.sampled_from(["USD", "USD", "EUR"]))
            same = sorted(a for a, m in self.model.accounts.items() if m.currency == currency)
            dr, cr = data.draw(st.permutations(same))[:2]
            return dr, cr

        def _spec(self, data: st.DataObject, linked: bool) -> TransferSpec:
            choice = data.draw(
                st.sampled_from(["plain", "plain", "pending", "post", "void", "reuse", "odd"])
            )
            if choice == "reuse" and self.used:
                old = data.draw(st.sampled_from(self.used))
                if data.draw(st.booleans()):
                    return old
                return TransferSpec(
                    old.id, old.debit_account_id, old.credit_account_id, old.amount + 1, old.code
                )
            if choice in ("post", "void") and self.model.holds:
                return self._resolution(data, choice == "post", linked)
            dr, cr = self._pair(data)
            amount = data.draw(st.integers(-1, 2) if choice == "odd" else st.integers(1, 120))
            pending = choice == "pending"
            timeout = data.draw(st.sampled_from([None, 30, 90])) if pending else None
            meta = data.draw(st.sampled_from([{}, {"note": "x"}]))
            return TransferSpec(
                self._id(),
                dr,
                cr,
                amount,
                "p2p",
                meta,
                pending=pending,
                timeout_seconds=timeout,
                linked=linked,
            )

        def _resolution(self, data: st.DataObject, post: bool, linked: bool) -> TransferSpec:
            # Mostly holds still open; sometimes any hold (already resolved, or unknown).
            open_holds = sorted(p for p, h in self.model.holds.items() if h.state is None)
            pool = (
                open_holds
                if open_holds and data.draw(st.integers(0, 3))
                else [*sorted(self.model.holds), 10**9]
            )
            pid = data.draw(st.sampled_from(pool))
            hold = self.model.holds.get(pid)
            full = hold.amount if hold else 1
            amount = data.draw(st.sampled_from([0, 0, full, max(1, full // 2), full + 1]))
            dr, cr = (hold.debit, hold.credit) if hold and data.draw(st.booleans()) else (0, 0)
            if data.draw(st.integers(0, 9)) == 0:
                dr = sorted(self.model.accounts)[0]
            return TransferSpec(
                self._id(),
                dr,
                cr,
                amount,
                "settle" if post else "void",
                post_pending_id=pid if post else None,
                void_pending_id=None if post else pid,
                linked=linked,
            )

        @rule(
            kind=st.sampled_from(["wallet", "system", "capped"]),
            currency=st.sampled_from(["USD", "EUR"]),
        )
        def open_account(self, kind: str, currency: str) -> None:
            self._open(kind, currency)

        @rule(data=st.data(), size=st.integers(1, 4))
        def submit(self, data: st.DataObject, size: int) -> None:
            specs = [
                self._spec(data, linked=n < size - 1 and data.draw(st.integers(0, 2)) == 0)
                for n in range(size)
            ]
            if data.draw(st.integers(0, 9)) == 0:
                specs[-1] = dataclasses.replace(specs[-1], linked=True)  # an open chain
            self._check(specs)

        @rule(data=st.data(), timeout=st.sampled_from([None, 30, 90]))
        def hold(self, data: st.DataObject, timeout: int | None) -> None:
            dr, cr = self._pair(data)
            amount = data.draw(st.integers(1, 100))
            self._check(
                [
                    TransferSpec(
                        self._id(), dr, cr, amount, "hold", pending=True, timeout_seconds=timeout
                    )
                ]
            )

        @precondition(lambda self: bool(self.model.holds))
        @rule(data=st.data(), post=st.booleans(), again=st.booleans())
        def resolve(self, data: st.DataObject, post: bool, again: bool) -> None:
            first = self._resolution(data, post, linked=False)
            specs = [first]
            if again:  # a second resolution of the same hold, in the same request
                pid = first.post_pending_id or first.void_pending_id
                specs.append(
                    dataclasses.replace(
                        first,
                        id=self._id(),
                        post_pending_id=pid if not post else None,
                        void_pending_id=pid if post else None,
                    )
                    if data.draw(st.booleans())
                    else dataclasses.replace(first, id=self._id())
                )
            self._check(specs)

        @precondition(lambda self: bool(self.chains))
        @rule(data=st.data(), extend=st.booleans())
        def retry_chain(self, data: st.DataObject, extend: bool) -> None:
            chain = data.draw(st.sampled_from(self.chains))
            if extend:  # a new transfer linked in front of an applied chain: refused whole
                dr, cr = self._pair(data)
                chain = [TransferSpec(self._id(), dr, cr, 1, "p2p", linked=True), *chain]
            self._check(chain)

        @rule(seconds=st.sampled_from([1, 29, 30, 61]))
        def tick(self, seconds: int) -> None:
            self.clock.advance(timedelta(seconds=seconds))

        @rule()
        def expire(self) -> None:
            assert self.run(self.ledger.expire_pending()) == self.model.expire_due(self.clock.now())

        @invariant()
        def balances_agree(self) -> None:
            stored = self.run(self.ledger.balances(list(self.model.accounts)))
            for account, m in self.model.accounts.items():
                b = stored[account]
                got = (b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending)
                assert got == (m.dp, m.cp, m.dpe, m.cpe), account

        def teardown(self) -> None:
            try:
                report = self.run(self.ledger.verify())
                assert report.ok, report.checks
            finally:
                self.run(self.ledger.stop())
                self.run(self.db.dispose())
                self.loop.close()

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


@pytest.mark.parametrize("linked", [False, True])
def test_the_model_itself_refuses_overdrafts(linked: bool) -> None:
    # The reference must be able to say no, or agreeing with it would prove little.
    model = Model(accounts={1: Acct("USD", True), 2: Acct("USD", False)})
    now = datetime(2026, 12, 1, tzinfo=UTC)
    specs = [TransferSpec(1, 2, 1, 5, "in", linked=linked), TransferSpec(2, 1, 2, 6, "out")]
    expected = (
        [S.LINKED_EVENT_FAILED, S.INSUFFICIENT_FUNDS]
        if linked
        else [
            S.OK,
            S.INSUFFICIENT_FUNDS,
        ]
    )
    assert model.submit(specs, now) == expected
