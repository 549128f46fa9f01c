"""Premium: the $8 subscription billed from the wallet, complimentary grants, and the
entitlements both bring.

Other domains use only what this module exports, and ask ``Entitlements`` rather than
reading grants or subscriptions.
"""

from plaza.premium.api import build_router
from plaza.premium.billing import (
    AlreadySubscribed,
    Billing,
    InsufficientFunds,
    Overview,
    Receipt,
    RenewalReport,
    SubscriptionView,
)
from plaza.premium.charging import PREMIUM_CODE, REVENUE_ACCOUNT, BillingPolicy, Charger
from plaza.premium.entitlements import PREMIUM, Entitlement, Entitlements, Grant
from plaza.premium.events import SubscriptionChanged
from plaza.premium.interfaces import Notifier, Usernames
from plaza.premium.plans import Plan, Plans, add_months, period_bounds

__all__ = [
    "PREMIUM",
    "PREMIUM_CODE",
    "REVENUE_ACCOUNT",
    "AlreadySubscribed",
    "Billing",
    "BillingPolicy",
    "Charger",
    "Entitlement",
    "Entitlements",
    "Grant",
    "InsufficientFunds",
    "Notifier",
    "Overview",
    "Plan",
    "Plans",
    "Receipt",
    "RenewalReport",
    "SubscriptionChanged",
    "SubscriptionView",
    "Usernames",
    "add_months",
    "build_router",
    "period_bounds",
]
