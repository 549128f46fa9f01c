"""64-bit, time-ordered ids in the Snowflake layout.

41 bits of milliseconds since ``EPOCH_MS``, 10 bits of node id, 12 bits of sequence.
Each process holds a distinct node id (see ``plaza.core.nodes``), so ids from
several processes never collide, and ids sort by creation time.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=EPOCH_MS)
_MS = timedelta(milliseconds=1)
NODE_BITS = 10
SEQUENCE_BITS = 12
MAX_NODE = (1 << NODE_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
TIMESTAMP_SHIFT = NODE_BITS + SEQUENCE_BITS


class SnowflakeGenerator:
    """Mints ids for one node. The node id may be assigned after construction, once a
    lease is taken at start-up; minting before that is a programming error."""

    def __init__(self, node_id: int | None = None) -> None:
        self.node_id: int | None = None
        if node_id is not None:
            self.assign(node_id)
        self._last_ms = -1
        self._sequence = 0
        # Ids are minted from the event loop and from worker threads (CLI, migrations).
        self._lock = threading.Lock()

    def assign(self, node_id: int) -> None:
        if not 0 <= node_id <= MAX_NODE:
            raise ValueError(f"node id must be within 0..{MAX_NODE}, got {node_id}")
        self.node_id = node_id

    def next_id(self) -> int:
        if self.node_id is None:
            raise RuntimeError("no node id assigned yet; ids are minted after start-up")
        with self._lock:
            now = _now_ms()
            if now <= self._last_ms:
                # Same millisecond, or the wall clock stepped back: stay on the last
                # millisecond, and when its sequence is spent borrow the next one, so
                # ids stay unique and ordered without sleeping.
                now = self._last_ms
                self._sequence = (self._sequence + 1) & MAX_SEQUENCE
                if self._sequence == 0:
                    now += 1
            else:
                self._sequence = 0
            self._last_ms = now
            return (
                ((now - EPOCH_MS) << TIMESTAMP_SHIFT)
                | (self.node_id << SEQUENCE_BITS)
                | (self._sequence)
            )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def id_timestamp(snowflake: int) -> datetime:
    """When the id was minted."""
    return _EPOCH + (snowflake >> TIMESTAMP_SHIFT) * _MS


def id_node(snowflake: int) -> int:
    return (snowflake >> SEQUENCE_BITS) & MAX_NODE


def min_id_at(moment: datetime) -> int:
    """The smallest id that could have been minted at ``moment``; for time-range queries.

    Integer arithmetic: ``moment.timestamp() * 1000`` is a float and can land in the
    millisecond before ``moment``, which would let a range query take in older ids.
    """
    return max((moment - _EPOCH) // _MS, 0) << TIMESTAMP_SHIFT
