"""Premium pages: /premium (the plans, or the subscriber's own subscription with its
receipts), a printable receipt (/premium/receipts/{id}) and the operators' numbers
(/admin/premium).

/premium draws the plans here; its ES module (static/js/premium/premium.js) reads the
subscription, the wallet and the receipts from the JSON API, runs the actions
(subscribe, cancel, resume, pay now) and follows ``premium.updated`` on the page's
stream. The receipt is rendered here, to print. The admin page is a shell for its
module, which reads ``GET /api/v1/admin/premium``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import Response

from plaza.core.errors import NotFound
from plaza.identity import Principal
from plaza.premium import Billing
from plaza.web.site import NavItem, Site

# What Premium brings, in the order the page lists it: (title, explanation).
BENEFITS = (
    ("The verified badge", "Beside your name on your profile, posts, replies and messages."),
    ("Calls", "Place audio and video calls to people who have messaged you."),
    ("Long posts", "Write posts of up to 25,000 characters."),
    ("Edit your posts", "Fix a post within an hour of posting it; earlier versions stay visible."),
    (
        "Priority in message requests",
        "Your messages come first in other people\N{RIGHT SINGLE QUOTATION MARK}s requests.",
    ),
)
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money(amount: int, currency: str) -> str:
    """Minor units as the page shows them: 800 USD -> "$8.00" (integer arithmetic)."""
    sign = "-" if amount < 0 else ""
    units, cents = divmod(abs(amount), 100)
    symbol = SYMBOLS.get(currency)
    if symbol:
        return f"{sign}{symbol}{units:,}.{cents:02d}"
    return f"{sign}{units:,}.{cents:02d} {currency}"


@dataclass(frozen=True)
class PlanCard:
    id: str
    name: str
    amount: int  # minor units of the wallet currency
    price: str
    per: str  # "a month" / "a year"
    monthly: str  # the price per month, for the yearly plan
    discount_percent: int
    months: int
    action: str  # the Subscribe button's text


def mount_premium(app: FastAPI, site: Site, billing: Billing) -> None:
    """Add /premium, its receipts, /admin/premium, and their navigation links."""
    site.add_nav(NavItem("Premium", "/premium", order=45))
    site.add_nav(NavItem("Premium admin", "/admin/premium", order=96, admin_only=True))

    def not_found(request: Request, principal: Principal | None) -> Response:
        return site.render(
            request, "not_found.html", principal, status_code=404, title="Page not found"
        )

    def plan_cards() -> list[PlanCard]:
        monthly = billing.plans.monthly
        return [
            PlanCard(
                id=plan.id,
                name=plan.name,
                amount=plan.price,
                price=money(plan.price, plan.currency),
                per="a year" if plan.interval == "year" else "a month",
                monthly=money(plan.monthly_price, plan.currency),
                discount_percent=plan.discount_percent(monthly),
                months=plan.months,
                action="Subscribe yearly" if plan.interval == "year" else "Subscribe monthly",
            )
            for plan in billing.plans.all()
        ]

    @app.get("/premium", include_in_schema=False, response_model=None)
    async def premium(request: Request) -> Response:
        principal = await site.principal(request)
        if principal is None:
            return site.login_redirect(request)
        current = await billing.current(principal.user.id)
        # The page opens on the right view; its module keeps it current from then on.
        live = current is not None and current.status != "expired"
        return site.render(
            request,
            "premium/premium.html",
            principal,
            title="Premium",
            plans=plan_cards(),
            benefits=BENEFITS,
            live=live,
            currency=billing.plans.monthly.currency,
        )

    @app.get("/premium/receipts/{receipt_id}", include_in_schema=False, response_model=None)
    async def receipt(request: Request, receipt_id: str) -> Response:
        principal = await site.principal(request)
        if principal is None:
            return site.login_redirect(request)
        # Someone else's receipt, like one that does not exist, is a plain 404.
        if not receipt_id.isdigit() or len(receipt_id) > 19:
            return not_found(request, principal)
        try:
            found = await billing.receipt(principal.user.id, int(receipt_id))
        except NotFound:
            return not_found(request, principal)
        number = found.number
        return site.render(
            request,
            "premium/receipt.html",
            principal,
            title=f"Receipt {number}",
            receipt=found,
            number=number,
            amount=money(found.amount, found.currency),
        )

    @app.get("/admin/premium", include_in_schema=False, response_model=None)
    async def admin(request: Request) -> Response:
        principal = await site.principal(request)
        if principal is None:
            return site.login_redirect(request)
        if not principal.user.is_admin:
            # Like the moderation page: no hint that the page exists.
            return not_found(request, principal)
        return site.render(request, "premium/admin.html", principal, title="Premium admin")
