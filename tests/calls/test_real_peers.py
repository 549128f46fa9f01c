"""Real calls: two aiortc peers, each driven only through Plaza's HTTP API and its own
stream, place a video call and exchange real audio and video frames. Once directly
on loopback (no ICE servers), once relayed through a real coturn that the test starts,
with the TURN credentials Plaza hands out and the relay-only policy it asks for."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aioice.ice
import httpx
import pytest
from fastapi import FastAPI

from plaza.config import Settings
from tests.calls.helpers import CallsApi
from tests.calls.peers import Phone
from tests.conftest import IN_CI, Account, Users
from tests.realtime.conftest import socket_factory

RED, BLUE = (220, 30, 30), (30, 30, 220)
TURN_SECRET = "coturn-" + uuid.uuid4().hex


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep ICE on 127.0.0.1: aioice would gather (and skip loopback in favour of)
    every interface of the machine."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def turnserver(tmp_path: Path) -> Iterator[int]:
    """A loopback-only coturn with TURN REST auth (use-auth-secret); yields its port."""
    binary = shutil.which("turnserver")
    if binary is None:
        message = "turnserver is missing: apt-get install coturn"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    port = _free_udp_port()
    relay_low = 20_000 + (port % 200) * 100  # a range per test, away from other workers'
    log = tmp_path / "turnserver.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                "-n",
                "--log-file=stdout",
                "--simple-log",
                "--listening-ip=127.0.0.1",
                f"--listening-port={port}",
                "--relay-ip=127.0.0.1",
                f"--min-port={relay_low}",
                f"--max-port={relay_low + 99}",
                "--use-auth-secret",
                f"--static-auth-secret={TURN_SECRET}",
                "--realm=plaza.test",
                "--no-tls",
                "--no-dtls",
                "--fingerprint",
                "--allow-loopback-peers",
                "--no-cli",
                "--no-tcp-relay",
                f"--pidfile={tmp_path / 'turnserver.pid'}",
                f"--db={tmp_path / 'turndb'}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 10
        while b"Total General servers" not in log.read_bytes():
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.02)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _call(
    app: FastAPI, client: httpx.AsyncClient, api: CallsApi, caller: Account, callee: Account
) -> tuple[Phone, Phone, dict[str, Any]]:
    """Place, answer and connect a video call; both sides must receive frames."""
    connect = socket_factory(app)
    async with connect(caller.headers) as caller_stream, connect(callee.headers) as callee_stream:
        alice = Phone(client, caller, caller_stream, RED)
        bob = Phone(client, callee, callee_stream, BLUE)
        try:
            dialled = await alice.dial(callee.username, "video")
            picked = await bob.pick_up()
            await alice.hear_answer()
            await alice.until_connected()
            await bob.until_connected()
            await alice.until_received(video=15, audio=25)
            await bob.until_received(video=15, audio=25)

            # Each side decodes the other's colour: real frames, from the other party.
            for phone, expected in ((alice, BLUE), (bob, RED)):
                r, g, b = phone.colours[-1]
                assert all(abs(x - y) < 40 for x, y in zip((r, g, b), expected, strict=True)), (
                    phone.colours[-3:]
                )
                assert phone.audio_rates == {48_000}

            ended = await alice.hang_up()
            assert ended["state"] == "ended"
            for phone in (alice, bob):
                event = await phone.event("call.ended")
                assert event["reason"] == "hangup"
                assert event["duration_seconds"] == ended["duration_seconds"]
            info = {"dialled": dialled, "picked": picked}
            return alice, bob, info
        finally:
            await alice.close()
            await bob.close()


async def _ready(users: Users, api: CallsApi) -> tuple[Account, Account]:
    caller, callee = await users.create(), await users.create()
    await api.follow(callee, caller)
    return caller, callee


async def test_two_peers_call_each_other_directly(
    app: FastAPI, client: httpx.AsyncClient, users: Users, api: CallsApi
) -> None:
    caller, callee = await _ready(users, api)
    alice, bob, info = await _call(app, client, api, caller, callee)
    # No TURN configured: Plaza hands out no servers and asks for no relay.
    assert info["dialled"]["ice"] == {
        "ice_servers": [],
        "ice_transport_policy": "all",
        "ttl": None,
        "expires_at": None,
    }
    assert alice.pair == ("host", "host")
    assert bob.pair == ("host", "host")


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """TURN configured (and coturn started) for tests marked ``turn``."""
    if request.node.get_closest_marker("turn") is None:
        return settings
    port = request.getfixturevalue("turnserver")
    return settings.model_copy(
        update={
            "turn_uris": [f"turn:127.0.0.1:{port}?transport=udp"],
            "turn_secret": TURN_SECRET,
        }
    )


@pytest.mark.turn
async def test_two_peers_call_through_a_turn_relay(
    app: FastAPI, client: httpx.AsyncClient, users: Users, api: CallsApi
) -> None:
    """Neither peer offers or uses anything but a relayed address."""
    caller, callee = await _ready(users, api)
    alice, bob, info = await _call(app, client, api, caller, callee)
    for side in ("dialled", "picked"):
        ice = info[side]["ice"]
        assert ice["ice_transport_policy"] == "relay"
        [turn] = ice["ice_servers"]
        assert turn["username"].endswith(":" + (caller.id if side == "dialled" else callee.id))
    for phone in (alice, bob):
        assert phone.local_types == {"relay"}
        assert phone.pair == ("relay", "relay")
