"""Safety labels on content, the viewer's sensitive-media choice, and user reports.

Labels come from four sources, each stored with provenance: the configured
classifier and the author (both when content is created), reports from users (once
``report_threshold`` different users report the same category), and moderators
(see ``moderation.py``). ``labels.effective_labels`` combines them.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.errors import InvalidInput, NotFound
from plaza.core.events import EventBus
from plaza.core.ids import SnowflakeGenerator
from plaza.core.ratelimit import Rate, RateLimiter, enforce
from plaza.safety import labels as taxonomy
from plaza.safety.classifier import Classifier, Finding
from plaza.safety.labels import (
    AUTHOR_RISK,
    SEVERITY,
    Category,
    Label,
    Risk,
    SensitiveMedia,
    Source,
    SourceLabel,
    effective_labels,
)
from plaza.safety.models import Report
from plaza.safety.preferences import SafetyPreferences
from plaza.safety.schemas import ReportOut
from plaza.safety.store import LabelStore, NewLabel

logger = logging.getLogger("plaza.safety")

# A category reported by enough people carries this risk until a moderator decides.
REPORT_RISK = Risk.MEDIUM


class SubjectResolver(Protocol):
    async def __call__(self, viewer_id: int, subject_id: int) -> int | None:
        """The subject's author id when ``viewer_id`` may see the subject, else None."""
        ...


@dataclass(frozen=True)
class SafetyPolicy:
    report_rate: Rate  # reports per user
    report_threshold: int  # distinct reporters before a category counts as a label


@dataclass(frozen=True)
class Filed:
    report: Report
    created: bool  # False: the reporter had already reported this subject


def parse_categories(names: Sequence[str], field: str) -> list[Category]:
    """Category names from a client, deduplicated in order; an unknown one is a 422."""
    found: list[Category] = []
    for name in names:
        try:
            category = Category(name)
        except ValueError:
            choices = ", ".join(c.value for c in Category)
            raise InvalidInput(field, f"{name!r} is not a label; use one of {choices}") from None
        if category not in found:
            found.append(category)
    return found


