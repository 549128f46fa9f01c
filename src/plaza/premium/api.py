"""Premium HTTP API: plans, the subscription and its receipts, the operator's overview,
and what the signed-in user is entitled to."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response, status

from plaza.core.errors import Forbidden, InvalidInput, NotFound
from plaza.core.idempotency import HEADER, IdempotencyStore, fingerprint, idempotent_response
from plaza.core.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit, decode_cursor, encode_cursor
from plaza.core.schemas import IdPath, Page, dump
from plaza.identity import Authenticator, Principal
from plaza.premium.billing import Billing, Overview, Receipt, SubscriptionView
from plaza.premium.entitlements import PREMIUM, Entitlements
from plaza.premium.interfaces import Usernames
from plaza.premium.plans import Plan
from plaza.premium.schemas import (
    EntitlementsOut,
    MoneyOut,
    OverviewOut,
    PastDueAccountOut,
    PlanOut,
    ReceiptOut,
    SubscribeIn,
    SubscriptionOut,
)


def build_router(
    entitlements: Entitlements,
    auth: Authenticator,
    billing: Billing,
    idempotency: IdempotencyStore,
    usernames: Usernames,
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["premium"])
    Me = Annotated[Principal, Depends(auth.required)]
    Key = Annotated[str | None, Header(alias=HEADER, description="Required: it charges.")]
    monthly = billing.plans.monthly

    def plan_out(plan: Plan) -> PlanOut:
        return PlanOut(
            id=plan.id,
            name=plan.name,
            interval="year" if plan.interval == "year" else "month",
            months=plan.months,
            price=MoneyOut(amount=plan.price, currency=plan.currency),
            monthly_price=MoneyOut(amount=plan.monthly_price, currency=plan.currency),
            discount_percent=plan.discount_percent(monthly),
        )

    def subscription_out(view: SubscriptionView) -> SubscriptionOut:
        currency = view.plan.currency
        return SubscriptionOut.model_validate(
            {
                **view.__dict__,
                "plan": plan_out(view.plan),
                "next_charge": (
                    MoneyOut(amount=view.next_charge, currency=currency)
                    if view.next_charge is not None
                    else None
                ),
            }
        )

    def receipt_out(receipt: Receipt) -> ReceiptOut:
        return ReceiptOut(
            id=receipt.id,
            number=receipt.number,
            subscription_id=receipt.subscription_id,
            plan=plan_out(receipt.plan),
            period_start=receipt.period_start,
            period_end=receipt.period_end,
            amount=MoneyOut(amount=receipt.amount, currency=receipt.currency),
            paid_at=receipt.paid_at,
            transfer_id=receipt.transfer_id,
        )

    async def overview_out(found: Overview) -> OverviewOut:
        names = await usernames.usernames({a.user_id for a in found.past_due_accounts})
        return OverviewOut(
            active=found.active,
            cancelling=found.cancelling,
            past_due=found.past_due,
            mrr=MoneyOut(amount=found.mrr, currency=found.currency),
            churned_30d=found.churned_30d,
            churn_rate_30d=found.churn_rate_30d,
            past_due_accounts=[
                PastDueAccountOut(
                    user_id=a.user_id,
                    username=names.get(a.user_id),
                    plan=a.plan,
                    past_due_since=a.past_due_since,
                    grace_ends_at=a.grace_ends_at,
                    attempts=a.attempts,
                )
                for a in found.past_due_accounts
            ],
        )

    @router.get("/premium/plans", response_model=list[PlanOut])
    async def plans() -> list[PlanOut]:
        """The plans on offer, with their prices and the yearly discount."""
        return [plan_out(plan) for plan in billing.plans.all()]

    @router.get("/premium/subscription", response_model=SubscriptionOut)
    async def subscription(me: Me) -> SubscriptionOut:
        """The live subscription, else the latest ended one; 404 if there never was one."""
        found = await billing.current(me.user.id)
        if found is None:
            raise NotFound("You have never subscribed to Premium.")
        return subscription_out(found)

    @router.post(
        "/premium/subscription",
        status_code=status.HTTP_201_CREATED,
        response_model=SubscriptionOut,
        responses={
            409: {"description": "Already subscribed"},
            422: {"description": "Unknown plan, or insufficient funds"},
        },
    )
    async def subscribe(request: Request, body: SubscribeIn, me: Me, key: Key = None) -> Response:
        """Subscribe to ``plan``: the first period is charged from the wallet at once.
        Needs an ``Idempotency-Key``: a retry with the same key charges once."""
        if key is None:
            raise InvalidInput(HEADER, "subscribing charges the wallet and needs the header")

        async def run() -> tuple[int, Any]:
            view = await billing.subscribe(me.user.id, body.plan)
            return status.HTTP_201_CREATED, dump(subscription_out(view))

        code, payload, replayed = await idempotency.run(
            key,
            scope=f"premium:{me.user.id}",
            fingerprint=fingerprint(request.method, request.url.path, body.model_dump()),
            handler=run,
        )
        return idempotent_response(code, payload, replayed)

    @router.delete("/premium/subscription", response_model=SubscriptionOut)
    async def cancel(me: Me) -> SubscriptionOut:
        """Cancel at the end of the paid period; Premium lasts until then."""
        return subscription_out(await billing.cancel(me.user.id))

    @router.post("/premium/subscription/resume", response_model=SubscriptionOut)
    async def resume(me: Me) -> SubscriptionOut:
        """Keep renewing after all (before the period ends)."""
        return subscription_out(await billing.resume(me.user.id))

    @router.post("/premium/subscription/pay", response_model=SubscriptionOut)
    async def pay(me: Me) -> SubscriptionOut:
        """Pay a past-due subscription now, instead of waiting for the next retry."""
        return subscription_out(await billing.pay_now(me.user.id))

    @router.get("/premium/receipts", response_model=Page[ReceiptOut])
    async def receipts(
        me: Me, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
    ) -> Page[ReceiptOut]:
        """Paid Premium charges, newest first."""
        found, next_id = await billing.receipts(
            me.user.id, before=decode_cursor(cursor), limit=limit
        )
        return Page(
            data=[receipt_out(r) for r in found],
            next_cursor=encode_cursor(next_id) if next_id is not None else None,
        )

    @router.get("/premium/receipts/{receipt_id}", response_model=ReceiptOut)
    async def receipt(me: Me, receipt_id: IdPath) -> ReceiptOut:
        """One receipt of yours (404 for anyone else's)."""
        return receipt_out(await billing.receipt(me.user.id, receipt_id))

    @router.get(
        "/admin/premium",
        response_model=OverviewOut,
        responses={403: {"description": "Not an administrator"}},
    )
    async def admin_overview(me: Me) -> OverviewOut:
        """Subscribers, MRR, 30-day churn and past-due accounts (administrators)."""
        if not me.user.is_admin:
            raise Forbidden("administrators only")
        return await overview_out(await billing.overview())

    @router.get("/me/entitlements", response_model=EntitlementsOut)
    async def my_entitlements(me: Me) -> EntitlementsOut:
        """The entitlements the signed-in user holds now, and until when Premium runs
        (null: without a planned end, e.g. a subscription that renews)."""
        user_id = me.user.id
        now = entitlements.clock.now()
        premium = [
            g
            for g in await entitlements.grants(user_id)
            if g.entitlement == PREMIUM and g.active_at(now)
        ]
        current = await billing.current(user_id)
        renewing = (
            current is not None
            and current.status == "active"
            and not (current.cancel_at_period_end)
        )
        ends = [g.expires_at for g in premium]
        if current is not None and current.access_until is not None and current.access_until > now:
            ends.append(None if renewing else current.access_until)
        # Anything without an end outlasts every dated end.
        until = None if not ends or None in ends else max(e for e in ends if e is not None)
        return EntitlementsOut(
            premium=bool(ends),
            entitlements=sorted(e.value for e in await entitlements.of(user_id)),
            premium_until=until,
        )

    return router
