"""Rate limits, reporting a message, the wallet's hooks (payment lines, shared
conversations), calls' prior-DM question, and the data export."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from plaza.config import Settings
from plaza.core.errors import NotFound
from tests.conftest import Users
from tests.messaging.conftest import Dm, friends


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"dm_messages_per_minute": 3, "dm_new_conversations_per_day": 2}
    )


async def test_messages_per_minute_are_limited(dm: Dm, users: Users) -> None:
    alice, bob = await friends(dm, users)
    cid = (await dm.start(alice, bob))["id"]
    for i in range(3):
        await dm.send(alice, cid, f"{i}")
    refused = await dm.raw(alice, "POST", f"/{cid}/messages", {"text": "4", "client_id": "four"})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    # Bob has a bucket of his own.
    await dm.send(bob, cid, "me too")


async def test_new_conversations_per_day_are_limited(dm: Dm, users: Users) -> None:
    me, *others = await friends(dm, users, 4)
    await dm.start(me, others[0])
    await dm.start(me, others[1])
    # Opening an existing conversation is not a new one.
    await dm.start(me, others[0])
    refused = await dm.raw(me, "POST", "", {"participants": [others[2].username]})
    assert refused.status_code == 429


async def test_a_message_can_be_reported_by_those_who_see_it(
    dm: Dm, users: Users, client: httpx.AsyncClient
) -> None:
    alice, bob = await friends(dm, users)
    eve = await users.create()
    cid = (await dm.start(alice, bob))["id"]
    mid = (await dm.send(alice, cid, "buy followers now"))["id"]
    body = {"subject": "message", "subject_id": mid, "category": "spam", "reason": "spam DM"}
    filed = await client.post("/api/v1/reports", json=body, headers=bob.headers)
    assert filed.status_code == 201, filed.text
    assert filed.json()["subject"] == "message"
    outsider = await client.post("/api/v1/reports", json=body, headers=eve.headers)
    assert outsider.status_code == 404
    own = await client.post("/api/v1/reports", json=body, headers=alice.headers)
    assert own.status_code == 422
    # Deleted for oneself: no longer visible, so no longer reportable by that person.
    await dm.ok(bob, "DELETE", f"/{cid}/messages/{mid}?scope=me", status=204)
    again = await client.post("/api/v1/reports", json=body, headers=bob.headers)
    assert again.status_code == 404


async def test_payment_lines_are_posted_once_per_payment(dm: Dm, users: Users, plaza: Any) -> None:
    alice, bob = await friends(dm, users)
    eve = await users.create()
    cid = (await dm.start(alice, bob))["id"]
    await dm.send(bob, cid, "lunch was 12.50")
    messaging = plaza.messaging
    assert await messaging.shares_conversation(int(cid), int(alice.id), int(bob.id))
    assert not await messaging.shares_conversation(int(cid), int(alice.id), int(eve.id))
    for _ in range(2):
        await messaging.record_payment(
            conversation_id=int(cid),
            payer_id=int(alice.id),
            payee_id=int(bob.id),
            payment_id=4242,
            amount=1250,
            currency="USD",
        )
    payments = [m for m in (await dm.history(bob, cid))["data"] if m["kind"] == "payment"]
    assert len(payments) == 1
    assert payments[0]["payment"] == {"id": "4242", "amount": {"amount": 1250, "currency": "USD"}}
    assert payments[0]["sender"]["id"] == alice.id
    with pytest.raises(NotFound):
        await messaging.record_payment(
            conversation_id=int(cid),
            payer_id=int(eve.id),
            payee_id=int(bob.id),
            payment_id=1,
            amount=1,
            currency="USD",
        )


async def test_has_messaged_answers_per_direction(dm: Dm, users: Users, plaza: Any) -> None:
    alice, bob = await friends(dm, users)
    cid = (await dm.start(alice, bob))["id"]
    assert not await plaza.messaging.has_messaged(int(alice.id), int(bob.id))
    await dm.send(alice, cid, "hi")
    assert await plaza.messaging.has_messaged(int(alice.id), int(bob.id))
    assert not await plaza.messaging.has_messaged(int(bob.id), int(alice.id))


async def test_the_export_holds_my_settings_conversations_and_messages(
    dm: Dm, users: Users, client: httpx.AsyncClient
) -> None:
    alice, bob = await friends(dm, users)
    await dm.settings(alice, dm_policy="verified")
    cid = (await dm.start(alice, bob))["id"]
    await dm.send(alice, cid, "mine to export")
    await dm.send(bob, cid, "not mine")
    response = await client.get("/api/v1/me/export", headers=alice.headers)
    assert response.status_code == 200
    part = response.json()["messaging"]
    assert part["settings"] == {"dm_policy": "verified", "read_receipts": True}
    assert [c["id"] for c in part["conversations"]] == [cid]
    assert [m["text"] for m in part["messages_sent"]] == ["mine to export"]
