"""The wallet page (/wallet): balance, history, sending and requesting money, splits,
top-ups and cash-outs through the sandbox rail, statements and the requests inbox.

The page is a shell; its ES modules call the JSON API. Until the real-time gateway
pushes payment events, the page refreshes what an action changed after each action
(and on the Refresh button): money sent to you shows up on the next refresh.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from plaza.payments import Payments
from plaza.web.site import NavItem, Site


def mount_payments(app: FastAPI, site: Site, payments: Payments) -> None:
    """Add /wallet and its navigation link."""
    site.add_nav(NavItem("Wallet", "/wallet", order=40))
    policy = payments.ctx.policy

    @app.get("/wallet", include_in_schema=False, response_model=None)
    async def wallet(request: Request) -> Response:
        principal = await site.principal(request)
        if principal is None:
            return site.login_redirect(request)
        month = payments.ctx.clock.now().strftime("%Y-%m")
        return site.render(
            request,
            "payments/wallet.html",
            principal,
            title="Wallet",
            currency=policy.currency,
            month=month,
            step_up_threshold=policy.step_up_threshold,
            instant_fee_bps=policy.instant_fee_bps,
            instant_fee_min=policy.instant_fee_min,
            instant_fee_max=policy.instant_fee_max,
        )
