"""Groups: renaming, adding and removing members, leaving, the size limit, what a
member added later or removed sees, and the admin passing on."""

from __future__ import annotations

import pytest

from plaza.config import Settings
from tests.conftest import Users
from tests.messaging.conftest import Dm, friends


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"dm_max_group_members": 4})


async def test_only_the_admin_renames_and_members_see_a_line(dm: Dm, users: Users) -> None:
    admin, bob, carol = await friends(dm, users, 3)
    cid = (await dm.start(admin, bob, carol, name="Old"))["id"]
    refused = await dm.raw(bob, "PATCH", f"/{cid}", {"name": "Mine"})
    assert refused.status_code == 403
    assert "admin" in refused.json()["detail"]
    renamed = await dm.ok(admin, "PATCH", f"/{cid}", {"name": "New"})
    assert renamed["name"] == "New"
    line = (await dm.history(bob, cid))["data"][0]
    assert line["system"] == {
        "event": "renamed",
        "actor_id": admin.id,
        "user_ids": [],
        "name": "New",
    }
    cleared = await dm.ok(admin, "PATCH", f"/{cid}", {"name": None})
    assert cleared["name"] is None


async def test_a_direct_conversation_has_no_admin_things(dm: Dm, users: Users) -> None:
    alice, bob = await friends(dm, users)
    cid = (await dm.start(alice, bob))["id"]
    assert (await dm.raw(alice, "PATCH", f"/{cid}", {"name": "x"})).status_code == 403
    added = await dm.raw(alice, "POST", f"/{cid}/members", {"usernames": [bob.username]})
    assert added.status_code == 403
    leave = await dm.raw(alice, "DELETE", f"/{cid}/members/{alice.username}")
    assert leave.status_code == 403


async def test_a_member_added_later_sees_from_their_joining_on(dm: Dm, users: Users) -> None:
    admin, bob, carol, dave = await friends(dm, users, 4)
    cid = (await dm.start(admin, bob, carol))["id"]
    before = await dm.send(bob, cid, "before dave")
    refused = await dm.raw(bob, "POST", f"/{cid}/members", {"usernames": [dave.username]})
    assert refused.status_code == 403
    view = await dm.ok(admin, "POST", f"/{cid}/members", {"usernames": [dave.username]})
    assert {m["username"] for m in view["members"]} >= {dave.username}
    after = await dm.send(bob, cid, "hi dave")
    texts = [m["text"] or m["system"]["event"] for m in (await dm.history(dave, cid))["data"]]
    assert texts == ["hi dave", "added"]
    hidden = await dm.raw(dave, "GET", f"/{cid}/messages/{before['id']}")
    assert hidden.status_code == 404
    assert (await dm.ok(dave, "GET", f"/{cid}/messages/{after['id']}"))["text"] == "hi dave"
    # A reply to an earlier message shows dave nothing of it.
    reply = await dm.send(bob, cid, "re", reply_to=before["id"])
    seen = await dm.ok(dave, "GET", f"/{cid}/messages/{reply['id']}")
    assert seen["reply_to"]["text"] == ""
    assert (await dm.ok(carol, "GET", f"/{cid}/messages/{reply['id']}"))["reply_to"][
        "text"
    ] == "before dave"


async def test_the_group_size_limit_counts_the_creator(dm: Dm, users: Users) -> None:
    people = await friends(dm, users, 5)
    admin, *others = people
    too_big = await dm.raw(admin, "POST", "", {"participants": [o.username for o in others]})
    assert too_big.status_code == 422
    cid = (await dm.start(admin, *others[:3]))["id"]
    full = await dm.raw(admin, "POST", f"/{cid}/members", {"usernames": [others[3].username]})
    assert full.status_code == 422
    assert full.json()["errors"][0]["field"] == "usernames"


async def test_a_removed_member_keeps_only_what_came_before(dm: Dm, users: Users) -> None:
    admin, bob, carol = await friends(dm, users, 3)
    cid = (await dm.start(admin, bob, carol))["id"]
    await dm.send(admin, cid, "hello all")
    refused = await dm.raw(bob, "DELETE", f"/{cid}/members/{carol.username}")
    assert refused.status_code == 403
    await dm.ok(admin, "DELETE", f"/{cid}/members/{bob.username}", status=204)
    await dm.send(admin, cid, "bob is gone")
    view = await dm.conversation(bob, cid)
    assert view["state"] == "removed"
    texts = [m["text"] or m["system"]["event"] for m in (await dm.history(bob, cid))["data"]]
    assert texts == ["removed", "hello all", "created"]
    # Every write is a 404 for a former member.
    sent = await dm.raw(bob, "POST", f"/{cid}/messages", {"text": "hey", "client_id": "b1"})
    assert sent.status_code == 404
    assert (await dm.raw(bob, "POST", f"/{cid}/typing")).status_code == 404
    assert (await dm.raw(bob, "POST", f"/{cid}/accept")).status_code == 404
    assert (await dm.raw(bob, "DELETE", f"/{cid}")).status_code == 404
    # The conversation leaves their lists.
    assert (await dm.listing(bob))["data"] == []
    # Removing someone who is not a member is a 404.
    again = await dm.raw(admin, "DELETE", f"/{cid}/members/{bob.username}")
    assert again.status_code == 404


async def test_leaving_passes_the_admin_on_and_adding_back_starts_afresh(
    dm: Dm, users: Users
) -> None:
    admin, bob, carol = await friends(dm, users, 3)
    cid = (await dm.start(admin, bob, carol))["id"]
    await dm.send(bob, cid, "old news")
    await dm.ok(admin, "DELETE", f"/{cid}/members/{admin.username}", status=204)
    view = await dm.conversation(bob, cid)
    roles = {m["username"]: (m["role"], m["state"]) for m in view["members"]}
    assert roles[admin.username] == ("member", "left")
    assert roles[bob.username] == ("admin", "active")
    assert (await dm.history(bob, cid))["data"][0]["system"]["event"] == "left"
    # The new admin adds the old one back: they see only what comes next.
    await dm.ok(bob, "POST", f"/{cid}/members", {"usernames": [admin.username]})
    texts = [m["text"] or m["system"]["event"] for m in (await dm.history(admin, cid))["data"]]
    assert texts == ["added"]
    assert (await dm.conversation(admin, cid))["state"] == "active"


async def test_blocked_people_cannot_be_added_and_their_messages_stay_away(
    dm: Dm, users: Users
) -> None:
    admin, bob, carol, mallory = await friends(dm, users, 4)
    await dm.block(admin, mallory)
    refused = await dm.raw(admin, "POST", "", {"participants": [bob.username, mallory.username]})
    assert refused.status_code == 404
    cid = (await dm.start(bob, admin, carol, mallory))["id"]
    await dm.send(mallory, cid, "from mallory")
    await dm.send(carol, cid, "from carol")
    texts = [m["text"] for m in (await dm.history(admin, cid))["data"] if m["kind"] == "text"]
    assert texts == ["from carol"]
    assert {m["text"] for m in (await dm.history(bob, cid))["data"]} >= {
        "from mallory",
        "from carol",
    }
    assert (await dm.conversation(admin, cid))["unread_count"] == 1
