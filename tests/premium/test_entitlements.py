"""Entitlements as other domains see them: granted, expiring, revoked, and listed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from plaza.cli import main
from plaza.core.clock import ManualClock
from plaza.core.errors import InvalidInput
from plaza.premium import PREMIUM, Entitlement
from tests.conftest import Users


async def test_premium_brings_every_entitlement_until_it_ends(
    plaza: Any, users: Users, clock: ManualClock
) -> None:
    alice, bob = await users.create(), await users.create()
    a, b = int(alice.id), int(bob.id)
    assert not await plaza.entitlements.has(a, Entitlement.PLACE_CALLS)

    await plaza.entitlements.grant(
        a, PREMIUM, until=clock.now() + timedelta(days=30), source="admin"
    )
    assert await plaza.entitlements.of(a) == set(Entitlement)
    assert await plaza.entitlements.holders({a, b}, Entitlement.VERIFIED) == {a}

    clock.advance(timedelta(days=30))
    assert not await plaza.entitlements.has(a, Entitlement.PLACE_CALLS)
    assert await plaza.entitlements.of(a) == set()


async def test_a_single_entitlement_brings_only_itself(plaza: Any, users: Users) -> None:
    alice = await users.create()
    await plaza.entitlements.grant(int(alice.id), Entitlement.VERIFIED, until=None, source="admin")
    assert await plaza.entitlements.of(int(alice.id)) == {Entitlement.VERIFIED}
    assert not await plaza.entitlements.is_premium(int(alice.id))


async def test_revoking_ends_active_grants_but_keeps_the_record(plaza: Any, users: Users) -> None:
    alice = await users.create()
    a = int(alice.id)
    await plaza.entitlements.grant(a, PREMIUM, until=None, source="admin")
    assert await plaza.entitlements.revoke(a, PREMIUM, source="admin") == 1
    assert not await plaza.entitlements.has(a, Entitlement.LONG_POSTS)
    [grant] = await plaza.entitlements.grants(a)
    assert grant.revoked_at is not None


async def test_unknown_entitlements_and_past_ends_are_refused(
    plaza: Any, users: Users, clock: ManualClock
) -> None:
    alice = await users.create()
    with pytest.raises(InvalidInput) as unknown:
        await plaza.entitlements.grant(int(alice.id), "gold", until=None, source="admin")
    assert unknown.value.extra["errors"] == [
        {"field": "entitlement", "message": "Unknown entitlement 'gold'."}
    ]
    with pytest.raises(InvalidInput):
        await plaza.entitlements.grant(
            int(alice.id), PREMIUM, until=clock.now() - timedelta(seconds=1), source="admin"
        )


async def test_me_entitlements_shows_only_the_callers_own(
    client: httpx.AsyncClient, plaza: Any, users: Users, clock: ManualClock
) -> None:
    alice, bob = await users.create(), await users.create()
    until = clock.now() + timedelta(days=3)
    await plaza.entitlements.grant(int(alice.id), PREMIUM, until=until, source="admin")

    mine = (await client.get("/api/v1/me/entitlements", headers=alice.headers)).json()
    assert mine["premium"] is True
    assert set(mine["entitlements"]) == {e.value for e in Entitlement}
    assert mine["premium_until"].startswith(until.strftime("%Y-%m-%dT%H:%M:%S"))

    theirs = (await client.get("/api/v1/me/entitlements", headers=bob.headers)).json()
    assert theirs == {"premium": False, "entitlements": [], "premium_until": None}
    client.cookies.clear()  # the factory signed in through this client
    assert (await client.get("/api/v1/me/entitlements")).status_code == 401


def test_admin_grant_premium_command(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAZA_DATABASE_URL", database_url)
    monkeypatch.setenv("PLAZA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PLAZA_SECRET_KEY", "cli-test-secret")
    monkeypatch.setenv("PLAZA_LOG_JSON", "false")
    runner = CliRunner()
    made = runner.invoke(
        main, ["createuser", "vip", "--password-stdin"], input="a long passphrase\n"
    )
    assert made.exit_code == 0, made.output

    granted = runner.invoke(main, ["admin", "grant-premium", "vip", "--days", "30"])
    assert granted.exit_code == 0, granted.output
    assert "vip has complimentary Premium until" in granted.output

    verified = runner.invoke(main, ["admin", "grant-verified", "vip"])
    assert "without end" in verified.output

    ended = runner.invoke(main, ["admin", "grant-premium", "vip", "--revoke"])
    assert "ended 1 complimentary Premium grant(s)" in ended.output

    unknown = runner.invoke(main, ["admin", "grant-premium", "nobody"])
    assert unknown.exit_code != 0
    assert "no user named 'nobody'" in unknown.output
    bad_days = runner.invoke(main, ["admin", "grant-premium", "vip", "--days", "0"])
    assert bad_days.exit_code != 0
