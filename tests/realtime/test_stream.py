"""The stream through the ASGI app: authentication, hello, replay with ``since``, the
seam between replay and live events, devices, retention, ephemeral events, commits
and back-pressure."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import pytest

from plaza.core.clock import ManualClock
from plaza.realtime import (
    CLOSE_BAD_REQUEST,
    CLOSE_FORBIDDEN,
    CLOSE_TOO_MANY,
    CLOSE_TOO_SLOW,
    CLOSE_UNAUTHENTICATED,
)
from plaza.social import NotificationCreated
from tests.conftest import Account, Users
from tests.realtime.conftest import (
    AppFactory,
    Closed,
    Emit,
    FakeSocket,
    SocketFactory,
    eventually,
    producer,
    socket_factory,
)


def uid(account: Account) -> int:
    return int(account.id)


async def expect_close(sock_cm: Any) -> Closed:
    with pytest.raises(Closed) as caught:
        async with sock_cm as sock:
            await sock.receive()
    return caught.value


async def test_hello_then_live_events(connect: SocketFactory, users: Users, emit: Emit) -> None:
    alice = await users.create()
    async with connect(alice.headers) as sock:
        hello = await sock.receive()
        assert hello["type"] == "hello"
        assert hello["seq"] is None
        assert hello["data"]["seq"] == 0
        assert hello["data"]["user_id"] == alice.id
        assert hello["data"]["heartbeat_interval"] > 0
        await emit([uid(alice)], 2)
        assert await sock.receive_event() == {"seq": 1, "type": "test.event", "data": {"n": 0}}
        assert await sock.receive_event() == {"seq": 2, "type": "test.event", "data": {"n": 1}}


async def test_since_replays_every_later_event_in_order_then_goes_live(
    connect: SocketFactory, users: Users, emit: Emit
) -> None:
    alice = await users.create()
    await emit([uid(alice)], 5)
    async with connect(alice.headers, since=2) as sock:
        hello = await sock.receive()
        assert hello["data"]["seq"] == 5
        assert [(await sock.receive_event())["seq"] for _ in range(3)] == [3, 4, 5]
        await emit([uid(alice)], 1, start=5)
        assert await sock.receive_event() == {"seq": 6, "type": "test.event", "data": {"n": 5}}
    async with connect(alice.headers, since=6) as sock:
        await sock.receive()  # hello
        await emit([uid(alice)], 1, start=6)
        assert (await sock.receive_event())["seq"] == 7, "nothing before 7 is sent again"


async def test_each_user_has_their_own_sequence(
    connect: SocketFactory, users: Users, emit: Emit
) -> None:
    alice, bob = await users.create(), await users.create()
    await emit([uid(alice)], 3)
    seqs = await emit([uid(alice), uid(bob)], 1)
    assert seqs == [{uid(alice): 4, uid(bob): 1}]
    async with connect(bob.headers, since=0) as sock:
        assert (await sock.receive())["data"]["seq"] == 1
        assert (await sock.receive_event())["seq"] == 1


async def test_every_device_of_the_user_gets_the_events_and_nobody_else(
    connect: SocketFactory, users: Users, emit: Emit
) -> None:
    alice, bob = await users.create(), await users.create()
    phone = await users.sign_in(alice.username)
    async with (
        connect(alice.headers) as laptop_sock,
        connect(phone.headers) as phone_sock,
        connect(bob.headers) as bob_sock,
    ):
        for sock in (laptop_sock, phone_sock, bob_sock):
            await sock.receive()  # hello
        await emit([uid(alice)], 3)
        await emit([uid(bob)], 1, type="test.barrier")
        for sock in (laptop_sock, phone_sock):
            assert [(await sock.receive_event())["seq"] for _ in range(3)] == [1, 2, 3]
        # Bob's first frame after hello is his own event: none of Alice's reached him.
        assert (await bob_sock.receive_event())["type"] == "test.barrier"


async def test_events_exist_only_if_the_producer_commits(
    connect: SocketFactory, users: Users, plaza: Any
) -> None:
    alice = await users.create()
    async with connect(alice.headers) as sock:
        await sock.receive()  # hello
        async with plaza.db.session() as session:
            await plaza.realtime.deliver(session, [uid(alice)], "test.event", {"n": "rolled back"})
            await session.rollback()
        async with plaza.db.session() as session:  # closed without commit
            await plaza.realtime.deliver(session, [uid(alice)], "test.event", {"n": "abandoned"})
        assert await plaza.realtime.last_seq(uid(alice)) == 0
        async with plaza.db.session() as session:
            await plaza.realtime.deliver(session, [uid(alice)], "test.event", {"n": "kept"})
            await session.commit()
        assert await sock.receive_event() == {"seq": 1, "type": "test.event", "data": {"n": "kept"}}
    assert await plaza.realtime.events_after(uid(alice), 0, 10) == [
        (1, "test.event", '{"n":"kept"}')
    ]


async def test_ephemeral_events_reach_live_devices_and_are_never_stored(
    connect: SocketFactory, users: Users, plaza: Any, emit: Emit
) -> None:
    alice = await users.create()
    async with connect(alice.headers) as sock:
        await sock.receive()  # hello
        await plaza.realtime.send_ephemeral([uid(alice)], "typing", {"conversation_id": "7"})
        assert await sock.receive_event() == {
            "seq": None,
            "type": "typing",
            "data": {"conversation_id": "7"},
        }
    assert await plaza.realtime.last_seq(uid(alice)) == 0
    await emit([uid(alice)], 1)
    async with connect(alice.headers, since=0) as sock:
        await sock.receive()  # hello
        assert (await sock.receive_event())["type"] == "test.event", "typing was not replayed"


async def test_a_since_older_than_retention_gets_a_resync_frame(
    connect: SocketFactory, users: Users, plaza: Any, emit: Emit, clock: ManualClock
) -> None:
    alice = await users.create()
    await emit([uid(alice)], 3)
    clock.advance(timedelta(days=7, seconds=1))
    await emit([uid(alice)], 1, start=3)  # seq 4, within retention
    assert await plaza.realtime.prune() == 3
    async with connect(alice.headers, since=1) as sock:
        await sock.receive()  # hello
        resync = await sock.receive_event()
        assert resync["type"] == "resync"
        assert resync["seq"] is None
        assert resync["data"]["seq"] == 4
        await emit([uid(alice)], 1, start=4)
        assert (await sock.receive_event())["seq"] == 5
    # From a seq whose successors are all still kept: a plain replay.
    async with connect(alice.headers, since=3) as sock:
        await sock.receive()
        assert [(await sock.receive_event())["seq"] for _ in range(2)] == [4, 5]
    # Everything after since pruned.
    clock.advance(timedelta(days=8))
    await plaza.realtime.prune()
    async with connect(alice.headers, since=3) as sock:
        await sock.receive()
        assert (await sock.receive_event())["type"] == "resync"
    # A position ahead of the stream (a restored database) is not trusted either.
    async with connect(alice.headers, since=99) as sock:
        await sock.receive()
        frame = await sock.receive_event()
        assert (frame["type"], frame["data"]["seq"]) == ("resync", 5)


async def test_the_seam_between_replay_and_live_events_under_concurrent_delivery(
    connect: SocketFactory, users: Users, emit: Emit
) -> None:
    """Reconnect over and over while a producer commits: every connection's frames
    continue exactly where the previous one stopped."""
    alice = await users.create()
    total = 150
    producing = asyncio.create_task(emit([uid(alice)], total))
    received: list[int] = []
    rng = random.Random(7)
    while not received or received[-1] < total:
        since = received[-1] if received else 0
        async with connect(alice.headers, since=since) as sock:
            await sock.receive()  # hello
            for _ in range(rng.randint(1, 12)):
                frame = await sock.receive_event()
                received.append(frame["seq"])
                if frame["seq"] == total:
                    break
    await producing
    assert received == list(range(1, total + 1))


async def test_client_ping_gets_a_pong(connect: SocketFactory, users: Users) -> None:
    alice = await users.create()
    async with connect(alice.headers) as sock:
        await sock.receive()
        await sock.send({"type": "ping"})
        assert await sock.receive_event() == {"seq": None, "type": "pong", "data": {}}


async def test_unauthenticated_connections_are_closed_with_4401(
    connect: SocketFactory, users: Users, client: Any
) -> None:
    closed = await expect_close(connect({}))
    assert closed.code == CLOSE_UNAUTHENTICATED
    closed = await expect_close(connect({"Authorization": "Bearer not-a-session"}))
    assert closed.code == CLOSE_UNAUTHENTICATED
    assert "unknown" in closed.reason
    alice = await users.create()
    signed_out = await client.delete("/api/v1/sessions/current", headers=alice.headers)
    assert signed_out.status_code == 204
    assert (await expect_close(connect(alice.headers))).code == CLOSE_UNAUTHENTICATED


async def test_signing_out_closes_the_live_stream_of_that_session_only(
    connect: SocketFactory, users: Users, client: Any, plaza: Any
) -> None:
    alice = await users.create()
    phone = await users.sign_in(alice.username)
    async with connect(alice.headers) as laptop_sock, connect(phone.headers) as phone_sock:
        await laptop_sock.receive()
        await phone_sock.receive()
        response = await client.delete("/api/v1/sessions/current", headers=phone.headers)
        assert response.status_code == 204
        with pytest.raises(Closed) as caught:
            await phone_sock.receive_event()
        assert caught.value.code == CLOSE_UNAUTHENTICATED
        assert "revoked" in caught.value.reason
        await laptop_sock.send({"type": "ping"})
        assert (await laptop_sock.receive_event())["type"] == "pong"
        assert plaza.realtime.live_connections(uid(alice)) == 1


async def test_the_cookie_is_honoured_only_from_this_origin(
    connect: SocketFactory, users: Users
) -> None:
    alice = await users.create()
    cookie = {"Cookie": f"plaza_session={alice.token}"}
    closed = await expect_close(connect({**cookie, "Origin": "https://evil.example"}))
    assert closed.code == CLOSE_FORBIDDEN
    assert (await expect_close(connect(cookie))).code == CLOSE_FORBIDDEN  # no Origin at all
    async with connect({**cookie, "Origin": "http://localhost"}) as sock:
        assert (await sock.receive())["type"] == "hello"


@pytest.mark.parametrize("since", ["-1", "abc", "1.5", "99999999999999999999", ""])
async def test_a_malformed_since_is_refused(
    connect: SocketFactory, users: Users, since: str
) -> None:
    alice = await users.create()
    closed = await expect_close(connect(alice.headers, since=since))
    assert closed.code == CLOSE_BAD_REQUEST


async def test_a_slow_consumer_is_disconnected_and_resumes_with_since(
    make_app: AppFactory, users: Users
) -> None:
    """A device that stops reading holds at most the queue's frames in the server;
    then it is closed with 4008 and the seq to resume from, and loses nothing."""
    async with make_app(realtime_queue_size=8) as app:
        connect = socket_factory(app)
        plaza = app.state.plaza
        alice = await users.create()  # the same database as this app's
        emit = producer(plaza)
        async with connect(alice.headers, buffer=2) as sock:
            # The client reads nothing: 2 frames fit in its buffer and 8 in the queue.
            await emit([uid(alice)], 40)
            await eventually(lambda: plaza.realtime.live_connections(uid(alice)) == 0)
            frames = await _read_until_closed(sock)
        assert sock.close_code == CLOSE_TOO_SLOW
        seqs = [f["seq"] for f in frames if f["type"] == "test.event"]
        assert seqs == list(range(1, len(seqs) + 1))
        assert len(frames) <= 2 + 1, "the server kept sending to a full socket"
        async with connect(alice.headers, since=seqs[-1] if seqs else 0) as sock:
            await sock.receive()
            rest = [(await sock.receive_event())["seq"] for _ in range(40 - len(seqs))]
        assert seqs + rest == list(range(1, 41))


async def _read_until_closed(sock: FakeSocket) -> list[dict[str, Any]]:
    frames = []
    while True:
        try:
            frames.append(await sock.receive())
        except Closed:
            return frames


async def test_a_follow_pushes_a_notification_once(
    connect: SocketFactory, users: Users, client: Any, plaza: Any
) -> None:
    alice, bob = await users.create(), await users.create()
    async with connect(bob.headers) as sock:
        await sock.receive()
        followed = await client.post(f"/api/v1/users/{bob.username}/follow", headers=alice.headers)
        assert followed.status_code == 200, followed.text
        frame = await sock.receive_event()
        assert frame["type"] == "notification"
        assert frame["seq"] == 1
        assert frame["data"]["kind"] == "follow"
        assert frame["data"]["actor_id"] == alice.id
        listed = await client.get("/api/v1/notifications", headers=bob.headers)
        assert frame["data"]["id"] == listed.json()["data"][0]["id"]
        # Every process hears the bus event; a second hearing adds nothing to the stream.
        await plaza.bus.publish_now(
            NotificationCreated(
                id=int(frame["data"]["id"]),
                recipient_id=uid(bob),
                actor_id=uid(alice),
                kind="follow",
            )
        )
        await plaza.bus.drain()
        await plaza.realtime.send_ephemeral([uid(bob)], "test.barrier", {})
        assert (await sock.receive_event())["type"] == "test.barrier"
    assert await plaza.realtime.last_seq(uid(bob)) == 1


async def test_one_account_may_hold_only_so_many_streams(
    make_app: AppFactory, users: Users
) -> None:
    async with make_app(realtime_max_connections_per_user=2) as app:
        connect = socket_factory(app)
        realtime = app.state.plaza.realtime
        alice, bob = await users.create(), await users.create()
        async with connect(alice.headers) as first, connect(alice.headers) as second:
            await first.receive()
            await second.receive()
            assert (await expect_close(connect(alice.headers))).code == CLOSE_TOO_MANY
            async with connect(bob.headers) as other:
                assert (await other.receive())["type"] == "hello", "others are not limited"
            await second.disconnect()
            await eventually(lambda: realtime.live_connections(uid(alice)) == 1)
            async with connect(alice.headers) as third:
                assert (await third.receive())["type"] == "hello"
