"""The stream over real TCP, served by uvicorn as ``plaza serve`` runs it: heartbeats,
and connections dropped at random while events keep coming."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from plaza.realtime import CLOSE_HEARTBEAT_TIMEOUT
from tests.conftest import Account, Users
from tests.realtime.conftest import AppFactory, eventually, producer, uvicorn_server


def _headers(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


async def _frame(ws: ClientConnection) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    return body


async def _until_closed(ws: ClientConnection) -> ConnectionClosed:
    while True:
        try:
            await _frame(ws)
        except ConnectionClosed as closed:
            return closed


async def test_a_connection_that_stops_answering_pings_is_closed(
    make_app: AppFactory, users: Users
) -> None:
    async with (
        make_app(realtime_heartbeat_seconds=0.05, realtime_heartbeat_timeout_seconds=1.0) as app,
        uvicorn_server(app) as base,
    ):
        realtime = app.state.plaza.realtime
        alice = await users.create()
        url = f"{base}/api/v1/stream"
        # Both clients have their own WebSocket-level pings off, so only the app's
        # heartbeat is at work.
        async with (
            connect(url, additional_headers=_headers(alice), ping_interval=None) as silent,
            connect(url, additional_headers=_headers(alice), ping_interval=None) as lively,
        ):
            assert (await _frame(silent))["data"]["heartbeat_interval"] == 0.05
            assert (await _frame(lively))["type"] == "hello"
            await eventually(lambda: realtime.live_connections() == 2)

            async def answer_pings() -> int:
                pings = 0
                while True:
                    frame = await _frame(lively)
                    if frame["type"] == "ping":
                        pings += 1
                        await lively.send(b'{"type":"pong"}')

            answering = asyncio.create_task(answer_pings())
            closed = await _until_closed(silent)  # reads the pings, never answers
            assert closed.rcvd is not None
            assert closed.rcvd.code == CLOSE_HEARTBEAT_TIMEOUT
            assert not answering.done(), "the answering device was closed too"
            await eventually(lambda: realtime.live_connections() == 1)
            answering.cancel()


async def test_connections_dropped_at_random_lose_and_repeat_nothing(
    make_app: AppFactory, users: Users
) -> None:
    """Three devices of three users reconnect with ``since`` after 100 drops in all
    (half of them aborted TCP connections) while 300 events are committed."""
    async with make_app() as app, uvicorn_server(app) as base:
        accounts = [await users.create() for _ in range(3)]
        ids = [int(a.id) for a in accounts]
        total = 300
        emit = producer(app.state.plaza)
        rng = random.Random(2026)
        drops_left = [100]

        async def device(account: Account) -> list[int]:
            received: list[int] = []
            while not received or received[-1] < total:
                since = received[-1] if received else 0
                url = f"{base}/api/v1/stream?since={since}"
                async with connect(
                    url, additional_headers=_headers(account), ping_interval=None
                ) as ws:
                    assert (await _frame(ws))["type"] == "hello"
                    keep = rng.randint(0, 12)
                    while not received or received[-1] < total:
                        frame = await _frame(ws)
                        if frame["type"] != "test.event":
                            continue
                        received.append(frame["seq"])
                        keep -= 1
                        if keep < 0 and drops_left[0] > 0:
                            drops_left[0] -= 1
                            if rng.random() < 0.5:
                                ws.transport.abort()
                            break
            return received

        producing = asyncio.create_task(emit(ids, total))
        results = await asyncio.gather(*(device(a) for a in accounts))
        await producing
        assert drops_left == [0], "the test did not drop 100 connections"
        for received in results:
            assert sorted(set(received)) == list(range(1, total + 1)), "lost events"
            assert len(received) == len(set(received)), "duplicated events"
            assert received == sorted(received), "out of order"
