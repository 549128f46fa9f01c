"""Premium: entitlements now (granted by operators), billing from the wallet later.

Other domains use only what this module exports, and ask ``Entitlements`` rather than
reading grants or subscriptions.
"""

from plaza.premium.api import build_router
from plaza.premium.entitlements import PREMIUM, Entitlement, Entitlements, Grant

__all__ = ["PREMIUM", "Entitlement", "Entitlements", "Grant", "build_router"]
