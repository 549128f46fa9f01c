"""WebAuthn ceremonies (py_webauthn) for passkeys: registration and assertion.

Challenges are stored server-side and deleted when used, so each is good once.
User verification is required: a passkey then proves possession and a PIN or
biometric, which is why it can sign in without a password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from plaza.core.errors import InvalidInput, NotFound
from plaza.core.ids import SnowflakeGenerator
from plaza.identity.models import Passkey, User, WebAuthnChallenge

CHALLENGE_TTL = timedelta(minutes=5)


@dataclass(frozen=True)
class RelyingParty:
    """Who the browser is talking to: the RP id (a host name) and the page origin."""

    id: str
    name: str
    origin: str


@dataclass(frozen=True)
class CeremonyOptions:
    challenge_id: int
    public_key: dict[str, Any]


async def registration_options(
    session: AsyncSession, ids: SnowflakeGenerator, rp: RelyingParty, user: User, now: datetime
) -> CeremonyOptions:
    existing = (
        await session.scalars(select(Passkey.credential_id).where(Passkey.user_id == user.id))
    ).all()
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user.id.to_bytes(8, "big"),
        user_name=user.username,
        user_display_name=user.username,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in existing],
    )
    challenge = WebAuthnChallenge(
        id=ids.next_id(),
        user_id=user.id,
        purpose="register",
        challenge=options.challenge,
        expires_at=now + CHALLENGE_TTL,
    )
    session.add(challenge)
    return CeremonyOptions(challenge.id, orjson.loads(options_to_json(options)))


async def authentication_options(
    session: AsyncSession,
    ids: SnowflakeGenerator,
    rp: RelyingParty,
    now: datetime,
    *,
    user_id: int | None = None,
) -> CeremonyOptions:
    """Options for ``navigator.credentials.get``; with no user, any discoverable passkey."""
    allow: list[PublicKeyCredentialDescriptor] = []
    if user_id is not None:
        creds = (
            await session.scalars(select(Passkey.credential_id).where(Passkey.user_id == user_id))
        ).all()
        allow = [PublicKeyCredentialDescriptor(id=cid) for cid in creds]
    options = generate_authentication_options(
        rp_id=rp.id,
        allow_credentials=allow,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    challenge = WebAuthnChallenge(
        id=ids.next_id(),
        user_id=user_id,
        purpose="authenticate",
        challenge=options.challenge,
        expires_at=now + CHALLENGE_TTL,
    )
    session.add(challenge)
    return CeremonyOptions(challenge.id, orjson.loads(options_to_json(options)))


async def _take_challenge(
    session: AsyncSession, challenge_id: int, purpose: str, now: datetime
) -> WebAuthnChallenge:
    challenge = await session.get(WebAuthnChallenge, challenge_id)
    if challenge is None or challenge.purpose != purpose or challenge.expires_at <= now:
        raise InvalidInput("challenge_id", "unknown or expired; ask for new options")
    # Deleted in the transaction that uses it, so a verified challenge cannot be replayed;
    # the conditional delete also settles two requests racing with one challenge.
    deleted = await session.execute(
        delete(WebAuthnChallenge).where(WebAuthnChallenge.id == challenge_id)
    )
    if deleted.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidInput("challenge_id", "already used")
    return challenge


async def register(
    session: AsyncSession,
    ids: SnowflakeGenerator,
    rp: RelyingParty,
    *,
    user: User,
    challenge_id: int,
    credential: dict[str, Any],
    name: str,
    now: datetime,
) -> Passkey:
    challenge = await _take_challenge(session, challenge_id, "register", now)
    if challenge.user_id != user.id:
        raise InvalidInput("challenge_id", "unknown or expired; ask for new options")
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge.challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    # WebAuthnException also covers malformed JSON, CBOR and keys, not only failed checks.
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("credential", f"passkey registration failed: {exc}") from exc
    transports = credential.get("response", {}).get("transports") or []
    passkey = Passkey(
        id=ids.next_id(),
        user_id=user.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[str(t) for t in transports][:8],
        name=name,
        backed_up=verified.credential_backed_up,
        created_at=now,
    )
    session.add(passkey)
    return passkey


async def authenticate(
    session: AsyncSession,
    rp: RelyingParty,
    *,
    challenge_id: int,
    credential: dict[str, Any],
    now: datetime,
    user_id: int | None = None,
) -> Passkey:
    """Verify an assertion; returns the passkey used (and so its user)."""
    challenge = await _take_challenge(session, challenge_id, "authenticate", now)
    try:
        raw_id = base64url_to_bytes(str(credential["rawId"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInput("credential", "missing or malformed rawId") from exc
    passkey = await session.scalar(select(Passkey).where(Passkey.credential_id == raw_id))
    expected_user = user_id if user_id is not None else challenge.user_id
    if passkey is None or (expected_user is not None and passkey.user_id != expected_user):
        raise NotFound("No passkey matches that credential.")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge.challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("credential", f"passkey check failed: {exc}") from exc
    passkey.sign_count = verified.new_sign_count
    passkey.backed_up = verified.credential_backed_up
    passkey.last_used_at = now
    return passkey
