"""Token buckets, in memory and in Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from plaza.core import ratelimit
from plaza.core.errors import RateLimited
from plaza.core.ratelimit import (
    MemoryRateLimiter,
    Rate,
    RateLimiter,
    RedisRateLimiter,
    enforce,
)


@pytest.fixture
def memory_limiter() -> MemoryRateLimiter:
    return MemoryRateLimiter()


@pytest.fixture
async def redis_limiter(
    redis_factory: Callable[[], Awaitable[Redis]], redis_prefix: str
) -> RedisRateLimiter:
    return RedisRateLimiter(await redis_factory(), redis_prefix)


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> RateLimiter:
    chosen: RateLimiter = request.getfixturevalue(f"{request.param}_limiter")
    return chosen


@pytest.fixture
def key() -> str:
    return f"bucket-{uuid.uuid4().hex[:8]}"


async def test_capacity_is_respected(limiter: RateLimiter, key: str) -> None:
    rate = Rate(10, 60)
    decisions = [await limiter.acquire(key, rate) for _ in range(12)]
    assert [d.allowed for d in decisions] == [True] * 10 + [False] * 2
    assert [round(d.remaining) for d in decisions[:10]] == list(range(9, -1, -1))
    denied = decisions[10]
    # One token comes back every 6 s.
    assert 5.0 < denied.retry_after <= 6.0
    assert denied.remaining < 1


async def test_buckets_are_independent(limiter: RateLimiter, key: str) -> None:
    rate = Rate(1, 60)
    assert (await limiter.acquire(key, rate)).allowed
    assert not (await limiter.acquire(key, rate)).allowed
    assert (await limiter.acquire(key + "-other", rate)).allowed


async def test_cost_takes_several_tokens(limiter: RateLimiter, key: str) -> None:
    rate = Rate(10, 60)
    assert (await limiter.acquire(key, rate, cost=7)).allowed
    refused = await limiter.acquire(key, rate, cost=4)
    assert not refused.allowed
    assert 5.0 < refused.retry_after <= 6.0  # one more token needed
    assert (await limiter.acquire(key, rate, cost=3)).allowed


async def test_tokens_refill_over_time(limiter: RateLimiter, key: str) -> None:
    rate = Rate(10, 1.0)  # 10 tokens a second
    for _ in range(10):
        assert (await limiter.acquire(key, rate)).allowed
    assert not (await limiter.acquire(key, rate)).allowed
    started = time.monotonic()
    await asyncio.sleep(0.35)
    granted = 0
    while (await limiter.acquire(key, rate)).allowed:
        granted += 1
    elapsed = time.monotonic() - started
    assert 3 <= granted <= int(elapsed * 10) + 1


async def test_retry_after_is_long_enough_and_not_much_longer(
    limiter: RateLimiter, key: str
) -> None:
    rate = Rate(1, 0.5)  # a token every 0.5 s
    assert (await limiter.acquire(key, rate)).allowed
    refused = await limiter.acquire(key, rate)
    assert not refused.allowed
    assert 0.25 < refused.retry_after <= 0.5  # less whatever time passed in between
    await asyncio.sleep(refused.retry_after + 0.02)
    assert (await limiter.acquire(key, rate)).allowed


async def test_release_gives_tokens_back_but_never_beyond_capacity(
    limiter: RateLimiter, key: str
) -> None:
    rate = Rate(3, 3600)
    await limiter.release(key, rate, cost=5)  # a fresh bucket is already full
    assert [(await limiter.acquire(key, rate)).allowed for _ in range(4)] == [True] * 3 + [False]
    await limiter.release(key, rate)
    assert (await limiter.acquire(key, rate)).allowed
    assert not (await limiter.acquire(key, rate)).allowed


async def test_peek_does_not_take_a_token(limiter: RateLimiter, key: str) -> None:
    rate = Rate(1, 3600)
    assert (await limiter.peek(key, rate)).allowed
    assert (await limiter.peek(key, rate)).allowed
    assert (await limiter.acquire(key, rate)).allowed
    peeked = await limiter.peek(key, rate)
    assert not peeked.allowed
    assert peeked.retry_after > 3000


async def test_concurrent_acquires_never_exceed_capacity(limiter: RateLimiter, key: str) -> None:
    rate = Rate(10, 3600)
    decisions = await asyncio.gather(*(limiter.acquire(key, rate) for _ in range(50)))
    assert sum(d.allowed for d in decisions) == 10


async def test_redis_buckets_are_shared_by_processes(
    redis_factory: Callable[[], Awaitable[Redis]], redis_prefix: str, key: str
) -> None:
    # Five "processes", each with its own connection, racing for one bucket.
    limiters = [RedisRateLimiter(await redis_factory(), redis_prefix) for _ in range(5)]
    rate = Rate(10, 3600)
    decisions = await asyncio.gather(*(limiters[i % 5].acquire(key, rate) for i in range(50)))
    assert sum(d.allowed for d in decisions) == 10
    assert all(d.retry_after > 0 for d in decisions if not d.allowed)


async def test_redis_bucket_keys_expire(
    redis_factory: Callable[[], Awaitable[Redis]], redis_prefix: str, key: str
) -> None:
    redis = await redis_factory()
    await RedisRateLimiter(redis, redis_prefix).acquire(key, Rate(5, 10))
    ttl_ms = await redis.pttl(f"{redis_prefix}:rl:{key}")
    assert 10_000 < ttl_ms <= 11_000  # one full refill, plus a second


async def test_enforce_raises_rate_limited_with_whole_seconds(
    memory_limiter: MemoryRateLimiter, key: str
) -> None:
    rate = Rate(1, 90)
    await enforce(memory_limiter, key, rate)
    with pytest.raises(RateLimited) as refused:
        await enforce(memory_limiter, key, rate, "slow down")
    assert refused.value.retry_after == 90
    assert refused.value.detail == "slow down"


def test_memory_limiter_forgets_the_oldest_keys_beyond_its_bound() -> None:
    async def scenario() -> None:
        limiter = MemoryRateLimiter(max_keys=3)
        rate = Rate(1, 3600)
        for name in ("a", "b", "c", "d"):
            assert (await limiter.acquire(name, rate)).allowed
        assert not (await limiter.acquire("d", rate)).allowed
        assert (await limiter.acquire("a", rate)).allowed  # "a" was evicted

    asyncio.run(scenario())


class _FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


steps = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=30, allow_nan=False),  # seconds to wait first
        st.integers(min_value=1, max_value=4),  # cost
        st.booleans(),  # release it again (an attempt that did not count)?
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=20),
    period=st.floats(min_value=0.5, max_value=600, allow_nan=False),
    plan=steps,
)
def test_memory_limiter_never_allows_more_than_capacity_plus_refill(
    capacity: int, period: float, plan: list[tuple[float, int, bool]]
) -> None:
    rate = Rate(capacity, period)
    fake = _FakeTime()

    async def scenario() -> None:
        limiter = MemoryRateLimiter()
        started = fake.now
        kept = 0  # tokens taken and not given back
        for wait, cost, give_back in plan:
            fake.now += wait
            decision = await limiter.acquire("k", rate, cost)
            if decision.allowed:
                kept += cost
                if give_back:
                    await limiter.release("k", rate, cost)
                    kept -= cost
            else:
                assert decision.retry_after > 0
                if cost <= capacity:
                    # Waiting as long as told is enough.
                    fake.now += decision.retry_after + 1e-6
                    assert (await limiter.peek("k", rate)).remaining >= cost - 1e-6
            assert decision.remaining >= -1e-9
            assert kept <= capacity + rate.per_second * (fake.now - started) + 1e-6

    with mock.patch.object(ratelimit, "time", SimpleNamespace(monotonic=fake.monotonic)):
        asyncio.run(scenario())
