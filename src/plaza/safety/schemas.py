"""Request and response bodies of the safety API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from plaza.core.schemas import IdStr, Input, Output, Timestamp
from plaza.safety.labels import Category, Label, Risk, Source

SubjectKind = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z_]*$")]
Reason = Annotated[str, Field(max_length=1000)]


class LabelOut(BaseModel):
    category: Category
    risk: Risk
    source: Source

    @classmethod
    def of(cls, label: Label) -> LabelOut:
        return cls(category=label.category, risk=label.risk, source=label.source)


class LabelIn(Input):
    category: Category
    risk: Risk


class ReportIn(Input):
    subject: SubjectKind = Field(description='What is reported: "post", ...')
    subject_id: IdStr
    category: Category = Field(description="Which category it breaks.")
    reason: Reason = ""


class ReportOut(Output):
    id: IdStr
    subject: str
    subject_id: IdStr
    category: Category
    reason: str
    status: Literal["open", "resolved", "dismissed"]
    created_at: Timestamp
    reporter_id: IdStr


class CategoryCount(BaseModel):
    category: Category
    count: int


class ReportGroupOut(BaseModel):
    """The reports of one subject, as the moderation queue shows them."""

    subject: str
    subject_id: IdStr
    author_id: IdStr | None
    status: Literal["open", "resolved", "dismissed"]
    report_count: int
    categories: list[CategoryCount]
    first_reported_at: Timestamp
    last_reported_at: Timestamp
    labels: list[LabelOut] = Field(description="The subject's effective labels now.")
    reports: list[ReportOut] = Field(description="The most recent reports (at most 20).")


class Resolution(Input):
    action: Literal["apply", "dismiss"] = Field(
        description="`apply`: set the given labels as the moderator's decision; "
        "`dismiss`: the reports do not hold. Either closes every open report on the subject."
    )
    labels: list[LabelIn] = Field(default_factory=list, max_length=len(Category))
    note: Reason = ""


class ResolutionOut(BaseModel):
    subject: str
    subject_id: IdStr
    status: Literal["resolved", "dismissed"]
    resolved_reports: int
    labels: list[LabelOut]


class LabelOverride(Input):
    set: list[LabelIn] = Field(
        default_factory=list,
        max_length=len(Category),
        description="Categories to label at the given risk, whatever other sources say.",
    )
    clear: list[Category] = Field(
        default_factory=list,
        max_length=len(Category),
        description="Categories to remove, whatever other sources say.",
    )
    revert: list[Category] = Field(
        default_factory=list,
        max_length=len(Category),
        description="Categories to hand back to the other sources (undo a set or clear).",
    )
    reason: Reason = ""


class SubjectLabelsOut(BaseModel):
    subject: str
    subject_id: IdStr
    labels: list[LabelOut]


class SourceLabelOut(BaseModel):
    """One source's label with its provenance; ``risk`` null is a moderator's clear."""

    category: Category
    risk: Risk | None
    source: Source
    actor_id: IdStr | None
    origin: str
    reason: str
    created_at: Timestamp


class AuditOut(BaseModel):
    id: IdStr
    actor_id: IdStr
    action: str
    subject: str
    subject_id: IdStr
    detail: dict[str, object]
    created_at: Timestamp


class SubjectDetailOut(BaseModel):
    subject: str
    subject_id: IdStr
    labels: list[LabelOut]
    sources: list[SourceLabelOut]
    reports: list[ReportOut]
    audit: list[AuditOut]
