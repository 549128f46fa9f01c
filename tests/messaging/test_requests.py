"""Who may DM whom: the dm_policy setting, Message requests (accept, reply, decline),
the request notification, and Priority DMs first in the requests box."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from plaza.premium import Entitlement
from tests.conftest import Account, Users
from tests.messaging.conftest import Dm


async def verify(plaza: Any, who: Account, entitlement: Entitlement = Entitlement.VERIFIED) -> None:
    await plaza.entitlements.grant(int(who.id), entitlement, until=None, source="test")


async def test_settings_have_defaults_and_can_change(dm: Dm, users: Users) -> None:
    me = await users.create()
    current = await dm.client.get("/api/v1/me/settings", headers=me.headers)
    assert current.status_code == 200
    assert current.json()["dm_policy"] == "following"
    assert current.json()["read_receipts"] is True
    changed = await dm.settings(me, dm_policy="everyone")
    assert changed["dm_policy"] == "everyone"
    assert changed["read_receipts"] is True
    changed = await dm.settings(me, read_receipts=False)
    assert (changed["dm_policy"], changed["read_receipts"]) == ("everyone", False)
    bad = await dm.client.patch(
        "/api/v1/me/settings", json={"dm_policy": "friends"}, headers=me.headers
    )
    assert bad.status_code == 422


# (recipient's policy, recipient follows sender, sender verified) -> box or 403
MATRIX = [
    ("everyone", False, False, "inbox"),
    ("everyone", True, False, "inbox"),
    ("following", False, False, "requests"),
    ("following", False, True, "requests"),
    ("following", True, False, "inbox"),
    ("verified", False, False, "requests"),
    ("verified", False, True, "inbox"),
    ("verified", True, False, "inbox"),
    ("none", False, False, 403),
    ("none", False, True, 403),
    ("none", True, False, "inbox"),
]


@pytest.mark.parametrize(("policy", "follows", "verified", "lands"), MATRIX)
async def test_where_a_first_message_lands(
    dm: Dm, users: Users, plaza: Any, policy: str, follows: bool, verified: bool, lands: Any
) -> None:
    sender, recipient = await users.create(), await users.create()
    await dm.settings(recipient, dm_policy=policy)
    if follows:
        await dm.follow(recipient, sender)
    if verified:
        await verify(plaza, sender)
    response = await dm.raw(sender, "POST", "", {"participants": [recipient.username]})
    if lands == 403:
        assert response.status_code == 403
        assert "dm_policy" in response.json()["detail"]
        return
    assert response.status_code == 201, response.text
    cid = response.json()["id"]
    await dm.send(sender, cid, "hello")
    view = await dm.conversation(recipient, cid)
    assert view["box"] == lands
    listed = await dm.listing(recipient, box=lands)
    assert [c["id"] for c in listed["data"]] == [cid]
    other_box = "inbox" if lands == "requests" else "requests"
    assert (await dm.listing(recipient, box=other_box))["data"] == []
    # The sender's side is always their inbox.
    assert (await dm.conversation(sender, cid))["box"] == "inbox"


async def test_an_existing_conversation_goes_on_when_the_policy_tightens(
    dm: Dm, users: Users
) -> None:
    sender, recipient = await users.create(), await users.create()
    await dm.settings(recipient, dm_policy="everyone")
    cid = (await dm.start(sender, recipient))["id"]
    await dm.settings(recipient, dm_policy="none")
    again = await dm.raw(sender, "POST", "", {"participants": [recipient.username]})
    assert again.status_code == 200
    await dm.send(sender, cid, "still here")


async def test_a_request_notifies_once_and_accepting_moves_it_to_the_inbox(
    dm: Dm, users: Users, client: httpx.AsyncClient
) -> None:
    sender, recipient = await users.create(), await users.create()
    cid = (await dm.start(sender, recipient))["id"]
    first = await dm.send(sender, cid, "hi, we met at the conference")
    await dm.send(sender, cid, "are you there?")
    assert await dm.unread(recipient) == {"inbox": 0, "requests": 1, "messages": 0}
    notifications = await client.get("/api/v1/notifications", headers=recipient.headers)
    kinds = [n["kind"] for n in notifications.json()["data"]]
    assert kinds == ["message_request"]
    assert notifications.json()["data"][0]["actor"]["username"] == sender.username
    # Until accepted, the sender sees no read receipt.
    await dm.ok(recipient, "POST", f"/{cid}/read", {"message_id": first["id"]}, status=204)
    assert (await dm.conversation(sender, cid))["read_receipts"] == {}
    accepted = await dm.ok(recipient, "POST", f"/{cid}/accept")
    assert (accepted["box"], accepted["state"]) == ("inbox", "active")
    assert (await dm.listing(recipient, box="requests"))["data"] == []
    assert [c["id"] for c in (await dm.listing(recipient))["data"]] == [cid]
    assert (await dm.conversation(sender, cid))["read_receipts"] == {recipient.id: first["id"]}
    # Accepting again changes nothing.
    assert (await dm.ok(recipient, "POST", f"/{cid}/accept"))["state"] == "active"


async def test_replying_accepts_a_request(dm: Dm, users: Users) -> None:
    sender, recipient = await users.create(), await users.create()
    cid = (await dm.start(sender, recipient))["id"]
    await dm.send(sender, cid, "hello?")
    await dm.send(recipient, cid, "hi!")
    view = await dm.conversation(recipient, cid)
    assert (view["box"], view["state"]) == ("inbox", "active")


async def test_declining_a_request_hides_it_until_the_sender_writes_again(
    dm: Dm, users: Users
) -> None:
    sender, recipient = await users.create(), await users.create()
    cid = (await dm.start(sender, recipient))["id"]
    await dm.send(sender, cid, "buy my stuff")
    await dm.ok(recipient, "DELETE", f"/{cid}", status=204)
    assert (await dm.listing(recipient, box="requests"))["data"] == []
    assert (await dm.unread(recipient))["requests"] == 0
    await dm.send(sender, cid, "last chance")
    [back] = (await dm.listing(recipient, box="requests"))["data"]
    assert [m["text"] for m in (await dm.history(recipient, cid))["data"]] == ["last chance"]
    assert back["box"] == "requests"


async def test_requests_from_priority_senders_come_first(dm: Dm, users: Users, plaza: Any) -> None:
    recipient = await users.create()
    plain, priority, later = await users.create(), await users.create(), await users.create()
    await verify(plaza, priority, Entitlement.PRIORITY_DMS)
    for sender in (plain, priority, later):
        cid = (await dm.start(sender, recipient))["id"]
        await dm.send(sender, cid, f"from {sender.username}")
    page = await dm.listing(recipient, box="requests", limit=2)
    senders = [c["last_message"]["sender"]["username"] for c in page["data"]]
    assert senders == [priority.username, later.username]
    rest = await dm.listing(recipient, box="requests", limit=2, cursor=page["next_cursor"])
    assert [c["last_message"]["sender"]["username"] for c in rest["data"]] == [plain.username]
    assert rest["next_cursor"] is None


async def test_a_group_lands_per_member_and_a_none_policy_refuses_naming_who(
    dm: Dm, users: Users
) -> None:
    creator, friend, stranger, closed = [await users.create() for _ in range(4)]
    await dm.follow(friend, creator)
    await dm.settings(closed, dm_policy="none")
    refused = await dm.raw(
        creator, "POST", "", {"participants": [friend.username, closed.username]}
    )
    assert refused.status_code == 403
    assert "dm_policy" in refused.json()["detail"]
    assert closed.username in refused.json()["detail"]
    group = await dm.start(creator, friend, stranger)
    states = {m["username"]: m["state"] for m in group["members"]}
    assert states[friend.username] == "active"
    assert states[stranger.username] == "request"
    assert (await dm.conversation(stranger, group["id"]))["box"] == "requests"
