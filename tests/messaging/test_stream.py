"""What reaches the live stream, and whose: messages, edits, reactions, deletes,
receipts across two devices of one user, typing, and conversation changes."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from tests.conftest import Users
from tests.messaging.conftest import Dm, FakeSocket, frames_until, friends
from tests.realtime.conftest import SocketFactory


async def stored(plaza: Any, user_id: str, kind: str | None = None) -> list[dict[str, Any]]:
    """The user's persisted stream events (of one kind)."""
    rows = await plaza.realtime.events_after(int(user_id), 0, 1000)
    return [
        {"type": t, "data": orjson.loads(d)} for _seq, t, d in rows if kind is None or t == kind
    ]


async def nothing_more(sock: FakeSocket, kind: str, wait: float = 0.3) -> None:
    """No frame of ``kind`` arrives within ``wait`` seconds."""
    try:
        async with asyncio.timeout(wait):
            while True:
                frame = await sock.receive_event()
                assert frame["type"] != kind, frame
    except TimeoutError:
        return


async def test_a_message_reaches_every_device_of_every_member(
    dm: Dm, users: Users, connect: SocketFactory
) -> None:
    alice, bob = await friends(dm, users)
    bob_phone = await users.sign_in(bob.username)
    cid = (await dm.start(alice, bob))["id"]
    async with (
        connect(bob.headers) as laptop,
        connect(bob_phone.headers) as phone,
        connect(alice.headers) as own,
    ):
        sent = await dm.send(alice, cid, "to all your devices", client_id="c-77")
        for sock in (laptop, phone, own):
            [frame] = await frames_until(sock, "message.created")
            assert frame["seq"] is not None
            assert frame["data"] == sent
    assert sent["client_id"] == "c-77"
    assert sent["sender"]["username"] == alice.username


async def test_reading_on_one_device_clears_unread_on_the_other(
    dm: Dm, users: Users, connect: SocketFactory
) -> None:
    alice, bob = await friends(dm, users)
    bob_phone = await users.sign_in(bob.username)
    cid = (await dm.start(alice, bob))["id"]
    last = None
    for text in ("one", "two"):
        last = await dm.send(alice, cid, text)
    assert last is not None
    assert (await dm.unread(bob_phone))["messages"] == 2
    async with connect(bob_phone.headers, since=0) as phone, connect(alice.headers) as sender:
        await dm.ok(bob, "POST", f"/{cid}/read", {"message_id": last["id"]}, status=204)
        [receipt] = await frames_until(phone, "receipt")
        assert receipt["data"] == {
            "conversation_id": cid,
            "user_id": bob.id,
            "kind": "read",
            "message_id": last["id"],
        }
        [theirs] = await frames_until(sender, "receipt")
        assert theirs["data"]["message_id"] == last["id"]
    assert (await dm.unread(bob_phone))["messages"] == 0
    assert (await dm.conversation(alice, cid))["read_receipts"][bob.id] == last["id"]
    # Marks never move back, and a repeat sends nothing.
    first_id = (await dm.history(bob, cid))["data"][-1]["id"]
    await dm.ok(bob, "POST", f"/{cid}/read", {"message_id": first_id}, status=204)
    assert (await dm.conversation(alice, cid))["read_receipts"][bob.id] == last["id"]


async def test_read_receipts_switched_off_stay_private(dm: Dm, users: Users, plaza: Any) -> None:
    alice, bob = await friends(dm, users)
    await dm.settings(bob, read_receipts=False)
    cid = (await dm.start(alice, bob))["id"]
    message = await dm.send(alice, cid, "did you read this?")
    await dm.ok(bob, "POST", f"/{cid}/read", {"message_id": message["id"]}, status=204)
    assert await stored(plaza, alice.id, "receipt") == []
    assert [e["data"]["kind"] for e in await stored(plaza, bob.id, "receipt")] == ["read"]
    assert (await dm.conversation(alice, cid))["read_receipts"] == {}
    # Delivered marks still show.
    await dm.ok(bob, "POST", f"/{cid}/delivered", {"message_id": message["id"]}, status=204)
    view = await dm.conversation(alice, cid)
    assert view["delivered"][bob.id] == message["id"]


