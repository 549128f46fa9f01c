"""Small flows the identity tests share: TOTP codes, enabling 2FA, MFA sign-in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pyotp
from sqlalchemy import select

from plaza.core.clock import ManualClock
from plaza.identity.models import User
from tests.conftest import PASSWORD, Account

TOTP_STEP = timedelta(seconds=30)
STEP_UP_WINDOW = timedelta(minutes=10)


def totp_code(secret: str, clock: ManualClock, offset: int = 0) -> str:
    """The code an authenticator app shows at the app clock's time, ``offset`` steps away."""
    return pyotp.TOTP(secret).at(clock.now(), counter_offset=offset)


def problem_fields(response: httpx.Response) -> list[str]:
    """Field names of a 422 problem: body fields as the client named them."""
    return [e["field"] for e in response.json().get("errors", [])]


@dataclass
class TwoFactor:
    secret: str
    recovery_codes: list[str]


async def enable_totp(client: httpx.AsyncClient, account: Account, clock: ManualClock) -> TwoFactor:
    """Enrol and confirm TOTP for ``account``, then move the clock to a fresh 30 s step."""
    enrol = await client.post("/api/v1/me/totp", headers=account.headers)
    assert enrol.status_code == 201, enrol.text
    secret = enrol.json()["secret"]
    confirm = await client.post(
        "/api/v1/me/totp/confirm",
        json={"code": totp_code(secret, clock)},
        headers=account.headers,
    )
    assert confirm.status_code == 200, confirm.text
    # The confirming code's step is now spent; later codes must come from a later step.
    clock.advance(TOTP_STEP)
    return TwoFactor(secret=secret, recovery_codes=confirm.json()["recovery_codes"])


async def password_step(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    """Sign in with the password of a 2FA account; returns the MFA token."""
    response = await client.post(
        "/api/v1/sessions", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mfa_required"] is True
    return str(body["mfa_token"])


async def mfa(client: httpx.AsyncClient, mfa_token: str, **factor: Any) -> httpx.Response:
    return await client.post("/api/v1/sessions/mfa", json={"mfa_token": mfa_token, **factor})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def stored_user(plaza: Any, username: str) -> User | None:
    async with plaza.db.session(write=False) as session:
        result: User | None = await session.scalar(
            select(User).where(User.username_key == username.lower())
        )
        return result
