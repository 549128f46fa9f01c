"""Conversations: one direct conversation per pair, groups, the inbox list and its
order, delete-for-me, unread counts, and who may see what."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import Users
from tests.messaging.conftest import Dm, friends


async def test_two_people_share_one_direct_conversation_whoever_starts_it(
    dm: Dm, users: Users
) -> None:
    alice, bob = await friends(dm, users)
    first = await dm.raw(alice, "POST", "", {"participants": [bob.username]})
    assert first.status_code == 201, first.text
    conversation = first.json()
    assert conversation["kind"] == "direct"
    assert conversation["name"] is None
    assert {m["username"] for m in conversation["members"]} == {alice.username, bob.username}
    assert conversation["box"] == "inbox"
    assert conversation["state"] == "active"
    assert conversation["last_message"] is None
    again = await dm.raw(bob, "POST", "", {"participants": [alice.username.upper()]})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == conversation["id"]


async def test_starting_the_same_direct_conversation_concurrently_makes_one(
    dm: Dm, users: Users
) -> None:
    alice, bob = await friends(dm, users)
    answers = await asyncio.gather(
        *(dm.raw(a, "POST", "", {"participants": [b.username]}) for a, b in [(alice, bob)] * 3),
        dm.raw(bob, "POST", "", {"participants": [alice.username]}),
    )
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1


async def test_a_direct_conversation_appears_for_the_recipient_with_its_first_message(
    dm: Dm, users: Users
) -> None:
    alice, bob = await friends(dm, users)
    conversation = await dm.start(alice, bob)
    assert [c["id"] for c in (await dm.listing(alice))["data"]] == [conversation["id"]]
    assert (await dm.listing(bob))["data"] == []
    message = await dm.send(alice, conversation["id"], "hello")
    [listed] = (await dm.listing(bob))["data"]
    assert listed["last_message"]["id"] == message["id"]
    assert listed["last_message_at"] == message["created_at"]
    assert listed["unread_count"] == 1


async def test_bad_participants_are_refused(dm: Dm, users: Users) -> None:
    alice = await users.create()
    unknown = await dm.raw(alice, "POST", "", {"participants": ["nobody_here_at_all"]})
    assert unknown.status_code == 404
    myself = await dm.raw(alice, "POST", "", {"participants": [alice.username]})
    assert myself.status_code == 422
    assert myself.json()["errors"][0]["field"] == "participants"
    empty = await dm.raw(alice, "POST", "", {"participants": []})
    assert empty.status_code == 422
    extra = await dm.raw(alice, "POST", "", {"participants": ["x"], "admin": True})
    assert extra.status_code == 422


async def test_a_group_has_a_name_an_admin_and_a_created_line(dm: Dm, users: Users) -> None:
    alice, bob, carol = await friends(dm, users, 3)
    group = await dm.start(alice, bob, carol, name="Trip")
    assert group["kind"] == "group"
    assert group["name"] == "Trip"
    roles = {m["username"]: m["role"] for m in group["members"]}
    assert roles == {alice.username: "admin", bob.username: "member", carol.username: "member"}
    line = group["last_message"]
    assert line["kind"] == "system"
    assert line["system"]["event"] == "created"
    assert set(line["system"]["user_ids"]) == {bob.id, carol.id}
    assert line["system"]["name"] == "Trip"
    # Every member has it in their inbox; a system line is not unread.
    for who in (bob, carol):
        [listed] = (await dm.listing(who))["data"]
        assert listed["id"] == group["id"]
        assert listed["unread_count"] == 0
    # A second group of the same people is another conversation.
    other = await dm.start(alice, bob, carol)
    assert other["id"] != group["id"]


async def test_the_inbox_lists_newest_activity_first_with_cursor_pages(
    dm: Dm, users: Users
) -> None:
    me, *others = await friends(dm, users, 4)
    conversations = [await dm.start(me, other) for other in others]
    for c in conversations:
        await dm.send(me, c["id"], "ping")
    # Activity in the oldest moves it to the top.
    await dm.send(others[0], conversations[0]["id"], "pong")
    first = await dm.listing(me, limit=2)
    ids = [c["id"] for c in first["data"]]
    assert ids == [conversations[0]["id"], conversations[2]["id"]]
    rest = await dm.listing(me, limit=2, cursor=first["next_cursor"])
    assert [c["id"] for c in rest["data"]] == [conversations[1]["id"]]
    assert rest["next_cursor"] is None
    bad = await dm.raw(me, "GET", "", params={"cursor": "nonsense"})
    assert bad.status_code == 422


async def test_only_participants_see_a_conversation(
    dm: Dm, users: Users, client: httpx.AsyncClient
) -> None:
    alice, bob = await friends(dm, users)
    eve = await users.create()
    conversation = await dm.start(alice, bob)
    message = await dm.send(alice, conversation["id"], "secret")
    cid, mid = conversation["id"], message["id"]
    for method, path in [
        ("GET", f"/{cid}"),
        ("GET", f"/{cid}/messages"),
        ("GET", f"/{cid}/messages/{mid}"),
        ("POST", f"/{cid}/accept"),
        ("DELETE", f"/{cid}"),
        ("POST", f"/{cid}/typing"),
    ]:
        response = await dm.raw(eve, method, path)
        assert response.status_code == 404, (method, path, response.text)
    sent = await dm.raw(eve, "POST", f"/{cid}/messages", {"text": "hi", "client_id": "x"})
    assert sent.status_code == 404
    client.cookies.clear()
    unauthenticated = await client.get(f"/api/v1/conversations/{cid}")
    assert unauthenticated.status_code == 401


async def test_delete_for_me_hides_everything_until_the_next_message(dm: Dm, users: Users) -> None:
    alice, bob = await friends(dm, users)
    cid = (await dm.start(alice, bob))["id"]
    await dm.send(alice, cid, "one")
    await dm.send(alice, cid, "two")
    await dm.ok(bob, "DELETE", f"/{cid}", status=204)
    assert (await dm.listing(bob))["data"] == []
    assert (await dm.history(bob, cid))["data"] == []
    assert (await dm.unread(bob))["messages"] == 0
    # Alice still has everything.
    assert len((await dm.history(alice, cid))["data"]) == 2
    await dm.send(alice, cid, "three")
    [listed] = (await dm.listing(bob))["data"]
    assert listed["unread_count"] == 1
    assert [m["text"] for m in (await dm.history(bob, cid))["data"]] == ["three"]


async def test_unread_counts_per_conversation_and_in_total(dm: Dm, users: Users) -> None:
    me, a, b = await friends(dm, users, 3)
    ca = (await dm.start(a, me))["id"]
    cb = (await dm.start(b, me))["id"]
    for text in ("1", "2", "3"):
        await dm.send(a, ca, text)
    last = await dm.send(b, cb, "x")
    assert await dm.unread(me) == {"inbox": 2, "requests": 0, "messages": 4}
    counts = {c["id"]: c["unread_count"] for c in (await dm.listing(me))["data"]}
    assert counts == {ca: 3, cb: 1}
    await dm.ok(me, "POST", f"/{cb}/read", {"message_id": last["id"]}, status=204)
    assert await dm.unread(me) == {"inbox": 1, "requests": 0, "messages": 3}
    # My own messages are never unread for me.
    await dm.send(me, ca, "mine")
    assert (await dm.unread(me))["messages"] == 3
