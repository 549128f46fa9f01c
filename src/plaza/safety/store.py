"""Label rows: reading them per subject, writing one source's labels, and announcing
a subject's new effective labels when a write changed them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.events import EventBus
from plaza.core.ids import SnowflakeGenerator
from plaza.safety.events import ContentLabelled
from plaza.safety.labels import Category, Label, Risk, Source, SourceLabel, effective_labels
from plaza.safety.models import SubjectLabel

# Ids per IN (...) list: well under SQLite's and asyncpg's parameter limits.
CHUNK = 500


@dataclass(frozen=True)
class NewLabel:
    """One source's label to store, with its provenance."""

    category: Category
    risk: Risk | None
    source: Source
    origin: str
    actor_id: int | None = None
    reason: str = ""


def source_label(row: SubjectLabel) -> SourceLabel:
    risk = Risk(row.risk) if row.risk is not None else None
    return SourceLabel(Category(row.category), risk, Source(row.source))


class LabelStore:
    def __init__(
        self, *, db: Database, bus: EventBus, clock: Clock, ids: SnowflakeGenerator
    ) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.ids = ids

    async def rows(
        self, session: AsyncSession, subject: str, subject_ids: Collection[int]
    ) -> dict[int, list[SubjectLabel]]:
        found: dict[int, list[SubjectLabel]] = defaultdict(list)
        ids = sorted(set(subject_ids))
        for start in range(0, len(ids), CHUNK):
            result = await session.scalars(
                select(SubjectLabel)
                .where(
                    SubjectLabel.subject == subject,
                    SubjectLabel.subject_id.in_(ids[start : start + CHUNK]),
                )
                .order_by(SubjectLabel.id)
                # Upserts bypass the identity map; re-read rows loaded before them.
                .execution_options(populate_existing=True)
            )
            for row in result:
                found[row.subject_id].append(row)
        return found

    async def effective(
        self, session: AsyncSession, subject: str, subject_ids: Collection[int]
    ) -> dict[int, list[Label]]:
        """Every requested id, with its effective labels (empty when unlabelled)."""
        rows = await self.rows(session, subject, subject_ids)
        return {
            subject_id: effective_labels(source_label(r) for r in rows.get(subject_id, ()))
            for subject_id in subject_ids
        }

    async def effective_one(
        self, session: AsyncSession, subject: str, subject_id: int
    ) -> list[Label]:
        return (await self.effective(session, subject, [subject_id]))[subject_id]

    async def put(
        self, session: AsyncSession, subject: str, subject_id: int, labels: Iterable[NewLabel]
    ) -> None:
        """Store labels, replacing the same source's earlier label on the same category."""
        now = self.clock.now()
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        for label in labels:
            values = {
                "risk": label.risk.value if label.risk is not None else None,
                "actor_id": label.actor_id,
                "origin": label.origin,
                "reason": label.reason,
                "created_at": now,
            }
            statement = (
                insert(SubjectLabel)
                .values(
                    id=self.ids.next_id(),
                    subject=subject,
                    subject_id=subject_id,
                    category=label.category.value,
                    source=label.source.value,
                    **values,
                )
                .on_conflict_do_update(
                    index_elements=["subject", "subject_id", "source", "category"], set_=values
                )
            )
            await session.execute(statement)

    async def remove(
        self,
        session: AsyncSession,
        subject: str,
        subject_id: int,
        sources: Collection[Source],
        categories: Collection[Category] | None = None,
    ) -> None:
        statement = delete(SubjectLabel).where(
            SubjectLabel.subject == subject,
            SubjectLabel.subject_id == subject_id,
            SubjectLabel.source.in_([s.value for s in sources]),
        )
        if categories is not None:
            statement = statement.where(SubjectLabel.category.in_([c.value for c in categories]))
        await session.execute(statement)

    def announce_if_changed(
        self,
        session: AsyncSession,
        subject: str,
        subject_id: int,
        before: list[Label],
        after: list[Label],
    ) -> None:
        """Publish ``ContentLabelled`` (after commit) when the effective labels changed."""
        if before != after:
            self.bus.publish(
                session,
                ContentLabelled(subject=subject, subject_id=subject_id, labels=tuple(after)),
            )
