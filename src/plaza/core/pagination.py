"""Opaque keyset cursors and page-size limits.

Cursors encode the last seen sort key (for Plaza's time-ordered ids, the id itself),
so a page stays stable while new items arrive at the head of the list.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

import orjson
from fastapi import Query

from plaza.core.errors import InvalidInput

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page (at most 100).")]
Cursor = Annotated[str | None, Query(max_length=200, description="Opaque cursor from a page.")]


def encode_cursor(before_id: int) -> str:
    raw = orjson.dumps({"b": str(before_id)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id to page before, or None for the first page; a bad cursor is a 422."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = int(orjson.loads(raw)["b"])
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise InvalidInput("query.cursor", "not a cursor this server issued") from exc
    # Sort keys are signed 64-bit ids; a larger number would overflow the database driver.
    if not 0 <= value < 2**63:
        raise InvalidInput("query.cursor", "not a cursor this server issued")
    return value
