"""The safety HTTP API: reports from users, and the moderators' queue and decisions.

No `from __future__ import annotations` here: FastAPI must see the real types of
the `Annotated` aliases defined inside `build_router`.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status

from plaza.core.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit, decode_cursor, encode_cursor
from plaza.core.schemas import IdPath, Page
from plaza.identity import Authenticator, Principal
from plaza.safety import schemas as s
from plaza.safety.models import Report
from plaza.safety.moderation import Moderation, ReportGroup
from plaza.safety.service import SafetyService

SubjectPath = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[a-z][a-z_]*$")]
FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not a moderator (administrator) account"}
}


def report_out(report: Report) -> s.ReportOut:
    return s.ReportOut.model_validate(report)


def group_out(group: ReportGroup) -> s.ReportGroupOut:
    return s.ReportGroupOut(
        subject=group.subject,
        subject_id=group.subject_id,
        author_id=group.author_id,
        status=group.status,
        report_count=group.report_count,
        categories=[s.CategoryCount(category=c, count=n) for c, n in group.categories.items()],
        first_reported_at=group.first_reported_at,
        last_reported_at=group.last_reported_at,
        labels=[s.LabelOut.of(label) for label in group.labels],
        reports=[report_out(r) for r in group.reports],
    )


def build_router(safety: SafetyService, auth: Authenticator) -> APIRouter:
    moderation = Moderation(safety)
    router = APIRouter(prefix="/api/v1", tags=["safety"])
    Me = Annotated[Principal, Depends(auth.required)]

    @router.post(
        "/reports",
        status_code=status.HTTP_201_CREATED,
        response_model=s.ReportOut,
        responses={
            200: {"model": s.ReportOut, "description": "Already reported by you: that report"},
            404: {"description": "No such subject, or not one you can see"},
            429: {"description": "Too many reports"},
        },
    )
    async def file_report(body: s.ReportIn, me: Me, response: Response) -> s.ReportOut:
        """Report content that breaks a category. Reporting the same thing twice keeps
        the first report (200). Enough reports of one category label the content until a
        moderator decides."""
        filed = await safety.report(
            me.user.id,
            subject=body.subject,
            subject_id=body.subject_id,
            category=body.category,
            reason=body.reason,
        )
        if not filed.created:
            response.status_code = status.HTTP_200_OK
        return report_out(filed.report)

    @router.get("/moderation/reports", response_model=Page[s.ReportGroupOut], responses=FORBIDDEN)
    async def report_queue(
        me: Me,
        state: Annotated[Literal["open", "resolved", "dismissed"], Query(alias="status")] = "open",
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> Page[s.ReportGroupOut]:
        """Reports grouped by subject: open ones oldest first; closed ones newest first."""
        groups, next_key = await moderation.queue(
            me, status=state, after=decode_cursor(cursor), limit=limit
        )
        return Page(
            data=[group_out(g) for g in groups],
            next_cursor=encode_cursor(next_key) if next_key is not None else None,
        )

    @router.post(
        "/moderation/reports/{report_id}/resolve",
        response_model=s.ResolutionOut,
        responses={**FORBIDDEN, 409: {"description": "The report is already closed"}},
    )
    async def resolve_report(report_id: IdPath, body: s.Resolution, me: Me) -> s.ResolutionOut:
        """Apply labels or dismiss: closes every open report on the report's subject."""
        result = await moderation.resolve(
            me,
            report_id,
            action=body.action,
            labels=[(item.category, item.risk) for item in body.labels],
            note=body.note,
        )
        return s.ResolutionOut(
            subject=result.subject,
            subject_id=result.subject_id,
            status=result.status,
            resolved_reports=result.resolved_reports,
            labels=[s.LabelOut.of(label) for label in result.labels],
        )

    @router.get(
        "/moderation/subjects/{subject}/{subject_id}",
        response_model=s.SubjectDetailOut,
        responses=FORBIDDEN,
    )
    async def subject_detail(
        subject: SubjectPath, subject_id: IdPath, me: Me
    ) -> s.SubjectDetailOut:
        """A subject's labels from every source with their provenance, its reports and
        the moderators' decisions about it."""
        detail = await moderation.detail(me, subject, subject_id)
        return s.SubjectDetailOut(
            subject=subject,
            subject_id=subject_id,
            labels=[s.LabelOut.of(label) for label in detail.labels],
            sources=[
                s.SourceLabelOut.model_validate(row, from_attributes=True) for row in detail.sources
            ],
            reports=[report_out(r) for r in detail.reports],
            audit=[s.AuditOut.model_validate(a, from_attributes=True) for a in detail.audit],
        )

    @router.post(
        "/moderation/subjects/{subject}/{subject_id}/labels",
        response_model=s.SubjectLabelsOut,
        responses=FORBIDDEN,
    )
    async def override_labels(
        subject: SubjectPath, subject_id: IdPath, body: s.LabelOverride, me: Me
    ) -> s.SubjectLabelsOut:
        """A moderator's decision on categories: set them at a risk or clear them (either
        wins over every other source), or revert an earlier decision."""
        labels = await moderation.override(
            me,
            subject,
            subject_id,
            set_labels=[(item.category, item.risk) for item in body.set],
            clear=body.clear,
            revert=body.revert,
            reason=body.reason,
        )
        return s.SubjectLabelsOut(
            subject=subject, subject_id=subject_id, labels=[s.LabelOut.of(x) for x in labels]
        )

    @router.get("/moderation/audit", response_model=Page[s.AuditOut], responses=FORBIDDEN)
    async def audit_log(
        me: Me, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
    ) -> Page[s.AuditOut]:
        """Moderators' decisions, newest first."""
        entries = await moderation.audit_log(me, before=decode_cursor(cursor), limit=limit + 1)
        more = len(entries) > limit
        entries = entries[:limit]
        return Page(
            data=[s.AuditOut.model_validate(a, from_attributes=True) for a in entries],
            next_cursor=encode_cursor(entries[-1].id) if more else None,
        )

    return router
