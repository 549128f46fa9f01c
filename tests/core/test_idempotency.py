"""Idempotency keys (Stripe's semantics) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Header

from plaza.core.clock import ManualClock
from plaza.core.db import Database
from plaza.core.errors import Conflict, InvalidInput, RateLimited
from plaza.core.idempotency import IdempotencyStore, fingerprint, idempotent_response

FP = fingerprint("POST", "/api/v1/payments", {"to": "bob", "amount": {"amount": 5}})


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
def store(db: Database, clock: ManualClock) -> IdempotencyStore:
    return IdempotencyStore(db, clock)


class Counting:
    """A handler that counts its calls and answers what it is told."""

    def __init__(self, status: int = 201, body: Any = None) -> None:
        self.calls = 0
        self.status = status
        self.body = body if body is not None else {"id": "1"}

    async def __call__(self) -> tuple[int, Any]:
        self.calls += 1
        return self.status, {**self.body, "call": self.calls}


async def test_a_replay_returns_the_first_response(store: IdempotencyStore) -> None:
    handler = Counting()
    first = await store.run("k1", scope="u1", fingerprint=FP, handler=handler)
    again = await store.run("k1", scope="u1", fingerprint=FP, handler=handler)
    assert first == (201, {"id": "1", "call": 1}, False)
    assert again == (201, {"id": "1", "call": 1}, True)
    assert handler.calls == 1
    # Keys are per scope (user): another user's same key is another request.
    other = await store.run("k1", scope="u2", fingerprint=FP, handler=handler)
    assert other == (201, {"id": "1", "call": 2}, False)


def test_the_fingerprint_ignores_key_order_but_not_values() -> None:
    assert fingerprint("post", "/p", {"a": 1, "b": [1, 2]}) == fingerprint(
        "POST", "/p", {"b": [1, 2], "a": 1}
    )
    assert fingerprint("POST", "/p", {"a": 1}) != fingerprint("POST", "/p", {"a": 2})
    assert fingerprint("POST", "/p", {"a": 1}) != fingerprint("POST", "/q", {"a": 1})


async def test_the_same_key_with_other_parameters_is_a_422(store: IdempotencyStore) -> None:
    handler = Counting()
    await store.run("k", scope="u", fingerprint=FP, handler=handler)
    other = fingerprint("POST", "/api/v1/payments", {"to": "bob", "amount": {"amount": 6}})
    with pytest.raises(InvalidInput) as caught:
        await store.run("k", scope="u", fingerprint=other, handler=handler)
    assert caught.value.status == 422
    assert caught.value.extra["errors"][0]["field"] == "Idempotency-Key"
    assert handler.calls == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there", "nl\n"])
async def test_malformed_keys_are_refused(store: IdempotencyStore, key: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        await store.run(key, scope="u", fingerprint=FP, handler=Counting())
    assert caught.value.extra["errors"][0]["field"] == "Idempotency-Key"


async def test_a_key_of_255_printable_characters_is_fine(store: IdempotencyStore) -> None:
    key = ("~ !azAZ09" * 40)[:255]
    assert (await store.run(key, scope="u", fingerprint=FP, handler=Counting()))[0] == 201


async def test_a_key_in_flight_is_a_409(db: Database, clock: ManualClock) -> None:
    # Two stores on two engines: as two processes would be.
    first_store = IdempotencyStore(db, clock)
    other_db = Database(db.url)
    second_store = IdempotencyStore(other_db, clock)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow() -> tuple[int, Any]:
        started.set()
        await release.wait()
        return 201, {"id": "slow"}

    task = asyncio.create_task(first_store.run("k", scope="u", fingerprint=FP, handler=slow))
    await started.wait()
    handler = Counting()
    with pytest.raises(Conflict):
        await second_store.run("k", scope="u", fingerprint=FP, handler=handler)
    release.set()
    assert await task == (201, {"id": "slow"}, False)
    assert await second_store.run("k", scope="u", fingerprint=FP, handler=handler) == (
        201,
        {"id": "slow"},
        True,
    )
    assert handler.calls == 0
    await other_db.dispose()


async def test_client_errors_are_stored_but_server_errors_are_not(
    store: IdempotencyStore,
) -> None:
    async def refuse() -> tuple[int, Any]:
        raise InvalidInput("amount", "insufficient funds")

    status, body, replayed = await store.run("a", scope="u", fingerprint=FP, handler=refuse)
    assert (status, body["status"], body["errors"][0]["field"], replayed) == (
        422,
        422,
        "amount",
        False,
    )
    # Stored: the replay answers the same problem even though the handler would now pass.
    assert await store.run("a", scope="u", fingerprint=FP, handler=Counting()) == (
        status,
        body,
        True,
    )

    failing = Counting(status=503)
    assert (await store.run("b", scope="u", fingerprint=FP, handler=failing))[0] == 503
    assert (await store.run("b", scope="u", fingerprint=FP, handler=failing))[2] is False
    assert failing.calls == 2  # a 5xx is not stored: the key can be retried

    async def boom() -> tuple[int, Any]:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        await store.run("c", scope="u", fingerprint=FP, handler=boom)
    assert (await store.run("c", scope="u", fingerprint=FP, handler=Counting()))[:1] == (201,)

    async def throttled() -> tuple[int, Any]:
        raise RateLimited(5)

    with pytest.raises(RateLimited):
        await store.run("d", scope="u", fingerprint=FP, handler=throttled)
    assert (await store.run("d", scope="u", fingerprint=FP, handler=Counting()))[2] is False


async def test_keys_are_kept_for_the_ttl_then_swept(
    store: IdempotencyStore, clock: ManualClock
) -> None:
    handler = Counting()
    await store.run("k", scope="u", fingerprint=FP, handler=handler)
    clock.advance(timedelta(hours=23, minutes=59))
    assert await store.sweep() == 0
    assert (await store.run("k", scope="u", fingerprint=FP, handler=handler))[2] is True
    clock.advance(timedelta(minutes=1))
    # Expired but not yet swept: treated as new.
    assert (await store.run("k", scope="u", fingerprint=FP, handler=handler))[1]["call"] == 2
    clock.advance(timedelta(hours=24))
    assert await store.sweep() == 1
    assert (await store.run("k", scope="u", fingerprint=FP, handler=handler))[1]["call"] == 3


async def test_a_key_abandoned_by_a_dead_process_is_taken_over(
    store: IdempotencyStore, clock: ManualClock
) -> None:
    # A process claimed the key and died before answering.
    assert await store._claim("u", "k", FP, clock.now())
    handler = Counting()
    with pytest.raises(Conflict):
        await store.run("k", scope="u", fingerprint=FP, handler=handler)
    clock.advance(store.lease + timedelta(seconds=1))
    assert (await store.run("k", scope="u", fingerprint=FP, handler=handler))[:1] == (201,)
    assert handler.calls == 1


async def test_over_http(store: IdempotencyStore) -> None:
    app = FastAPI()
    handler = Counting()

    @app.post("/pay")
    async def pay(idempotency_key: str = Header()) -> Any:
        status, body, replayed = await store.run(
            idempotency_key, scope="u", fingerprint=FP, handler=handler
        )
        return idempotent_response(status, body, replayed)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        first = await client.post("/pay", headers={"Idempotency-Key": "abc"})
        second = await client.post("/pay", headers={"Idempotency-Key": "abc"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
