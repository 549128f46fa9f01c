"""Nothing lost, nothing twice: a receiver's stream dropped at random 100 times while
messages flow, and the server killed with SIGKILL mid-stream and restarted.

Both run on the suite's database (SQLite, or PostgreSQL + Redis in CI's second pass):
- drops: the test's app served by uvicorn in this process (real TCP WebSockets; the
  sender goes through the in-process HTTP client);
- kill -9: Plaza served by uvicorn in subprocesses (``tests/e2e/serve.py``) on the
  test's database; the restarted process is warmed up beforehand, so the restart is
  quick and the test stays short.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from plaza.config import Settings
from tests.conftest import PASSWORD, REDIS_URL, Account, Users
from tests.realtime.conftest import uvicorn_server

SERVE_SCRIPT = Path(__file__).parent.parent / "e2e" / "serve.py"
# Far above what the tests send; the defaults would refuse a burst of 300 in a minute.
LIMITS = {"dm_messages_per_minute": 1_000_000, "dm_new_conversations_per_day": 1_000_000}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update=LIMITS)


@dataclass
class Received:
    """What one device got on its stream, across all of its connections."""

    seqs: list[int] = field(default_factory=list)  # every persisted frame, in order
    message_ids: list[str] = field(default_factory=list)  # message.created, raw (no dedupe)
    resyncs: int = 0
    connections: int = 0
    cursor: int = 0  # the last seq seen: where the next connection resumes

    def take(self, raw: str | bytes) -> None:
        frame = orjson.loads(raw)
        if frame["type"] == "resync":
            self.resyncs += 1
            self.cursor = frame["data"]["seq"]
            return
        if frame["seq"] is None:
            return  # hello, ping, typing: not part of the persisted stream
        self.seqs.append(frame["seq"])
        self.cursor = frame["seq"]
        if frame["type"] == "message.created":
            self.message_ids.append(frame["data"]["id"])

    def assert_exactly_once(self, sent: list[str]) -> None:
        """Every seq once and in order from 1, and the messages as sent: none lost,
        none twice (before any deduplication by id)."""
        assert self.resyncs == 0
        repeated = [s for s, n in Counter(self.seqs).items() if n > 1]
        assert not repeated, f"seqs delivered more than once: {repeated}"
        assert self.seqs == list(range(1, len(self.seqs) + 1)), "seqs out of order or missing"
        twice = [m for m, n in Counter(self.message_ids).items() if n > 1]
        assert not twice, f"messages delivered more than once: {twice}"
        missing = set(sent) - set(self.message_ids)
        assert not missing, f"{len(missing)} of {len(sent)} messages never arrived"
        assert set(self.message_ids) == set(sent), "messages that were not sent arrived"


async def open_stream(url: str, token: str, since: int) -> ClientConnection:
    return await connect(
        f"{url}?since={since}",
        additional_headers={"Authorization": f"Bearer {token}"},
        ping_interval=None,
        open_timeout=10,
    )


def drop(ws: ClientConnection) -> None:
    """Go away abruptly: no close frame, the TCP connection is reset."""
    ws.transport.abort()


async def direct_conversation(client: httpx.AsyncClient, sender: Account, to: Account) -> str:
    # The recipient follows the sender, so the conversation lands in the inbox.
    followed = await client.post(f"/api/v1/users/{sender.username}/follow", headers=to.headers)
    assert followed.status_code == 200, followed.text
    made = await client.post(
        "/api/v1/conversations", json={"participants": [to.username]}, headers=sender.headers
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def test_100_random_drops_lose_nothing_and_repeat_nothing(
    app: FastAPI, client: httpx.AsyncClient, users: Users
) -> None:
    rng = random.Random(4)
    alice, bob = await users.create(), await users.create()
    conversation = await direct_conversation(client, alice, bob)
    total, drops_wanted = 300, 100
    sent: list[str] = []
    got = Received()
    drops = 0
    sender_done = asyncio.Event()

    async def sender() -> None:
        for i in range(total):
            answer = await client.post(
                f"/api/v1/conversations/{conversation}/messages",
                json={"text": f"message {i}", "client_id": f"c{i}"},
                headers=alice.headers,
            )
            assert answer.status_code == 201, answer.text
            sent.append(answer.json()["id"])
            # Spread the drops over the whole stream: about one every three messages.
            for _ in range(500):
                if drops >= (i + 1) * drops_wanted // total:
                    break
                await asyncio.sleep(0.002)
            if rng.random() < 0.2:
                await asyncio.sleep(rng.uniform(0, 0.01))
        sender_done.set()

    async def receiver(url: str) -> None:
        nonlocal drops
        loop = asyncio.get_running_loop()
        while True:
            ws = await open_stream(url, bob.token, got.cursor)
            got.connections += 1
            last_one = drops >= drops_wanted
            # Drop after a few frames or a few milliseconds, whichever first: sometimes
            # before the hello, sometimes mid-replay, sometimes while idle.
            frames = rng.choice([0, 1, 1, 2, 3, 5, 8])
            until = loop.time() + rng.uniform(0.0, 0.03)
            try:
                quiet_since = loop.time()
                while last_one or frames > 0:
                    if last_one and sender_done.is_set():
                        # Done when everything came, or when nothing more comes (the
                        # assertions then say what is missing).
                        complete = set(got.message_ids) >= set(sent)
                        if complete or loop.time() - quiet_since > 3:
                            await ws.close()
                            return
                    left = 0.05 if last_one else until - loop.time()
                    if left <= 0:
                        break
                    try:
                        # Cancelling recv() loses nothing (websockets' asyncio client).
                        raw = await asyncio.wait_for(ws.recv(), left)
                    except TimeoutError:
                        if last_one:
                            continue
                        break
                    got.take(raw)
                    quiet_since = loop.time()
                    frames -= 1
            finally:
                if not last_one:
                    drop(ws)
                    drops += 1
            # Keep the drops spread over the stream rather than all at its start.
            while drops > len(sent) * drops_wanted // total + 1 and not sender_done.is_set():
                await asyncio.sleep(0.002)

    async with uvicorn_server(app) as base:
        receiving = asyncio.create_task(receiver(f"{base}/api/v1/stream"))
        await asyncio.wait_for(sender(), timeout=60)
        await asyncio.wait_for(receiving, timeout=20)
    assert drops == drops_wanted
    assert len(sent) == total
    got.assert_exactly_once(sent)
    # In sending order, too: one sender, one conversation.
    assert got.message_ids == sent


# ----------------------------------------------------------------------------------------
# kill -9


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``tests/e2e/serve.py``: Plaza imported at once, served once told its settings."""

    def __init__(self, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLAZA_")}
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(SERVE_SCRIPT)],
                env=env,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def serve(self, settings: dict[str, str], port: int) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"env": settings, "port": port}).encode() + b"\n")
        self.proc.stdin.close()
        base = f"http://127.0.0.1:{port}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        async with httpx.AsyncClient(timeout=2) as probe:
            while True:
                assert self.proc.poll() is None, self.log.read_text()
                with contextlib.suppress(httpx.TransportError):
                    if (await probe.get(f"{base}/readyz")).status_code == 200:
                        return base
                assert loop.time() < deadline, f"not ready within 60s:\n{self.log.read_text()}"
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
async def two_servers(tmp_path: Path) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    """The server to kill and its replacement, both warming up (imports) from the start."""
    first = ServerProcess(tmp_path / "first.log")
    second = ServerProcess(tmp_path / "second.log")
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


