"""Blocks work both ways and everywhere; mutes are one-way and silent. Checked from
the other user's side: nothing leaks."""

from __future__ import annotations

from typing import Any

import httpx

from plaza.social import Blocked, Unblocked
from tests.conftest import Users
from tests.social.conftest import Graph, Heard


async def test_blocking_ends_follows_and_requests_both_ways_and_fixes_counts(
    client: httpx.AsyncClient, users: Users, graph: Graph
) -> None:
    alice, bob, carol = await users.create(), await users.create(), await users.create()
    await graph.follow(alice, bob)
    await graph.follow(bob, alice)
    await graph.set_profile(carol, is_private=True)
    await graph.follow(alice, carol)  # a request from alice to carol
    await graph.set_profile(alice, is_private=True)
    await graph.follow(carol, alice)  # and one from carol to alice

    blocked_bob = await graph.block(alice, bob)
    blocked_carol = await graph.block(carol, alice)

    assert blocked_bob.status_code == blocked_carol.status_code == 204
    for account in (alice, bob):
        assert await graph.counts(account.username) == {
            "followers": 0,
            "following": 0,
            "posts": 0,
        }
    assert await graph.usernames("/api/v1/me/follow-requests", alice) == []
    assert await graph.usernames("/api/v1/me/follow-requests", carol) == []


async def test_blocked_users_see_each_other_as_missing(
    client: httpx.AsyncClient, users: Users, graph: Graph
) -> None:
    alice, bob = await users.create(), await users.create()
    await graph.block(alice, bob)

    assert (await graph.profile(bob, alice.username)).status_code == 404
    assert (await graph.profile(alice, bob.username)).status_code == 404
    assert (await graph.profile(None, alice.username)).status_code == 200
    assert (await graph.follow(bob, alice)).status_code == 404
    assert (await graph.follow(alice, bob)).status_code == 404
    followers_as_bob = await client.get(
        f"/api/v1/users/{alice.username}/followers", headers=bob.headers
    )
    assert followers_as_bob.status_code == 404


async def test_unblocking_shows_the_profile_again_without_restoring_follows(
    users: Users, graph: Graph
) -> None:
    alice, bob = await users.create(), await users.create()
    await graph.follow(bob, alice)
    await graph.block(alice, bob)

    unblocked = await graph.unblock(alice, bob)
    profile = await graph.profile(bob, alice.username)

    assert unblocked.status_code == 204
    assert profile.status_code == 200
    assert profile.json()["viewer"]["following"] is False
    assert profile.json()["counts"]["followers"] == 0
    assert (await graph.follow(bob, alice)).json() == {"state": "following"}


async def test_only_the_blocker_can_lift_a_block(users: Users, graph: Graph) -> None:
    alice, bob = await users.create(), await users.create()
    await graph.block(alice, bob)

    await graph.unblock(bob, alice)  # bob never blocked alice: nothing changes

    assert (await graph.profile(bob, alice.username)).status_code == 404


async def test_lists_leave_out_users_blocked_with_the_viewer(users: Users, graph: Graph) -> None:
    star, bob, carol, dave = (
        await users.create(),
        await users.create(),
        await users.create(),
        await users.create(),
    )
    for fan in (bob, carol, dave):
        await graph.follow(fan, star)
    await graph.block(bob, carol)
    path = f"/api/v1/users/{star.username}/followers"

    as_bob = await graph.usernames(path, bob)
    as_carol = await graph.usernames(path, carol)
    as_dave = await graph.usernames(path, dave)

    assert sorted(as_bob) == sorted([bob.username, dave.username])
    assert sorted(as_carol) == sorted([carol.username, dave.username])
    assert sorted(as_dave) == sorted([bob.username, carol.username, dave.username])


async def test_blocks_and_mutes_are_listed_for_their_owner_only(
    client: httpx.AsyncClient, users: Users, graph: Graph
) -> None:
    alice, bob, carol = await users.create(), await users.create(), await users.create()
    await graph.block(alice, bob)
    await graph.mute(alice, carol)

    assert await graph.usernames("/api/v1/me/blocks", alice) == [bob.username]
    assert await graph.usernames("/api/v1/me/mutes", alice) == [carol.username]
    assert await graph.usernames("/api/v1/me/blocks", bob) == []
    assert await graph.usernames("/api/v1/me/mutes", carol) == []
    unmuted = await client.delete(f"/api/v1/users/{carol.username}/mute", headers=alice.headers)
    assert unmuted.status_code == 204
    assert await graph.usernames("/api/v1/me/mutes", alice) == []


async def test_a_mute_is_invisible_to_the_muted_user(users: Users, graph: Graph) -> None:
    alice, bob = await users.create(), await users.create()
    await graph.follow(bob, alice)

    await graph.mute(alice, bob)

    as_bob = (await graph.profile(bob, alice.username)).json()
    as_alice = (await graph.profile(alice, bob.username)).json()
    assert as_bob["viewer"]["muting"] is False
    assert as_bob["viewer"]["following"] is True
    assert as_alice["viewer"]["muting"] is True
    assert as_alice["viewer"]["followed_by"] is True


async def test_blocking_or_muting_yourself_is_refused(users: Users, graph: Graph) -> None:
    alice = await users.create()

    assert (await graph.block(alice, alice)).status_code == 422
    assert (await graph.mute(alice, alice)).status_code == 422


async def test_the_service_answers_block_questions_both_ways(
    plaza: Any, users: Users, graph: Graph
) -> None:
    alice, bob, carol, dave = (
        await users.create(),
        await users.create(),
        await users.create(),
        await users.create(),
    )
    a, b, c, d = (int(x.id) for x in (alice, bob, carol, dave))
    await graph.block(alice, bob)
    await graph.block(carol, alice)
    social = plaza.social_graph

    assert await social.blocked_either_way(a, b)
    assert await social.blocked_either_way(b, a)
    assert await social.blocked_either_way(a, c)
    assert not await social.blocked_either_way(a, d)
    assert await social.blocked_ids(a) == {b, c}
    assert await social.blocked_ids(b) == {a}
    assert not await social.can_see_posts_of(b, a)
    assert not await social.can_see_posts_of(a, c)
    assert await social.can_see_posts_of(d, a)
    assert await social.can_see_posts_of(None, a)


async def test_who_may_see_a_private_accounts_posts(plaza: Any, users: Users, graph: Graph) -> None:
    owner, follower, stranger = await users.create(), await users.create(), await users.create()
    await graph.follow(follower, owner)
    await graph.set_profile(owner, is_private=True)
    await graph.mute(owner, follower)
    social = plaza.social_graph
    o, f, s = int(owner.id), int(follower.id), int(stranger.id)

    assert await social.can_see_posts_of(o, o)
    assert await social.can_see_posts_of(f, o)  # a mute does not unfollow
    assert not await social.can_see_posts_of(s, o)
    assert not await social.can_see_posts_of(None, o)
    assert await social.follows(f, o)
    assert await social.following_ids(f) == {o}
    assert await social.follower_ids(o) == {f}
    assert await social.muted_ids(o) == {f}


async def test_blocks_are_announced(users: Users, graph: Graph, heard: Heard) -> None:
    heard.listen(Blocked, Unblocked)
    alice, bob = await users.create(), await users.create()

    await graph.block(alice, bob)
    await graph.block(alice, bob)  # already blocked: nothing new to announce
    await graph.unblock(alice, bob)

    assert await heard.wait_for(2) == [
        Blocked(blocker_id=int(alice.id), blocked_id=int(bob.id)),
        Unblocked(blocker_id=int(alice.id), blocked_id=int(bob.id)),
    ]
