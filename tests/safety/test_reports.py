"""Reports from users: who may report what, deduplication, rate limits, and the
report threshold that labels content until a moderator decides."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from plaza.safety import Category, Label, Risk, Source
from tests.conftest import Account, Users
from tests.safety.conftest import Captured, Notes, problem_fields


async def report(
    client: httpx.AsyncClient, who: Account, note: int, category: str = "spam", **extra: Any
) -> httpx.Response:
    body = {"subject": "note", "subject_id": str(note), "category": category, **extra}
    return await client.post("/api/v1/reports", json=body, headers=who.headers)


async def test_a_report_is_filed_once_per_reporter_and_subject(
    client: httpx.AsyncClient, users: Users, notes: Notes
) -> None:
    author, reporter = await users.create(), await users.create()
    note = notes.add(author)
    first = await report(client, reporter, note, "hate_speech", reason="slurs in the reply")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["subject"] == "note"
    assert body["subject_id"] == str(note)
    assert body["category"] == "hate_speech"
    assert body["reason"] == "slurs in the reply"
    assert body["status"] == "open"
    assert body["reporter_id"] == reporter.id
    assert isinstance(body["id"], str)
    again = await report(client, reporter, note, "spam")
    assert again.status_code == 200
    assert again.json() == body  # the first report stands


async def test_subjects_one_cannot_see_are_not_found(
    client: httpx.AsyncClient, users: Users, notes: Notes
) -> None:
    author, reporter = await users.create(), await users.create()
    hidden = notes.add(author, hidden_from=(reporter,))
    assert (await report(client, reporter, hidden)).status_code == 404
    assert (await report(client, reporter, 424242)).status_code == 404
    unknown_kind = await client.post(
        "/api/v1/reports",
        json={"subject": "hologram", "subject_id": "1", "category": "spam"},
        headers=reporter.headers,
    )
    assert unknown_kind.status_code == 404
    assert unknown_kind.headers["content-type"] == "application/problem+json"


async def test_bad_reports_are_refused_naming_the_field(
    client: httpx.AsyncClient, users: Users, notes: Notes
) -> None:
    author = await users.create()
    note = notes.add(author)
    own = await report(client, author, note)
    assert own.status_code == 422
    assert problem_fields(own) == ["subject_id"]
    other = await users.create()
    bad_category = await report(client, other, note, "gambling")
    assert bad_category.status_code == 422
    assert problem_fields(bad_category) == ["category"]
    extra = await report(client, other, note, severity="high")
    assert extra.status_code == 422
    assert problem_fields(extra) == ["severity"]
    long_reason = await report(client, other, note, reason="x" * 1001)
    assert problem_fields(long_reason) == ["reason"]
    client.cookies.clear()  # signing up left a session cookie in this client
    anonymous = await client.post(
        "/api/v1/reports", json={"subject": "note", "subject_id": str(note), "category": "spam"}
    )
    assert anonymous.status_code == 401


@pytest.mark.settings(safety_reports_per_hour=2)
async def test_reports_are_rate_limited_per_user(
    client: httpx.AsyncClient, users: Users, notes: Notes
) -> None:
    author, reporter, other = await users.create(), await users.create(), await users.create()
    for _ in range(2):
        assert (await report(client, reporter, notes.add(author))).status_code == 201
    limited = await report(client, reporter, notes.add(author))
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await report(client, other, notes.add(author))).status_code == 201


async def test_enough_reports_of_a_category_label_the_content(
    client: httpx.AsyncClient,
    plaza: Any,
    users: Users,
    notes: Notes,
    label_events: Captured,
) -> None:
    author = await users.create()
    note = notes.add(author)
    reporters = [await users.create() for _ in range(4)]
    # Two adult reports and one spam report: below the threshold of 3 for each.
    await report(client, reporters[0], note, "adult")
    await report(client, reporters[1], note, "adult")
    await report(client, reporters[2], note, "spam")
    assert await plaza.safety.labels_for("note", [note]) == {note: []}
    # A repeat by the same reporter does not count twice.
    await report(client, reporters[0], note, "adult")
    assert await plaza.safety.labels_for("note", [note]) == {note: []}
    await report(client, reporters[3], note, "adult")
    expected = [Label(Category.ADULT, Risk.MEDIUM, Source.REPORT)]
    assert await plaza.safety.labels_for("note", [note]) == {note: expected}
    events = await label_events.wait_for(1)
    assert [(e.subject_id, list(e.labels)) for e in events] == [(note, expected)]


async def test_the_data_export_holds_ones_reports_and_settings(
    client: httpx.AsyncClient, users: Users, notes: Notes
) -> None:
    author, reporter = await users.create(), await users.create()
    filed = (await report(client, reporter, notes.add(author), "spam", reason="ads")).json()
    await client.patch(
        "/api/v1/me/settings", json={"sensitive_media": "show"}, headers=reporter.headers
    )
    export = await client.get("/api/v1/me/export", headers=reporter.headers)
    assert export.status_code == 200, export.text
    assert export.json()["safety"] == {"settings": {"sensitive_media": "show"}, "reports": [filed]}
    theirs = await client.get("/api/v1/me/export", headers=author.headers)
    assert theirs.json()["safety"] == {"settings": {"sensitive_media": "warn"}, "reports": []}
