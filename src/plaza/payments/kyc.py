"""Identity verification for the higher wallet tier: legal name, date of birth and
address (never a phone number), stored as one AES-GCM blob under the server keys,
bound to the user id so that a blob copied to another row does not decrypt.

In the sandbox, ``payments_kyc_auto_approve`` (the default) verifies a complete,
adult submission at once; with it off, submissions wait for an administrator.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
from sqlalchemy import select

from plaza.core.errors import InvalidInput, NotFound
from plaza.payments.limits import Limits
from plaza.payments.models import WalletProfile
from plaza.payments.schemas import VerificationSubmit
from plaza.payments.service import Context

MIN_AGE = 18


def _context(user_id: int) -> bytes:
    return f"plaza wallet verification v1:{user_id}".encode()


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class Verification:
    def __init__(self, ctx: Context, limits: Limits) -> None:
        self.ctx = ctx
        self.limits = limits

    async def submit(self, user_id: int, details: VerificationSubmit) -> WalletProfile:
        """Store the details encrypted and verify (sandbox) or queue them for review.
        Raises InvalidInput naming ``date_of_birth`` for a future date or a minor."""
        today = self.ctx.clock.now().date()
        if details.date_of_birth > today:
            raise InvalidInput("date_of_birth", "is in the future")
        if _age(details.date_of_birth, today) < MIN_AGE:
            raise InvalidInput("date_of_birth", f"wallet verification needs age {MIN_AGE} or over")
        blob = self.ctx.keys.encrypt(
            orjson.dumps(details.model_dump(mode="json")), context=_context(user_id)
        )
        now = self.ctx.clock.now()
        async with self.ctx.db.session() as session:
            profile = await self.limits.lock_profile(session, user_id)
            profile.details_encrypted = blob
            profile.submitted_at = now
            if self.ctx.policy.kyc_auto_approve:
                profile.verification = "verified"
                profile.decided_at = now
            else:
                profile.verification = "pending"
                profile.decided_at = None
            await session.commit()
            return profile

    async def status(self, user_id: int) -> WalletProfile:
        async with self.ctx.db.session(write=False) as session:
            profile = await session.get(WalletProfile, user_id)
        return profile or WalletProfile(user_id=user_id, verification="none")

    async def details(self, user_id: int) -> dict[str, Any] | None:
        """The decrypted details (for the user's own data export and for review)."""
        profile = await self.status(user_id)
        if profile.details_encrypted is None:
            return None
        plain = self.ctx.keys.decrypt(profile.details_encrypted, context=_context(user_id))
        data: dict[str, Any] = orjson.loads(plain)
        return data

    async def pending(self, *, limit: int) -> list[WalletProfile]:
        async with self.ctx.db.session(write=False) as session:
            rows = await session.scalars(
                select(WalletProfile)
                .where(WalletProfile.verification == "pending")
                .order_by(WalletProfile.submitted_at)
                .limit(limit)
            )
            return list(rows.all())

    async def decide(self, user_id: int, *, approve: bool) -> WalletProfile:
        """An administrator approves or rejects a pending submission."""
        async with self.ctx.db.session() as session:
            profile = await session.get(WalletProfile, user_id)
            if profile is None or profile.verification != "pending":
                raise NotFound("No verification is waiting for this user.")
            profile.verification = "verified" if approve else "rejected"
            profile.decided_at = self.ctx.clock.now()
            await session.commit()
            return profile
