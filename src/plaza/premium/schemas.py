"""Premium API shapes."""

from __future__ import annotations

from plaza.core.schemas import Output, Timestamp


class EntitlementsOut(Output):
    premium: bool
    entitlements: list[str]
    premium_until: Timestamp | None
