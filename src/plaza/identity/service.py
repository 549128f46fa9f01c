"""Identity rules: accounts, sign-in with throttling, sessions, second factors, step-up.

``IdentityService`` owns its transactions: each public method is one unit of work
that commits (and so publishes its events) before it returns.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthorized,
)
from plaza.core.events import EventBus
from plaza.core.ids import SnowflakeGenerator
from plaza.core.ratelimit import Rate, RateLimiter, enforce
from plaza.identity import factors, passkeys
from plaza.identity.events import SessionsRevoked, UserRegistered
from plaza.identity.models import (
    AuthSession,
    MfaChallenge,
    Passkey,
    SecurityEvent,
    TotpFactor,
    User,
)
from plaza.identity.passkeys import RelyingParty
from plaza.identity.passwords import PasswordHasher, check_password_policy
from plaza.identity.tokens import ServerKeys, new_token, token_hash

USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{3,32}$")
RESERVED_USERNAMES = frozenset(
    {
        "admin",
        "administrator",
        "api",
        "me",
        "settings",
        "login",
        "signup",
        "support",
        "plaza",
        "root",
        "system",
        "help",
        "about",
        "static",
        "home",
        "messages",
        "wallet",
        "security",
    }
)
MFA_ATTEMPTS = 5
# Touch last_seen_at at most this often: a write per request would cap read throughput.
TOUCH_EVERY = timedelta(seconds=60)


_SESSION_COLUMNS = list(AuthSession.__table__.columns)
_USER_COLUMNS = list(User.__table__.columns)
# Every authenticated request runs this, so it is built once, reads plain columns
# (no ORM identity map) and answers in one round trip: the session, its user, and
# whether a second factor is enrolled.
_PRINCIPAL_LOOKUP = (
    select(
        *(c.label(f"s_{c.key}") for c in _SESSION_COLUMNS),
        *(c.label(f"u_{c.key}") for c in _USER_COLUMNS),
        (
            select(TotpFactor.user_id)
            .where(TotpFactor.user_id == User.id, TotpFactor.confirmed_at.is_not(None))
            .exists()
            | select(Passkey.id).where(Passkey.user_id == User.id).exists()
        ).label("two_factor"),
    )
    .join_from(AuthSession, User, User.id == AuthSession.user_id)
    .where(AuthSession.token_hash == bindparam("token_hash"), AuthSession.revoked_at.is_(None))
)


class StepUpRequired(DomainError):
    status, slug, title = 403, "step-up-required", "Recent second-factor check required"


@dataclass(frozen=True)
class IdentityPolicy:
    session_idle: timedelta
    session_absolute: timedelta
    step_up_window: timedelta
    mfa_challenge_ttl: timedelta
    deletion_grace: timedelta
    login_failures: Rate
    signups_per_ip: Rate
    second_factor_failures: Rate = field(default_factory=lambda: Rate(10, 3600))
    rp_name: str = "Plaza"


@dataclass(frozen=True)
class ClientInfo:
    ip: str = ""
    user_agent: str = ""
    device: str | None = None  # the "known device" token presented, if any


@dataclass
class Principal:
    """The signed-in user of a request, and the session it came with."""

    user: User
    session: AuthSession
    two_factor_enabled: bool
    via_cookie: bool = False


@dataclass
class SignInResult:
    """Either a new session (``token``) or a second factor to ask for (``mfa_token``)."""

    user: User
    token: str | None = None
    token_hash: bytes | None = None
    mfa_token: str | None = None
    methods: list[str] = field(default_factory=list)
    two_factor_enabled: bool = False


class IdentityService:
    def __init__(
        self,
        *,
        db: Database,
        bus: EventBus,
        limiter: RateLimiter,
        clock: Clock,
        ids: SnowflakeGenerator,
        hasher: PasswordHasher,
        keys: ServerKeys,
        policy: IdentityPolicy,
    ) -> None:
        self.db = db
        self.bus = bus
        self.limiter = limiter
        self.clock = clock
        self.ids = ids
        self.hasher = hasher
        self.keys = keys
        self.policy = policy

    # ---- accounts -------------------------------------------------------------------

    async def register(
        self, *, username: str, password: str, email: str | None, client: ClientInfo
    ) -> User:
        """Create an account. Raises InvalidInput (bad name or weak password), Conflict
        (name taken) and RateLimited (too many sign-ups from this address)."""
        if not USERNAME_RE.match(username):
            raise InvalidInput("username", "3 to 32 letters, digits or underscores")
        if username.lower() in RESERVED_USERNAMES:
            raise InvalidInput("username", "is reserved")
        password = check_password_policy(password, username=username)
        if client.ip:
            await enforce(
                self.limiter,
                f"signup:ip:{client.ip}",
                self.policy.signups_per_ip,
                "Too many new accounts from this address; try again later.",
            )
        password_hash = await self.hasher.hash(password)
        now = self.clock.now()
        user = User(
            id=self.ids.next_id(),
            username=username,
            username_key=username.lower(),
            email=email.lower() if email else None,
            password_hash=password_hash,
            is_admin=False,
            created_at=now,
            password_changed_at=now,
        )
        async with self.db.session() as session:
            session.add(user)
            try:
                # Flushed on its own: the log entry below references the new row.
                await session.flush()
            except IntegrityError as exc:
                raise Conflict(f"The username {username!r} is taken.") from exc
            self._log(session, user.id, "account.created", client)
            self.bus.publish(session, UserRegistered(user_id=user.id, username=username))
            await session.commit()
        return user

    async def get_user(self, user_id: int) -> User:
        async with self.db.session(write=False) as session:
            user = await session.get(User, user_id)
            if user is None:
                raise NotFound("No such user.")
            return user

    async def find_user(self, username: str) -> User | None:
        async with self.db.session(write=False) as session:
            return await session.scalar(select(User).where(User.username_key == username.lower()))

    async def set_admin(self, username: str, is_admin: bool) -> User:
        async with self.db.session() as session:
            user = await session.scalar(select(User).where(User.username_key == username.lower()))
            if user is None:
                raise NotFound(f"No user named {username!r}.")
            user.is_admin = is_admin
            await session.commit()
            return user

    async def change_password(
        self, principal: Principal, *, current: str, new: str, client: ClientInfo
    ) -> None:
        """Requires the current password and a recent step-up; ends every other session."""
        self.require_step_up(principal)
        user = principal.user
        if not await self.hasher.verify(user.password_hash, current):
            raise InvalidInput("current_password", "is not your current password")
        new = check_password_policy(new, username=user.username, field="new_password")
        new_hash = await self.hasher.hash(new)
        async with self.db.session() as session:
            await session.execute(
                update(User)
                .where(User.id == user.id)
                .values(password_hash=new_hash, password_changed_at=self.clock.now())
            )
            await self._revoke_others(session, principal)
            self._log(session, user.id, "password.changed", client)
            await session.commit()

    async def admin_set_password(self, username: str, password: str) -> None:
        """For operators (CLI): set a password and end every session of the account."""
        user = await self.find_user(username)
        if user is None:
            raise NotFound(f"No user named {username!r}.")
        password = check_password_policy(password, username=user.username)
        new_hash = await self.hasher.hash(password)
        async with self.db.session() as session:
            await session.execute(
                update(User)
                .where(User.id == user.id)
                .values(password_hash=new_hash, password_changed_at=self.clock.now())
            )
            await self._revoke_where(session, user.id, exclude=None)
            self._log(session, user.id, "password.reset_by_admin", ClientInfo())
            await session.commit()

    # ---- sign-in ----------------------------------------------------------------------

    def _throttle_keys(self, username_key: str, client: ClientInfo) -> list[str]:
        keys = [f"login:ip:{client.ip or 'unknown'}"]
        device = self.known_device(username_key, client.device)
        # A device that signed in to this account before has its own bucket, so an
        # attacker exhausting the account's bucket cannot lock the owner out.
        keys.append(f"login:device:{device}" if device else f"login:account:{username_key}")
        return keys

    async def _take_attempt(self, keys: list[str]) -> None:
        taken: list[str] = []
        for key in keys:
            decision = await self.limiter.acquire(key, self.policy.login_failures)
            if not decision.allowed:
                for k in taken:
                    await self.limiter.release(k, self.policy.login_failures)
                raise RateLimited(
                    decision.retry_after,
                    "Too many failed sign-in attempts; wait before trying again.",
                )
            taken.append(key)

    async def _return_attempt(self, keys: list[str]) -> None:
        for key in keys:
            await self.limiter.release(key, self.policy.login_failures)

    def device_token(self, username_key: str) -> str:
        """A token marking this browser as one that has signed in to this account."""
        nonce = new_token()[:22]
        return f"{nonce}.{self.keys.mac('device', f'{username_key}:{nonce}')}"

    def known_device(self, username_key: str, presented: str | None) -> str | None:
        """The device's id if ``presented`` is a device token issued for this account."""
        if not presented or presented.count(".") != 1:
            return None
        nonce, mac = presented.split(".")
        expected = self.keys.mac("device", f"{username_key}:{nonce}")
        return nonce if hmac.compare_digest(expected, mac) else None

    async def sign_in(self, *, username: str, password: str, client: ClientInfo) -> SignInResult:
        """Check a password. Returns a session, or an MFA challenge when a second factor
        is enrolled. Failed attempts count per address and per account (or per known
        device); over the limit raises RateLimited with the wait. Raises Unauthorized."""
        username_key = username.lower()
        throttle = self._throttle_keys(username_key, client)
        await self._take_attempt(throttle)
        async with self.db.session(write=False) as session:
            user = await session.scalar(select(User).where(User.username_key == username_key))
        ok = await self.hasher.verify(user.password_hash if user else None, password)
        if user is None or not ok:
            if user is not None:
                async with self.db.session() as session:
                    self._log(session, user.id, "signin.failed", client)
                    await session.commit()
            raise Unauthorized("Wrong username or password.")
        await self._return_attempt(throttle)
        rehash = (
            await self.hasher.hash(password)
            if self.hasher.needs_rehash(user.password_hash)
            else None
        )
        async with self.db.session() as session:
            if rehash:
                await session.execute(
                    update(User).where(User.id == user.id).values(password_hash=rehash)
                )
                user.password_hash = rehash
            methods = await self._second_factor_methods(session, user.id)
            if methods:
                mfa_token = new_token()
                session.add(
                    MfaChallenge(
                        id=self.ids.next_id(),
                        user_id=user.id,
                        token_hash=token_hash(mfa_token),
                        expires_at=self.clock.now() + self.policy.mfa_challenge_ttl,
                        attempts=0,
                        user_agent=client.user_agent[:300],
                        ip=client.ip[:64],
                    )
                )
                await session.commit()
                return SignInResult(user=user, mfa_token=mfa_token, methods=methods)
            token, hashed = await self._start_session(session, user, "password", client)
            await session.commit()
        return SignInResult(user=user, token=token, token_hash=hashed)

    async def complete_mfa(
        self,
        *,
        mfa_token: str,
        totp_code: str | None,
        recovery_code: str | None,
        passkey: tuple[int, dict[str, Any]] | None,
        rp: RelyingParty | None,
        client: ClientInfo,
    ) -> SignInResult:
        """Finish a password sign-in with one second factor. Each MFA token allows a few
        attempts; TOTP and recovery-code failures are also throttled per account."""
        provided = [x for x in (totp_code, recovery_code, passkey) if x is not None]
        if len(provided) != 1:
            raise InvalidInput("body", "give exactly one of totp_code, recovery_code, passkey")
        now = self.clock.now()
        async with self.db.session() as session:
            bumped = await session.execute(
                update(MfaChallenge)
                .where(
                    MfaChallenge.token_hash == token_hash(mfa_token),
                    MfaChallenge.expires_at > now,
                    MfaChallenge.attempts < MFA_ATTEMPTS,
                )
                .values(attempts=MfaChallenge.attempts + 1)
                .returning(MfaChallenge.id, MfaChallenge.user_id)
            )
            row = bumped.first()
            await session.commit()
        if row is None:
            raise Unauthorized("This sign-in has expired or had too many attempts; start again.")
        challenge_id, user_id = row
        async with self.db.session() as session:
            method = await self._verify_factor(
                session,
                user_id,
                totp_code=totp_code,
                recovery_code=recovery_code,
                passkey=passkey,
                rp=rp,
                client=client,
                now=now,
            )
            # A conditional delete, so that two factors raced on one MFA token cannot both
            # finish the sign-in: the loser matches no row and rolls back its factor use.
            finished = await session.execute(
                delete(MfaChallenge).where(MfaChallenge.id == challenge_id)
            )
            if finished.rowcount != 1:  # type: ignore[attr-defined]
                raise Unauthorized("This sign-in was already completed.")
            user = await session.get(User, user_id)
            assert user is not None
            token, hashed = await self._start_session(session, user, f"password+{method}", client)
            await session.commit()
        return SignInResult(user=user, token=token, token_hash=hashed, two_factor_enabled=True)

    async def passkey_options(
        self, rp: RelyingParty, mfa_token: str | None = None
    ) -> passkeys.CeremonyOptions:
        """Options to sign in with a passkey: any passkey, or the MFA user's passkeys."""
        now = self.clock.now()
        async with self.db.session() as session:
            user_id = None
            if mfa_token is not None:
                challenge = await session.scalar(
                    select(MfaChallenge).where(
                        MfaChallenge.token_hash == token_hash(mfa_token),
                        MfaChallenge.expires_at > now,
                    )
                )
                if challenge is None:
                    raise Unauthorized("This sign-in has expired; start again.")
                user_id = challenge.user_id
            options = await passkeys.authentication_options(
                session, self.ids, rp, now, user_id=user_id
            )
            await session.commit()
            return options

    async def sign_in_with_passkey(
        self, *, rp: RelyingParty, challenge_id: int, credential: dict[str, Any], client: ClientInfo
    ) -> SignInResult:
        """Passwordless sign-in: a user-verified passkey is itself two factors. Failed
        attempts count per address; over the limit raises RateLimited."""
        throttle = f"passkey:ip:{client.ip or 'unknown'}"
        await enforce(
            self.limiter,
            throttle,
            self.policy.login_failures,
            "Too many passkey sign-in attempts; wait before trying again.",
        )
        now = self.clock.now()
        async with self.db.session() as session:
            used = await passkeys.authenticate(
                session, rp, challenge_id=challenge_id, credential=credential, now=now
            )
            user = await session.get(User, used.user_id)
            assert user is not None
            token, hashed = await self._start_session(session, user, "passkey", client)
            self._log(session, user.id, "passkey.used", client, name=used.name)
            await session.commit()
        # Like password sign-ins, only failures count: a shared address keeps signing in.
        await self.limiter.release(throttle, self.policy.login_failures)
        return SignInResult(user=user, token=token, token_hash=hashed, two_factor_enabled=True)

    async def _verify_factor(
        self,
        session: AsyncSession,
        user_id: int,
        *,
        totp_code: str | None,
        recovery_code: str | None,
        passkey: tuple[int, dict[str, Any]] | None,
        rp: RelyingParty | None,
        client: ClientInfo,
        now: datetime,
    ) -> str:
        """Check one second factor inside ``session``; returns its name or raises."""
        if passkey is not None:
            if rp is None:
                raise InvalidInput("passkey", "passkeys need the page origin")
            await passkeys.authenticate(
                session,
                rp,
                challenge_id=passkey[0],
                credential=passkey[1],
                now=now,
                user_id=user_id,
            )
            return "passkey"
        bucket = f"mfa:user:{user_id}"
        await enforce(
            self.limiter,
            bucket,
            self.policy.second_factor_failures,
            "Too many wrong codes; wait before trying again.",
        )
        if totp_code is not None:
            ok = await factors.consume_totp(
                session, self.keys, user_id=user_id, code=totp_code, now=now
            )
            method = "totp"
        else:
            assert recovery_code is not None
            ok = await factors.consume_recovery_code(
                session, self.keys, user_id=user_id, code=recovery_code, now=now
            )
            method = "recovery_code"
        if ok:
            await self.limiter.release(bucket, self.policy.second_factor_failures)
            self._log(session, user_id, f"{method}.used", client)
            return method
        # End this transaction before writing the log entry in another: on SQLite a
        # second writer would wait for this one's lock.
        await session.rollback()
        await self._log_now(user_id, f"{method}.failed", client)
        raise Unauthorized("That code is wrong, expired or already used.")

    async def _second_factor_methods(self, session: AsyncSession, user_id: int) -> list[str]:
        methods: list[str] = []
        totp = await session.get(TotpFactor, user_id)
        if totp is not None and totp.confirmed_at is not None:
            methods.append("totp")
        keys = await session.scalar(
            select(func.count()).select_from(Passkey).where(Passkey.user_id == user_id)
        )
        if keys:
            methods.append("passkey")
        if methods and await factors.unused_recovery_codes(session, user_id):
            methods.append("recovery_code")
        return methods

    async def _start_session(
        self, session: AsyncSession, user: User, method: str, client: ClientInfo
    ) -> tuple[str, bytes]:
        now = self.clock.now()
        token = new_token()
        hashed = token_hash(token)
        known = self.known_device(user.username_key, client.device)
        session.add(
            AuthSession(
                id=self.ids.next_id(),
                user_id=user.id,
                token_hash=hashed,
                created_at=now,
                last_seen_at=now,
                expires_at=now + self.policy.session_absolute,
                reauthenticated_at=now,
                method=method,
                user_agent=client.user_agent[:300],
                ip=client.ip[:64],
            )
        )
        self._log(session, user.id, "signin", client, method=method)
        if not known:
            self._log(session, user.id, "device.new", client)
        return token, hashed

    # ---- sessions ---------------------------------------------------------------------

    async def authenticate(self, token: str, *, via_cookie: bool = False) -> Principal | None:
        """The principal for a session token, or None if unknown, revoked or expired."""
        now = self.clock.now()
        hashed = token_hash(token)
        row = await self.db.fetch_one(_PRINCIPAL_LOOKUP, {"token_hash": hashed})
        if row is None:
            return None
        fields = row._mapping
        auth = AuthSession(**{c.key: fields[f"s_{c.key}"] for c in _SESSION_COLUMNS})
        user = User(**{c.key: fields[f"u_{c.key}"] for c in _USER_COLUMNS})
        two_factor = fields["two_factor"]
        if auth.expires_at <= now or auth.last_seen_at + self.policy.session_idle <= now:
            return None
        if now - auth.last_seen_at >= TOUCH_EVERY:
            async with self.db.session() as session:
                await session.execute(
                    update(AuthSession).where(AuthSession.id == auth.id).values(last_seen_at=now)
                )
                await session.commit()
            auth.last_seen_at = now
        return Principal(
            user=user, session=auth, two_factor_enabled=bool(two_factor), via_cookie=via_cookie
        )

    async def sign_out(self, principal: Principal) -> None:
        async with self.db.session() as session:
            await self._revoke_where(session, principal.user.id, only=principal.session.id)
            await session.commit()

    async def list_sessions(self, principal: Principal) -> list[AuthSession]:
        now = self.clock.now()
        async with self.db.session(write=False) as session:
            rows = await session.scalars(
                select(AuthSession)
                .where(
                    AuthSession.user_id == principal.user.id,
                    AuthSession.revoked_at.is_(None),
                    AuthSession.expires_at > now,
                    AuthSession.last_seen_at > now - self.policy.session_idle,
                )
                .order_by(AuthSession.last_seen_at.desc())
            )
            return list(rows.all())

    async def revoke_session(
        self, principal: Principal, session_id: int, client: ClientInfo
    ) -> None:
        """End one of the user's own sessions; someone else's is a 404."""
        async with self.db.session() as session:
            revoked = await self._revoke_where(session, principal.user.id, only=session_id)
            if not revoked:
                raise NotFound("No such session.")
            self._log(
                session, principal.user.id, "session.revoked", client, session_id=str(session_id)
            )
            await session.commit()

    async def _revoke_others(self, session: AsyncSession, principal: Principal) -> None:
        await self._revoke_where(session, principal.user.id, exclude=principal.session.id)

    async def _revoke_where(
        self,
        session: AsyncSession,
        user_id: int,
        *,
        only: int | None = None,
        exclude: int | None = None,
    ) -> list[int]:
        conditions = [AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)]
        if only is not None:
            conditions.append(AuthSession.id == only)
        if exclude is not None:
            conditions.append(AuthSession.id != exclude)
        result = await session.execute(
            update(AuthSession)
            .where(*conditions)
            .values(revoked_at=self.clock.now())
            .returning(AuthSession.id)
        )
        ids = [row[0] for row in result.all()]
        if ids:
            self.bus.publish(session, SessionsRevoked(user_id=user_id, session_ids=ids))
        return ids

    # ---- step-up ----------------------------------------------------------------------

    def step_up_valid_until(self, principal: Principal) -> datetime | None:
        at = principal.session.reauthenticated_at
        return at + self.policy.step_up_window if at else None

    def require_step_up(self, principal: Principal) -> None:
        """Raise StepUpRequired (403) unless the session re-proved itself recently."""
        until = self.step_up_valid_until(principal)
        if until is None or until <= self.clock.now():
            second = "your second factor" if principal.two_factor_enabled else "your password"
            raise StepUpRequired(
                f"step-up required: confirm with {second} at POST /api/v1/me/step-up first"
            )

    async def step_up(
        self,
        principal: Principal,
        *,
        password: str | None,
        totp_code: str | None,
        recovery_code: str | None,
        passkey: tuple[int, dict[str, Any]] | None,
        rp: RelyingParty | None,
        client: ClientInfo,
    ) -> datetime:
        """Re-prove the session: with a second factor when one is enrolled, else the
        password. Returns until when sensitive changes are allowed."""
        now = self.clock.now()
        user_id = principal.user.id
        async with self.db.session() as session:
            if principal.two_factor_enabled:
                if (totp_code, recovery_code, passkey) == (None, None, None):
                    if password is not None:
                        raise Forbidden("step-up needs your second factor, not the password")
                    raise InvalidInput("body", "give one of totp_code, recovery_code, passkey")
                try:
                    await self._verify_factor(
                        session,
                        user_id,
                        totp_code=totp_code,
                        recovery_code=recovery_code,
                        passkey=passkey,
                        rp=rp,
                        client=client,
                        now=now,
                    )
                except Unauthorized as exc:
                    # The session is signed in; a wrong code must not read as "signed out".
                    raise Forbidden(exc.detail) from exc
            else:
                if password is None:
                    raise InvalidInput("password", "is required to confirm it is you")
                # Counted per session, not in the account's sign-in bucket: strangers
                # guessing the password must not stop the signed-in owner stepping up.
                throttle = [f"step-up:session:{principal.session.id}"]
                await self._take_attempt(throttle)
                if not await self.hasher.verify(principal.user.password_hash, password):
                    raise Forbidden("Wrong password.")
                await self._return_attempt(throttle)
            await session.execute(
                update(AuthSession)
                .where(AuthSession.id == principal.session.id)
                .values(reauthenticated_at=now)
            )
            await session.commit()
        principal.session.reauthenticated_at = now
        return now + self.policy.step_up_window

    # ---- security log -----------------------------------------------------------------

    def _log(
        self, session: AsyncSession, user_id: int, kind: str, client: ClientInfo, **details: Any
    ) -> None:
        session.add(
            SecurityEvent(
                id=self.ids.next_id(),
                user_id=user_id,
                kind=kind,
                ip=client.ip[:64],
                user_agent=client.user_agent[:300],
                details=details,
                created_at=self.clock.now(),
            )
        )

    async def _log_now(self, user_id: int, kind: str, client: ClientInfo, **details: Any) -> None:
        """Record a failure in its own transaction, so the caller's rollback keeps it."""
        async with self.db.session() as session:
            self._log(session, user_id, kind, client, **details)
            await session.commit()

    async def security_log(
        self, principal: Principal, *, limit: int, before_id: int | None
    ) -> list[SecurityEvent]:
        async with self.db.session(write=False) as session:
            query = select(SecurityEvent).where(SecurityEvent.user_id == principal.user.id)
            if before_id is not None:
                query = query.where(SecurityEvent.id < before_id)
            rows = await session.scalars(query.order_by(SecurityEvent.id.desc()).limit(limit))
            return list(rows.all())
