"""The label vocabulary (GARM / IAB categories and risk levels) and the one rule that
turns labels from several sources into the effective labels a viewer sees.

Combination rule, per category, applied by :func:`effective_labels`:

1. A moderator's decision wins outright: a moderator label sets the risk, and a
   moderator *clear* removes the category whatever the other sources say.
2. Otherwise the most severe risk among the classifier, the reports and the author
   is taken (floor > high > medium > low); on a tie the source that counts is the
   first of report, classifier, author.

The result is sorted by category (in the order of :class:`Category`), so the same rows
always give the same list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    """Brand-safety categories, after the GARM framework and the IAB Content Taxonomy."""

    ADULT = "adult"
    ARMS = "arms"
    CRIME = "crime"
    DEATH_INJURY_CONFLICT = "death_injury_conflict"
    PIRACY = "piracy"
    HATE_SPEECH = "hate_speech"
    OBSCENITY_PROFANITY = "obscenity_profanity"
    DRUGS_ALCOHOL_TOBACCO = "drugs_alcohol_tobacco"
    SPAM = "spam"
    TERRORISM = "terrorism"
    DEBATED_SOCIAL_ISSUES = "debated_social_issues"
    MISINFORMATION = "misinformation"


class Risk(StrEnum):
    """GARM risk levels. ``floor``: content no advertiser may appear next to."""

    FLOOR = "floor"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Source(StrEnum):
    CLASSIFIER = "classifier"
    AUTHOR = "author"
    REPORT = "report"
    MODERATOR = "moderator"


class SensitiveMedia(StrEnum):
    """What a viewer wants done with sensitive media: shown, behind a warning, or left out."""

    SHOW = "show"
    WARN = "warn"
    HIDE = "hide"


SEVERITY: dict[Risk, int] = {Risk.LOW: 1, Risk.MEDIUM: 2, Risk.HIGH: 3, Risk.FLOOR: 4}
CATEGORY_ORDER: dict[Category, int] = {c: i for i, c in enumerate(Category)}
# Which source's label stands for a category when two sources agree on the risk.
_TIE_ORDER: dict[Source, int] = {Source.REPORT: 0, Source.CLASSIFIER: 1, Source.AUTHOR: 2}
# Categories whose content is graphic enough to sit behind a warning at medium risk
# already; any other category needs high or floor.
GRAPHIC = frozenset({Category.ADULT, Category.DEATH_INJURY_CONFLICT, Category.TERRORISM})
# Authors name categories, not risks; their own label counts as medium.
AUTHOR_RISK = Risk.MEDIUM


@dataclass(frozen=True)
class Label:
    """One effective label of a piece of content, and which source decided it."""

    category: Category
    risk: Risk
    source: Source


@dataclass(frozen=True)
class SourceLabel:
    """A label as one source gave it; ``risk`` None is a moderator's clear."""

    category: Category
    risk: Risk | None
    source: Source


def effective_labels(labels: Iterable[SourceLabel]) -> list[Label]:
    """Combine the labels of all sources for one subject (see the module docstring)."""
    decided: dict[Category, SourceLabel] = {}
    for item in labels:
        current = decided.get(item.category)
        if current is None or _beats(item, current):
            decided[item.category] = item
    return [
        Label(item.category, item.risk, item.source)
        for item in sorted(decided.values(), key=lambda i: CATEGORY_ORDER[i.category])
        if item.risk is not None
    ]


def _beats(new: SourceLabel, old: SourceLabel) -> bool:
    if old.source is Source.MODERATOR:
        return False
    if new.source is Source.MODERATOR:
        return True
    # Only moderators clear, so both risks are set here.
    assert new.risk is not None
    assert old.risk is not None
    if SEVERITY[new.risk] != SEVERITY[old.risk]:
        return SEVERITY[new.risk] > SEVERITY[old.risk]
    return _TIE_ORDER[new.source] < _TIE_ORDER[old.source]


def is_sensitive(labels: Iterable[Label]) -> bool:
    """Whether content with these labels counts as sensitive for the viewer's
    ``SensitiveMedia`` choice: any label at floor or high risk, or a graphic category
    (adult, death/injury/conflict, terrorism) at medium risk. Low risk never does."""
    for label in labels:
        severity = SEVERITY[label.risk]
        if severity >= SEVERITY[Risk.HIGH]:
            return True
        if severity == SEVERITY[Risk.MEDIUM] and label.category in GRAPHIC:
            return True
    return False
