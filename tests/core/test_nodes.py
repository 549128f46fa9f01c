"""Snowflake node ids leased from the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from plaza.core.clock import ManualClock
from plaza.core.db import Database
from plaza.core.ids import MAX_NODE, SnowflakeGenerator
from plaza.core.models import NodeLease
from plaza.core.nodes import LEASE, NodeIdLease


async def _hold_all_but(db: Database, clock: ManualClock, free: int, *, expired: bool) -> None:
    """Lease every node id to other (live) holders except ``free``, which is either
    absent or held by a holder whose lease ran out."""
    now = clock.now()
    async with db.session() as session:
        session.add_all(
            NodeLease(node_id=n, holder=f"other-{n}", expires_at=now + LEASE)
            for n in range(MAX_NODE + 1)
            if n != free
        )
        if expired:
            session.add(
                NodeLease(node_id=free, holder="dead", expires_at=now - timedelta(seconds=1))
            )
        await session.commit()


async def _holder_of(db: Database, node_id: int) -> str | None:
    async with db.session(write=False) as session:
        return await session.scalar(select(NodeLease.holder).where(NodeLease.node_id == node_id))


@pytest.fixture
def lease_clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 1, tzinfo=UTC))


async def test_two_leases_get_different_node_ids(db: Database, lease_clock: ManualClock) -> None:
    first, second = NodeIdLease(db, lease_clock), NodeIdLease(db, lease_clock)
    try:
        a = await first.claim()
        b = await second.claim()
        assert a != b
        assert 0 <= a <= MAX_NODE
        assert await _holder_of(db, a) == first.holder
        assert await _holder_of(db, b) == second.holder
    finally:
        await first.release()
        await second.release()


async def test_concurrent_claims_for_the_last_free_id(
    db: Database, lease_clock: ManualClock
) -> None:
    await _hold_all_but(db, lease_clock, 321, expired=False)
    leases = [NodeIdLease(db, lease_clock) for _ in range(3)]
    try:
        results = await asyncio.gather(*(lease.claim() for lease in leases), return_exceptions=True)
        assert sorted(r for r in results if isinstance(r, int)) == [321]
        assert sum(isinstance(r, RuntimeError) for r in results) == 2
    finally:
        for lease in leases:
            await lease.release()


async def test_an_expired_lease_is_reclaimed(db: Database, lease_clock: ManualClock) -> None:
    await _hold_all_but(db, lease_clock, 77, expired=True)
    lease = NodeIdLease(db, lease_clock)
    try:
        assert await lease.claim() == 77
        assert await _holder_of(db, 77) == lease.holder
    finally:
        await lease.release()


async def test_release_frees_the_node_id(db: Database, lease_clock: ManualClock) -> None:
    await _hold_all_but(db, lease_clock, 900, expired=False)
    first, second = NodeIdLease(db, lease_clock), NodeIdLease(db, lease_clock)
    try:
        assert await first.claim() == 900
        with pytest.raises(RuntimeError, match="leased"):
            await second.claim()
        await first.release()
        assert await _holder_of(db, 900) is None
        assert await second.claim() == 900
    finally:
        await first.release()
        await second.release()


async def test_an_unrenewed_lease_lapses_and_its_old_holder_cannot_release_it(
    db: Database, lease_clock: ManualClock
) -> None:
    await _hold_all_but(db, lease_clock, 12, expired=False)
    stale, fresh = NodeIdLease(db, lease_clock), NodeIdLease(db, lease_clock)
    try:
        assert await stale.claim() == 12
        with pytest.raises(RuntimeError, match="leased"):
            await fresh.claim()
        # The stale holder stops renewing (a frozen process); everyone else renews.
        lease_clock.advance(LEASE * 2)
        async with db.session() as session:
            await session.execute(
                NodeLease.__table__.update()
                .where(NodeLease.node_id != 12)
                .values(expires_at=lease_clock.now() + LEASE)
            )
            await session.commit()
        assert await fresh.claim() == 12
        await stale.release()
        assert await _holder_of(db, 12) == fresh.holder
    finally:
        await stale.release()
        await fresh.release()


async def test_the_running_app_holds_a_lease(plaza: object) -> None:
    app_plaza = plaza
    node = app_plaza.ids.node_id  # type: ignore[attr-defined]
    assert node is not None
    holder = await _holder_of(app_plaza.db, node)  # type: ignore[attr-defined]
    assert holder is not None


async def test_a_lost_lease_is_replaced_and_the_generator_moves_to_the_new_id(
    db: Database, lease_clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("plaza.core.nodes.RENEW_EVERY_SECONDS", 0.01)
    ids = SnowflakeGenerator()
    lease = NodeIdLease(db, lease_clock, ids)
    try:
        first = await lease.claim()
        assert ids.node_id == first
        # Another process took the id over while this one stalled past its lease.
        async with db.session() as session:
            await session.execute(
                update(NodeLease).where(NodeLease.node_id == first).values(holder="thief")
            )
            await session.commit()
        for _ in range(500):
            if ids.node_id != first:
                break
            await asyncio.sleep(0.01)
        assert ids.node_id != first
        assert await _holder_of(db, first) == "thief"
        assert await _holder_of(db, ids.node_id) == lease.holder
    finally:
        await lease.release()
