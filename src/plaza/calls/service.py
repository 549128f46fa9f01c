"""Call signalling: the state machine, busy and glare, multi-device answer, and the
events each step puts on the parties' streams.

States: ``ringing`` → ``accepted`` → ``ended`` (or ``failed``); from ``ringing`` also
``rejected`` (the callee, on any device), ``cancelled`` (the caller), ``missed`` (no
answer within the ring time, set by a periodic sweep and lazily whenever a call is
read), and ``busy`` or a glare loss straight away when the call is placed.

Concurrency: placing a call locks both users' ``call_preference`` rows in id order, so
set-ups involving the same person (busy, glare) run one after the other; every other
step locks the call row, so two devices answering at once are serialised and exactly
one finds the call still ringing. SQLite's writers are serial anyway (``BEGIN
IMMEDIATE``); the locks matter on PostgreSQL.

Glare: when A calls B while B's call to A is ringing, the call with the smaller id
survives and the other is ``cancelled`` with reason ``glare`` and ``replaced_by``
naming the survivor. Ids are minted before the locks are taken, so under concurrency
the smaller id may be the call placed second; the rule holds either way.

Stream events are persisted (``Stream.deliver``) in the step's write transaction, so
they exist exactly when the step does, arrive in commit order (an answer before the
candidates sent after it) and are replayed to a device that reconnects with
``since``. Candidates go the same way for that reason; they are batched, so a call
costs a handful of events.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.calls.events import CallEnded
from plaza.calls.interfaces import (
    Conversations,
    DirectMessages,
    EntitlementChecker,
    Graph,
    Notifier,
    People,
    Person,
    Stream,
)
from plaza.calls.models import CallCandidate, CallPreference, CallRecord
from plaza.calls.policy import (
    CalleeSettings,
    CallRefused,
    CallsPolicy,
    Consent,
    Eligibility,
    IceConfig,
    ice_config,
)
from plaza.calls.preferences import CallPreferences, ensure_rows
from plaza.calls.schemas import (
    AnswerIn,
    CallCreate,
    CallDetailOut,
    CallOut,
    CandidatesIn,
    NegotiateIn,
)
from plaza.calls.views import (
    GLARE,
    LIVE,
    UNANSWERED,
    call_detail,
    call_out,
    duration_seconds,
    ended_data,
    is_missed,
    rfc3339,
)
from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from plaza.core.events import EventBus
from plaza.core.ids import SnowflakeGenerator
from plaza.core.ratelimit import RateLimiter, enforce

logger = logging.getLogger("plaza.calls")

# Candidates one side may trickle into one call (a normal call needs a few dozen).
MAX_STORED_CANDIDATES = 200


@dataclass
class _Outbox:
    """Stream events of one step, delivered late in its transaction and ordered by
    recipient id, so that two steps lock the users' stream counters in the same order
    (no deadlock between the two parties' concurrent steps)."""

    items: list[tuple[list[int], str, dict[str, Any]]] = field(default_factory=list)

    def add(self, user_ids: Collection[int], type: str, data: dict[str, Any]) -> None:
        self.items.append((sorted(set(user_ids)), type, data))

    async def flush(self, session: AsyncSession, stream: Stream) -> None:
        for user_ids, type, data in sorted(self.items, key=lambda item: item[0][0]):
            await stream.deliver(session, user_ids, type, data)
        self.items.clear()


@dataclass(frozen=True)
class CallLogPage:
    items: list[CallOut]
    next_before: int | None


class Calls:
    def __init__(
        self,
        *,
        db: Database,
        bus: EventBus,
        clock: Clock,
        ids: SnowflakeGenerator,
        limiter: RateLimiter,
        stream: Stream,
        people: People,
        graph: Graph,
        entitlements: EntitlementChecker,
        direct_messages: DirectMessages,
        conversations: Conversations,
        notifier: Notifier,
        policy: CallsPolicy,
    ) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.ids = ids
        self.limiter = limiter
        self.stream = stream
        self.people = people
        self.graph = graph
        self.conversations = conversations
        self.notifier = notifier
        self.policy = policy
        self.preferences = CallPreferences(db)
        self.consent = Consent(
            policy, graph=graph, entitlements=entitlements, direct_messages=direct_messages
        )

    # ---- placing a call ---------------------------------------------------------------

    async def place(self, caller_id: int, device: int, body: CallCreate) -> CallDetailOut:
        """Ring every device of ``body.callee`` (``call.incoming``; ``call.ringing`` to
        the caller) and return the call as the caller sees it.

        The new call may end at once: ``busy`` when the callee is in another live call,
        or ``cancelled``/``glare`` when the callee's own call to the caller is older.
        Raises RateLimited (``PLAZA_CALLS_PER_HOUR``, refused attempts included),
        NotFound (no such user, or a block either way), InvalidInput, CallRefused (403
        naming the consent rule) and Conflict (the caller is in another call).
        """
        # Minted first, outside the locks: see "Glare" above.
        call_id = self.ids.next_id()
        await enforce(
            self.limiter,
            f"calls:attempts:{caller_id}",
            self.policy.attempts,
            "Too many call attempts; try again later.",
        )
        callee_id = await self._consenting_callee(caller_id, body.callee)
        if body.conversation_id is not None and not await self.conversations.shares_conversation(
            body.conversation_id, caller_id, callee_id
        ):
            raise InvalidInput("conversation_id", "not a conversation of the two of you")
        await self._expire_due({caller_id, callee_id})
        people = await self.people.authors([caller_id, callee_id])
        now = self.clock.now()
        async with self.db.session() as session:
            await self._lock_users(session, caller_id, callee_id)
            live = (
                await session.scalars(
                    select(CallRecord)
                    .where(
                        CallRecord.state.in_(LIVE),
                        or_(
                            CallRecord.caller_id.in_((caller_id, callee_id)),
                            CallRecord.callee_id.in_((caller_id, callee_id)),
                        ),
                    )
                    .with_for_update()
                )
            ).all()
            glare = next(
                (
                    c
                    for c in live
                    if (c.caller_id, c.callee_id) == (callee_id, caller_id) and c.state == "ringing"
                ),
                None,
            )
            others = [c for c in live if c is not glare]
            if any(caller_id in (c.caller_id, c.callee_id) for c in others):
                raise Conflict("You are already in a call; hang up first.")
            row = CallRecord(
                id=call_id,
                caller_id=caller_id,
                callee_id=callee_id,
                conversation_id=body.conversation_id,
                media=body.media,
                state="ringing",
                created_at=now,
                caller_device=device,
                offer_sdp=body.sdp,
            )
            session.add(row)
            outbox = _Outbox()
            if glare is not None and glare.id < call_id:
                await self._finish(
                    session, outbox, row, "cancelled", GLARE, replaced_by=glare.id, only=[caller_id]
                )
            elif others:  # the callee is in a call, or being called, by someone else
                await self._finish(session, outbox, row, "busy", "busy", only=[caller_id])
            else:
                if glare is not None:
                    await self._finish(
                        session, outbox, glare, "cancelled", GLARE, replaced_by=row.id
                    )
                ring = self.policy.ring_timeout
                incoming = call_detail(row, callee_id, people, ring)
                outbox.add([callee_id], "call.incoming", incoming.model_dump(mode="json"))
                ringing = call_out(row, caller_id, people, ring)
                outbox.add([caller_id], "call.ringing", ringing.model_dump(mode="json"))
            await outbox.flush(session, self.stream)
            await session.commit()
        return call_detail(row, caller_id, people, self.policy.ring_timeout)

    async def eligibility(self, caller_id: int, callee: str) -> Eligibility:
        """A dry run of placing a call to ``callee`` now: the same checks in the same
        order, answered with the rule that would refuse it (call buttons show it before
        anyone clicks). Nothing rings and the call attempts' allowance is untouched;
        the dry runs have their own (``PLAZA_CALLS_CHECKS_PER_HOUR``). Raises, as
        placing does, NotFound (no such user, or a block either way), InvalidInput
        (oneself) and RateLimited."""
        await enforce(
            self.limiter,
            f"calls:checks:{caller_id}",
            self.policy.checks,
            "Too many call checks; try again later.",
        )
        try:
            await self._consenting_callee(caller_id, callee)
        except CallRefused as refused:
            return Eligibility(allowed=False, rule=refused.rule, detail=refused.detail)
        return Eligibility(allowed=True)

    async def _consenting_callee(self, caller_id: int, username: str) -> int:
        """The id of the user ``username`` once every consent rule lets ``caller_id``
        call them. The one path of both ``place`` and ``eligibility``, so that the dry
        run says exactly what placing would: NotFound, InvalidInput or CallRefused."""
        callee_id = (await self.people.visible(username, caller_id)).user_id
        if callee_id == caller_id:
            raise InvalidInput("callee", "you cannot call yourself")
        settings = await self.preferences.load(callee_id)
        await self.consent.check(
            caller_id,
            callee_id,
            CalleeSettings(calls_enabled=settings.calls_enabled, call_policy=settings.call_policy),
        )
        return callee_id

    async def _lock_users(self, session: AsyncSession, *user_ids: int) -> None:
        ordered = sorted(set(user_ids))
        await ensure_rows(session, ordered)
        await session.execute(
            select(CallPreference.user_id)
            .where(CallPreference.user_id.in_(ordered))
            .order_by(CallPreference.user_id)
            .with_for_update()
        )

    # ---- the callee's side ------------------------------------------------------------

    async def answer(self, user_id: int, device: int, call_id: int, body: AnswerIn) -> CallOut:
        """Answer on this device: the first answer wins. The caller's stream gets
        ``call.answered`` with the SDP; the callee's, ``call.answered_elsewhere`` naming
        the answering device so that the others stop ringing. Raises NotFound,
        Forbidden (the caller) and Conflict (answered elsewhere, ended, missed)."""
        async with self.db.session() as session:
            row = await self._party_call(session, user_id, call_id)
            if row.callee_id != user_id:
                raise Forbidden("Only the callee answers a call.")
            await self._expire_if_due(session, row)
            if row.state != "ringing":
                await session.commit()  # keeps a lazy expiry
                if row.state == "accepted":
                    raise Conflict("The call was answered on another device.")
                raise Conflict(f"The call has ended ({row.state}).")
            now = self.clock.now()
            row.state = "accepted"
            row.answered_at = now
            row.answered_device = device
            row.answer_sdp = body.sdp
            outbox = _Outbox()
            outbox.add(
                [row.caller_id],
                "call.answered",
                {
                    "id": str(row.id),
                    "sdp": body.sdp,
                    "to_device": str(row.caller_device),
                    "answered_at": rfc3339(now),
                },
            )
            outbox.add(
                [row.callee_id],
                "call.answered_elsewhere",
                {"id": str(row.id), "answered_device": str(device)},
            )
            await outbox.flush(session, self.stream)
            await session.commit()
        return await self._view(row, user_id)

    async def reject(self, user_id: int, call_id: int) -> CallOut:
        """Decline a ringing call from any of the callee's devices: every device of both
        parties gets ``call.ended`` (reason ``rejected``). Raises NotFound, Forbidden
        (the caller cancels instead) and Conflict (no longer ringing)."""
        async with self.db.session() as session:
            row = await self._party_call(session, user_id, call_id)
            if row.callee_id != user_id:
                raise Forbidden("Only the callee rejects a call; the caller cancels it.")
            await self._end_ringing(session, row, "rejected", "rejected", user_id)
        return await self._view(row, user_id)

    async def cancel(self, user_id: int, call_id: int) -> CallOut:
        """The caller gives up before an answer: ``call.ended`` (reason ``cancelled``) to
        every device of both parties. Raises NotFound, Forbidden (the callee rejects
        instead) and Conflict (no longer ringing)."""
        async with self.db.session() as session:
            row = await self._party_call(session, user_id, call_id)
            if row.caller_id != user_id:
                raise Forbidden("Only the caller cancels a call; the callee rejects it.")
            await self._end_ringing(session, row, "cancelled", "cancelled", user_id)
        return await self._view(row, user_id)

    async def _end_ringing(
        self, session: AsyncSession, row: CallRecord, state: str, reason: str, by: int
    ) -> None:
        await self._expire_if_due(session, row)
        if row.state != "ringing":
            await session.commit()
            raise Conflict(f"The call is no longer ringing ({row.state}).")
        outbox = _Outbox()
        await self._finish(session, outbox, row, state, reason, ended_by=by)
        await outbox.flush(session, self.stream)
        await session.commit()

    async def hangup(self, user_id: int, call_id: int, *, failed: bool = False) -> CallOut:
        """End the call from either side, on any device (so that a call left open on a
        lost phone can be ended from another). An accepted call ends ``ended`` with its
        duration (``failed`` when the client says the connection failed); a ringing one
        is cancelled (caller) or rejected (callee). Hanging up an ended call changes
        nothing and returns it. Raises NotFound."""
        async with self.db.session() as session:
            row = await self._party_call(session, user_id, call_id)
            await self._expire_if_due(session, row)
            if row.state in LIVE:
                if failed:
                    state, reason = "failed", "failed"
                elif row.state == "accepted":
                    state, reason = "ended", "hangup"
                elif row.caller_id == user_id:
                    state, reason = "cancelled", "cancelled"
                else:
                    state, reason = "rejected", "rejected"
                outbox = _Outbox()
                await self._finish(session, outbox, row, state, reason, ended_by=user_id)
                await outbox.flush(session, self.stream)
            await session.commit()
        return await self._view(row, user_id)

    # ---- media and connectivity during a call -----------------------------------------

    async def add_candidates(
        self, user_id: int, device: int, call_id: int, body: CandidatesIn
    ) -> int:
        """Relay trickled ICE candidates to the other party (``call.candidates``) and keep
        them while the call lives. The caller may send from the device that placed the
        call; the callee from the device that answered, once it has. Returns how many
        were relayed. Raises NotFound, Conflict and InvalidInput (too many)."""
        candidates = [c.model_dump() for c in body.candidates]
        async with self.db.session() as session:
            row = await self._party_call(session, user_id, call_id)
            await self._expire_if_due(session, row)
            if row.state not in LIVE:
                await session.commit()
                raise Conflict(f"The call has ended ({row.state}).")
            to_device = self._check_device(row, user_id, device)
            stored = await session.scalar(
                select(func.coalesce(func.sum(CallCandidate.count), 0)).where(
                    CallCandidate.call_id == row.id, CallCandidate.sender_id == user_id
                )
            )
            if (stored or 0) + len(candidates) > MAX_STORED_CANDIDATES:
                raise InvalidInput("candidates", "too many candidates for one call")
            session.add(
                CallCandidate(
                    id=self.ids.next_id(),
                    call_id=row.id,
                    sender_id=user_id,
                    candidates=candidates,
                    count=len(candidates),
                    created_at=self.clock.now(),
                )
            )
            other = row.callee_id if user_id == row.caller_id else row.caller_id
            data = {
                "id": str(row.id),
                "from": str(user_id),
                "to_device": None if to_device is None else str(to_device),
                "candidates": candidates,
            }
            await self.stream.deliver(session, [other], "call.candidates", data)
            await session.commit()
        return len(candidates)

    async def negotiate(self, user_id: int, device: int, call_id: int, body: NegotiateIn) -> None:
        """Relay a renegotiation step (mute, camera, audio to video, ICE restart) of an
        accepted call to the other party's in-call device (``call.negotiate``).
        ``media="video"`` records that the call became a video call. Raises NotFound and
        Conflict (not in the call on this device, or not accepted)."""
        async with self.db.session() as session:
            row = await self._party_call(session, user_id, call_id)
            if row.state != "accepted":
                raise Conflict(f"Only an accepted call is renegotiated ({row.state}).")
            to_device = self._check_device(row, user_id, device)
            if body.media is not None:
                row.media = body.media
            other = row.callee_id if user_id == row.caller_id else row.caller_id
            data = {
                "id": str(row.id),
                "from": str(user_id),
                "to_device": None if to_device is None else str(to_device),
                "type": body.type,
                "sdp": body.sdp,
                "media": row.media,
            }
            await self.stream.deliver(session, [other], "call.negotiate", data)
            await session.commit()

    @staticmethod
    def _check_device(row: CallRecord, user_id: int, device: int) -> int | None:
        """The other party's device to address, after checking that ``device`` is this
        user's device in the call. None: every device of the callee (still ringing)."""
        if user_id == row.caller_id:
            if device != row.caller_device:
                raise Conflict("This call was placed from another of your devices.")
            return row.answered_device
        if row.state != "accepted":
            raise Conflict("Answer the call first.")
        if device != row.answered_device:
            raise Conflict("This call was answered on another of your devices.")
        return row.caller_device

    # ---- reading ----------------------------------------------------------------------

    async def get(self, user_id: int, call_id: int) -> CallDetailOut:
        """The call with its live signalling state (SDPs, the other side's candidates),
        for one of its two parties; NotFound for anyone else."""
        async with self.db.session(write=False) as session:
            row = await self._party_call(session, user_id, call_id, lock=False)
        if row.state == "ringing" and self._due(row):
            await self._expire_due({user_id})
            async with self.db.session(write=False) as session:
                row = await self._party_call(session, user_id, call_id, lock=False)
        async with self.db.session(write=False) as session:
            remote = (
                await session.scalars(
                    select(CallCandidate.candidates)
                    .where(CallCandidate.call_id == row.id, CallCandidate.sender_id != user_id)
                    .order_by(CallCandidate.id)
                )
            ).all()
        people = await self.people.authors([row.caller_id, row.callee_id])
        flat = [candidate for batch in remote for candidate in batch]
        return call_detail(row, user_id, people, self.policy.ring_timeout, flat)

    async def log(
        self, user_id: int, *, before: int | None, limit: int, missed_only: bool = False
    ) -> CallLogPage:
        """The user's calls, both directions, newest first; ``missed_only`` keeps the
        incoming calls they missed. Calls lost to glare are left out (the other call of
        the pair stands for them)."""
        await self._expire_due({user_id})
        sides = (
            [CallRecord.callee_id] if missed_only else [CallRecord.caller_id, CallRecord.callee_id]
        )
        rows: list[CallRecord] = []
        async with self.db.session(write=False) as session:
            for side in sides:
                query = (
                    select(CallRecord)
                    .where(
                        side == user_id,
                        or_(CallRecord.end_reason.is_(None), CallRecord.end_reason != GLARE),
                    )
                    .order_by(CallRecord.id.desc())
                    .limit(limit + 1)
                )
                if missed_only:
                    query = query.where(CallRecord.state.in_(UNANSWERED))
                if before is not None:
                    query = query.where(CallRecord.id < before)
                rows.extend((await session.scalars(query)).all())
        # A call to oneself cannot exist, so the two sides never share a row.
        rows.sort(key=lambda r: r.id, reverse=True)
        page, more = rows[:limit], len(rows) > limit
        people = await self.people.authors(
            {r.caller_id for r in page} | {r.callee_id for r in page}
        )
        ring = self.policy.ring_timeout
        return CallLogPage(
            items=[call_out(r, user_id, people, ring) for r in page],
            next_before=page[-1].id if more and page else None,
        )

    async def ice_servers(self, user_id: int) -> IceConfig:
        """STUN/TURN servers for this user now, with fresh TURN REST credentials, and
        whether the client must relay (TURN configured and ``calls_relay_only``)."""
        settings = await self.preferences.load(user_id)
        return ice_config(self.policy, user_id, settings.calls_relay_only, self.clock.now())

    async def export(self, user_id: int) -> list[dict[str, Any]]:
        """The user's call log for the data export (no SDPs: they are never kept)."""
        out: list[dict[str, Any]] = []
        before: int | None = None
        while True:
            page = await self.log(user_id, before=before, limit=100)
            out.extend(item.model_dump(mode="json", exclude={"device"}) for item in page.items)
            if page.next_before is None:
                return out
            before = page.next_before

    # ---- missed calls -----------------------------------------------------------------

    async def sweep_missed(self) -> int:
        """End every call that rang past the ring time as ``missed`` (periodic job; every
        process runs it, the row lock makes each call end once). Returns how many."""
        cutoff = self.clock.now() - self.policy.ring_timeout
        async with self.db.session(write=False) as session:
            due = (
                await session.scalars(
                    select(CallRecord.id)
                    .where(CallRecord.state == "ringing", CallRecord.created_at <= cutoff)
                    .order_by(CallRecord.id)
                    .limit(500)
                )
            ).all()
        return await self._expire_ids(list(due))

    async def _expire_due(self, user_ids: Collection[int]) -> int:
        """Lazily end the users' calls that rang too long (so a read never shows a call
        ringing past its time, even between sweeps)."""
        cutoff = self.clock.now() - self.policy.ring_timeout
        async with self.db.session(write=False) as session:
            due = (
                await session.scalars(
                    select(CallRecord.id).where(
                        CallRecord.state == "ringing",
                        CallRecord.created_at <= cutoff,
                        or_(
                            CallRecord.caller_id.in_(list(user_ids)),
                            CallRecord.callee_id.in_(list(user_ids)),
                        ),
                    )
                )
            ).all()
        return await self._expire_ids(list(due))

    async def _expire_ids(self, call_ids: list[int]) -> int:
        ended = 0
        # One transaction per call: each touches only its two parties' streams.
        for call_id in call_ids:
            async with self.db.session() as session:
                row = await session.get(CallRecord, call_id, with_for_update=True)
                if row is not None and await self._expire_if_due(session, row):
                    await session.commit()
                    ended += 1
        return ended

    def _due(self, row: CallRecord) -> bool:
        return row.created_at + self.policy.ring_timeout <= self.clock.now()

    async def _expire_if_due(self, session: AsyncSession, row: CallRecord) -> bool:
        if row.state != "ringing" or not self._due(row):
            return False
        outbox = _Outbox()
        ended_at = min(self.clock.now(), row.created_at + self.policy.ring_timeout)
        await self._finish(session, outbox, row, "missed", "no_answer", ended_at=ended_at)
        await outbox.flush(session, self.stream)
        return True

    # ---- helpers ----------------------------------------------------------------------

    async def _party_call(
        self, session: AsyncSession, user_id: int, call_id: int, *, lock: bool = True
    ) -> CallRecord:
        """The call, locked for this step; NotFound unless ``user_id`` is a party (a
        third person must not learn that a call exists)."""
        row = await session.get(CallRecord, call_id, with_for_update=lock)
        if row is None or user_id not in (row.caller_id, row.callee_id):
            raise NotFound("No such call.")
        return row

    async def _finish(
        self,
        session: AsyncSession,
        outbox: _Outbox,
        row: CallRecord,
        state: str,
        reason: str,
        *,
        ended_by: int | None = None,
        replaced_by: int | None = None,
        ended_at: datetime | None = None,
        only: list[int] | None = None,
    ) -> None:
        """Move ``row`` to a final state in ``session``: forget its SDPs and candidates,
        tell the parties (``only``: just these), notify a missed call and announce
        ``CallEnded`` after commit."""
        row.state = state
        row.end_reason = reason
        row.ended_at = ended_at or self.clock.now()
        row.ended_by = ended_by
        row.replaced_by = replaced_by
        row.offer_sdp = None
        row.answer_sdp = None
        await session.execute(delete(CallCandidate).where(CallCandidate.call_id == row.id))
        outbox.add(only or [row.caller_id, row.callee_id], "call.ended", ended_data(row))
        missed = is_missed(row)
        if missed:
            await self.notifier.notify(
                session, recipient_id=row.callee_id, actor_id=row.caller_id, kind="missed_call"
            )
        self.bus.publish(
            session,
            CallEnded(
                call_id=row.id,
                caller_id=row.caller_id,
                callee_id=row.callee_id,
                conversation_id=row.conversation_id,
                media=row.media,
                state=state,
                reason=reason,
                duration_seconds=duration_seconds(row) or 0,
                missed=missed,
                started_at=row.created_at,
            ),
        )

    async def _view(self, row: CallRecord, viewer_id: int) -> CallOut:
        people: Mapping[int, Person] = await self.people.authors([row.caller_id, row.callee_id])
        return call_out(row, viewer_id, people, self.policy.ring_timeout)