async def test_delivered_marks_reach_the_sender(dm: Dm, users: Users, plaza: Any) -> None:
    alice, bob = await friends(dm, users)
    cid = (await dm.start(alice, bob))["id"]
    message = await dm.send(alice, cid, "ping")
    await dm.ok(bob, "POST", f"/{cid}/delivered", {"message_id": message["id"]}, status=204)
    await dm.ok(bob, "POST", f"/{cid}/delivered", {"message_id": message["id"]}, status=204)
    receipts = await stored(plaza, alice.id, "receipt")
    assert [r["data"]["kind"] for r in receipts] == ["delivered"]
    bad = await dm.raw(bob, "POST", f"/{cid}/read", {"message_id": "1"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "message_id"


async def test_typing_is_ephemeral_and_goes_to_the_others(
    dm: Dm, users: Users, connect: SocketFactory, plaza: Any
) -> None:
    alice, bob, carol = await friends(dm, users, 3)
    cid = (await dm.start(alice, bob, carol))["id"]
    async with connect(bob.headers) as sock_b, connect(alice.headers) as sock_a:
        await dm.ok(alice, "POST", f"/{cid}/typing", status=204)
        [frame] = await frames_until(sock_b, "typing")
        assert frame["seq"] is None
        assert frame["data"] == {
            "conversation_id": cid,
            "user_id": alice.id,
            "username": alice.username,
        }
        await nothing_more(sock_a, "typing")
    assert await stored(plaza, bob.id, "typing") == []


async def test_edits_reactions_and_deletes_are_pushed_as_each_member_sees_them(
    dm: Dm, users: Users, connect: SocketFactory
) -> None:
    alice, bob = await friends(dm, users)
    cid = (await dm.start(alice, bob))["id"]
    mid = (await dm.send(alice, cid, "orig"))["id"]
    async with connect(alice.headers) as sock_a, connect(bob.headers) as sock_b:
        await dm.ok(alice, "PATCH", f"/{cid}/messages/{mid}", {"text": "edited"})
        for sock in (sock_a, sock_b):
            [frame] = await frames_until(sock, "message.updated")
            assert frame["data"]["text"] == "edited"
        await dm.ok(bob, "PUT", f"/{cid}/messages/{mid}/reactions/❤️")
        [for_alice] = await frames_until(sock_a, "message.updated")
        [for_bob] = await frames_until(sock_b, "message.updated")
        assert for_alice["data"]["reactions"] == [{"emoji": "❤️", "count": 1, "me": False}]
        assert for_bob["data"]["reactions"] == [{"emoji": "❤️", "count": 1, "me": True}]
        await dm.ok(bob, "DELETE", f"/{cid}/messages/{mid}?scope=me", status=204)
        [mine] = await frames_until(sock_b, "message.deleted")
        assert mine["data"] == {"id": mid, "conversation_id": cid, "scope": "me"}
        await dm.ok(alice, "DELETE", f"/{cid}/messages/{mid}?scope=everyone", status=204)
        [everyone] = await frames_until(sock_a, "message.deleted")
        assert everyone["data"]["scope"] == "everyone"
        await nothing_more(sock_a, "message.deleted")


async def test_conversation_changes_reach_the_members(dm: Dm, users: Users, plaza: Any) -> None:
    admin, bob, carol, dave = await friends(dm, users, 4)
    cid = (await dm.start(admin, bob, carol, name="Club"))["id"]
    await dm.ok(admin, "PATCH", f"/{cid}", {"name": "Club 2"})
    await dm.ok(admin, "POST", f"/{cid}/members", {"usernames": [dave.username]})
    updates = await stored(plaza, bob.id, "conversation.updated")
    assert [u["data"]["name"] for u in updates] == ["Club", "Club 2", "Club 2"]
    assert updates[-1]["data"]["box"] == "inbox"
    assert len(updates[-1]["data"]["members"]) == 4
    assert [u["data"]["name"] for u in await stored(plaza, dave.id, "conversation.updated")] == [
        "Club 2"
    ]
    await dm.ok(bob, "DELETE", f"/{cid}", status=204)
    assert (await stored(plaza, bob.id, "conversation.updated"))[-1]["data"] == {
        "id": cid,
        "deleted": True,
    }
    assert (await stored(plaza, admin.id, "conversation.updated"))[-1]["data"]["name"] == "Club 2"


async def test_a_group_member_gets_nothing_from_someone_they_blocked(
    dm: Dm, users: Users, plaza: Any
) -> None:
    alice, bob, mallory = await friends(dm, users, 3)
    cid = (await dm.start(alice, bob, mallory))["id"]
    await dm.block(bob, mallory)
    await dm.send(mallory, cid, "you can't hear me")
    await dm.send(alice, cid, "you can hear me")
    texts = [e["data"]["text"] for e in await stored(plaza, bob.id, "message.created")]
    assert "you can't hear me" not in texts
    assert "you can hear me" in texts


@pytest.mark.parametrize("blocker", ["sender", "recipient"])
async def test_a_block_stops_a_direct_conversation(dm: Dm, users: Users, blocker: str) -> None:
    alice, bob = await friends(dm, users)
    cid = (await dm.start(alice, bob))["id"]
    await dm.send(alice, cid, "before")
    await dm.block(*((alice, bob) if blocker == "sender" else (bob, alice)))
    refused = await dm.raw(alice, "POST", f"/{cid}/messages", {"text": "x", "client_id": "b"})
    assert refused.status_code == 403
    assert "blocked" in refused.json()["detail"]
    again = await dm.raw(alice, "POST", "", {"participants": [bob.username]})
    assert again.status_code == 404
    # History stays readable.
    assert [m["text"] for m in (await dm.history(alice, cid))["data"]] == ["before"]
