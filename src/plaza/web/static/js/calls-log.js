// The call log (/calls): every call, newest first, or only the missed ones; each row
// says who, which way, audio or video, how it went (a duration, or missed, declined,
// …), when, and offers "Call back". A call that ends while the page is open shows up.

import { api } from "./api.js";
import { h, time } from "./dom.js";
import { busy, showError } from "./forms.js";
import { fillCallButtons } from "./calls-buttons.js";
import { formatDuration, spokenDuration } from "./calls-common.js";
import { badgeFor } from "./premium/badge.js";

const PAGE_SIZE = 30;

const section = document.getElementById("call-log-section");
const list = document.getElementById("call-log");
const empty = document.getElementById("call-log-empty");
const more = document.getElementById("call-log-more");
const errorRegion = document.getElementById("call-log-error");
const missedOnly = section.dataset.tab === "missed";
let cursor = null;

/** How the call went, from this side: [short text, text for screen readers]. */
function outcome(call) {
  const outgoing = call.direction === "outgoing";
  if (call.missed) return ["Missed", "Missed"];
  switch (call.state) {
    case "ended":
      return [formatDuration(call.duration_seconds), spokenDuration(call.duration_seconds)];
    case "failed":
      return call.duration_seconds ? [`Dropped · ${formatDuration(call.duration_seconds)}`, `Dropped after ${spokenDuration(call.duration_seconds)}`] : ["Could not connect", "Could not connect"];
    case "rejected":
      return outgoing ? ["Declined", "Declined"] : ["You declined", "You declined"];
    case "busy":
      return ["Busy", "Busy"];
    case "missed":
      return ["No answer", "No answer"];
    case "cancelled":
      return ["Cancelled", "Cancelled"];
    case "ringing":
      return ["Ringing", "Ringing"];
    case "accepted":
      return ["In progress", "In progress"];
    default:
      return [call.state, call.state];
  }
}

function row(call) {
  const outgoing = call.direction === "outgoing";
  const other = outgoing ? call.callee : call.caller;
  const media = call.media === "video" ? "video" : "audio";
  const [short, spoken] = outcome(call);
  const who = other.username
    ? h("a", { href: `/@${encodeURIComponent(other.username)}` }, other.display_name || `@${other.username}`, badgeFor(other), other.display_name ? h("span", { class: "muted" }, ` @${other.username}`) : null)
    : h("span", { class: "muted" }, "Deleted account");
  const direction = `${outgoing ? "Outgoing" : "Incoming"} ${media} call`;
  const back = other.username ? h("span", { id: `call-back-${call.id}`, "data-call-username": other.username, "data-call-name": other.display_name || "", "data-call-media": media, "data-call-label": "Call back" }) : null;
  const li = h(
    "li",
    { class: `call-row${call.missed ? " call-row--missed" : ""}`, "data-call-id": call.id, "data-state": call.state },
    h("span", { class: "call-row__icon", "aria-hidden": "true" }, outgoing ? "↗" : "↙"),
    h(
      "div",
      { class: "call-row__main" },
      h("span", { class: "call-row__who" }, who),
      h(
        "span",
        { class: "call-row__meta" },
        `${direction} · `,
        h("span", { class: "call-row__outcome" }, short, spoken !== short ? h("span", { class: "call-sr" }, ` (${spoken})`) : null),
        " · ",
        time(call.created_at),
      ),
    ),
    back,
  );
  if (back) fillCallButtons(back);
  return li;
}

async function load(reset) {
  if (reset) cursor = null;
  list.setAttribute("aria-busy", "true");
  try {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (missedOnly) query.set("missed", "true");
    if (cursor) query.set("cursor", cursor);
    const page = await api.get(`/api/v1/calls?${query}`);
    const rows = page.data.map(row);
    if (reset) list.replaceChildren(...rows);
    else list.append(...rows);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    empty.hidden = list.children.length > 0;
    errorRegion.textContent = "";
  } catch (error) {
    showError(errorRegion, error);
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

let refresh = null;
function refreshSoon() {
  // A call that just ended (here or on another device): show it, once, shortly after.
  clearTimeout(refresh);
  refresh = setTimeout(() => load(true), 300);
}

more.addEventListener("click", () => busy(more, () => load(false)));
document.addEventListener("plaza:stream", (event) => {
  if (event.detail?.type === "call.ended") refreshSoon();
});
document.addEventListener("plaza:resync", refreshSoon);
load(true);
