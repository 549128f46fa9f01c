"""Notifications: made by follows (and, through ``notify``, by posts), never from
blocked or muted users, listed newest first with an unread count."""

from __future__ import annotations

from typing import Any

import httpx

from plaza.social import NotificationCreated
from tests.conftest import Account, Users
from tests.social.conftest import Graph, Heard


async def notify(plaza: Any, recipient: Account, actor: Account, kind: str, post_id: int) -> Any:
    """What the posts module does when ``actor`` likes/replies to a post of ``recipient``."""
    async with plaza.db.session() as session:
        made = await plaza.notifications.notify(
            session,
            recipient_id=int(recipient.id),
            actor_id=int(actor.id),
            kind=kind,
            post_id=post_id,
        )
        await session.commit()
    return made


async def test_a_follow_notifies_the_followee(users: Users, graph: Graph) -> None:
    alice, bob = await users.create(), await users.create()

    await graph.follow(alice, bob)

    [item] = await graph.notifications(bob)
    assert item["kind"] == "follow"
    assert item["actor"] == {
        "id": alice.id,
        "username": alice.username,
        "display_name": "",
        "avatar_url": None,
        "verified": False,
    }
    assert item["post_id"] is None
    assert item["read"] is False
    assert await graph.notifications(alice) == []


async def test_following_again_after_unfollowing_notifies_once(users: Users, graph: Graph) -> None:
    alice, bob = await users.create(), await users.create()

    await graph.follow(alice, bob)
    await graph.unfollow(alice, bob)
    await graph.follow(alice, bob)

    assert [n["kind"] for n in await graph.notifications(bob)] == ["follow"]


async def test_a_request_to_a_private_account_notifies_as_a_request(
    users: Users, graph: Graph
) -> None:
    owner, fan = await users.create(), await users.create()
    await graph.set_profile(owner, is_private=True)

    await graph.follow(fan, owner)

    assert [n["kind"] for n in await graph.notifications(owner)] == ["follow_request"]


async def test_unread_count_and_marking_read(
    client: httpx.AsyncClient, users: Users, graph: Graph
) -> None:
    star = await users.create()
    fans = [await users.create() for _ in range(3)]
    for fan in fans[:2]:
        await graph.follow(fan, star)
    unread_before = await graph.unread(star)

    marked = await client.post("/api/v1/notifications/read", headers=star.headers)
    await graph.follow(fans[2], star)

    assert unread_before == 2
    assert marked.status_code == 204
    assert await graph.unread(star) == 1
    listed = await graph.notifications(star)
    assert [n["actor"]["username"] for n in listed] == [f.username for f in reversed(fans)]
    assert [n["read"] for n in listed] == [False, True, True]


async def test_marking_read_up_to_an_id_leaves_newer_ones_unread(
    client: httpx.AsyncClient, users: Users, graph: Graph
) -> None:
    star = await users.create()
    first, second = await users.create(), await users.create()
    await graph.follow(first, star)
    shown = (await graph.notifications(star))[0]["id"]
    await graph.follow(second, star)

    await client.post("/api/v1/notifications/read", json={"up_to": shown}, headers=star.headers)
    await client.post("/api/v1/notifications/read", json={"up_to": "1"}, headers=star.headers)

    assert await graph.unread(star) == 1
    assert [n["read"] for n in await graph.notifications(star)] == [False, True]


async def test_notifications_page_newest_first(
    client: httpx.AsyncClient, users: Users, graph: Graph
) -> None:
    star = await users.create()
    fans = [await users.create() for _ in range(3)]
    for fan in fans:
        await graph.follow(fan, star)

    first = (
        await client.get("/api/v1/notifications", params={"limit": 2}, headers=star.headers)
    ).json()
    second = (
        await client.get(
            "/api/v1/notifications",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=star.headers,
        )
    ).json()

    names = [n["actor"]["username"] for n in first["data"] + second["data"]]
    assert names == [f.username for f in reversed(fans)]
    assert second["next_cursor"] is None


