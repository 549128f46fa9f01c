"""Base schema types shared by every API: strict input, ids as strings, UTC times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer

# Ids are 64-bit; JavaScript numbers are not, so they travel as strings.
IdStr = Annotated[int, PlainSerializer(lambda v: str(v), return_type=str, when_used="json")]


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
