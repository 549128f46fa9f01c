"""Account lifecycle: export of one's data, and deletion with a grace period."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from plaza.core.errors import Conflict, InvalidInput
from plaza.core.schemas import dump
from plaza.identity.events import AccountDeleted, AccountDeletionScheduled
from plaza.identity.models import AuthSession, Passkey, SecurityEvent, TotpFactor, User
from plaza.identity.service import ClientInfo, IdentityService, Principal

# Each domain contributes its part of a user's export through one of these.
Exporter = Callable[[int], Awaitable[Any]]


class AccountLifecycle:
    def __init__(self, identity: IdentityService) -> None:
        self.identity = identity
        self.db = identity.db
        self.clock = identity.clock
        self._exporters: dict[str, Exporter] = {}

    def add_exporter(self, section: str, exporter: Exporter) -> None:
        """Register another domain's part of the data export, under ``section``."""
        self._exporters[section] = exporter

    async def export(self, principal: Principal) -> dict[str, Any]:
        """Everything Plaza keeps about the user, as JSON-ready data. No secrets: no
        password hash, TOTP secret, token or recovery code."""
        from plaza.identity.schemas import (
            DeviceOut,
            PasskeyOut,
            SecurityEventOut,
            UserOut,
        )

        user_id = principal.user.id
        async with self.db.session(write=False) as session:
            user = await session.get(User, user_id)
            assert user is not None
            sessions = (
                await session.scalars(select(AuthSession).where(AuthSession.user_id == user_id))
            ).all()
            keys = (await session.scalars(select(Passkey).where(Passkey.user_id == user_id))).all()
            log = (
                await session.scalars(
                    select(SecurityEvent)
                    .where(SecurityEvent.user_id == user_id)
                    .order_by(SecurityEvent.id)
                )
            ).all()
            totp = await session.get(TotpFactor, user_id)
        data: dict[str, Any] = {
            "format": "plaza-export/1",
            "exported_at": dump_time(self.clock.now()),
            "account": dump(UserOut.model_validate(user)),
            "totp_enabled": bool(totp and totp.confirmed_at),
            "passkeys": [dump(PasskeyOut.model_validate(k)) for k in keys],
            "sessions": [dump(DeviceOut.of(s, current_id=principal.session.id)) for s in sessions],
            "security_log": [dump(SecurityEventOut.model_validate(e)) for e in log],
        }
        for section, exporter in self._exporters.items():
            data[section] = await exporter(user_id)
        return data

    async def schedule_deletion(
        self, principal: Principal, *, password: str, client: ClientInfo
    ) -> datetime:
        """Sign the account out everywhere and delete it after the grace period, unless
        the owner signs in and cancels before then. Returns when it will be deleted."""
        self.identity.require_step_up(principal)
        if not await self.identity.hasher.verify(principal.user.password_hash, password):
            raise InvalidInput("password", "is not your password")
        when = self.clock.now() + self.identity.policy.deletion_grace
        async with self.db.session() as session:
            await session.execute(
                update(User).where(User.id == principal.user.id).values(deletion_scheduled_for=when)
            )
            await self.identity._revoke_where(session, principal.user.id)
            self.identity._log(session, principal.user.id, "account.deletion_scheduled", client)
            self.identity.bus.publish(session, AccountDeletionScheduled(user_id=principal.user.id))
            await session.commit()
        return when

    async def cancel_deletion(self, principal: Principal, client: ClientInfo) -> None:
        async with self.db.session() as session:
            result = await session.execute(
                update(User)
                .where(User.id == principal.user.id, User.deletion_scheduled_for.is_not(None))
                .values(deletion_scheduled_for=None)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise Conflict("The account is not scheduled for deletion.")
            self.identity._log(session, principal.user.id, "account.deletion_cancelled", client)
            await session.commit()

    async def purge_due(self) -> int:
        """Delete accounts whose grace period has ended; returns how many."""
        now = self.clock.now()
        purged = 0
        async with self.db.session() as session:
            due = (
                await session.scalars(
                    select(User.id).where(User.deletion_scheduled_for <= now).limit(500)
                )
            ).all()
            for user_id in due:
                await session.execute(delete(User).where(User.id == user_id))
                self.identity.bus.publish(session, AccountDeleted(user_id=user_id))
                purged += 1
            await session.commit()
        return purged


def dump_time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
