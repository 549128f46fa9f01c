"""Entitlements: what a user may do because of Premium, computed in one place.

Every other domain asks this service ("may this user place calls?", "which of these
authors are verified?") and never looks at grants or subscriptions. Entitlements come
from two sources, combined here and only here:

- grants: complimentary Premium given by an operator, or a single entitlement such as
  the verified badge, each for a span;
- subscriptions: a paid subscription brings Premium until its ``access_until``, which
  billing keeps at the end of the paid period (plus the retry grace while it renews).

Both are compared with the clock at the moment of the question, so an entitlement ends
exactly when its span does, whether or not the renewal job has run. Nothing already
started is taken back: calls check ``place_calls`` when a call is placed, not while it
runs.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, or_, select, union, update

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.errors import InvalidInput
from plaza.core.ids import SnowflakeGenerator
from plaza.premium.models import EntitlementGrant, Subscription

PREMIUM = "premium"


class Entitlement(StrEnum):
    VERIFIED = "verified"
    PLACE_CALLS = "place_calls"
    LONG_POSTS = "long_posts"
    EDIT_POSTS = "edit_posts"
    PRIORITY_DMS = "priority_dms"


# Premium brings every entitlement; a single grant (e.g. "verified" for a public
# figure, as X does) brings only itself.
PREMIUM_ENTITLEMENTS = frozenset(Entitlement)


@dataclass(frozen=True)
class Grant:
    id: int
    user_id: int
    entitlement: str
    source: str
    note: str
    starts_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def active_at(self, moment: datetime) -> bool:
        return (
            self.revoked_at is None
            and self.starts_at <= moment
            and (self.expires_at is None or moment < self.expires_at)
        )


class Entitlements:
    def __init__(self, *, db: Database, clock: Clock, ids: SnowflakeGenerator) -> None:
        self.db = db
        self.clock = clock
        self.ids = ids

    async def has(self, user_id: int, entitlement: Entitlement) -> bool:
        """Whether ``user_id`` holds ``entitlement`` now."""
        return user_id in await self.holders((user_id,), entitlement)

    async def holders(self, user_ids: Collection[int], entitlement: Entitlement) -> set[int]:
        """The subset of ``user_ids`` that hold ``entitlement`` now (one query)."""
        ids = set(user_ids)
        if not ids:
            return set()
        now = self.clock.now()
        granted = select(EntitlementGrant.user_id).where(
            EntitlementGrant.user_id.in_(ids),
            EntitlementGrant.entitlement.in_((PREMIUM, entitlement.value)),
            EntitlementGrant.revoked_at.is_(None),
            EntitlementGrant.starts_at <= now,
            or_(EntitlementGrant.expires_at.is_(None), EntitlementGrant.expires_at > now),
        )
        subscribed = select(Subscription.user_id).where(
            Subscription.user_id.in_(ids), Subscription.access_until > now
        )
        async with self.db.session(write=False) as session:
            return set((await session.execute(union(granted, subscribed))).scalars())

    async def subscribed_until(self, user_id: int) -> datetime | None:
        """When the user's paid access ends (None: no paid access now)."""
        now = self.clock.now()
        async with self.db.session(write=False) as session:
            until = await session.scalar(
                select(func.max(Subscription.access_until)).where(
                    Subscription.user_id == user_id, Subscription.access_until > now
                )
            )
        return until

    async def of(self, user_id: int) -> set[Entitlement]:
        """Every entitlement ``user_id`` holds now."""
        now = self.clock.now()
        active = {g.entitlement for g in await self.grants(user_id) if g.active_at(now)}
        if PREMIUM in active or await self.subscribed_until(user_id) is not None:
            return set(PREMIUM_ENTITLEMENTS)
        return {Entitlement(name) for name in active if name in Entitlement.__members__.values()}

    async def is_premium(self, user_id: int) -> bool:
        now = self.clock.now()
        granted = any(
            g.entitlement == PREMIUM and g.active_at(now) for g in await self.grants(user_id)
        )
        return granted or await self.subscribed_until(user_id) is not None

    async def grants(self, user_id: int) -> list[Grant]:
        """Every grant of ``user_id``, newest first, including ended ones."""
        query = (
            select(EntitlementGrant)
            .where(EntitlementGrant.user_id == user_id)
            .order_by(EntitlementGrant.id.desc())
        )
        async with self.db.session(write=False) as session:
            rows = (await session.execute(query)).scalars().all()
        return [_grant(row) for row in rows]

    async def grant(
        self,
        user_id: int,
        entitlement: Entitlement | str,
        *,
        until: datetime | None,
        source: str,
        note: str = "",
    ) -> Grant:
        """Grant ``entitlement`` (or ``"premium"``: all of them) from now until ``until``
        (None: without end). Returns the stored grant."""
        name = str(entitlement)
        if name != PREMIUM and name not in Entitlement.__members__.values():
            raise InvalidInput("entitlement", f"Unknown entitlement {name!r}.")
        now = self.clock.now()
        if until is not None and until <= now:
            raise InvalidInput("until", "The grant would end before it starts.")
        row = EntitlementGrant(
            id=self.ids.next_id(),
            user_id=user_id,
            entitlement=name,
            source=source,
            note=note[:200],
            starts_at=now,
            expires_at=until,
            revoked_at=None,
            created_at=now,
        )
        async with self.db.session() as session:
            session.add(row)
            await session.commit()
        return _grant(row)

    async def revoke(self, user_id: int, entitlement: Entitlement | str, *, source: str) -> int:
        """End every active grant of ``entitlement`` from ``source`` now; returns how many."""
        now = self.clock.now()
        statement = (
            update(EntitlementGrant)
            .where(
                EntitlementGrant.user_id == user_id,
                EntitlementGrant.entitlement == str(entitlement),
                EntitlementGrant.source == source,
                EntitlementGrant.revoked_at.is_(None),
                or_(EntitlementGrant.expires_at.is_(None), EntitlementGrant.expires_at > now),
            )
            .values(revoked_at=now)
        )
        async with self.db.session() as session:
            result = await session.execute(statement)
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)


def _grant(row: EntitlementGrant) -> Grant:
    return Grant(
        id=row.id,
        user_id=row.user_id,
        entitlement=row.entitlement,
        source=row.source,
        note=row.note,
        starts_at=row.starts_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )
