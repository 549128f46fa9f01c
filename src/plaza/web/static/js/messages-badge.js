// The unread badge on the "Messages" link of every signed-in page (layout.js loads this
// with the page's stream). It counts inbox conversations with unread messages plus
// waiting requests, refreshes when a messaging event arrives, and tells the inbox page
// the counts with a "plaza:messages-unread" event so it need not ask again.

import { api, csrfToken } from "./api.js";
import { h } from "./dom.js";

// Events that can change what is unread; reactions and edits (message.updated) cannot.
const RELEVANT = new Set(["message.created", "message.deleted", "receipt", "conversation.updated"]);
const DEBOUNCE_MS = 250;

let timer = null;
let running = null;
let again = false;

function paint(link, count) {
  let badge = link.querySelector(".nav-badge");
  if (!badge) {
    badge = h("span", { class: "nav-badge" });
    link.append(badge);
  }
  badge.hidden = count === 0;
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.setAttribute("aria-label", `${count} unread`);
}

/** Ask the server for the unread counts now and show them; resolves to the counts. */
export async function refreshMessagesBadge() {
  if (!csrfToken()) return null;
  if (running) {
    // One request at a time; an event that came meanwhile asks once more afterwards.
    again = true;
    return running;
  }
  running = (async () => {
    let counts = null;
    try {
      counts = await api.get("/api/v1/conversations/unread");
    } catch {
      return null;
    }
    const link = document.querySelector('.site-nav a[href="/messages"]');
    if (link) paint(link, (counts.inbox || 0) + (counts.requests || 0));
    document.dispatchEvent(new CustomEvent("plaza:messages-unread", { detail: counts }));
    return counts;
  })();
  try {
    return await running;
  } finally {
    running = null;
    if (again) {
      again = false;
      scheduleMessagesBadge();
    }
  }
}

/** Refresh soon: a burst of events costs one request. */
export function scheduleMessagesBadge(delay = DEBOUNCE_MS) {
  clearTimeout(timer);
  timer = setTimeout(refreshMessagesBadge, delay);
}

document.addEventListener("plaza:stream", (event) => {
  if (RELEVANT.has(event.detail?.type)) scheduleMessagesBadge();
});
document.addEventListener("plaza:resync", () => scheduleMessagesBadge(0));
scheduleMessagesBadge(0);
