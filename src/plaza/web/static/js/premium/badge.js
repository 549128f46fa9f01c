// The verified badge, one markup for every place a person's name appears (posts,
// profiles, people lists, conversations, notifications, the call screens). It comes
// with Premium (or an operator's grant); the API says so in `verified` on each person.

import { h } from "../dom.js";

/** The badge alone: a mark with its name for screen readers. */
export function verifiedBadge() {
  return h("span", { class: "verified", role: "img", "aria-label": "Verified account", title: "Verified account" }, "✓");
}

/** The badge when `person.verified`, else null (so it can sit in an h() child list). */
export function badgeFor(person) {
  return person?.verified ? verifiedBadge() : null;
}
