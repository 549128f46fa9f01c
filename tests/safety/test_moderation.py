"""Moderators: the report queue grouped by subject, resolving reports, overriding
labels (which wins over every other source), and the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from plaza.safety import Category, Label, Risk, Source
from tests.conftest import Account, Users
from tests.safety.conftest import Captured, Notes, problem_fields
from tests.safety.test_reports import report


async def override(
    client: httpx.AsyncClient, who: Account, note: int | str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/api/v1/moderation/subjects/note/{note}/labels", json=body, headers=who.headers
    )


async def queue(client: httpx.AsyncClient, who: Account, query: str = "") -> httpx.Response:
    return await client.get(f"/api/v1/moderation/reports{query}", headers=who.headers)


async def test_only_moderators_may_moderate(
    client: httpx.AsyncClient, users: Users, notes: Notes
) -> None:
    author, reporter = await users.create(), await users.create()
    note = notes.add(author)
    filed = (await report(client, reporter, note)).json()
    attempts = [
        await queue(client, reporter),
        await client.post(
            f"/api/v1/moderation/reports/{filed['id']}/resolve",
            json={"action": "dismiss"},
            headers=reporter.headers,
        ),
        await override(client, author, note, clear=["spam"]),
        await client.get(f"/api/v1/moderation/subjects/note/{note}", headers=author.headers),
        await client.get("/api/v1/moderation/audit", headers=author.headers),
    ]
    for refused in attempts:
        assert refused.status_code == 403, refused.text
        assert "moderators" in refused.json()["detail"]


async def test_the_queue_groups_open_reports_by_subject_oldest_first(
    client: httpx.AsyncClient, users: Users, notes: Notes, moderator: Account
) -> None:
    author = await users.create()
    first, second = notes.add(author), notes.add(author)
    a, b, c = await users.create(), await users.create(), await users.create()
    await report(client, a, first, "spam", reason="links everywhere")
    await report(client, a, second, "adult")
    await report(client, b, first, "spam")
    await report(client, c, first, "crime")
    page = await queue(client, moderator, "?limit=1")
    assert page.status_code == 200, page.text
    [group] = page.json()["data"]
    assert group["subject"] == "note"
    assert group["subject_id"] == str(first)
    assert group["author_id"] == author.id
    assert group["status"] == "open"
    assert group["report_count"] == 3
    assert group["categories"] == [
        {"category": "crime", "count": 1},
        {"category": "spam", "count": 2},
    ]
    assert [r["reporter_id"] for r in group["reports"]] == [c.id, b.id, a.id]  # newest first
    assert group["reports"][2]["reason"] == "links everywhere"
    assert group["first_reported_at"].endswith("Z")
    assert group["labels"] == []
    cursor = page.json()["next_cursor"]
    assert cursor
    rest = await queue(client, moderator, f"?limit=1&cursor={cursor}")
    assert [g["subject_id"] for g in rest.json()["data"]] == [str(second)]
    assert rest.json()["next_cursor"] is None
    bad = await queue(client, moderator, "?status=closed")
    assert bad.status_code == 422
    assert problem_fields(bad) == ["query.status"]


async def test_applying_labels_resolves_every_open_report_on_the_subject(
    client: httpx.AsyncClient,
    plaza: Any,
    users: Users,
    notes: Notes,
    moderator: Account,
    label_events: Captured,
) -> None:
    author = await users.create()
    note = notes.add(author)
    reporters = [await users.create() for _ in range(3)]
    filed = [(await report(client, r, note, "adult")).json() for r in reporters]
    # Three adult reports raised a report label (and its event).
    await label_events.wait_for(1)
    resolved = await client.post(
        f"/api/v1/moderation/reports/{filed[1]['id']}/resolve",
        json={
            "action": "apply",
            "labels": [{"category": "adult", "risk": "high"}],
            "note": "explicit",
        },
        headers=moderator.headers,
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json() == {
        "subject": "note",
        "subject_id": str(note),
        "status": "resolved",
        "resolved_reports": 3,
        "labels": [{"category": "adult", "risk": "high", "source": "moderator"}],
    }
    moderator_label = [Label(Category.ADULT, Risk.HIGH, Source.MODERATOR)]
    assert await plaza.safety.labels_for("note", [note]) == {note: moderator_label}
    events = await label_events.wait_for(2)
    assert list(events[1].labels) == moderator_label
    assert (await queue(client, moderator)).json()["data"] == []
    closed = (await queue(client, moderator, "?status=resolved")).json()["data"]
    assert [(g["subject_id"], g["report_count"]) for g in closed] == [(str(note), 3)]
    again = await client.post(
        f"/api/v1/moderation/reports/{filed[0]['id']}/resolve",
        json={"action": "dismiss"},
        headers=moderator.headers,
    )
    assert again.status_code == 409
    audit = (await client.get("/api/v1/moderation/audit", headers=moderator.headers)).json()
    [entry] = audit["data"]
    assert entry["action"] == "reports.resolved"
    assert entry["actor_id"] == moderator.id
    assert entry["subject_id"] == str(note)
    assert entry["detail"]["note"] == "explicit"
    assert sorted(entry["detail"]["reports"]) == sorted(f["id"] for f in filed)


async def test_dismissing_withdraws_the_labels_reports_raised(
    client: httpx.AsyncClient,
    plaza: Any,
    users: Users,
    notes: Notes,
    moderator: Account,
    label: Callable[..., Any],
) -> None:
    author = await users.create()
    note = notes.add(author)
    await label(note, "beer o'clock", author)
    filed = [(await report(client, await users.create(), note, "spam")).json() for _ in range(3)]
    assert Category.SPAM in {
        x.category for x in (await plaza.safety.labels_for("note", [note]))[note]
    }
    dismissed = await client.post(
        f"/api/v1/moderation/reports/{filed[0]['id']}/resolve",
        json={"action": "dismiss", "note": "a normal promotion"},
        headers=moderator.headers,
    )
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["status"] == "dismissed"
    # The classifier's label stays; the reports' label is gone.
    assert dismissed.json()["labels"] == [
        {"category": "drugs_alcohol_tobacco", "risk": "low", "source": "classifier"}
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "apply"}, "labels"),
        ({"action": "dismiss", "labels": [{"category": "spam", "risk": "low"}]}, "labels"),
        ({"action": "apply", "labels": [{"category": "spam", "risk": "extreme"}]}, "labels.0.risk"),
        (
            {
                "action": "apply",
                "labels": [
                    {"category": "spam", "risk": "low"},
                    {"category": "spam", "risk": "high"},
                ],
            },
            "labels",
        ),
        ({"action": "ban"}, "action"),
    ],
)
async def test_bad_resolutions_are_refused(
    client: httpx.AsyncClient,
    users: Users,
    notes: Notes,
    moderator: Account,
    body: dict[str, Any],
    field: str,
) -> None:
    author = await users.create()
    filed = (await report(client, await users.create(), notes.add(author))).json()
    refused = await client.post(
        f"/api/v1/moderation/reports/{filed['id']}/resolve", json=body, headers=moderator.headers
    )
    assert refused.status_code == 422, refused.text
    assert problem_fields(refused) == [field]
    missing = await client.post(
        "/api/v1/moderation/reports/12345/resolve",
        json={"action": "dismiss"},
        headers=moderator.headers,
    )
    assert missing.status_code == 404


async def test_a_moderator_override_wins_clears_and_reverts(
    client: httpx.AsyncClient,
    plaza: Any,
    users: Users,
    notes: Notes,
    moderator: Account,
    label: Callable[..., Any],
    label_events: Captured,
) -> None:
    author = await users.create()
    note = notes.add(author)
    await label(note, "porn and beer", author, author_labels=("spam",))
    await label_events.wait_for(1)
    # Lower the classifier's adult/high to low, and clear the author's spam.
    changed = await override(
        client,
        moderator,
        note,
        set=[{"category": "adult", "risk": "low"}],
        clear=["spam"],
        reason="artistic nude",
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["labels"] == [
        {"category": "adult", "risk": "low", "source": "moderator"},
        {"category": "drugs_alcohol_tobacco", "risk": "low", "source": "classifier"},
    ]
    events = await label_events.wait_for(2)
    assert [x.category for x in events[1].labels] == [
        Category.ADULT,
        Category.DRUGS_ALCOHOL_TOBACCO,
    ]
    # Labelling the content again (an edit) does not undo the moderator's decision.
    await label(note, "porn and beer, edited", author, author_labels=("spam",))
    labels = (await plaza.safety.labels_for("note", [note]))[note]
    assert [(x.category, x.risk, x.source) for x in labels] == [
        (Category.ADULT, Risk.LOW, Source.MODERATOR),
        (Category.DRUGS_ALCOHOL_TOBACCO, Risk.LOW, Source.CLASSIFIER),
    ]
    reverted = await override(client, moderator, note, revert=["adult", "spam"])
    assert reverted.json()["labels"] == [
        {"category": "adult", "risk": "high", "source": "classifier"},
        {"category": "drugs_alcohol_tobacco", "risk": "low", "source": "classifier"},
        {"category": "spam", "risk": "medium", "source": "author"},
    ]
    detail = await client.get(f"/api/v1/moderation/subjects/note/{note}", headers=moderator.headers)
    actions = [(a["action"], a["detail"]["reason"]) for a in detail.json()["audit"]]
    assert actions == [("labels.override", ""), ("labels.override", "artistic nude")]


async def test_bad_overrides_are_refused(
    client: httpx.AsyncClient, users: Users, notes: Notes, moderator: Account
) -> None:
    note = notes.add(await users.create())
    empty = await override(client, moderator, note)
    assert empty.status_code == 422
    assert problem_fields(empty) == ["set"]
    twice = await override(
        client, moderator, note, set=[{"category": "spam", "risk": "low"}], clear=["spam"]
    )
    assert twice.status_code == 422
    unknown = await override(client, moderator, note, clear=["gambling"])
    assert problem_fields(unknown) == ["clear.0"]
    kind = await client.post(
        "/api/v1/moderation/subjects/hologram/1/labels",
        json={"clear": ["spam"]},
        headers=moderator.headers,
    )
    assert kind.status_code == 404
