"""The wallet and payments HTTP API.

Every request that moves money needs an ``Idempotency-Key`` header (a missing one is a
422 naming it): a retried payment must never pay twice, and a client that forgets the
key is told at once rather than finding out on its first network retry. Replays follow
API.md (Stripe's semantics): the first status and body come back. Requests that move no
money (asking for money, splitting a bill) accept a key too.

Everything here is private to the people involved: another user's payment, request or
transfer is a 404.

No ``from __future__ import annotations`` here: FastAPI must see the real types of
the ``Annotated`` aliases defined inside ``build_router``.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from pydantic import BaseModel

from plaza.core.errors import Forbidden, InvalidInput
from plaza.core.idempotency import HEADER, IdempotencyStore, fingerprint, idempotent_response
from plaza.core.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit, decode_cursor, encode_cursor
from plaza.core.schemas import IdPath, Page, dump
from plaza.identity import Authenticator, Principal
from plaza.payments import schemas as s
from plaza.payments import views as v
from plaza.payments.interfaces import UserInfo
from plaza.payments.requests import Share
from plaza.payments.statements import KINDS, statement_csv
from plaza.payments.wallet import Payments

MONEY_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Step-up, a limit, a block or a review hold refused it"},
    404: {"description": "No such user or object"},
    409: {"description": "The same Idempotency-Key is still being processed"},
    422: {"description": "Bad input, insufficient funds, or a reused Idempotency-Key"},
}
Month = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


def build_router(
    payments: Payments, auth: Authenticator, idempotency: IdempotencyStore
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["payments"])
    Me = Annotated[Principal, Depends(auth.required)]
    Key = Annotated[str | None, Header(alias=HEADER, description="Required to move money.")]
    users = payments.ctx.users
    currency = payments.ctx.policy.currency
    step_up = payments.ctx.policy.step_up_threshold

    async def once(
        request: Request,
        me: Principal,
        key: str | None,
        body: BaseModel | None,
        handler: Callable[[], Awaitable[BaseModel]],
        *,
        required: bool = True,
        created: int = status.HTTP_201_CREATED,
    ) -> Response:
        """Run ``handler`` at most once per Idempotency-Key; answer with its result."""
        if key is None:
            if required:
                raise InvalidInput(HEADER, "this request moves money and needs the header")
            out = await handler()
            return Response(
                out.model_dump_json(), status_code=created, media_type="application/json"
            )

        async def run() -> tuple[int, Any]:
            return created, dump(await handler())

        params = body.model_dump(mode="json", by_alias=True) if body is not None else None
        code, payload, replayed = await idempotency.run(
            key,
            scope=f"payments:{me.user.id}",
            fingerprint=fingerprint(request.method, request.url.path, params),
            handler=run,
        )
        return idempotent_response(code, payload, replayed)

    def admin(me: Principal) -> None:
        if not me.user.is_admin:
            raise Forbidden("administrators only: this is a payments operations endpoint")

    # ---- wallet -------------------------------------------------------------------------

    @router.get("/wallet", response_model=s.WalletOut)
    async def wallet(me: Me) -> s.WalletOut:
        """Balance (settled money), available (what can be spent or cashed out now),
        money in flight through the bank rail, tier and limits."""
        summary = await payments.summary(me.user.id)
        return v.wallet_out(summary, currency, step_up)

    @router.get("/wallet/history", response_model=Page[s.HistoryLine])
    async def history(
        me: Me,
        kind: Annotated[Literal[tuple(KINDS)] | None, Query()] = None,  # type: ignore[valid-type]
        direction: Literal["in", "out"] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> Page[s.HistoryLine]:
        """Money that moved in or out of the wallet, newest first; filter by kind,
        direction and a [since, until) date range."""
        for name, value in (("query.since", since), ("query.until", until)):
            if value is not None and value.tzinfo is None:
                raise InvalidInput(name, "needs a timezone, e.g. 2026-12-01T00:00:00Z")
        lines, next_id = await payments.statements.history(
            me.user.id,
            kind=kind,
            direction=direction,
            since=since,
            until=until,
            limit=limit,
            before_id=decode_cursor(cursor),
        )
        return Page(
            data=[v.line_out(line) for line in lines],
            next_cursor=encode_cursor(next_id) if next_id is not None else None,
        )

    @router.get("/wallet/statement", response_model=s.StatementOut)
    async def statement(me: Me, month: Month) -> s.StatementOut:
        """The monthly statement (UTC months): opening and closing balance and lines."""
        found = await payments.statements.statement(me.user.id, month)
        return v.statement_out(found, currency)

    @router.get(
        "/wallet/statement.csv",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def statement_download(me: Me, month: Month) -> Response:
        """The monthly statement as CSV (cells that a spreadsheet would run as a formula
        are prefixed with an apostrophe)."""
        found = await payments.statements.statement(me.user.id, month)
        return Response(
            statement_csv(found, currency),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="plaza-wallet-{month}.csv"'},
        )

    @router.post(
        "/wallet/deposits",
        status_code=status.HTTP_201_CREATED,
        response_model=s.RailTransferOut,
        responses=MONEY_RESPONSES,
    )
    async def deposit(body: s.DepositCreate, me: Me, request: Request, key: Key = None) -> Response:
        """Top up from the bank through the configured rail. The deposit is pending (not
        spendable) until the rail settles it."""

        async def work() -> BaseModel:
            return v.rail_out(await payments.rail.deposit(me.user.id, body.amount, body.note))

        return await once(request, me, key, body, work)

    @router.post(
        "/wallet/cashouts",
        status_code=status.HTTP_201_CREATED,
        response_model=s.RailTransferOut,
        responses=MONEY_RESPONSES,
    )
    async def cashout(body: s.CashoutCreate, me: Me, request: Request, key: Key = None) -> Response:
        """Send money to the bank: standard (free, settles after the rail's delay) or
        instant (a fee). Always needs a recent step-up (POST /api/v1/me/step-up)."""

        async def work() -> BaseModel:
            row = await payments.rail.cashout(me, body.amount, body.speed, body.note)
            return v.rail_out(row)

        return await once(request, me, key, body, work)

    @router.get("/wallet/transfers", response_model=Page[s.RailTransferOut])
    async def transfers(
        me: Me, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
    ) -> Page[s.RailTransferOut]:
        """This user's deposits and cash-outs, newest first, with their rail status."""
        rows = await payments.rail.list_for(
            me.user.id, limit=limit + 1, before_id=decode_cursor(cursor)
        )
        page = rows[:limit]
        return Page(
            data=[v.rail_out(r) for r in page],
            next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None,
        )

    @router.get("/wallet/transfers/{transfer_id}", response_model=s.RailTransferOut)
    async def transfer(transfer_id: IdPath, me: Me) -> s.RailTransferOut:
        return v.rail_out(await payments.rail.get(me.user.id, transfer_id))

    @router.get("/wallet/verification", response_model=s.VerificationOut)
    async def verification(me: Me) -> s.VerificationOut:
        """The wallet tier and where verification stands (never the details)."""
        return v.verification_out(await payments.verification.status(me.user.id))

    @router.post("/wallet/verification", response_model=s.VerificationOut)
    async def verify(body: s.VerificationSubmit, me: Me) -> s.VerificationOut:
        """Submit legal name, date of birth and address for the verified tier. Stored
        encrypted; the sandbox verifies at once (or leaves it to an administrator)."""
        return v.verification_out(await payments.verification.submit(me.user.id, body))

    # ---- payments -------------------------------------------------------------------------

    @router.post(
        "/payments",
        status_code=status.HTTP_201_CREATED,
        response_model=s.PaymentOut,
        responses=MONEY_RESPONSES,
    )
    async def pay(body: s.PaymentCreate, me: Me, request: Request, key: Key = None) -> Response:
        """Pay another user from the wallet. Private to payer and payee."""

        async def work() -> BaseModel:
            payment = await payments.p2p.send(
                me,
                to=body.to,
                amount=body.amount,
                note=body.note,
                conversation_id=body.conversation_id,
            )
            return (
                await v.payments_out(
                    users, [await payments.p2p.get(me.user.id, payment.id)], me.user.id
                )
            )[0]

        return await once(request, me, key, body, work)

    @router.get("/payments", response_model=Page[s.PaymentOut])
    async def list_payments(
        me: Me,
        direction: Literal["in", "out"] | None = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> Page[s.PaymentOut]:
        """Payments and refunds this user sent or received, newest first."""
        views = await payments.p2p.list_for(
            me.user.id, direction=direction, limit=limit + 1, before_id=decode_cursor(cursor)
        )
        page = views[:limit]
        return Page(
            data=await v.payments_out(users, page, me.user.id),
            next_cursor=encode_cursor(page[-1].payment.id) if len(views) > limit else None,
        )

    @router.get("/payments/{payment_id}", response_model=s.PaymentOut)
    async def get_payment(payment_id: IdPath, me: Me) -> s.PaymentOut:
        view = await payments.p2p.get(me.user.id, payment_id)
        return (await v.payments_out(users, [view], me.user.id))[0]

    @router.post(
        "/payments/{payment_id}/refunds",
        status_code=status.HTTP_201_CREATED,
        response_model=s.PaymentOut,
        responses=MONEY_RESPONSES,
    )
    async def refund(
        payment_id: IdPath, body: s.RefundCreate, me: Me, request: Request, key: Key = None
    ) -> Response:
        """The payee refunds all (no amount) or part of a payment; the refund is itself a
        payment (kind ``refund``) linked to the original by ``refund_of``."""

        async def work() -> BaseModel:
            made = await payments.p2p.refund(me, payment_id, amount=body.amount, note=body.note)
            view = await payments.p2p.get(me.user.id, made.id)
            return (await v.payments_out(users, [view], me.user.id))[0]

        return await once(request, me, key, body, work)

    @router.post(
        "/payments/{payment_id}/dispute",
        status_code=status.HTTP_201_CREATED,
        response_model=s.DisputeOut,
    )
    async def dispute(payment_id: IdPath, body: s.DisputeCreate, me: Me) -> s.DisputeOut:
        """The payer disputes a payment; an administrator decides."""
        opened = await payments.disputes.open(me, payment_id, body.reason)
        d, p = await payments.disputes.get(opened.id)
        return v.dispute_out(d, p, await v.names_for(users, [d.payer_id, d.payee_id]))

    @router.get("/payments/{payment_id}/dispute", response_model=s.DisputeOut)
    async def get_dispute(payment_id: IdPath, me: Me) -> s.DisputeOut:
        found = await payments.disputes.for_payment(me.user.id, payment_id)
        d, p = await payments.disputes.get(found.id)
        return v.dispute_out(d, p, await v.names_for(users, [d.payer_id, d.payee_id]))

    # ---- requests and splits -----------------------------------------------------------------

    @router.post(
        "/payment-requests",
        status_code=status.HTTP_201_CREATED,
        response_model=s.RequestOut,
        responses=MONEY_RESPONSES,
    )
    async def ask(body: s.RequestCreate, me: Me, request: Request, key: Key = None) -> Response:
        """Ask a user for money; they accept (pay) or decline."""

        async def work() -> BaseModel:
            made = await payments.requests.create(
                me, from_=body.from_, amount=body.amount, note=body.note
            )
            return (await v.requests_out(users, [made], me.user.id))[0]

        return await once(request, me, key, body, work, required=False)

    @router.get("/payment-requests", response_model=Page[s.RequestOut])
    async def list_requests(
        me: Me,
        direction: Literal["incoming", "outgoing"] | None = None,
        status_: Annotated[
            Literal["pending", "paid", "declined", "cancelled"] | None, Query(alias="status")
        ] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> Page[s.RequestOut]:
        """Requests to this user (incoming) and from them (outgoing), newest first."""
        rows = await payments.requests.list_for(
            me.user.id,
            direction=direction,
            status=status_,
            limit=limit + 1,
            before_id=decode_cursor(cursor),
        )
        page = rows[:limit]
        return Page(
            data=await v.requests_out(users, page, me.user.id),
            next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None,
        )

    @router.get("/payment-requests/{request_id}", response_model=s.RequestOut)
    async def get_request(request_id: IdPath, me: Me) -> s.RequestOut:
        found = await payments.requests.get(me.user.id, request_id)
        return (await v.requests_out(users, [found], me.user.id))[0]

    @router.post(
        "/payment-requests/{request_id}/accept",
        status_code=status.HTTP_201_CREATED,
        response_model=s.PaymentOut,
        responses=MONEY_RESPONSES,
    )
    async def accept(request_id: IdPath, me: Me, request: Request, key: Key = None) -> Response:
        """Pay a request addressed to you; answers with the payment."""

        async def work() -> BaseModel:
            made = await payments.requests.accept(me, request_id)
            view = await payments.p2p.get(me.user.id, made.id)
            return (await v.payments_out(users, [view], me.user.id))[0]

        return await once(request, me, key, None, work)

    async def _request_action(me: Principal, action: Any, request_id: int) -> s.RequestOut:
        found = await action(me, request_id)
        return (await v.requests_out(users, [found], me.user.id))[0]

    @router.post("/payment-requests/{request_id}/decline", response_model=s.RequestOut)
    async def decline(request_id: IdPath, me: Me) -> s.RequestOut:
        return await _request_action(me, payments.requests.decline, request_id)

    @router.post("/payment-requests/{request_id}/cancel", response_model=s.RequestOut)
    async def cancel(request_id: IdPath, me: Me) -> s.RequestOut:
        return await _request_action(me, payments.requests.cancel, request_id)

    @router.post(
        "/payment-requests/{request_id}/remind",
        response_model=s.RequestOut,
        responses={429: {"description": "Reminded recently"}},
    )
    async def remind(request_id: IdPath, me: Me) -> s.RequestOut:
        """Remind the payer; at most once per reminder interval (a day by default)."""
        return await _request_action(me, payments.requests.remind, request_id)

    @router.post(
        "/payment-splits",
        status_code=status.HTTP_201_CREATED,
        response_model=s.SplitOut,
        responses=MONEY_RESPONSES,
    )
    async def split(body: s.SplitCreate, me: Me, request: Request, key: Key = None) -> Response:
        """Split a bill: shares add up to the total exactly (remainder cents go to the
        first participants in the order given); each other person gets a request."""

        async def work() -> BaseModel:
            made, shares = await payments.requests.split(
                me,
                participants=body.participants,
                amount=body.amount,
                note=body.note,
                include_self=body.include_self,
            )
            return v.split_out(
                made.id, made.amount, made.currency, made.note, made.created_at, shares
            )

        return await once(request, me, key, body, work, required=False)

    @router.get("/payment-splits/{split_id}", response_model=s.SplitOut)
    async def get_split(split_id: IdPath, me: Me) -> s.SplitOut:
        """A split as its requester sees it (each payer sees their own request)."""
        found, requests = await payments.requests.get_split(me.user.id, split_id)
        names = await v.names_for(users, [r.payer_id for r in requests] + [me.user.id])
        shares = [
            Share(names.get(r.payer_id) or UserInfo(r.payer_id, ""), r.amount, r) for r in requests
        ]
        own = found.amount - sum(r.amount for r in requests)
        if own > 0:
            shares.append(Share(UserInfo(me.user.id, me.user.username), own, None))
        return v.split_out(
            found.id, found.amount, found.currency, found.note, found.created_at, shares
        )

    # ---- administration --------------------------------------------------------------------

    @router.get("/admin/payments/reconciliation", response_model=s.ReconciliationOut)
    async def reconciliation(me: Me) -> s.ReconciliationOut:
        """Our rail transfers against the rail's records and the ledger's clearing account."""
        admin(me)
        report = await payments.reconciliation()
        return s.ReconciliationOut(
            rail=report.rail,
            checked=report.checked,
            matched=report.matched,
            in_flight=report.in_flight,
            ledger_clearing=v.signed(report.ledger_clearing, currency),
            rail_net=v.signed(report.rail_net, currency),
            balanced=report.balanced,
            mismatches=[
                s.ReconciliationItem(
                    reference=m.reference,
                    direction=m.direction,
                    amount=v.money(m.amount, currency),
                    ours=m.ours,
                    rail=m.rail,
                    problem=m.problem,
                )
                for m in report.mismatches
            ],
        )

    @router.get("/admin/payments/disputes", response_model=Page[s.DisputeOut])
    async def disputes(
        me: Me,
        status_: Annotated[
            Literal["open", "resolving", "won", "lost"] | None, Query(alias="status")
        ] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> Page[s.DisputeOut]:
        admin(me)
        rows = await payments.disputes.list_for(
            status=status_, limit=limit + 1, before_id=decode_cursor(cursor)
        )
        page = rows[:limit]
        names = await v.names_for(
            users, [d.payer_id for d, _ in page] + [d.payee_id for d, _ in page]
        )
        return Page(
            data=[v.dispute_out(d, p, names) for d, p in page],
            next_cursor=encode_cursor(page[-1][0].id) if len(rows) > limit else None,
        )

    @router.post("/admin/payments/disputes/{dispute_id}/resolve", response_model=s.DisputeOut)
    async def resolve(
        dispute_id: IdPath, body: s.DisputeResolve, me: Me, request: Request, key: Key = None
    ) -> Response:
        """Decide a dispute: for the payer (a correcting transfer through the disputes
        account) or for the payee (nothing moves)."""
        admin(me)

        async def work() -> BaseModel:
            await payments.disputes.resolve(
                me.user.id, dispute_id, for_payer=body.outcome == "payer", note=body.note
            )
            d, p = await payments.disputes.get(dispute_id)
            return v.dispute_out(d, p, await v.names_for(users, [d.payer_id, d.payee_id]))

        return await once(request, me, key, body, work, created=status.HTTP_200_OK)

    @router.get("/admin/payments/flags", response_model=Page[s.FlagOut])
    async def flags(
        me: Me,
        status_: Annotated[Literal["open", "cleared"] | None, Query(alias="status")] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> Page[s.FlagOut]:
        """Accounts held for review (structuring), newest first."""
        admin(me)
        rows = await payments.limits.flags(
            status=status_, limit=limit + 1, before_id=decode_cursor(cursor)
        )
        page = rows[:limit]
        names = await v.names_for(users, [f.user_id for f in page])
        return Page(
            data=[v.flag_out(f, names) for f in page],
            next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None,
        )

    @router.post("/admin/payments/flags/{flag_id}/clear", response_model=s.FlagOut)
    async def clear_flag(flag_id: IdPath, me: Me) -> s.FlagOut:
        admin(me)
        flag = await payments.limits.clear_flag(flag_id, me.user.id)
        return v.flag_out(flag, await v.names_for(users, [flag.user_id]))

    @router.get("/admin/payments/verifications", response_model=Page[s.PendingVerificationOut])
    async def pending_verifications(
        me: Me, limit: Limit = DEFAULT_PAGE_SIZE
    ) -> Page[s.PendingVerificationOut]:
        """Submissions waiting for a decision, oldest first (when auto-approval is off)."""
        admin(me)
        rows = await payments.verification.pending(limit=limit)
        names = await v.names_for(users, [r.user_id for r in rows])
        return Page(
            data=[
                s.PendingVerificationOut(
                    user=v.ref(r.user_id, names), verification=v.verification_out(r)
                )
                for r in rows
            ]
        )

    @router.post("/admin/payments/verifications/{user_id}", response_model=s.VerificationOut)
    async def decide(user_id: IdPath, body: s.VerificationDecision, me: Me) -> s.VerificationOut:
        """Approve or reject a pending verification (when the sandbox does not auto-approve)."""
        admin(me)
        return v.verification_out(await payments.verification.decide(user_id, approve=body.approve))

    @router.delete("/admin/payments/restrictions/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def lift(user_id: IdPath, me: Me) -> Response:
        """Lift a wallet restriction (after a returned deposit's debt was settled)."""
        admin(me)
        await payments.limits.lift_restriction(user_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
