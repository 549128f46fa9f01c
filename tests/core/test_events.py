"""The event bus: delivery only after commit, in order, across processes via Redis."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar

import pytest
from redis.asyncio import Redis
from sqlalchemy import insert, select

from plaza.core.db import Database
from plaza.core.events import Event, EventBus, RedisEventBus
from tests.core.conftest import eventually, probe


class Pinged(Event):
    topic: ClassVar[str] = "test.pinged"
    n: int


class Ponged(Event):
    topic: ClassVar[str] = "test.ponged"
    n: int


Buses = tuple[EventBus, EventBus]


@pytest.fixture
async def memory_buses() -> AsyncIterator[Buses]:
    bus = EventBus()
    await bus.start()
    yield bus, bus
    await bus.stop()


@pytest.fixture
async def redis_buses(
    redis_factory: Callable[[], Awaitable[Redis]], redis_prefix: str
) -> AsyncIterator[Buses]:
    channel = f"{redis_prefix}:events"
    publisher = RedisEventBus(await redis_factory(), channel)
    subscriber = RedisEventBus(await redis_factory(), channel)
    await publisher.start()
    await subscriber.start()
    yield publisher, subscriber
    await publisher.stop()
    await subscriber.stop()


@pytest.fixture(params=["memory", "redis"])
def buses(request: pytest.FixtureRequest) -> Buses:
    """(publisher, subscriber): one in-process bus, or two Redis buses standing for
    two processes that share one Redis."""
    pair: Buses = request.getfixturevalue(f"{request.param}_buses")
    return pair


def _recorder(bus: EventBus, event_type: type[Any]) -> list[Any]:
    seen: list[Any] = []

    async def handler(event: Any) -> None:
        seen.append(event)

    bus.subscribe(event_type, handler)
    return seen


async def _row_exists(db: Database, row_id: int) -> bool:
    async with db.session(write=False) as session:
        return (
            await session.execute(select(probe.c.id).where(probe.c.id == row_id))
        ).first() is not None


async def test_delivered_after_commit_and_the_row_is_visible(buses: Buses, db: Database) -> None:
    publisher, subscriber = buses
    seen: list[tuple[int, bool]] = []

    async def handler(event: Pinged) -> None:
        seen.append((event.n, await _row_exists(db, event.n)))

    subscriber.subscribe(Pinged, handler)
    async with db.session() as session:
        await session.execute(insert(probe).values(id=1))
        publisher.publish(session, Pinged(n=1))
        await session.flush()
        await asyncio.sleep(0.1)
        assert seen == [], "delivered before commit"
        await session.commit()
    await eventually(lambda: seen)
    assert seen == [(1, True)]


async def test_rolled_back_events_are_never_delivered(buses: Buses, db: Database) -> None:
    publisher, subscriber = buses
    seen = _recorder(subscriber, Pinged)
    async with db.session() as session:
        await session.execute(insert(probe).values(id=1))
        publisher.publish(session, Pinged(n=1))
        await session.rollback()
        # The same session, reused: only this transaction's event goes out.
        await session.execute(insert(probe).values(id=2))
        publisher.publish(session, Pinged(n=2))
        await session.commit()
    async with db.session() as session:  # closed without commit
        await session.execute(insert(probe).values(id=3))
        publisher.publish(session, Pinged(n=3))
    async with db.session() as session:  # a commit that fails
        await session.execute(insert(probe).values(id=4))
        publisher.publish(session, Pinged(n=4))
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            await session.execute(insert(probe).values(id=4))
    async with db.session() as session:  # the barrier: everything before it is done
        publisher.publish(session, Pinged(n=99))
        await session.commit()
    await eventually(lambda: any(e.n == 99 for e in seen))
    await asyncio.sleep(0.05)
    assert [e.n for e in seen] == [2, 99]
    assert not await _row_exists(db, 1)
    assert not await _row_exists(db, 3)


async def test_savepoint_rollback_drops_its_events(buses: Buses, db: Database) -> None:
    publisher, subscriber = buses
    seen = _recorder(subscriber, Pinged)
    async with db.session() as session:
        publisher.publish(session, Pinged(n=1))
        await session.execute(insert(probe).values(id=1))
        savepoint = await session.begin_nested()
        await session.execute(insert(probe).values(id=2))
        publisher.publish(session, Pinged(n=2))
        inner = await session.begin_nested()
        publisher.publish(session, Pinged(n=3))
        await inner.commit()
        await savepoint.rollback()  # takes the released inner savepoint with it
        kept = await session.begin_nested()
        await session.execute(insert(probe).values(id=4))
        publisher.publish(session, Pinged(n=4))
        await kept.commit()
        await asyncio.sleep(0.05)
        assert seen == [], "a released savepoint is not a commit"
        await session.commit()
    await eventually(lambda: any(e.n == 4 for e in seen))
    await asyncio.sleep(0.05)
    assert [e.n for e in seen] == [1, 4]
    assert not await _row_exists(db, 2)


async def test_order_is_preserved(buses: Buses, db: Database) -> None:
    publisher, subscriber = buses
    seen = _recorder(subscriber, Pinged)
    n = 0
    for _ in range(20):
        async with db.session() as session:
            for _ in range(5):
                n += 1
                publisher.publish(session, Pinged(n=n))
            await session.commit()
    await eventually(lambda: len(seen) >= 100)
    assert [e.n for e in seen] == list(range(1, 101))


async def test_publish_now_delivers_without_a_transaction(buses: Buses) -> None:
    publisher, subscriber = buses
    seen = _recorder(subscriber, Ponged)
    await publisher.publish_now(Ponged(n=7))
    await eventually(lambda: seen)
    assert seen == [Ponged(n=7)]


async def test_topics_reach_only_their_subscribers(buses: Buses, db: Database) -> None:
    publisher, subscriber = buses
    pings, pongs = _recorder(subscriber, Pinged), _recorder(subscriber, Ponged)
    async with db.session() as session:
        publisher.publish(session, Ponged(n=1))
        publisher.publish(session, Pinged(n=2))
        await session.commit()
    await eventually(lambda: pings and pongs)
    assert pings == [Pinged(n=2)]
    assert pongs == [Ponged(n=1)]


async def test_a_failing_handler_does_not_stop_the_others(
    buses: Buses, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    publisher, subscriber = buses

    async def broken(event: Pinged) -> None:
        raise RuntimeError(f"boom {event.n}")

    subscriber.subscribe(Pinged, broken)
    seen = _recorder(subscriber, Pinged)
    with caplog.at_level(logging.ERROR, logger="plaza.events"):
        for n in (1, 2):
            async with db.session() as session:
                publisher.publish(session, Pinged(n=n))
                await session.commit()
        await eventually(lambda: len(seen) == 2)
    assert [e.n for e in seen] == [1, 2]
    assert sum("event handler failed" in r.getMessage() for r in caplog.records) == 2


async def test_each_process_receives_a_redis_event_once(
    redis_factory: Callable[[], Awaitable[Redis]], redis_prefix: str, db: Database
) -> None:
    channel = f"{redis_prefix}:events"
    one = RedisEventBus(await redis_factory(), channel)
    two = RedisEventBus(await redis_factory(), channel)
    await one.start()
    await two.start()
    try:
        at_one, at_two = _recorder(one, Pinged), _recorder(two, Pinged)
        async with db.session() as session:
            one.publish(session, Pinged(n=1))
            await session.commit()
        # Order is promised per publisher; across two processes Redis orders what it
        # has received, so let the first publish reach Redis before the second starts.
        await one.drain()
        async with db.session() as session:
            two.publish(session, Pinged(n=2))
            await session.commit()
        await eventually(lambda: len(at_one) == 2 and len(at_two) == 2)
        await asyncio.sleep(0.1)
        assert [e.n for e in at_one] == [1, 2]
        assert [e.n for e in at_two] == [1, 2]
    finally:
        await one.stop()
        await two.stop()


async def test_the_app_bus_delivers_after_commit(plaza: Any) -> None:
    seen = _recorder(plaza.bus, Pinged)
    async with plaza.db.session() as session:
        plaza.bus.publish(session, Pinged(n=5))
        await session.commit()
    await eventually(lambda: seen)
    assert seen == [Pinged(n=5)]