async def _account(http: httpx.AsyncClient) -> Account:
    username = f"u{secrets.token_hex(5)}"
    body = {"username": username, "password": PASSWORD}
    assert (await http.post("/api/v1/accounts", json=body)).status_code == 201
    signed_in = await http.post("/api/v1/sessions", json=body)
    assert signed_in.status_code == 201, signed_in.text
    data = signed_in.json()
    return Account(data["user"]["id"], username, PASSWORD, data["token"], data["csrf_token"])


async def test_every_acknowledged_message_arrives_once_across_kill_9_and_restart(
    database_url: str, tmp_path: Path, two_servers: tuple[ServerProcess, ServerProcess]
) -> None:
    first, second = two_servers
    port = _free_port()
    settings = {
        "PLAZA_DATABASE_URL": database_url,
        "PLAZA_DATA_DIR": str(tmp_path / "data"),
        "PLAZA_SECRET_KEY": secrets.token_urlsafe(32),
        "PLAZA_REDIS_PREFIX": f"plaza-kill-{secrets.token_hex(6)}",
        "PLAZA_LOG_JSON": "false",
        "PLAZA_LOG_LEVEL": "WARNING",
        **{f"PLAZA_{k.upper()}": str(v) for k, v in LIMITS.items()},
    }
    if REDIS_URL:
        settings["PLAZA_REDIS_URL"] = REDIS_URL
    base = await first.serve(settings, port)
    total, kill_after = 90, 30
    acked: dict[str, str] = {}  # client_id -> message id, from 201 answers
    retried: set[str] = set()  # client_ids sent again after a failed attempt
    got = Received()
    restarted = asyncio.Event()
    stop_receiving = asyncio.Event()

    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        alice, bob = await _account(http), await _account(http)
        conversation = await direct_conversation(http, alice, bob)
        numbers = itertools.count()

        async def sender() -> None:
            # Three in flight at a time, so that the kill lands mid-request.
            while (i := next(numbers)) < total:
                client_id = f"k{i}"
                body = {"text": f"message {i}", "client_id": client_id}
                while True:
                    try:
                        answer = await http.post(
                            f"/api/v1/conversations/{conversation}/messages",
                            json=body,
                            headers=alice.headers,
                        )
                    except httpx.TransportError:
                        # Lost with the server (or not up yet): the same client_id again.
                        retried.add(client_id)
                        await asyncio.sleep(0.05)
                        continue
                    assert answer.status_code == 201, answer.text
                    acked[client_id] = answer.json()["id"]
                    break

        async def receiver() -> None:
            url = base.replace("http://", "ws://") + "/api/v1/stream"
            while not stop_receiving.is_set():
                try:
                    ws = await open_stream(url, bob.token, got.cursor)
                except (OSError, InvalidHandshake, TimeoutError):
                    await asyncio.sleep(0.05)  # the server is down: try again
                    continue
                got.connections += 1
                with contextlib.suppress(ConnectionClosed):
                    async for raw in ws:
                        got.take(raw)
                        if stop_receiving.is_set():
                            break
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 2)

        async def killer() -> None:
            while len(acked) < kill_after:
                await asyncio.sleep(0.005)
            first.kill()
            await second.serve(settings, port)
            restarted.set()

        receiving = asyncio.create_task(receiver())
        await asyncio.wait_for(asyncio.gather(killer(), *(sender() for _ in range(3))), 60)
        assert restarted.is_set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while set(got.message_ids) < set(acked.values()) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        stop_receiving.set()
        receiving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiving

        # The server came back on the same database; what it holds is what was sent,
        # once each: a send retried with its client_id did not store a second message.
        assert (await http.get("/readyz")).status_code == 200
        stored: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            page = await http.get(
                f"/api/v1/conversations/{conversation}/messages",
                params=params,
                headers=alice.headers,  # the sender sees the client_ids
            )
            assert page.status_code == 200, page.text
            stored += page.json()["data"]
            cursor = page.json()["next_cursor"]
            if not cursor:
                break

    assert retried, "no send was interrupted by the kill"
    assert len(acked) == total
    assert got.connections >= 2
    got.assert_exactly_once(list(acked.values()))
    assert sorted(m["id"] for m in stored) == sorted(acked.values())
    assert len({m["client_id"] for m in stored}) == total
