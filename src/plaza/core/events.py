"""The event bus: ``publish`` inside a transaction, delivery only after it commits.

``bus.publish(session, event)`` stages the event on the session. When that session's
transaction commits, the staged events go to an ordered outbox that a background
task delivers; on rollback they are dropped, so no subscriber ever hears of a row
that does not exist. Delivery is in-process by default, and through Redis pub/sub
when Plaza runs as several processes, in which case every process (the publisher
included) receives each event once from Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

logger = logging.getLogger("plaza.events")
_OUTBOX_KEY = "plaza.event_outbox"


class Event(BaseModel):
    """A fact another domain may react to. Subclasses set ``topic``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    topic: ClassVar[str]


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], Awaitable[None]]


class EventBus:
    """In-process delivery; ``RedisEventBus`` overrides the transport."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._types: dict[str, type[Event]] = {}
        self._outbox: asyncio.Queue[list[Event]] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None

    def subscribe(self, event_type: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
        """Call ``handler`` for every committed event of ``event_type``."""
        self._types[event_type.topic] = event_type
        self._handlers[event_type.topic].append(handler)

    def publish(self, session: AsyncSession, event: Event) -> None:
        """Stage ``event``; it is delivered if and when the session's transaction commits."""
        self._types.setdefault(event.topic, type(event))
        sync = session.sync_session
        staged: list[_Staged] = sync.info.setdefault(_OUTBOX_KEY, [])
        # Remember the savepoint (if any) it was published in, so that rolling the
        # savepoint back drops the event with the rows.
        staged.append((self, event, sync.get_nested_transaction()))

    async def publish_now(self, event: Event) -> None:
        """Deliver an event that belongs to no transaction (typing indicators, presence)."""
        self._types.setdefault(event.topic, type(event))
        self._outbox.put_nowait([event])

    async def start(self) -> None:
        self._pump = asyncio.create_task(self._run_pump(), name="plaza-event-pump")

    async def stop(self) -> None:
        await self.drain()
        if self._pump:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump

    async def drain(self) -> None:
        """Wait until every committed event has left the outbox."""
        if self._pump and not self._pump.done():
            await self._outbox.join()

    def _committed(self, events: list[Event]) -> None:
        self._outbox.put_nowait(events)

    async def _run_pump(self) -> None:
        while True:
            events = await self._outbox.get()
            try:
                await self._transport(events)
            except Exception:
                logger.exception("event delivery failed", extra={"events": len(events)})
            finally:
                self._outbox.task_done()

    async def _transport(self, events: list[Event]) -> None:
        for item in events:
            await self._dispatch(item)

    async def _dispatch(self, item: Event) -> None:
        for handler in self._handlers.get(item.topic, ()):
            try:
                await handler(item)
            except Exception:
                logger.exception("event handler failed", extra={"topic": item.topic})


class RedisEventBus(EventBus):
    """Fan-out across processes through one Redis pub/sub channel."""

    def __init__(self, redis: Redis, channel: str) -> None:
        super().__init__()
        self._redis = redis
        self._channel = channel
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        await super().start()
        self._listener = asyncio.create_task(self._listen(), name="plaza-event-listener")
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)

    async def stop(self) -> None:
        await super().stop()
        if self._listener:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def _transport(self, events: list[Event]) -> None:
        for item in events:
            payload = orjson.dumps({"topic": item.topic, "data": item.model_dump(mode="json")})
            await self._redis.publish(self._channel, payload)

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._subscribed.set()
                    backoff = 0.1
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self._receive(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("redis event listener lost its connection; reconnecting")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _receive(self, raw: bytes) -> None:
        try:
            envelope = orjson.loads(raw)
            event_type = self._types.get(envelope["topic"])
            if event_type is None:
                return  # nobody here subscribes to it
            item = event_type.model_validate(envelope["data"])
        except Exception:
            logger.exception("undecodable event from redis")
            return
        await self._dispatch(item)


_Staged = tuple[EventBus, Event, SessionTransaction | None]


@sa_event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint was released; the events wait for the real commit
    staged: list[_Staged] = session.info.pop(_OUTBOX_KEY, [])
    by_bus: dict[int, tuple[EventBus, list[Event]]] = {}
    for bus, item, _savepoint in staged:
        by_bus.setdefault(id(bus), (bus, []))[1].append(item)
    for bus, items in by_bus.values():
        bus._committed(items)


@sa_event.listens_for(Session, "after_transaction_end")
def _drop_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    # after_commit has already taken the events of a committed transaction; whatever
    # is still staged when the outermost transaction ends was rolled back.
    if transaction.parent is None:
        session.info.pop(_OUTBOX_KEY, None)


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back_savepoint(session: Session, previous: SessionTransaction) -> None:
    if not previous.nested:
        return
    staged: list[_Staged] | None = session.info.get(_OUTBOX_KEY)
    if staged:
        staged[:] = [entry for entry in staged if not _within(entry[2], previous)]


def _within(transaction: SessionTransaction | None, savepoint: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is savepoint:
            return True
        transaction = transaction.parent
    return False
