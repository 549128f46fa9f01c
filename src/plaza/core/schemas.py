"""Base schema types shared by every API: strict input, ids as strings, UTC times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

MAX_ID = 2**63 - 1

# Ids are 64-bit; JavaScript numbers are not, so they travel as strings. Bounded so
# that an out-of-range id is a 422, not a database overflow.
IdStr = Annotated[
    int,
    Field(ge=0, le=MAX_ID),
    PlainSerializer(lambda v: str(v), return_type=str, when_used="json"),
]
# An id in a URL path.
IdPath = Annotated[int, Path(ge=0, le=MAX_ID)]


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(_rfc3339, return_type=str, when_used="json")]


class Input(BaseModel):
    """A request body: unknown fields are rejected, so mass assignment fails loudly."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A list answer: ``{"data": [...], "next_cursor": ...}``."""

    data: list[T]
    next_cursor: str | None = None


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