async def test_muted_users_notify_nothing(users: Users, graph: Graph) -> None:
    alice, bob = await users.create(), await users.create()
    await graph.mute(bob, alice)

    await graph.follow(alice, bob)

    assert (await graph.profile(alice, bob.username)).json()["viewer"]["following"] is True
    assert await graph.notifications(bob) == []
    assert await graph.unread(bob) == 0


async def test_a_later_block_or_mute_hides_what_arrived_before(users: Users, graph: Graph) -> None:
    star, blocked, blocker, muted = (
        await users.create(),
        await users.create(),
        await users.create(),
        await users.create(),
    )
    for fan in (blocked, blocker, muted):
        await graph.follow(fan, star)
    assert await graph.unread(star) == 3

    await graph.block(star, blocked)
    await graph.block(blocker, star)
    await graph.mute(star, muted)

    assert await graph.notifications(star) == []
    assert await graph.unread(star) == 0


async def test_likes_and_reposts_of_one_post_by_one_actor_notify_once(
    plaza: Any, users: Users, graph: Graph
) -> None:
    author, fan = await users.create(), await users.create()

    first = await notify(plaza, author, fan, "like", post_id=42)
    again = await notify(plaza, author, fan, "like", post_id=42)
    repost = await notify(plaza, author, fan, "repost", post_id=42)
    other_post = await notify(plaza, author, fan, "like", post_id=43)
    reply_one = await notify(plaza, author, fan, "reply", post_id=42)
    reply_two = await notify(plaza, author, fan, "reply", post_id=42)
    own = await notify(plaza, author, author, "like", post_id=42)

    assert first is not None
    assert again is None
    assert None not in (repost, other_post, reply_one, reply_two)
    assert own is None
    listed = await graph.notifications(author)
    assert [(n["kind"], n["post_id"]) for n in listed] == [
        ("reply", "42"),
        ("reply", "42"),
        ("like", "43"),
        ("repost", "42"),
        ("like", "42"),
    ]


async def test_blocked_users_cannot_notify(plaza: Any, users: Users, graph: Graph) -> None:
    author, fan = await users.create(), await users.create()
    await graph.block(author, fan)

    made = await notify(plaza, author, fan, "mention", post_id=7)

    assert made is None
    assert await graph.notifications(author) == []


async def test_forgetting_a_post_removes_its_notifications(
    plaza: Any, users: Users, graph: Graph
) -> None:
    author, fan = await users.create(), await users.create()
    await notify(plaza, author, fan, "like", post_id=42)
    await notify(plaza, author, fan, "quote", post_id=43)

    async with plaza.db.session() as session:
        await plaza.notifications.forget_post(session, 42)
        await session.commit()

    assert [n["post_id"] for n in await graph.notifications(author)] == ["43"]


async def test_new_notifications_are_announced_after_commit(
    plaza: Any, users: Users, graph: Graph, heard: Heard
) -> None:
    heard.listen(NotificationCreated)
    alice, bob, carol = await users.create(), await users.create(), await users.create()

    await graph.follow(alice, bob)
    async with plaza.db.session() as session:
        await plaza.notifications.notify(
            session, recipient_id=int(bob.id), actor_id=int(alice.id), kind="mention", post_id=9
        )
        await session.rollback()
    await graph.follow(carol, bob)

    # In order: a mention announced despite the rollback would come second.
    events = await heard.wait_for(2)
    listed = await graph.notifications(bob)
    assert [e.id for e in events] == [int(n["id"]) for n in reversed(listed)]
    assert [(e.recipient_id, e.actor_id, e.kind, e.post_id) for e in events] == [
        (int(bob.id), int(alice.id), "follow", None),
        (int(bob.id), int(carol.id), "follow", None),
    ]


async def test_notifications_need_a_session(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/notifications")).status_code == 401
    assert (await client.get("/api/v1/notifications/unread-count")).status_code == 401
