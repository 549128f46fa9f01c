"""Messages: idempotent sends, text rules, history in both directions, edits within the
window, deletes for me and for everyone, reactions, replies and attachments."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from io import BytesIO
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import event, func, select

from plaza.core.clock import ManualClock
from plaza.messaging import Message
from tests.conftest import Account, Users
from tests.messaging.conftest import Dm, friends


def png() -> bytes:
    out = BytesIO()
    Image.new("RGB", (32, 24), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


async def upload(client: httpx.AsyncClient, who: Account) -> str:
    response = await client.post(
        "/api/v1/media",
        headers=who.headers,
        files={"file": ("red.png", png(), "application/octet-stream")},
        data={"alt_text": "a red square"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def stored(plaza: Any, client_id: str) -> int:
    async with plaza.db.session(write=False) as session:
        count = await session.scalar(
            select(func.count()).select_from(Message).where(Message.client_id == client_id)
        )
    return int(count or 0)


async def test_the_same_client_id_stores_one_message(dm: Dm, users: Users, plaza: Any) -> None:
    alice, bob = await friends(dm, users)
    cid = (await dm.start(alice, bob))["id"]
    first = await dm.raw(alice, "POST", f"/{cid}/messages", {"text": "once", "client_id": "c-1"})
    again = await dm.raw(alice, "POST", f"/{cid}/messages", {"text": "once", "client_id": "c-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.json()["client_id"] == "c-1"
    assert await stored(plaza, "c-1") == 1
    different = await dm.raw(
        alice, "POST", f"/{cid}/messages", {"text": "twice", "client_id": "c-1"}
    )
    assert different.status_code == 422
    assert different.json()["errors"][0]["field"] == "client_id"
    # Another sender may use the same client id.
    theirs = await dm.raw(bob, "POST", f"/{cid}/messages", {"text": "mine", "client_id": "c-1"})
    assert theirs.status_code == 201
    assert theirs.json()["id"] != first.json()["id"]


async def test_concurrent_duplicates_answer_the_first_message(
    dm: Dm, users: Users, plaza: Any
) -> None:
    alice, bob = await friends(dm, users)
    cid = (await dm.start(alice, bob))["id"]
    body = {"text": "racing", "client_id": "race-1"}
    answers = await asyncio.gather(
        *(dm.raw(alice, "POST", f"/{cid}/messages", body) for _ in range(6))
    )
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await stored(plaza, "race-1") == 1
    stream = await plaza.realtime.events_after(int(bob.id), 0, 100)
    assert [kind for _seq, kind, _data in stream].count("message.created") == 1


async def test_the_idempotency_key_header_stands_in_for_client_id(dm: Dm, users: Users) -> None:
    alice, bob = await friends(dm, users)
    cid = (await dm.start(alice, bob))["id"]
    headers = {"Idempotency-Key": "key-42"}
    first = await dm.raw(alice, "POST", f"/{cid}/messages", {"text": "hdr"}, headers=headers)
    again = await dm.raw(alice, "POST", f"/{cid}/messages", {"text": "hdr"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["client_id"] == "key-42"


async def test_text_rules(dm: Dm, users: Users) -> None:
    alice, bob = await friends(dm, users)
    cid = (await dm.start(alice, bob))["id"]
    longest = "é" * 10_000  # code points: 10,000 of them is fine
    assert (await dm.send(alice, cid, longest))["text"] == longest
    for text in ("x" * 10_001, "", "   \n ", "nul\x00byte", "bell\x07"):
        refused = await dm.raw(
            alice, "POST", f"/{cid}/messages", {"text": text, "client_id": text[:5] + "z"}
        )
        assert refused.status_code == 422, repr(text)
        assert refused.json()["errors"][0]["field"] == "text"
    # Nothing is stripped: what was typed arrives.
    spaced = "  two spaces before, a newline after\n"
    assert (await dm.send(alice, cid, spaced))["text"] == spaced


async def test_history_pages_back_and_catches_up_forwards(dm: Dm, users: Users) -> None:
    alice, bob = await friends(dm, users)
    cid = (await dm.start(alice, bob))["id"]
    sent = [await dm.send(alice if i % 2 else bob, cid, f"m{i}") for i in range(7)]
    ids = [m["id"] for m in sent]
    page = await dm.history(bob, cid, limit=3)
    assert [m["id"] for m in page["data"]] == ids[::-1][:3]
    page2 = await dm.history(bob, cid, limit=3, cursor=page["next_cursor"])
    assert [m["id"] for m in page2["data"]] == ids[::-1][3:6]
    page3 = await dm.history(bob, cid, limit=3, cursor=page2["next_cursor"])
    assert [m["id"] for m in page3["data"]] == ids[:1]
    assert page3["next_cursor"] is None
    forward = await dm.history(bob, cid, after=ids[1], limit=3)
    assert [m["id"] for m in forward["data"]] == ids[2:5]
    more = await dm.history(bob, cid, limit=3, cursor=forward["next_cursor"])
    assert [m["id"] for m in more["data"]] == ids[5:]
    assert more["next_cursor"] is None


async def test_edits_within_the_window_keep_the_history(
    dm: Dm, users: Users, clock: ManualClock
) -> None:
    alice, bob = await friends(dm, users)
    cid = (await dm.start(alice, bob))["id"]
    message = await dm.send(alice, cid, "teh first")
    mid = message["id"]
    others = await dm.raw(bob, "PATCH", f"/{cid}/messages/{mid}", {"text": "hijack"})
    assert others.status_code == 403
    clock.advance(timedelta(minutes=5))
    edited = await dm.ok(alice, "PATCH", f"/{cid}/messages/{mid}", {"text": "the first"})
    assert edited["text"] == "the first"
    assert edited["edited_at"] is not None
    clock.advance(timedelta(minutes=5))
    await dm.ok(alice, "PATCH", f"/{cid}/messages/{mid}", {"text": "the first!"})
    edits = (await dm.ok(bob, "GET", f"/{cid}/messages/{mid}/edits"))["data"]
    assert [e["text"] for e in edits] == ["teh first", "the first"]
    assert edits[0]["written_at"] == message["created_at"]
    assert edits[0]["edited_at"] == edited["edited_at"]
    clock.advance(timedelta(minutes=5, seconds=1))
    late = await dm.raw(alice, "PATCH", f"/{cid}/messages/{mid}", {"text": "too late"})
    assert late.status_code == 403
    assert "15 minutes" in late.json()["detail"]
    assert (await dm.ok(bob, "GET", f"/{cid}/messages/{mid}"))["text"] == "the first!"


async def test_delete_for_me_and_for_everyone(
    dm: Dm, users: Users, client: httpx.AsyncClient, plaza: Any, clock: ManualClock
) -> None:
    alice, bob = await friends(dm, users)
    cid = (await dm.start(alice, bob))["id"]
    media_id = await upload(client, alice)
    gone = await dm.send(alice, cid, "regret", media_ids=[media_id])
    kept = await dm.send(alice, cid, "fine")
    await dm.ok(bob, "DELETE", f"/{cid}/messages/{kept['id']}?scope=me", status=204)
    assert [m["id"] for m in (await dm.history(bob, cid))["data"]] == [gone["id"]]
    assert len((await dm.history(alice, cid))["data"]) == 2
    # Only the sender deletes for everyone, with no time limit.
    refused = await dm.raw(bob, "DELETE", f"/{cid}/messages/{gone['id']}?scope=everyone")
    assert refused.status_code == 403
    clock.advance(timedelta(days=10))
    await dm.ok(alice, "DELETE", f"/{cid}/messages/{gone['id']}?scope=everyone", status=204)
    shown = await dm.ok(bob, "GET", f"/{cid}/messages/{gone['id']}")
    assert (shown["deleted"], shown["text"], shown["media"]) == (True, "", [])
    # Its media was released: the sweep deletes it.
    await plaza.media.sweep()
    assert await plaza.media.describe([int(media_id)]) == {}


async def test_reactions_count_per_emoji_and_say_whether_they_are_mine(
    dm: Dm, users: Users
) -> None:
    alice, bob, carol = await friends(dm, users, 3)
    cid = (await dm.start(alice, bob, carol))["id"]
    mid = (await dm.send(alice, cid, "vote"))["id"]
    path = f"/{cid}/messages/{mid}/reactions"
    await dm.ok(bob, "PUT", f"{path}/👍")
    await dm.ok(bob, "PUT", f"{path}/👍")  # once per emoji per user
    view = await dm.ok(carol, "PUT", f"{path}/👍")
    assert view["reactions"] == [{"emoji": "👍", "count": 2, "me": True}]
    view = await dm.ok(alice, "PUT", f"{path}/🎉")
    assert view["reactions"] == [
        {"emoji": "👍", "count": 2, "me": False},
        {"emoji": "🎉", "count": 1, "me": True},
    ]
    view = await dm.ok(bob, "DELETE", f"{path}/👍")
    assert view["reactions"][0] == {"emoji": "👍", "count": 1, "me": False}
    for bad in ("ab", "👍👍", "%20"):
        assert (await dm.raw(bob, "PUT", f"{path}/{bad}")).status_code == 422, bad


async def test_a_message_holds_at_most_twenty_distinct_reactions(dm: Dm, users: Users) -> None:
    alice, bob = await friends(dm, users)
    cid = (await dm.start(alice, bob))["id"]
    mid = (await dm.send(alice, cid, "react"))["id"]
    emoji = [chr(0x1F600 + i) for i in range(21)]
    for e in emoji[:20]:
        await dm.ok(bob, "PUT", f"/{cid}/messages/{mid}/reactions/{e}")
    refused = await dm.raw(alice, "PUT", f"/{cid}/messages/{mid}/reactions/{emoji[20]}")
    assert refused.status_code == 422
    # An emoji already there can still be added by someone else.
    await dm.ok(alice, "PUT", f"/{cid}/messages/{mid}/reactions/{emoji[0]}")


async def test_replies_point_at_a_visible_message_of_the_same_conversation(
    dm: Dm, users: Users
) -> None:
    alice, bob, carol = await friends(dm, users, 3)
    cid = (await dm.start(alice, bob))["id"]
    other = (await dm.start(alice, carol))["id"]
    original = await dm.send(bob, cid, "question?")
    reply = await dm.send(alice, cid, "answer", reply_to=original["id"])
    assert reply["reply_to"] == {"id": original["id"], "sender_id": bob.id, "text": "question?"}
    elsewhere = await dm.send(alice, other, "x")
    wrong = await dm.raw(
        alice,
        "POST",
        f"/{cid}/messages",
        {"text": "no", "client_id": "w", "reply_to": elsewhere["id"]},
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "reply_to"
    await dm.ok(bob, "DELETE", f"/{cid}/messages/{original['id']}?scope=everyone", status=204)
    shown = await dm.ok(alice, "GET", f"/{cid}/messages/{reply['id']}")
    assert shown["reply_to"] == {"id": original["id"], "sender_id": bob.id, "text": ""}


async def test_attachments_come_from_the_media_api(
    dm: Dm, users: Users, client: httpx.AsyncClient
) -> None:
    alice, bob = await friends(dm, users)
    cid = (await dm.start(alice, bob))["id"]
    media_ids = [await upload(client, alice) for _ in range(5)]
    too_many = await dm.raw(
        alice, "POST", f"/{cid}/messages", {"text": "", "client_id": "m5", "media_ids": media_ids}
    )
    assert too_many.status_code == 422
    message = await dm.send(alice, cid, "", media_ids=media_ids[:2])
    assert [m["id"] for m in message["media"]] == media_ids[:2]
    assert message["media"][0]["kind"] == "image"
    assert message["media"][0]["url"].startswith("/media/")
    assert message["media"][0]["alt_text"] == "a red square"
    seen = (await dm.history(bob, cid))["data"][0]
    assert seen["media"] == message["media"]
    # Attached media cannot be attached again; someone else's media is refused.
    reused = await dm.raw(
        alice,
        "POST",
        f"/{cid}/messages",
        {"text": "", "client_id": "re", "media_ids": media_ids[:1]},
    )
    assert reused.status_code == 422
    stolen = await dm.raw(
        bob, "POST", f"/{cid}/messages", {"text": "", "client_id": "st", "media_ids": media_ids[4:]}
    )
    assert stolen.status_code == 422
    assert stolen.json()["errors"][0]["field"] == "media_ids"


async def test_a_send_takes_a_handful_of_statements(dm: Dm, users: Users, plaza: Any) -> None:
    """The send path is benchmarked: the block list, one locking read, the insert, the
    conversation's last message and the stream (counter and event), whatever the size
    of the group."""
    people = await friends(dm, users, 5)
    cid = (await dm.start(people[0], *people[1:]))["id"]
    await dm.send(people[1], cid, "warm-up")  # the sender's name is cached from here
    statements: list[str] = []

    # The periodic jobs of other domains (rail polling, ledger expiry, renewals, the
    # missed-call sweep) may run meanwhile on the same engines: not the send's.
    elsewhere = ("identity_session", "wallet_", "ledger_", "premium_", "call_record", "node_")

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in ("SELECT", "INSERT", "UPDATE", "DELETE") and not any(
            table in statement for table in elsewhere
        ):
            statements.append(statement)

    engines = {plaza.db.engine.sync_engine, plaza.db.read_engine.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        await dm.send(people[1], cid, "counted")
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)
    assert len(statements) <= 6, "\n".join(statements)
