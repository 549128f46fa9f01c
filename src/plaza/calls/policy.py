"""Who may call whom (consent, enforced on the server) and the ICE servers a client
is handed.

Consent is checked in a fixed order, and the first rule that refuses names itself in
the 403 problem's ``detail`` (and in ``rule``):
1. the operator's Premium rule (``premium_required``): the caller holds the
   ``place_calls`` entitlement. Receiving never needs Premium;
2. the callee's switch (``calls_enabled``);
3. the callee's ``call_policy`` (``call_policy: following`` …):
   - ``dm_contacts``: people the callee has exchanged DMs with (each has sent the
     other at least one message);
   - ``following`` (the default): people the callee follows;
   - ``verified``: people the callee follows, and verified users;
   - ``everyone``;
4. the operator's prior-DM rule (``prior_dm_required``): the callee has sent the
   caller a DM before.
A block either way is not a refusal but a 404, before any of these: a blocked person
never learns that the callee exists, let alone their settings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from plaza.calls.interfaces import DirectMessages, EntitlementChecker, Graph
from plaza.core.errors import Forbidden
from plaza.core.ratelimit import Rate
from plaza.premium import Entitlement


class CallPolicyChoice(StrEnum):
    DM_CONTACTS = "dm_contacts"
    FOLLOWING = "following"
    VERIFIED = "verified"
    EVERYONE = "everyone"


DEFAULT_ATTEMPTS = Rate(30, 3600)
# Dry runs of the consent rules (call buttons ask before they are drawn). Bounded, on
# their own bucket, so that a person's settings still cannot be probed without limit.
DEFAULT_CHECKS = Rate(600, 3600)


@dataclass(frozen=True)
class CallsPolicy:
    """The operator's settings for calls (``PLAZA_CALLS_*``, ``PLAZA_TURN_*``)."""

    require_premium: bool = True
    require_prior_dm: bool = True
    attempts: Rate = DEFAULT_ATTEMPTS
    checks: Rate = DEFAULT_CHECKS
    ring_seconds: int = 45
    stun_uris: tuple[str, ...] = ()
    turn_uris: tuple[str, ...] = ()
    turn_secret: str | None = None
    turn_ttl_seconds: int = 86_400

    def __post_init__(self) -> None:
        if self.turn_uris and not self.turn_secret:
            raise ValueError("PLAZA_TURN_URIS is set but PLAZA_TURN_SECRET is not")

    @classmethod
    def from_settings(cls, settings: Any) -> CallsPolicy:
        return cls(
            require_premium=settings.calls_require_premium,
            require_prior_dm=settings.calls_require_prior_dm,
            attempts=Rate(settings.calls_per_hour, 3600),
            checks=Rate(settings.calls_checks_per_hour, 3600),
            ring_seconds=settings.calls_ring_seconds,
            stun_uris=tuple(settings.stun_uris),
            turn_uris=tuple(settings.turn_uris),
            turn_secret=settings.turn_secret,
            turn_ttl_seconds=settings.turn_ttl_seconds,
        )

    @property
    def ring_timeout(self) -> timedelta:
        return timedelta(seconds=self.ring_seconds)

    @property
    def has_turn(self) -> bool:
        return bool(self.turn_uris and self.turn_secret)


class CallRefused(Forbidden):
    """A consent rule refused the call; ``rule`` names it for clients."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail, rule=rule)
        self.rule = rule


@dataclass(frozen=True)
class Eligibility:
    """What a dry run of the consent rules says: ``rule`` and ``detail`` are those of the
    ``CallRefused`` that placing the call would raise (None when it is allowed)."""

    allowed: bool
    rule: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class CalleeSettings:
    calls_enabled: bool
    call_policy: CallPolicyChoice


class Consent:
    def __init__(
        self,
        policy: CallsPolicy,
        *,
        graph: Graph,
        entitlements: EntitlementChecker,
        direct_messages: DirectMessages,
    ) -> None:
        self.policy = policy
        self.graph = graph
        self.entitlements = entitlements
        self.direct_messages = direct_messages

    async def check(self, caller_id: int, callee_id: int, callee: CalleeSettings) -> None:
        """Raise ``CallRefused`` naming the first rule that refuses ``caller_id`` calling
        ``callee_id``; return when every rule allows it. Blocks are the caller's
        business (checked before, answered 404)."""
        if self.policy.require_premium and not await self.entitlements.has(
            caller_id, Entitlement.PLACE_CALLS
        ):
            raise CallRefused("premium_required", "premium_required")
        if not callee.calls_enabled:
            raise CallRefused("calls_enabled", "calls_enabled")
        if not await self._policy_allows(caller_id, callee_id, callee.call_policy):
            rule = f"call_policy: {callee.call_policy.value}"
            raise CallRefused("call_policy", rule)
        if self.policy.require_prior_dm and not await self.direct_messages.has_messaged(
            callee_id, caller_id
        ):
            raise CallRefused("prior_dm_required", "prior_dm_required")

    async def _policy_allows(
        self, caller_id: int, callee_id: int, choice: CallPolicyChoice
    ) -> bool:
        if choice is CallPolicyChoice.EVERYONE:
            return True
        if choice is CallPolicyChoice.DM_CONTACTS:
            return await self.direct_messages.has_messaged(
                callee_id, caller_id
            ) and await self.direct_messages.has_messaged(caller_id, callee_id)
        if await self.graph.follows(callee_id, caller_id):
            return True
        if choice is CallPolicyChoice.VERIFIED:
            return await self.entitlements.has(caller_id, Entitlement.VERIFIED)
        return False


@dataclass(frozen=True)
class IceServer:
    urls: list[str]
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class IceConfig:
    servers: list[IceServer]
    transport_policy: str  # "relay" | "all"
    ttl_seconds: int | None
    expires_at: datetime | None


def turn_credentials(secret: str, user_id: int, expires_at: datetime) -> tuple[str, str]:
    """TURN REST credentials (coturn's ``use-auth-secret``, as Synapse issues them):
    username ``"<expiry unix time>:<user id>"``, password base64(HMAC-SHA1(secret,
    username))."""
    username = f"{int(expires_at.timestamp())}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_config(policy: CallsPolicy, user_id: int, relay_only: bool, now: datetime) -> IceConfig:
    """The ICE servers for ``user_id`` now. Relay-only (neither party learns the other's
    address) when TURN is configured and the user has not opted into peer-to-peer."""
    servers: list[IceServer] = []
    if policy.stun_uris:
        servers.append(IceServer(urls=list(policy.stun_uris)))
    if not policy.has_turn:
        return IceConfig(servers, "all", None, None)
    assert policy.turn_secret is not None
    expires_at = now + timedelta(seconds=policy.turn_ttl_seconds)
    username, password = turn_credentials(policy.turn_secret, user_id, expires_at)
    servers.append(IceServer(urls=list(policy.turn_uris), username=username, credential=password))
    transport = "relay" if relay_only else "all"
    return IceConfig(servers, transport, policy.turn_ttl_seconds, expires_at)
