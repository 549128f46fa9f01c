"""Snowflake ids: unique, ordered, decodable, and strings on the wire."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from plaza.core import ids
from plaza.core.ids import (
    EPOCH_MS,
    MAX_NODE,
    MAX_SEQUENCE,
    TIMESTAMP_SHIFT,
    SnowflakeGenerator,
    id_node,
    id_timestamp,
    min_id_at,
)
from tests.conftest import Users

EPOCH = datetime.fromtimestamp(EPOCH_MS / 1000, UTC)
# The 41-bit timestamp runs out in 2093.
LAST_MOMENT = EPOCH + timedelta(milliseconds=(1 << 41) - 1)


def _increasing(values: list[int]) -> bool:
    return all(a < b for a, b in pairwise(values))


def _ms(snowflake: int) -> int:
    return (snowflake >> TIMESTAMP_SHIFT) + EPOCH_MS


def _sequence(snowflake: int) -> int:
    return snowflake & MAX_SEQUENCE


def _scripted_clock(monkeypatch: pytest.MonkeyPatch, readings: list[int]) -> None:
    """Make the generator read these wall-clock milliseconds, then keep the last one."""
    it: Iterator[int] = iter(readings)
    last = [readings[0]]

    def now_ms() -> int:
        last[0] = next(it, last[0])
        return last[0]

    monkeypatch.setattr(ids, "_now_ms", now_ms)


def test_many_ids_are_unique_and_strictly_increasing() -> None:
    gen = SnowflakeGenerator(3)
    minted = [gen.next_id() for _ in range(50_000)]
    assert _increasing(minted)
    assert all(id_node(i) == 3 for i in minted)
    # They fit PostgreSQL's signed BIGINT.
    assert minted[-1] < 2**63


def test_ids_from_many_threads_never_collide() -> None:
    gen = SnowflakeGenerator(9)
    per_thread = 5_000
    barrier = threading.Barrier(8)
    results: list[list[int]] = []
    lock = threading.Lock()

    def mint() -> None:
        barrier.wait()
        mine = [gen.next_id() for _ in range(per_thread)]
        with lock:
            results.append(mine)

    threads = [threading.Thread(target=mint) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for chunk in results for i in chunk]
    assert len(everything) == 8 * per_thread
    assert len(set(everything)) == len(everything)
    for chunk in results:
        assert _increasing(chunk)


def test_layout_decodes_timestamp_node_and_sequence(monkeypatch: pytest.MonkeyPatch) -> None:
    moment = datetime(2026, 11, 26, 12, 0, 0, 123_000, tzinfo=UTC)
    ms = EPOCH_MS + (moment - EPOCH) // timedelta(milliseconds=1)
    monkeypatch.setattr(ids, "_now_ms", lambda: ms)
    gen = SnowflakeGenerator(MAX_NODE)
    first, second = gen.next_id(), gen.next_id()
    assert id_timestamp(first) == moment
    assert id_node(first) == MAX_NODE
    assert _sequence(first) == 0
    assert _sequence(second) == 1
    assert first >> TIMESTAMP_SHIFT == ms - EPOCH_MS


def test_node_id_must_be_assigned_and_in_range() -> None:
    gen = SnowflakeGenerator()
    with pytest.raises(RuntimeError):
        gen.next_id()
    with pytest.raises(ValueError, match="node id"):
        gen.assign(MAX_NODE + 1)
    with pytest.raises(ValueError, match="node id"):
        gen.assign(-1)
    gen.assign(0)
    assert id_node(gen.next_id()) == 0


def test_clock_stepping_back_keeps_ids_unique_and_ordered(monkeypatch: pytest.MonkeyPatch) -> None:
    t = EPOCH_MS + 10_000_000
    # Forward, a long step back (an NTP correction), creeping up, then past the old time.
    _scripted_clock(monkeypatch, [t, t, t - 5_000, t - 4_000, t - 1, t, t + 1, t + 1, t - 3, t + 2])
    gen = SnowflakeGenerator(1)
    minted = [gen.next_id() for _ in range(10)]
    assert _increasing(minted)
    stamps = [_ms(i) for i in minted]
    assert stamps == sorted(stamps)
    assert min(stamps) == t  # never minted with the stepped-back time


def test_sequence_exhaustion_borrows_the_next_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    t = EPOCH_MS + 5_000_000
    monkeypatch.setattr(ids, "_now_ms", lambda: t)
    gen = SnowflakeGenerator(7)
    minted = [gen.next_id() for _ in range(MAX_SEQUENCE + 1 + 10)]
    assert [_ms(i) for i in minted[: MAX_SEQUENCE + 1]] == [t] * (MAX_SEQUENCE + 1)
    assert [_sequence(i) for i in minted[: MAX_SEQUENCE + 1]] == list(range(MAX_SEQUENCE + 1))
    assert _ms(minted[MAX_SEQUENCE + 1]) == t + 1
    assert _sequence(minted[MAX_SEQUENCE + 1]) == 0
    # When the wall clock reaches the borrowed millisecond, ids still go up.
    monkeypatch.setattr(ids, "_now_ms", lambda: t + 1)
    minted.append(gen.next_id())
    assert _increasing(minted)
    assert len(set(minted)) == len(minted)


moments = st.datetimes(
    min_value=EPOCH.replace(tzinfo=None),
    max_value=LAST_MOMENT.replace(tzinfo=None),
    timezones=st.just(UTC),
)


@given(a=moments, b=moments)
def test_min_id_at_is_monotonic(a: datetime, b: datetime) -> None:
    if a <= b:
        assert min_id_at(a) <= min_id_at(b)
    else:
        assert min_id_at(a) >= min_id_at(b)


@given(moment=moments, node=st.integers(0, MAX_NODE), seq=st.integers(0, MAX_SEQUENCE))
# Float arithmetic on timestamps puts this instant in the millisecond before it.
@example(moment=datetime(2038, 6, 6, 2, 57, 11, 140_000, tzinfo=UTC), node=0, seq=0)
def test_min_id_at_bounds_ids_minted_in_that_millisecond(
    moment: datetime, node: int, seq: int
) -> None:
    ms = EPOCH_MS + (moment - EPOCH) // timedelta(milliseconds=1)
    minted = ((ms - EPOCH_MS) << TIMESTAMP_SHIFT) | (node << 12) | seq
    # Every id of the moment's millisecond is >= the bound, and no id of an
    # earlier millisecond is: a time-range query neither drops nor adds rows.
    assert min_id_at(moment) <= minted
    earlier_ms = ms - 1
    if earlier_ms >= EPOCH_MS:
        latest_earlier = (
            ((earlier_ms - EPOCH_MS) << TIMESTAMP_SHIFT) | (MAX_NODE << 12) | MAX_SEQUENCE
        )
        assert latest_earlier < min_id_at(moment)
    assert id_timestamp(min_id_at(moment)) <= moment


def test_min_id_at_before_the_epoch_is_zero() -> None:
    assert min_id_at(EPOCH - timedelta(days=1)) == 0
    assert min_id_at(EPOCH) == 0


async def test_ids_are_strings_in_json(
    client: httpx.AsyncClient, users: Users, plaza: object
) -> None:
    alice = await users.create()
    me = (await client.get("/api/v1/me", headers=alice.headers)).json()
    assert isinstance(me["id"], str)
    assert me["id"] == alice.id
    snowflake = int(me["id"])
    assert id_node(snowflake) == plaza.ids.node_id  # type: ignore[attr-defined]
    assert abs(id_timestamp(snowflake) - datetime.now(UTC)) < timedelta(minutes=1)


def test_min_id_at_refuses_naive_datetimes() -> None:
    # A naive datetime would be read as local time; Plaza's times are aware UTC.
    with pytest.raises(TypeError):
        min_id_at(datetime(2026, 1, 1))
