"""Token-bucket rate limiting, in memory by default and in Redis across processes.

A ``Rate`` is a bucket of ``capacity`` tokens refilled continuously at
``capacity / period`` tokens per second. ``acquire`` takes tokens or says how long
until enough are back; ``release`` returns tokens (used when an attempt turns out
to be one that should not count, such as a successful sign-in).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from plaza.core.errors import RateLimited


@dataclass(frozen=True)
class Rate:
    capacity: int
    period_seconds: float

    @property
    def per_second(self) -> float:
        return self.capacity / self.period_seconds


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: float
    retry_after: float


class RateLimiter(Protocol):
    async def acquire(self, key: str, rate: Rate, cost: int = 1) -> Decision:
        """Take ``cost`` tokens from ``key``'s bucket if it holds them."""
        ...

    async def release(self, key: str, rate: Rate, cost: int = 1) -> None:
        """Give ``cost`` tokens back, never beyond capacity."""
        ...

    async def peek(self, key: str, rate: Rate) -> Decision:
        """Whether one token is available now, without taking it."""
        ...


async def enforce(limiter: RateLimiter, key: str, rate: Rate, detail: str | None = None) -> None:
    """Take a token or raise ``RateLimited`` carrying the wait in ``Retry-After``."""
    decision = await limiter.acquire(key, rate)
    if not decision.allowed:
        raise RateLimited(decision.retry_after, detail)


def _refill(tokens: float, updated: float, now: float, rate: Rate) -> float:
    return min(float(rate.capacity), tokens + max(0.0, now - updated) * rate.per_second)


class MemoryRateLimiter:
    """One process's buckets, bounded in number so that key floods cannot grow memory."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._max_keys = max_keys
        self._lock = asyncio.Lock()

    def _load(self, key: str, rate: Rate, now: float) -> float:
        tokens, updated = self._buckets.get(key, (float(rate.capacity), now))
        return _refill(tokens, updated, now, rate)

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)

    async def acquire(self, key: str, rate: Rate, cost: int = 1) -> Decision:
        async with self._lock:
            now = time.monotonic()
            tokens = self._load(key, rate, now)
            if tokens >= cost:
                self._store(key, tokens - cost, now)
                return Decision(True, tokens - cost, 0.0)
            self._store(key, tokens, now)
            return Decision(False, tokens, (cost - tokens) / rate.per_second)

    async def release(self, key: str, rate: Rate, cost: int = 1) -> None:
        async with self._lock:
            now = time.monotonic()
            self._store(key, min(float(rate.capacity), self._load(key, rate, now) + cost), now)

    async def peek(self, key: str, rate: Rate) -> Decision:
        async with self._lock:
            tokens = self._load(key, rate, time.monotonic())
            wait = 0.0 if tokens >= 1 else (1 - tokens) / rate.per_second
            return Decision(tokens >= 1, tokens, wait)


# One atomic script per operation: read the bucket, refill it by elapsed time, apply
# the change, write it back with an expiry of one full refill. Time comes from the
# Redis server so that processes with skewed clocks share one notion of "now".
_BUCKET_LUA = """
local capacity = tonumber(ARGV[1])
local per_second = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local mode = ARGV[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil then tokens = capacity; updated = now end
tokens = math.min(capacity, tokens + math.max(0, now - updated) * per_second)
local allowed = 0
local wait = 0
if mode == 'acquire' then
  if tokens >= cost then tokens = tokens - cost; allowed = 1
  else wait = (cost - tokens) / per_second end
elseif mode == 'release' then
  tokens = math.min(capacity, tokens + cost); allowed = 1
else
  if tokens >= 1 then allowed = 1 else wait = (1 - tokens) / per_second end
end
if mode ~= 'peek' then
  redis.call('HSET', KEYS[1], 'tokens', tokens, 'updated', now)
  redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / per_second * 1000) + 1000)
end
return {allowed, tostring(tokens), tostring(wait)}
"""


class RedisRateLimiter:
    """Buckets shared by every process through Redis."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_BUCKET_LUA)

    async def _run(self, mode: str, key: str, rate: Rate, cost: int) -> Decision:
        allowed, tokens, wait = await self._script(
            keys=[f"{self._prefix}:rl:{key}"], args=[rate.capacity, rate.per_second, cost, mode]
        )
        return Decision(bool(int(allowed)), float(tokens), float(wait))

    async def acquire(self, key: str, rate: Rate, cost: int = 1) -> Decision:
        return await self._run("acquire", key, rate, cost)

    async def release(self, key: str, rate: Rate, cost: int = 1) -> None:
        await self._run("release", key, rate, cost)

    async def peek(self, key: str, rate: Rate) -> Decision:
        return await self._run("peek", key, rate, 1)
