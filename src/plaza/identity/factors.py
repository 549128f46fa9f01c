"""Second factors: TOTP (RFC 6238) with single use, and recovery codes.

Both are verified with one conditional UPDATE whose row count says whether this
request won, so a code raced by two requests is accepted by exactly one.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.ids import SnowflakeGenerator
from plaza.identity.models import RecoveryCode, TotpFactor
from plaza.identity.tokens import ServerKeys

TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
TOTP_SKEW_STEPS = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def new_totp_secret() -> str:
    return pyotp.random_base32(length=32)


def totp_uri(secret: str, *, username: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=issuer
    )


def totp_qr_svg(uri: str) -> str:
    """An inline SVG QR code of the otpauth URI, for the enrolment page."""
    qr = segno.make(uri, error="m")
    return str(qr.svg_inline(scale=4, dark="#111", light="#fff"))


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The 30-second step within ±1 of ``now`` whose code equals ``code``, if any."""
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)
    current = int(now.timestamp()) // TOTP_STEP_SECONDS
    for step in range(current + TOTP_SKEW_STEPS, current - TOTP_SKEW_STEPS - 1, -1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def secret_context(user_id: int) -> bytes:
    return f"totp:{user_id}".encode()


async def consume_totp(
    session: AsyncSession,
    keys: ServerKeys,
    *,
    user_id: int,
    code: str,
    now: datetime,
    confirmed: bool = True,
) -> bool:
    """Accept ``code`` at most once: only for a step later than the last one accepted."""
    factor = await session.get(TotpFactor, user_id)
    if factor is None or (factor.confirmed_at is not None) != confirmed:
        return False
    secret = keys.decrypt(factor.secret_encrypted, context=secret_context(user_id)).decode()
    step = matching_step(secret, code.strip().replace(" ", ""), now)
    if step is None:
        return False
    result = await session.execute(
        update(TotpFactor)
        .where(TotpFactor.user_id == user_id, TotpFactor.last_used_step < step)
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


async def replace_recovery_codes(
    session: AsyncSession,
    keys: ServerKeys,
    ids: SnowflakeGenerator,
    *,
    user_id: int,
    now: datetime,
) -> list[str]:
    """Void every existing code and store a new set; returns the new codes, shown once."""
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(
        RecoveryCode(
            id=ids.next_id(),
            user_id=user_id,
            code_hash=keys.code_hash(normalise_recovery_code(code)),
            created_at=now,
        )
        for code in codes
    )
    return codes


async def consume_recovery_code(
    session: AsyncSession, keys: ServerKeys, *, user_id: int, code: str, now: datetime
) -> bool:
    """Mark one unused code used; true only for the request that used it."""
    result = await session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == keys.code_hash(normalise_recovery_code(code)),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def unused_recovery_codes(session: AsyncSession, user_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    return int(count or 0)
