"""Snowflake node ids leased from the database, so that processes never share one.

A process claims a free (or expired) node id at start-up and renews the lease while
it runs. An operator may instead pin ``PLAZA_NODE_ID``; then no lease is taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.ids import MAX_NODE, SnowflakeGenerator
from plaza.core.models import NodeLease

LEASE = timedelta(minutes=5)
RENEW_EVERY_SECONDS = 60.0
logger = logging.getLogger("plaza.nodes")


class NodeIdLease:
    def __init__(self, db: Database, clock: Clock, ids: SnowflakeGenerator | None = None) -> None:
        self._db = db
        self._clock = clock
        self._ids = ids
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"
        self.node_id: int | None = None
        self._task: asyncio.Task[None] | None = None

    async def claim(self) -> int:
        """Take a node id nobody holds (and give it to the generator, if any), then keep
        renewing the lease. Raises RuntimeError when all 1024 are held."""
        node_id = await self._claim_free_id()
        self._task = asyncio.create_task(self._renew_forever(), name="plaza-node-lease")
        return node_id

    async def _claim_free_id(self) -> int:
        for _attempt in range(20):
            now = self._clock.now()
            async with self._db.session() as session:
                held = set(
                    (
                        await session.scalars(
                            select(NodeLease.node_id).where(NodeLease.expires_at > now)
                        )
                    ).all()
                )
                free = [n for n in range(MAX_NODE + 1) if n not in held]
                if not free:
                    raise RuntimeError("every Snowflake node id is leased; too many processes")
                candidate = random.choice(free)  # noqa: S311 - spreads claims, not a secret
                await session.execute(
                    delete(NodeLease).where(
                        NodeLease.node_id == candidate, NodeLease.expires_at <= now
                    )
                )
                session.add(
                    NodeLease(node_id=candidate, holder=self.holder, expires_at=now + LEASE)
                )
                try:
                    await session.commit()
                except IntegrityError:
                    await session.rollback()
                    continue
            self.node_id = candidate
            if self._ids is not None:
                self._ids.assign(candidate)
            return candidate
        raise RuntimeError("could not lease a Snowflake node id")

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY_SECONDS)
            try:
                async with self._db.session() as session:
                    renewed = await session.execute(
                        update(NodeLease)
                        .where(NodeLease.node_id == self.node_id, NodeLease.holder == self.holder)
                        .values(expires_at=self._clock.now() + LEASE)
                    )
                    await session.commit()
                if renewed.rowcount == 0:  # type: ignore[attr-defined]
                    # The lease lapsed (a stall or outage longer than LEASE) and may now be
                    # another process's: minting on with it could duplicate ids.
                    lost = self.node_id
                    await self._claim_free_id()
                    logger.error(
                        "node-id lease was lost; took a new one",
                        extra={"lost": lost, "node_id": self.node_id},
                    )
            except Exception:
                logger.exception("renewing the node-id lease failed; will retry")

    async def release(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.node_id is None:
            return
        try:
            async with self._db.session() as session:
                await session.execute(
                    delete(NodeLease).where(
                        NodeLease.node_id == self.node_id, NodeLease.holder == self.holder
                    )
                )
                await session.commit()
        except Exception:
            # Shutting down anyway; the lease simply expires on its own.
            logger.warning("could not release the node-id lease", exc_info=True)
