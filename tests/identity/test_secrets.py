"""No response ever carries a secret, except the one response that issues it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import PASSWORD
from tests.identity.authenticator import SoftAuthenticator
from tests.identity.conftest import Browser
from tests.identity.helpers import TOTP_STEP, bearer, stored_user, totp_code


async def test_a_full_flow_never_leaks_a_secret(plaza: Any, browser: Browser) -> None:
    seen: list[httpx.Response] = []

    async def record(response: httpx.Response) -> None:
        await response.aread()
        seen.append(response)

    c = await browser(event_hooks={"response": [record]})
    issued_by: dict[str, httpx.Response] = {}  # secret -> the one response allowed to show it

    async def call(method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        response = await c.request(method, path, headers=bearer(token) if token else None, **kw)
        assert response.status_code < 500, response.text
        return response

    async def sign_in() -> str:
        r = await call("POST", "/api/v1/sessions", json={"username": "alice", "password": PASSWORD})
        assert r.status_code == 201
        issued_by[r.json()["token"]] = r
        return str(r.json()["token"])

    assert (
        await call("POST", "/api/v1/accounts", json={"username": "alice", "password": PASSWORD})
    ).status_code == 201
    await call("POST", "/api/v1/sessions", json={"username": "alice", "password": "wrong pw!"})
    main, spare = await sign_in(), await sign_in()
    for path in ("/api/v1/me", "/api/v1/me/sessions", "/api/v1/me/factors"):
        await call("GET", path, main)

    enrol = await call("POST", "/api/v1/me/totp", main)
    secret = enrol.json()["secret"]
    issued_by[secret] = enrol
    confirm = await call(
        "POST", "/api/v1/me/totp/confirm", main, json={"code": totp_code(secret, plaza.clock)}
    )
    for code in confirm.json()["recovery_codes"]:
        issued_by[code] = confirm
    plaza.clock.advance(TOTP_STEP)

    challenge = await call(
        "POST", "/api/v1/sessions", json={"username": "alice", "password": PASSWORD}
    )
    issued_by[challenge.json()["mfa_token"]] = challenge
    second = await call(
        "POST",
        "/api/v1/sessions/mfa",
        json={
            "mfa_token": challenge.json()["mfa_token"],
            "totp_code": totp_code(secret, plaza.clock),
        },
    )
    issued_by[second.json()["token"]] = second

    key = SoftAuthenticator()
    options = (await call("POST", "/api/v1/me/passkeys/options", main)).json()
    await call(
        "POST",
        "/api/v1/me/passkeys",
        main,
        json={
            "challenge_id": options["challenge_id"],
            "credential": key.create(options["public_key"]),
        },
    )
    options = (await call("POST", "/api/v1/sessions/passkey-options")).json()
    by_passkey = await call(
        "POST",
        "/api/v1/sessions/passkey",
        json={
            "challenge_id": options["challenge_id"],
            "credential": key.get(options["public_key"]),
        },
    )
    issued_by[by_passkey.json()["token"]] = by_passkey

    regenerated = await call("POST", "/api/v1/me/recovery-codes", main)
    for code in regenerated.json()["recovery_codes"]:
        issued_by[code] = regenerated
    for path in (
        "/api/v1/me",
        "/api/v1/me/sessions",
        "/api/v1/me/factors",
        "/api/v1/me/passkeys",
        "/api/v1/me/security-log",
        "/api/v1/me/export",
    ):
        assert (await call("GET", path, main)).status_code == 200
    await call("GET", "/api/v1/me", spare)  # revoked by now: a 401 that must not leak either

    stored = await stored_user(plaza, "alice")
    assert stored is not None
    never_shown = [stored.password_hash, PASSWORD]
    assert len(issued_by) == 5 + 20 + 1  # tokens, two sets of codes, the TOTP secret
    leaks = []
    for response in seen:
        shown = response.text + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        where = f"{response.request.method} {response.request.url.path}"
        leaks += [(where, s) for s in never_shown if s in shown]
        leaks += [
            (where, s) for s, issuer in issued_by.items() if s in shown and response is not issuer
        ]
    assert leaks == []
    assert len(seen) >= 20
