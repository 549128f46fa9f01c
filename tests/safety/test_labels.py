"""Labels on new content: classifier and author labels with provenance, the combining
rule, what counts as sensitive, and the events that announce changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from plaza.core.errors import InvalidInput
from plaza.safety import Category, Label, Risk, SafetyService, Source, is_sensitive
from plaza.safety.labels import SourceLabel, effective_labels
from tests.conftest import Account, Users
from tests.safety.conftest import Captured, Notes

C, R, S = Category, Risk, Source


def test_the_most_severe_source_wins_and_ties_go_report_classifier_author() -> None:
    rows = [
        SourceLabel(C.ADULT, R.MEDIUM, S.AUTHOR),
        SourceLabel(C.ADULT, R.HIGH, S.CLASSIFIER),
        SourceLabel(C.SPAM, R.MEDIUM, S.AUTHOR),
        SourceLabel(C.SPAM, R.MEDIUM, S.REPORT),
        SourceLabel(C.SPAM, R.MEDIUM, S.CLASSIFIER),
    ]
    assert effective_labels(rows) == [
        Label(C.ADULT, R.HIGH, S.CLASSIFIER),
        Label(C.SPAM, R.MEDIUM, S.REPORT),
    ]
    assert effective_labels(reversed(rows)) == effective_labels(rows)


def test_a_moderator_decides_even_below_other_sources_and_can_clear() -> None:
    rows = [
        SourceLabel(C.ADULT, R.FLOOR, S.CLASSIFIER),
        SourceLabel(C.ADULT, R.LOW, S.MODERATOR),
        SourceLabel(C.CRIME, R.HIGH, S.REPORT),
        SourceLabel(C.CRIME, None, S.MODERATOR),
        SourceLabel(C.ARMS, R.LOW, S.AUTHOR),
    ]
    assert effective_labels(rows) == [
        Label(C.ADULT, R.LOW, S.MODERATOR),
        Label(C.ARMS, R.LOW, S.AUTHOR),
    ]


@pytest.mark.parametrize(
    ("labels", "sensitive"),
    [
        ([], False),
        ([Label(C.SPAM, R.HIGH, S.CLASSIFIER)], True),
        ([Label(C.HATE_SPEECH, R.FLOOR, S.MODERATOR)], True),
        ([Label(C.ADULT, R.MEDIUM, S.AUTHOR)], True),
        ([Label(C.DEATH_INJURY_CONFLICT, R.MEDIUM, S.CLASSIFIER)], True),
        ([Label(C.DRUGS_ALCOHOL_TOBACCO, R.MEDIUM, S.CLASSIFIER)], False),
        ([Label(C.ADULT, R.LOW, S.CLASSIFIER), Label(C.SPAM, R.LOW, S.REPORT)], False),
    ],
)
def test_what_counts_as_sensitive(labels: list[Label], sensitive: bool) -> None:
    assert is_sensitive(labels) is sensitive
    assert SafetyService.is_sensitive(labels) is sensitive


async def test_new_content_gets_classifier_and_author_labels(
    plaza: Any, users: Users, notes: Notes, label: Callable[..., Any]
) -> None:
    author = await users.create()
    note = notes.add(author)
    labels = await label(note, "NSFW set, buy cocaine here", author, author_labels=("adult",))
    assert labels == [
        # The classifier's medium and the author's medium tie: the classifier stands.
        Label(C.ADULT, R.MEDIUM, S.CLASSIFIER),
        Label(C.DRUGS_ALCOHOL_TOBACCO, R.HIGH, S.CLASSIFIER),
    ]
    clean = notes.add(author)
    await label(clean, "a quiet walk", author, author_labels=("debated_social_issues",))
    found = await plaza.safety.labels_for("note", [note, clean, 999_999])
    assert found == {
        note: labels,
        clean: [Label(C.DEBATED_SOCIAL_ISSUES, R.MEDIUM, S.AUTHOR)],
        999_999: [],
    }
    assert await plaza.safety.labels_for("note", []) == {}


async def test_labels_keep_their_provenance(
    client: httpx.AsyncClient,
    users: Users,
    notes: Notes,
    label: Callable[..., Any],
    moderator: Account,
) -> None:
    author = await users.create()
    note = notes.add(author)
    await label(note, "porn", author, author_labels=("adult", "spam"))
    detail = await client.get(f"/api/v1/moderation/subjects/note/{note}", headers=moderator.headers)
    assert detail.status_code == 200, detail.text
    sources = {(s["source"], s["category"]): s for s in detail.json()["sources"]}
    assert set(sources) == {("classifier", "adult"), ("author", "adult"), ("author", "spam")}
    classifier = sources[("classifier", "adult")]
    assert classifier["risk"] == "high"
    assert classifier["origin"].startswith("lexicon@")
    assert classifier["reason"] == "term 'porn'"
    assert classifier["actor_id"] is None
    assert sources[("author", "spam")]["actor_id"] == author.id
    assert sources[("author", "spam")]["origin"] == "author"
    assert sources[("author", "spam")]["created_at"].endswith("Z")
    assert detail.json()["labels"] == [
        {"category": "adult", "risk": "high", "source": "classifier"},
        {"category": "spam", "risk": "medium", "source": "author"},
    ]


async def test_labelling_again_replaces_classifier_and_author_labels(
    plaza: Any, users: Users, notes: Notes, label: Callable[..., Any]
) -> None:
    author = await users.create()
    note = notes.add(author)
    await label(note, "porn", author, author_labels=("spam",))
    await label(note, "edited: a quiet walk", author)
    assert await plaza.safety.labels_for("note", [note]) == {note: []}


async def test_the_authors_own_labels_can_be_read_back_for_an_edit(
    plaza: Any, users: Users, notes: Notes, label: Callable[..., Any]
) -> None:
    author = await users.create()
    note = notes.add(author)
    # The classifier's adult/high outranks the author's adult: the effective label
    # names the classifier, but the author's choice is still there to carry over.
    await label(note, "porn", author, author_labels=("spam", "adult"))
    effective = (await plaza.safety.labels_for("note", [note]))[note]
    assert {x.source for x in effective if x.category is C.ADULT} == {S.CLASSIFIER}
    assert await plaza.safety.author_labels("note", note) == [C.ADULT, C.SPAM]
    assert await plaza.safety.author_labels("note", 424242) == []


async def test_an_unknown_author_label_is_refused_naming_the_field(
    plaza: Any, users: Users, notes: Notes, label: Callable[..., Any]
) -> None:
    author = await users.create()
    with pytest.raises(InvalidInput) as refused:
        await label(notes.add(author), "hello", author, author_labels=("gambling",))
    assert refused.value.extra["errors"][0]["field"] == "labels"


async def test_label_events_are_published_after_commit_only(
    plaza: Any,
    users: Users,
    notes: Notes,
    label: Callable[..., Any],
    label_events: Captured,
) -> None:
    author = await users.create()
    rolled_back, clean, labelled = notes.add(author), notes.add(author), notes.add(author)
    async with plaza.db.session() as session:
        await plaza.safety.label_new_content(
            session,
            subject="note",
            subject_id=rolled_back,
            text="porn",
            author_id=int(author.id),
            author_labels=[],
            media_kinds=["image"],
        )
        await session.rollback()
    await label(clean, "nothing to see", author)  # no labels, no change: no event
    await label(labelled, "porn", author, media_kinds=("video",))
    events = await label_events.wait_for(1)
    assert [(e.subject, e.subject_id, e.labels) for e in events] == [
        ("note", labelled, (Label(C.ADULT, R.HIGH, S.CLASSIFIER),))
    ]
    assert await plaza.safety.labels_for("note", [rolled_back]) == {rolled_back: []}


async def test_a_failing_classifier_does_not_stop_content(
    plaza: Any, users: Users, notes: Notes, label: Callable[..., Any]
) -> None:
    class Broken:
        name, version = "broken", "0"

        def classify(self, text: str, media_kinds: Any) -> list[Any]:
            raise RuntimeError("model not loaded")

    plaza.safety.classifier = Broken()
    author = await users.create()
    labels = await label(notes.add(author), "porn", author, author_labels=("adult",))
    assert labels == [Label(C.ADULT, R.MEDIUM, S.AUTHOR)]


def test_registering_a_subject_twice_is_a_mistake(plaza: Any, notes: Notes) -> None:
    with pytest.raises(ValueError, match="note"):
        plaza.safety.register_subject("note", notes)


async def test_forgetting_a_deleted_subject_drops_its_labels(
    plaza: Any, users: Users, notes: Notes, label: Callable[..., Any]
) -> None:
    author = await users.create()
    gone, kept = notes.add(author), notes.add(author)
    await label(gone, "porn", author, author_labels=("spam",))
    await label(kept, "porn", author)
    async with plaza.db.session() as session:
        await plaza.safety.forget(session, subject="note", subject_id=gone)
        await session.commit()
    found = await plaza.safety.labels_for("note", [gone, kept])
    assert found[gone] == []
    assert found[kept] == [Label(C.ADULT, R.HIGH, S.CLASSIFIER)]
