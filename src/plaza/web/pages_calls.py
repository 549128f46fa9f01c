"""Calls pages: /calls, the call log (both directions, missed calls marked, "Call back")
and the call settings (who may call you, relaying).

The call screens themselves (the incoming-call dialog and the in-call panel) are not a
page: static/js/calls.js runs on every signed-in page, follows the page's one live
stream and draws them over whatever page is open, so a call rings wherever the person
is. The call log is a shell; its module (static/js/calls-log.js) reads the calls API.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from plaza.calls import CallsPolicy
from plaza.web.site import NavItem, Site

TABS = (("all", "All calls"), ("missed", "Missed"))


def mount_calls(app: FastAPI, site: Site, policy: CallsPolicy) -> None:
    """Add /calls and the "Calls" navigation link. ``policy`` is the operator's: the
    settings explain the rules that apply on this server besides the person's own."""
    site.add_nav(NavItem("Calls", "/calls", order=17))

    @app.get("/calls", include_in_schema=False, response_model=None)
    async def call_log(request: Request, tab: str = "all") -> Response:
        principal = await site.principal(request)
        if principal is None:
            return site.login_redirect(request)
        tab = tab if tab in dict(TABS) else "all"
        return site.render(
            request,
            "calls/log.html",
            principal,
            title="Missed calls" if tab == "missed" else "Calls",
            tab=tab,
            tabs=TABS,
            require_premium=policy.require_premium,
            require_prior_dm=policy.require_prior_dm,
            relay=policy.has_turn,
        )
