"""Time as a dependency, so that expiry, renewal and grace rules are testable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to; for tests and demos of time rules."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        self._now = moment


class OffsetFileClock:
    """The system clock shifted by the seconds written in a file (tests of time rules
    against a server in another process: the test writes the file, the server reads
    it). The file is read again only when its modification time changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp: int | None = None
        self._offset = timedelta(0)

    def now(self) -> datetime:
        try:
            stamp = self._path.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._stamp = stamp
            self._offset = self._read() if stamp is not None else timedelta(0)
        return datetime.now(UTC) + self._offset

    def _read(self) -> timedelta:
        try:
            text = self._path.read_text().strip()
            return timedelta(seconds=float(text)) if text else timedelta(0)
        except (OSError, ValueError):
            return self._offset  # half-written: keep the last good offset