class SafetyService:
    def __init__(
        self,
        *,
        db: Database,
        bus: EventBus,
        limiter: RateLimiter,
        clock: Clock,
        ids: SnowflakeGenerator,
        classifier: Classifier,
        policy: SafetyPolicy,
    ) -> None:
        self.db = db
        self.limiter = limiter
        self.clock = clock
        self.ids = ids
        self.classifier = classifier
        self.policy = policy
        self.store = LabelStore(db=db, bus=bus, clock=clock, ids=ids)
        self.preferences = SafetyPreferences(db)
        self._subjects: dict[str, SubjectResolver] = {}

    # Subjects

    def register_subject(self, subject: str, resolver: SubjectResolver) -> None:
        """Let users report ``subject`` ("post", "message"): ``resolver`` says whether a
        viewer may see a given one, and who wrote it."""
        if subject in self._subjects:
            raise ValueError(f"subject {subject!r} is already registered")
        self._subjects[subject] = resolver

    def is_subject(self, subject: str) -> bool:
        return subject in self._subjects

    def require_subject(self, subject: str) -> None:
        if subject not in self._subjects:
            raise NotFound(f"There is nothing of kind {subject!r} here.")

    # Labels

    async def label_new_content(
        self,
        session: AsyncSession,
        *,
        subject: str,
        subject_id: int,
        text: str,
        author_id: int,
        author_labels: Sequence[str],
        media_kinds: Sequence[str],
        fresh: bool = False,
    ) -> list[Label]:
        """Classify new (or edited) content and store the classifier's and the author's
        labels, inside the caller's write transaction. Earlier classifier and author
        labels of the subject are replaced; report and moderator labels stay.
        ``fresh=True`` says the subject was created in this very transaction, so it has
        no labels yet and none are read or replaced (three statements fewer per post).

        Returns the effective labels. An unknown author label is ``InvalidInput("labels")``.
        ``ContentLabelled`` is published (after the caller commits) if they changed.
        """
        chosen = parse_categories(author_labels, "labels")
        findings = self._classify(text, media_kinds)
        before: list[Label] = []
        if not fresh:
            before = await self.store.effective_one(session, subject, subject_id)
            await self.store.remove(
                session, subject, subject_id, (Source.CLASSIFIER, Source.AUTHOR)
            )
        origin = f"{self.classifier.name}@{self.classifier.version}"
        new = [
            NewLabel(f.category, f.risk, Source.CLASSIFIER, origin, reason=f.reason)
            for f in findings
        ]
        new += [
            NewLabel(c, AUTHOR_RISK, Source.AUTHOR, "author", actor_id=author_id) for c in chosen
        ]
        await self.store.put(session, subject, subject_id, new)
        if fresh:
            after = effective_labels(SourceLabel(n.category, n.risk, n.source) for n in new)
        else:
            after = await self.store.effective_one(session, subject, subject_id)
        self.store.announce_if_changed(session, subject, subject_id, before, after)
        return after

    def _classify(self, text: str, media_kinds: Sequence[str]) -> list[Finding]:
        try:
            findings = self.classifier.classify(text, media_kinds)
        except Exception:
            # A broken classifier must not stop people from posting; reports and
            # moderators still label the content, and the log says what failed.
            logger.exception("safety classifier failed", extra={"classifier": self.classifier.name})
            return []
        strongest: dict[Category, Finding] = {}
        for finding in findings:
            current = strongest.get(finding.category)
            if current is None or SEVERITY[finding.risk] > SEVERITY[current.risk]:
                strongest[finding.category] = finding
        return list(strongest.values())

    async def labels_for(
        self, subject: str, subject_ids: Collection[int]
    ) -> dict[int, list[Label]]:
        """The effective labels of each subject (an empty list for unlabelled ones)."""
        if not subject_ids:
            return {}
        async with self.db.session(write=False) as session:
            return await self.store.effective(session, subject, set(subject_ids))

    async def author_labels(self, subject: str, subject_id: int) -> list[Category]:
        """The categories the author gave, whether or not they decide the effective
        labels (another source may tie or outrank them); for carrying them over when
        the content is edited and labelled again."""
        async with self.db.session(write=False) as session:
            rows = (await self.store.rows(session, subject, [subject_id])).get(subject_id, [])
        return sorted(
            (Category(r.category) for r in rows if r.source == Source.AUTHOR),
            key=taxonomy.CATEGORY_ORDER.__getitem__,
        )

    async def forget(self, session: AsyncSession, *, subject: str, subject_id: int) -> None:
        """The subject was deleted: drop its labels (reports stay for the audit trail)."""
        await self.store.remove(session, subject, subject_id, list(Source))

    # Viewer preference

    async def sensitive_media_preference(self, user_id: int | None) -> SensitiveMedia:
        """The viewer's choice for sensitive media; anonymous viewers get WARN."""
        if user_id is None:
            return SensitiveMedia.WARN
        return (await self.preferences.load(user_id)).sensitive_media

    @staticmethod
    def is_sensitive(labels: Collection[Label]) -> bool:
        """See ``plaza.safety.labels.is_sensitive``."""
        return taxonomy.is_sensitive(labels)

    async def export(self, user_id: int) -> dict[str, Any]:
        """The user's part of the data export: their safety settings and the reports
        they filed (``AccountLifecycle`` exporter)."""
        settings = await self.preferences.load(user_id)
        async with self.db.session(write=False) as session:
            reports = await session.scalars(
                select(Report).where(Report.reporter_id == user_id).order_by(Report.id)
            )
            filed = [ReportOut.model_validate(r).model_dump(mode="json") for r in reports]
        return {"settings": settings.model_dump(mode="json"), "reports": filed}

    # Reports

    async def report(
        self,
        reporter_id: int,
        *,
        subject: str,
        subject_id: int,
        category: Category,
        reason: str,
    ) -> Filed:
        """File a report. A subject of an unregistered kind, or one the reporter cannot
        see, is ``NotFound``; reporting one's own content is ``InvalidInput``. A second
        report of the same subject by the same user returns the first (``created``
        False). Rate-limited per reporter."""
        await enforce(
            self.limiter,
            f"safety:report:{reporter_id}",
            self.policy.report_rate,
            "Too many reports in a short time; try again later.",
        )
        resolver = self._subjects.get(subject)
        author_id = await resolver(reporter_id, subject_id) if resolver else None
        if author_id is None:
            raise NotFound(f"No {subject} with that id.")
        if author_id == reporter_id:
            raise InvalidInput("subject_id", "you cannot report your own content")
        async with self.db.session() as session:
            existing = await self._existing(session, reporter_id, subject, subject_id)
            if existing is not None:
                return Filed(existing, created=False)
            report = Report(
                id=self.ids.next_id(),
                subject=subject,
                subject_id=subject_id,
                reporter_id=reporter_id,
                author_id=author_id,
                category=category.value,
                reason=reason,
                status="open",
                created_at=self.clock.now(),
            )
            session.add(report)
            try:
                await session.flush()
            except IntegrityError:
                # The same user's report raced this one in; theirs stands.
                await session.rollback()
                existing = await self._existing(session, reporter_id, subject, subject_id)
                assert existing is not None
                return Filed(existing, created=False)
            await self._count_reports(session, subject, subject_id, category)
            await session.commit()
        return Filed(report, created=True)

    async def _existing(
        self, session: AsyncSession, reporter_id: int, subject: str, subject_id: int
    ) -> Report | None:
        return await session.scalar(
            select(Report).where(
                Report.reporter_id == reporter_id,
                Report.subject == subject,
                Report.subject_id == subject_id,
            )
        )

    async def _count_reports(
        self, session: AsyncSession, subject: str, subject_id: int, category: Category
    ) -> None:
        """Once enough users report a category, it becomes a ``report`` label."""
        count = await session.scalar(
            select(func.count())
            .select_from(Report)
            .where(
                Report.subject == subject,
                Report.subject_id == subject_id,
                Report.category == category.value,
                Report.status == "open",
            )
        )
        if (count or 0) < self.policy.report_threshold:
            return
        before = await self.store.effective_one(session, subject, subject_id)
        label = NewLabel(
            category, REPORT_RISK, Source.REPORT, "reports", reason=f"{count} open reports"
        )
        await self.store.put(session, subject, subject_id, [label])
        after = await self.store.effective_one(session, subject, subject_id)
        self.store.announce_if_changed(session, subject, subject_id, before, after)
