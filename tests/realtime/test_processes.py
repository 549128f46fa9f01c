"""Two ``plaza serve`` processes sharing one PostgreSQL and one Redis: an event
produced in one reaches the user's sockets on both, once."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import PASSWORD, PG_URL, REDIS_URL

# The SQLite pass of CI leaves both unset; its PostgreSQL + Redis pass runs this (and
# there, under CI=true, a service that does not answer fails the run in conftest).
pytestmark = pytest.mark.skipif(
    not (PG_URL and REDIS_URL),
    reason="needs PLAZA_TEST_DATABASE_URL and PLAZA_TEST_REDIS_URL (the PostgreSQL + Redis pass)",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Serve = Callable[[], AbstractAsyncContextManager[str]]


@pytest.fixture
def serve(database_url: str, tmp_path: Path) -> Serve:
    """``async with serve() as base_url``: a ``plaza serve`` process; all of a test's
    processes share the database, Redis prefix and secret key."""
    env = {
        **os.environ,
        "PLAZA_DATABASE_URL": database_url,
        "PLAZA_REDIS_URL": REDIS_URL,
        "PLAZA_REDIS_PREFIX": f"plaza-test-{uuid.uuid4().hex[:12]}",
        "PLAZA_SECRET_KEY": "two-process-" + uuid.uuid4().hex,
        "PLAZA_LOG_JSON": "false",
        "PLAZA_LOG_LEVEL": "WARNING",
    }

    @asynccontextmanager
    async def start() -> AsyncIterator[str]:
        port = _free_port()
        data_dir = tmp_path / f"serve-{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "plaza.cli", "serve", "--port", str(port)],
            env={**env, "PLAZA_DATA_DIR": str(data_dir)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient() as client:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 60
                while True:
                    try:
                        if (await client.get(f"{base}/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert server.poll() is None, server.stderr.read() if server.stderr else ""
                    assert loop.time() < deadline, "plaza serve did not become ready"
                    await asyncio.sleep(0.1)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=15)

    return start


async def _account(client: httpx.AsyncClient, base: str) -> dict[str, Any]:
    username = f"u{uuid.uuid4().hex[:10]}"
    created = await client.post(
        f"{base}/api/v1/accounts", json={"username": username, "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    signed_in = await client.post(
        f"{base}/api/v1/sessions", json={"username": username, "password": PASSWORD}
    )
    assert signed_in.status_code == 201, signed_in.text
    body: dict[str, Any] = signed_in.json()
    return {"username": username, "id": body["user"]["id"], "token": body["token"]}


async def _frame(ws: ClientConnection) -> dict[str, Any]:
    while True:
        body: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), timeout=20))
        if body["type"] != "ping":
            return body


async def test_a_follow_through_one_process_reaches_sockets_on_both(serve: Serve) -> None:
    async with serve() as a, serve() as b, httpx.AsyncClient() as client:
        alice = await _account(client, a)
        bob = await _account(client, b)
        headers = {"Authorization": f"Bearer {bob['token']}"}
        ws_a, ws_b = (base.replace("http://", "ws://") + "/api/v1/stream" for base in (a, b))
        async with (
            connect(ws_b, additional_headers=headers) as bob_on_b,
            connect(ws_a, additional_headers=headers) as bob_on_a,
        ):
            assert (await _frame(bob_on_b))["type"] == "hello"
            assert (await _frame(bob_on_a))["type"] == "hello"
            followed = await client.post(
                f"{a}/api/v1/users/{bob['username']}/follow",
                headers={"Authorization": f"Bearer {alice['token']}"},
            )
            assert followed.status_code == 200, followed.text
            for sock in (bob_on_b, bob_on_a):
                frame = await _frame(sock)
                assert (frame["seq"], frame["type"]) == (1, "notification")
                assert frame["data"]["kind"] == "follow"
                assert frame["data"]["actor_id"] == alice["id"]
        # Both processes heard the bus event; the stream holds it once.
        async with connect(f"{ws_b}?since=0", additional_headers=headers) as again:
            hello = await _frame(again)
            assert hello["data"]["seq"] == 1
            assert (await _frame(again))["seq"] == 1


async def test_a_message_sent_through_one_process_reaches_a_client_on_the_other(
    serve: Serve,
) -> None:
    async with serve() as a, serve() as b, httpx.AsyncClient() as client:
        alice = await _account(client, a)
        bob = await _account(client, b)
        as_alice = {"Authorization": f"Bearer {alice['token']}"}
        as_bob = {"Authorization": f"Bearer {bob['token']}"}
        ws_b = b.replace("http://", "ws://") + "/api/v1/stream"
        async with connect(ws_b, additional_headers=as_bob) as bob_on_b:
            assert (await _frame(bob_on_b))["type"] == "hello"
            started = await client.post(
                f"{a}/api/v1/conversations",
                json={"participants": [bob["username"]]},
                headers=as_alice,
            )
            assert started.status_code == 201, started.text
            cid = started.json()["id"]
            sent = [
                await client.post(
                    f"{a}/api/v1/conversations/{cid}/messages",
                    json={"text": f"hello {n}", "client_id": f"c{n}"},
                    headers=as_alice,
                )
                for n in range(3)
            ]
            assert [r.status_code for r in sent] == [201, 201, 201]
            got: list[dict[str, Any]] = []
            while len(got) < 3:
                frame = await _frame(bob_on_b)
                if frame["type"] == "message.created":
                    got.append(frame["data"])
            assert [m["id"] for m in got] == [r.json()["id"] for r in sent]
            assert [m["text"] for m in got] == ["hello 0", "hello 1", "hello 2"]
            assert {m["conversation_id"] for m in got} == {cid}
