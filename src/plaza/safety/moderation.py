"""What moderators (administrators) do: review reports grouped by subject, resolve
them, and override a subject's labels. Every decision is written to the audit trail
in the same transaction as the change it records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from plaza.identity import Principal
from plaza.safety.labels import Category, Label, Risk, Source
from plaza.safety.models import AuditEntry, Report, SubjectLabel
from plaza.safety.service import SafetyService
from plaza.safety.store import NewLabel

REPORTS_PER_GROUP = 20
DETAIL_ROWS = 50
STATUSES = ("open", "resolved", "dismissed")


def require_moderator(principal: Principal) -> None:
    if not principal.user.is_admin:
        raise Forbidden("Only moderators (administrator accounts) may review reports and labels.")


@dataclass
class ReportGroup:
    subject: str
    subject_id: int
    status: str
    report_count: int
    first_reported_at: datetime
    last_reported_at: datetime
    author_id: int | None = None
    categories: dict[Category, int] = field(default_factory=dict)
    labels: list[Label] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)


@dataclass(frozen=True)
class Resolved:
    subject: str
    subject_id: int
    status: str
    resolved_reports: int
    labels: list[Label]


@dataclass(frozen=True)
class SubjectDetail:
    subject: str
    subject_id: int
    labels: list[Label]
    sources: list[SubjectLabel]
    reports: list[Report]
    audit: list[AuditEntry]


class Moderation:
    def __init__(self, safety: SafetyService) -> None:
        self.safety = safety
        self.db = safety.db
        self.store = safety.store
        self.clock = safety.clock
        self.ids = safety.ids

    async def queue(
        self, principal: Principal, *, status: str, after: int | None, limit: int
    ) -> tuple[list[ReportGroup], int | None]:
        """Reports with ``status``, grouped by subject: open ones oldest first (a queue),
        closed ones most recent first. Returns the groups and the next page's key."""
        require_moderator(principal)
        if status not in STATUSES:
            raise InvalidInput("query.status", f"must be one of {', '.join(STATUSES)}")
        oldest_first = status == "open"
        key = func.min(Report.id) if oldest_first else func.max(Report.id)
        statement = (
            select(
                Report.subject,
                Report.subject_id,
                key.label("key"),
                func.count().label("n"),
                func.min(Report.created_at).label("first_at"),
                func.max(Report.created_at).label("last_at"),
            )
            .where(Report.status == status)
            .group_by(Report.subject, Report.subject_id)
            .order_by(key.asc() if oldest_first else key.desc())
            .limit(limit + 1)
        )
        if after is not None:
            statement = statement.having(key > after if oldest_first else key < after)
        async with self.db.session(write=False) as session:
            rows = (await session.execute(statement)).all()
            more = len(rows) > limit
            rows = rows[:limit]
            groups = [
                ReportGroup(
                    subject=r.subject,
                    subject_id=r.subject_id,
                    status=status,
                    report_count=r.n,
                    first_reported_at=r.first_at,
                    last_reported_at=r.last_at,
                )
                for r in rows
            ]
            for group in groups:
                await self._fill(session, group)
        next_key = rows[-1].key if more and rows else None
        return groups, next_key

    async def _fill(self, session: AsyncSession, group: ReportGroup) -> None:
        where = (
            Report.subject == group.subject,
            Report.subject_id == group.subject_id,
            Report.status == group.status,
        )
        counts = await session.execute(
            select(Report.category, func.count()).where(*where).group_by(Report.category)
        )
        group.categories = {Category(c): n for c, n in sorted(counts.all())}
        recent = await session.scalars(
            select(Report).where(*where).order_by(Report.id.desc()).limit(REPORTS_PER_GROUP)
        )
        group.reports = list(recent)
        group.author_id = next((r.author_id for r in group.reports if r.author_id), None)
        group.labels = await self.store.effective_one(session, group.subject, group.subject_id)

    async def resolve(
        self,
        principal: Principal,
        report_id: int,
        *,
        action: str,
        labels: Sequence[tuple[Category, Risk]],
        note: str,
    ) -> Resolved:
        """Decide on the subject of ``report_id``: ``apply`` sets ``labels`` as the
        moderator's labels, ``dismiss`` rejects the reports. Either way every open report
        on that subject closes and the labels its reports raised are withdrawn (the
        decision replaces them). A report already closed is a ``Conflict``."""
        require_moderator(principal)
        if action == "apply" and not labels:
            raise InvalidInput("labels", "name at least one label to apply")
        if action == "dismiss" and labels:
            raise InvalidInput("labels", "a dismissal applies no labels")
        _no_repeats([c for c, _ in labels], "labels")
        status = "resolved" if action == "apply" else "dismissed"
        async with self.db.session() as session:
            report = await session.get(Report, report_id)
            if report is None:
                raise NotFound("No such report.")
            if report.status != "open":
                raise Conflict(f"This report is already {report.status}.")
            subject, subject_id = report.subject, report.subject_id
            before = await self.store.effective_one(session, subject, subject_id)
            closed = (
                await session.scalars(
                    update(Report)
                    .where(
                        Report.subject == subject,
                        Report.subject_id == subject_id,
                        Report.status == "open",
                    )
                    .values(
                        status=status, resolved_at=self.clock.now(), resolved_by=principal.user.id
                    )
                    .returning(Report.id)
                )
            ).all()
            await self.store.remove(session, subject, subject_id, [Source.REPORT])
            await self.store.put(
                session,
                subject,
                subject_id,
                [self._moderator_label(principal, c, r, note) for c, r in labels],
            )
            self._audit(
                session,
                principal,
                f"reports.{status}",
                subject,
                subject_id,
                {
                    "reports": [str(i) for i in sorted(closed)],
                    "labels": [{"category": c.value, "risk": r.value} for c, r in labels],
                    "note": note,
                },
            )
            after = await self.store.effective_one(session, subject, subject_id)
            self.store.announce_if_changed(session, subject, subject_id, before, after)
            await session.commit()
        return Resolved(subject, subject_id, status, len(closed), after)

    async def override(
        self,
        principal: Principal,
        subject: str,
        subject_id: int,
        *,
        set_labels: Sequence[tuple[Category, Risk]],
        clear: Sequence[Category],
        revert: Sequence[Category],
        reason: str,
    ) -> list[Label]:
        """Set (``set_labels``) or clear categories as the moderator's decision, which
        wins over every other source; ``revert`` withdraws an earlier decision so the
        other sources count again. Returns the effective labels. Only the subject's kind
        is checked: moderators label content whether or not they could see it."""
        require_moderator(principal)
        self.safety.require_subject(subject)
        if not (set_labels or clear or revert):
            raise InvalidInput("set", "name at least one category to set, clear or revert")
        _no_repeats([c for c, _ in set_labels] + list(clear) + list(revert), "set")
        async with self.db.session() as session:
            before = await self.store.effective_one(session, subject, subject_id)
            if revert:
                await self.store.remove(session, subject, subject_id, [Source.MODERATOR], revert)
            decided = [self._moderator_label(principal, c, r, reason) for c, r in set_labels]
            decided += [self._moderator_label(principal, c, None, reason) for c in clear]
            await self.store.put(session, subject, subject_id, decided)
            self._audit(
                session,
                principal,
                "labels.override",
                subject,
                subject_id,
                {
                    "set": [{"category": c.value, "risk": r.value} for c, r in set_labels],
                    "clear": [c.value for c in clear],
                    "revert": [c.value for c in revert],
                    "reason": reason,
                },
            )
            after = await self.store.effective_one(session, subject, subject_id)
            self.store.announce_if_changed(session, subject, subject_id, before, after)
            await session.commit()
        return after

    async def detail(self, principal: Principal, subject: str, subject_id: int) -> SubjectDetail:
        """Everything about one subject's labels: each source's label with provenance,
        the effective result, recent reports and the audit trail."""
        require_moderator(principal)
        self.safety.require_subject(subject)
        async with self.db.session(write=False) as session:
            rows = (await self.store.rows(session, subject, [subject_id])).get(subject_id, [])
            labels = await self.store.effective_one(session, subject, subject_id)
            reports = await session.scalars(
                select(Report)
                .where(Report.subject == subject, Report.subject_id == subject_id)
                .order_by(Report.id.desc())
                .limit(DETAIL_ROWS)
            )
            audit = await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject == subject, AuditEntry.subject_id == subject_id)
                .order_by(AuditEntry.id.desc())
                .limit(DETAIL_ROWS)
            )
            return SubjectDetail(subject, subject_id, labels, rows, list(reports), list(audit))

    async def audit_log(
        self, principal: Principal, *, before: int | None, limit: int
    ) -> list[AuditEntry]:
        """The moderators' decisions, newest first."""
        require_moderator(principal)
        statement = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if before is not None:
            statement = statement.where(AuditEntry.id < before)
        async with self.db.session(write=False) as session:
            return list(await session.scalars(statement))

    def _moderator_label(
        self, principal: Principal, category: Category, risk: Risk | None, reason: str
    ) -> NewLabel:
        return NewLabel(
            category,
            risk,
            Source.MODERATOR,
            f"moderator:{principal.user.username}",
            actor_id=principal.user.id,
            reason=reason,
        )

    def _audit(
        self,
        session: AsyncSession,
        principal: Principal,
        action: str,
        subject: str,
        subject_id: int,
        detail: dict[str, Any],
    ) -> None:
        session.add(
            AuditEntry(
                id=self.ids.next_id(),
                actor_id=principal.user.id,
                action=action,
                subject=subject,
                subject_id=subject_id,
                detail=detail,
                created_at=self.clock.now(),
            )
        )


def _no_repeats(categories: Sequence[Category], field_name: str) -> None:
    seen: set[Category] = set()
    for category in categories:
        if category in seen:
            raise InvalidInput(field_name, f"{category.value!r} is named more than once")
        seen.add(category)
