"""ICE servers with TURN REST credentials (coturn's use-auth-secret), relay by default,
the calls part of /me/settings, and the operator's settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from plaza.app import create_app
from plaza.config import Settings
from plaza.core.clock import ManualClock
from tests.calls.helpers import CallsApi
from tests.conftest import Users

SECRET = "turn-shared-secret"
TURN = ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"]
STUN = ["stun:stun.example.org:3478"]


async def test_without_turn_there_are_no_credentials_and_no_relay(
    users: Users, api: CallsApi
) -> None:
    me = await users.create()
    assert await api.ice(me) == {
        "ice_servers": [],
        "ice_transport_policy": "all",
        "ttl": None,
        "expires_at": None,
    }


@pytest.mark.settings(stun_uris=STUN, turn_uris=TURN, turn_secret=SECRET, turn_ttl_seconds=600)
async def test_turn_credentials_are_time_limited_hmacs_of_the_shared_secret(
    users: Users, api: CallsApi, clock: ManualClock
) -> None:
    me = await users.create()
    ice = await api.ice(me)
    stun, turn = ice["ice_servers"]
    assert stun == {"urls": STUN, "username": None, "credential": None}
    assert turn["urls"] == TURN
    expiry = int(clock.now().timestamp()) + 600
    assert turn["username"] == f"{expiry}:{me.id}"
    digest = hmac.new(SECRET.encode(), turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(digest).decode()
    assert ice["ttl"] == 600
    assert ice["ice_transport_policy"] == "relay"  # private by default

    # A user may trade privacy for quality: peer-to-peer allowed, the relay still offered.
    await api.set(me, calls_relay_only=False)
    ice = await api.ice(me)
    assert ice["ice_transport_policy"] == "all"
    assert ice["ice_servers"][1]["urls"] == TURN


async def test_the_calls_settings_have_private_defaults_and_are_validated(
    users: Users, api: CallsApi
) -> None:
    me = await users.create()
    response = await api.client.get("/api/v1/me/settings", headers=me.headers)
    body = response.json()
    assert (body["calls_enabled"], body["call_policy"], body["calls_relay_only"]) == (
        True,
        "following",
        True,
    )
    changed = await api.set(me, call_policy="dm_contacts", calls_enabled=False)
    assert (changed["call_policy"], changed["calls_enabled"], changed["calls_relay_only"]) == (
        "dm_contacts",
        False,
        True,
    )
    for bad in ({"call_policy": "friends"}, {"calls_enabled": None}, {"calls_relay_only": "x"}):
        response = await api.client.patch("/api/v1/me/settings", json=bad, headers=me.headers)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == next(iter(bad))


def test_turn_without_a_secret_is_refused_at_start(settings: Settings) -> None:
    with pytest.raises(ValueError, match="PLAZA_TURN_SECRET"):
        create_app(settings.model_copy(update={"turn_uris": TURN, "turn_secret": None}))


def test_the_operator_settings_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PLAZA_TURN_URIS", ", ".join(TURN))
    monkeypatch.setenv("PLAZA_STUN_URIS", '["stun:a.example:3478"]')
    monkeypatch.setenv("PLAZA_TURN_SECRET", SECRET)
    monkeypatch.setenv("PLAZA_TURN_TTL", "3600")  # the name API.md fixes
    monkeypatch.setenv("PLAZA_CALLS_REQUIRE_PREMIUM", "false")
    monkeypatch.setenv("PLAZA_CALLS_PER_HOUR", "5")
    settings = Settings(data_dir=tmp_path)
    assert settings.turn_uris == TURN
    assert settings.stun_uris == ["stun:a.example:3478"]
    assert settings.turn_ttl_seconds == 3600
    assert settings.calls_require_premium is False
    assert settings.calls_require_prior_dm is True
    assert settings.calls_per_hour == 5
    monkeypatch.setenv("PLAZA_TURN_TTL_SECONDS", "7200")
    assert Settings(data_dir=tmp_path).turn_ttl_seconds == 7200


async def test_the_data_export_holds_the_call_log(users: Users, api: CallsApi) -> None:
    a, b = await users.create(), await users.create()
    await api.set(b, call_policy="everyone")
    call = await api.placed(a, b)
    await api.step(a, call["id"], "cancel")
    export = (await api.client.get("/api/v1/me/export", headers=b.headers)).json()
    [entry] = export["calls"]
    assert (entry["id"], entry["missed"], entry["direction"]) == (call["id"], True, "incoming")
    assert "offer_sdp" not in entry
