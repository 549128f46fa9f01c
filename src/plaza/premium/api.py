"""Premium HTTP API: what the signed-in user is entitled to (billing comes later)."""

from typing import Annotated

from fastapi import APIRouter, Depends

from plaza.identity import Authenticator, Principal
from plaza.premium.entitlements import PREMIUM, Entitlements
from plaza.premium.schemas import EntitlementsOut


def build_router(entitlements: Entitlements, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["premium"])
    Me = Annotated[Principal, Depends(auth.required)]

    @router.get("/me/entitlements", response_model=EntitlementsOut)
    async def my_entitlements(me: Me) -> EntitlementsOut:
        """The entitlements the signed-in user holds now, and until when Premium runs."""
        user_id = me.user.id
        now = entitlements.clock.now()
        premium = [
            g
            for g in await entitlements.grants(user_id)
            if g.entitlement == PREMIUM and g.active_at(now)
        ]
        # An open-ended grant outlasts any dated one.
        until = (
            None
            if any(g.expires_at is None for g in premium)
            else max((g.expires_at for g in premium if g.expires_at), default=None)
        )
        return EntitlementsOut(
            premium=bool(premium),
            entitlements=sorted(e.value for e in await entitlements.of(user_id)),
            premium_until=until,
        )

    return router
