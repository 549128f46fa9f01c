"""Managing one's own second factors: TOTP, recovery codes and passkeys.

Every change needs a recent step-up and ends the account's other sessions, so a
stolen session cannot quietly add its own factor or outlive the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.errors import Conflict, InvalidInput, NotFound
from plaza.identity import factors, passkeys
from plaza.identity.models import Passkey, RecoveryCode, TotpFactor
from plaza.identity.passkeys import RelyingParty
from plaza.identity.service import ClientInfo, IdentityService, Principal


@dataclass(frozen=True)
class TotpEnrollment:
    secret: str
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True)
class FactorSummary:
    totp: bool
    passkeys: int
    recovery_codes_left: int
    step_up_valid_until: datetime | None


class SecuritySettings:
    def __init__(self, identity: IdentityService) -> None:
        self.identity = identity
        self.db = identity.db
        self.keys = identity.keys
        self.clock = identity.clock
        self.ids = identity.ids

    async def summary(self, principal: Principal) -> FactorSummary:
        async with self.db.session(write=False) as session:
            totp = await session.get(TotpFactor, principal.user.id)
            count = await session.scalar(
                select(func.count())
                .select_from(Passkey)
                .where(Passkey.user_id == principal.user.id)
            )
            left = await factors.unused_recovery_codes(session, principal.user.id)
        return FactorSummary(
            totp=bool(totp and totp.confirmed_at),
            passkeys=int(count or 0),
            recovery_codes_left=left,
            step_up_valid_until=self.identity.step_up_valid_until(principal),
        )

    async def begin_totp(self, principal: Principal) -> TotpEnrollment:
        """Make a new, unconfirmed TOTP secret (replacing an unconfirmed one).
        Raises Conflict if TOTP is already on, StepUpRequired without a recent step-up."""
        self.identity.require_step_up(principal)
        user = principal.user
        secret = factors.new_totp_secret()
        async with self.db.session() as session:
            existing = await session.get(TotpFactor, user.id)
            if existing is not None and existing.confirmed_at is not None:
                raise Conflict("TOTP is already enabled; disable it first to enrol a new one.")
            if existing is not None:
                await session.delete(existing)
                await session.flush()
            session.add(
                TotpFactor(
                    user_id=user.id,
                    secret_encrypted=self.keys.encrypt(
                        secret.encode(), context=factors.secret_context(user.id)
                    ),
                    created_at=self.clock.now(),
                    confirmed_at=None,
                    last_used_step=0,
                )
            )
            await session.commit()
        uri = factors.totp_uri(secret, username=user.username, issuer=self.identity.policy.rp_name)
        return TotpEnrollment(secret=secret, otpauth_uri=uri, qr_svg=factors.totp_qr_svg(uri))

    async def confirm_totp(self, principal: Principal, code: str, client: ClientInfo) -> list[str]:
        """Turn TOTP on once the app shows a right code; returns a fresh set of recovery
        codes (voiding any older set) and ends the other sessions."""
        self.identity.require_step_up(principal)
        now = self.clock.now()
        async with self.db.session() as session:
            ok = await factors.consume_totp(
                session, self.keys, user_id=principal.user.id, code=code, now=now, confirmed=False
            )
            if not ok:
                raise InvalidInput("code", "does not match the authenticator app; check its clock")
            totp = await session.get(TotpFactor, principal.user.id)
            assert totp is not None
            totp.confirmed_at = now
            codes = await factors.replace_recovery_codes(
                session, self.keys, self.ids, user_id=principal.user.id, now=now
            )
            await self.identity._revoke_others(session, principal)
            self.identity._log(session, principal.user.id, "totp.enabled", client)
            await session.commit()
        return codes

    async def disable_totp(self, principal: Principal, client: ClientInfo) -> None:
        self.identity.require_step_up(principal)
        async with self.db.session() as session:
            result = await session.execute(
                delete(TotpFactor).where(TotpFactor.user_id == principal.user.id)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise NotFound("TOTP is not enabled.")
            await self._void_codes_without_factor(session, principal.user.id)
            await self.identity._revoke_others(session, principal)
            self.identity._log(session, principal.user.id, "totp.disabled", client)
            await session.commit()

    async def _void_codes_without_factor(self, session: AsyncSession, user_id: int) -> None:
        """Recovery codes back up a second factor; with none left they must not linger,
        or they would silently come back to life with the next factor enrolled."""
        await session.flush()
        if not await self.identity._second_factor_methods(session, user_id):
            await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))

    async def regenerate_recovery_codes(
        self, principal: Principal, client: ClientInfo
    ) -> list[str]:
        """A new set of 10 codes; the old set stops working at once."""
        self.identity.require_step_up(principal)
        async with self.db.session() as session:
            codes = await factors.replace_recovery_codes(
                session, self.keys, self.ids, user_id=principal.user.id, now=self.clock.now()
            )
            await self.identity._revoke_others(session, principal)
            self.identity._log(session, principal.user.id, "recovery_codes.regenerated", client)
            await session.commit()
        return codes

    async def passkey_registration_options(
        self, principal: Principal, rp: RelyingParty
    ) -> passkeys.CeremonyOptions:
        self.identity.require_step_up(principal)
        async with self.db.session() as session:
            options = await passkeys.registration_options(
                session, self.ids, rp, principal.user, self.clock.now()
            )
            await session.commit()
            return options

    async def add_passkey(
        self,
        principal: Principal,
        rp: RelyingParty,
        *,
        challenge_id: int,
        credential: dict[str, Any],
        name: str,
        client: ClientInfo,
    ) -> tuple[Passkey, list[str] | None]:
        """Register a passkey. When the account has no recovery codes yet (its first
        factor), a set is issued too and returned, to be shown once."""
        self.identity.require_step_up(principal)
        async with self.db.session() as session:
            passkey = await passkeys.register(
                session,
                self.ids,
                rp,
                user=principal.user,
                challenge_id=challenge_id,
                credential=credential,
                name=name,
                now=self.clock.now(),
            )
            try:
                # Flushed here: the revocation below would autoflush it outside the try.
                await session.flush()
            except IntegrityError as exc:
                raise Conflict("That passkey is already registered.") from exc
            codes = None
            if not await factors.unused_recovery_codes(session, principal.user.id):
                codes = await factors.replace_recovery_codes(
                    session, self.keys, self.ids, user_id=principal.user.id, now=self.clock.now()
                )
            await self.identity._revoke_others(session, principal)
            self.identity._log(session, principal.user.id, "passkey.added", client, name=name)
            await session.commit()
        return passkey, codes

    async def list_passkeys(self, principal: Principal) -> list[Passkey]:
        async with self.db.session(write=False) as session:
            rows = await session.scalars(
                select(Passkey).where(Passkey.user_id == principal.user.id).order_by(Passkey.id)
            )
            return list(rows.all())

    async def rename_passkey(self, principal: Principal, passkey_id: int, name: str) -> Passkey:
        async with self.db.session() as session:
            passkey = await session.get(Passkey, passkey_id)
            if passkey is None or passkey.user_id != principal.user.id:
                raise NotFound("No such passkey.")
            passkey.name = name
            await session.commit()
            return passkey

    async def remove_passkey(
        self, principal: Principal, passkey_id: int, client: ClientInfo
    ) -> None:
        self.identity.require_step_up(principal)
        async with self.db.session() as session:
            passkey = await session.get(Passkey, passkey_id)
            if passkey is None or passkey.user_id != principal.user.id:
                raise NotFound("No such passkey.")
            await session.delete(passkey)
            await self._void_codes_without_factor(session, principal.user.id)
            await self.identity._revoke_others(session, principal)
            self.identity._log(
                session, principal.user.id, "passkey.removed", client, name=passkey.name
            )
            await session.commit()

    async def step_up_passkey_options(
        self, principal: Principal, rp: RelyingParty
    ) -> passkeys.CeremonyOptions:
        """Options to re-prove the session with one of the user's own passkeys."""
        async with self.db.session() as session:
            options = await passkeys.authentication_options(
                session, self.ids, rp, self.clock.now(), user_id=principal.user.id
            )
            await session.commit()
            return options
