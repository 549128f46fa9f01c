"""Periodic background jobs of one process (purges, clean-ups)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger("plaza.tasks")


class Periodic:
    def __init__(self) -> None:
        self._jobs: list[tuple[str, float, Callable[[], Awaitable[object]]]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def every(self, seconds: float, name: str, job: Callable[[], Awaitable[object]]) -> None:
        self._jobs.append((name, seconds, job))

    async def start(self) -> None:
        for name, seconds, job in self._jobs:
            self._tasks.append(asyncio.create_task(self._loop(name, seconds, job), name=name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    @staticmethod
    async def _loop(name: str, seconds: float, job: Callable[[], Awaitable[object]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception:
                # A failed run is retried at the next tick; the loop must outlive it.
                logger.exception("periodic job failed", extra={"job": name})
