"""Safety fixtures: a reportable test subject ("note") whose visibility the test
controls, moderators, labelling through the service, and captured label events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from plaza.config import Settings
from plaza.safety import ContentLabelled, Label
from tests.conftest import Account, Users


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "settings(**overrides): run the test with these Settings fields changed"
    )


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    marker = request.node.get_closest_marker("settings")
    return settings if marker is None else settings.model_copy(update=marker.kwargs)


@dataclass
class Notes:
    """A subject kind of the tests' own, standing in for posts: each note has an author
    and may be hidden from some viewers."""

    authors: dict[int, int] = field(default_factory=dict)
    hidden_from: dict[int, set[int]] = field(default_factory=dict)
    _next: int = 1000

    def add(self, author: Account, hidden_from: tuple[Account, ...] = ()) -> int:
        self._next += 1
        self.authors[self._next] = int(author.id)
        self.hidden_from[self._next] = {int(a.id) for a in hidden_from}
        return self._next

    async def __call__(self, viewer_id: int, subject_id: int) -> int | None:
        if subject_id not in self.authors or viewer_id in self.hidden_from[subject_id]:
            return None
        return self.authors[subject_id]


@pytest.fixture
def notes(plaza: Any) -> Notes:
    resolver = Notes()
    plaza.safety.register_subject("note", resolver)
    return resolver


@pytest.fixture
async def moderator(users: Users, plaza: Any) -> Account:
    account = await users.create()
    await plaza.identity.set_admin(account.username, True)
    return account


@pytest.fixture
def label(plaza: Any) -> Callable[..., Any]:
    """``await label(note_id, text, author, author_labels=(), media_kinds=())``: what a
    creating domain does inside its write transaction."""

    async def run(
        subject_id: int,
        text: str,
        author: Account,
        author_labels: tuple[str, ...] = (),
        media_kinds: tuple[str, ...] = (),
        subject: str = "note",
    ) -> list[Label]:
        async with plaza.db.session() as session:
            labels: list[Label] = await plaza.safety.label_new_content(
                session,
                subject=subject,
                subject_id=subject_id,
                text=text,
                author_id=int(author.id),
                author_labels=author_labels,
                media_kinds=media_kinds,
            )
            await session.commit()
        return labels

    return run


@dataclass
class Captured:
    events: list[ContentLabelled] = field(default_factory=list)

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[ContentLabelled]:
        """Wait until ``count`` events have arrived (Redis delivers asynchronously)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.events) < count:
            if loop.time() > deadline:
                raise AssertionError(f"expected {count} events, got {self.events}")
            await asyncio.sleep(0.01)
        return self.events


@pytest.fixture
def label_events(plaza: Any) -> Captured:
    captured = Captured()

    async def handler(event: ContentLabelled) -> None:
        captured.events.append(event)

    plaza.bus.subscribe(ContentLabelled, handler)
    return captured


def labels_json(response: httpx.Response) -> list[dict[str, str]]:
    body = response.json()
    return list(body["labels"])


def problem_fields(response: httpx.Response) -> list[str]:
    return [e["field"] for e in response.json().get("errors", [])]
