// Call buttons. Any element with `data-call-username` (and optionally
// `data-call-conversation`, the direct conversation the call starts from, and
// `data-call-media` to offer one kind only) gets "Audio call" and "Video call"
// buttons and a place to say why a call is refused; calls.js starts the call when one
// is clicked. Pages add the attribute (the profile template does; the call log and the
// conversation view add it from their scripts) and call fillCallButtons().
//
// Before anyone clicks, the buttons ask the server whether the consent rules would let
// this call through (GET /api/v1/calls/eligibility, a dry run that rings nobody and
// costs no call attempt). When they would not, the buttons show as disabled
// (`aria-disabled`, so that they stay focusable and read their reason) with the same
// sentence a refused click shows, by the buttons and named by `aria-describedby`.
// Pressing one anyway asks again: the rules may have changed since (a DM arrived,
// Premium was granted).

import { ApiError, api } from "./api.js";
import { h } from "./dom.js";
import { refusalRule, refusalSentence } from "./calls-common.js";

const LABELS = { audio: "Audio call", video: "Video call" };
// One answer per username for this long: a page with many buttons for one person (the
// call log) asks once, and a stale answer does not outlive a short visit.
const CACHE_MS = 30_000;
const answers = new Map(); // username -> {at, promise}
let boxes = 0;

/** Give every unfilled `[data-call-username]` element under `root` its buttons. */
export function fillCallButtons(root = document) {
  const found = root.matches?.("[data-call-username]") ? [root] : [...root.querySelectorAll("[data-call-username]")];
  for (const box of found) {
    if (box.dataset.callReady || !box.dataset.callUsername) continue;
    box.dataset.callReady = "true";
    box.classList.add("call-actions");
    if (!box.id) box.id = `call-box-${++boxes}`;
    const slotId = `${box.id}-refusal`;
    const name = box.dataset.callUsername;
    const kinds = box.dataset.callMedia ? [box.dataset.callMedia] : ["audio", "video"];
    for (const media of kinds) {
      const text = box.dataset.callLabel || LABELS[media];
      box.append(
        h(
          "button",
          {
            type: "button",
            class: "button button--secondary button--small call-actions__button",
            "data-call-start": media,
            "aria-label": box.dataset.callLabel ? `${text}: ${LABELS[media].toLowerCase()} to @${name}` : `${text} with @${name}`,
            "aria-describedby": slotId,
          },
          text,
        ),
      );
    }
    // No live role until a click is refused: reasons drawn with the page are read with
    // their buttons, not announced one by one.
    box.append(h("p", { class: "call-refusal", id: slotId, hidden: true }));
    checkBox(box);
  }
}

/**
 * Show (or with "" clear) why a call from `box` was refused. `alert` (a click was
 * refused) also announces it.
 */
export function showRefusal(box, text, rule = "", { alert = true } = {}) {
  const slot = box?.querySelector(".call-refusal");
  if (!slot) return false;
  if (alert && text) {
    slot.setAttribute("role", "alert");
    slot.textContent = ""; // the same sentence again is still news when announced
  } else slot.removeAttribute("role");
  slot.textContent = text;
  // Premium is the one rule the caller can change: say where.
  if (text && rule === "premium_required") slot.append(" ", h("a", { href: "/premium" }, "Get Premium"));
  slot.hidden = !text;
  if (rule) slot.dataset.rule = rule;
  else delete slot.dataset.rule;
  return true;
}

/**
 * What the rules say about calling `username` now: null when they allow it, else
 * `{text, rule}`, the sentence and rule a refused call would show. Unknown answers
 * (offline, rate limited) count as allowed: the click then says what happened.
 */
export function eligibility(username, { fresh = false } = {}) {
  const hit = answers.get(username);
  if (!fresh && hit && Date.now() - hit.at < CACHE_MS) return hit.promise;
  const promise = ask(username);
  answers.set(username, { at: Date.now(), promise });
  return promise;
}

async function ask(username) {
  try {
    const found = await api.get(`/api/v1/calls/eligibility?callee=${encodeURIComponent(username)}`);
    if (found?.allowed !== false) return null;
    // The same sentence as for a refused call: its 403 carries this detail.
    const refused = new ApiError(403, { detail: found.detail || found.rule });
    return { text: refusalSentence(refused, username), rule: refusalRule(refused) };
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      return { text: refusalSentence(error, username), rule: "" };
    }
    answers.delete(username);
    return null;
  }
}

/** Draw the buttons of `box` as the rules say; resolves to the refusal or null. */
export async function checkBox(box, { fresh = false } = {}) {
  const refusal = await eligibility(box.dataset.callUsername, { fresh });
  setRefused(box, refusal);
  return refusal;
}

/** Ask again for the refused boxes of `username` (something changed: they wrote). */
export function recheckCallButtons(username) {
  const refused = [...document.querySelectorAll(".call-actions--refused")].filter((box) => box.dataset.callUsername === username);
  if (!username || !refused.length) return;
  answers.delete(username);
  for (const box of refused) checkBox(box);
}

/** Ask again for every box: the caller's own standing changed (Premium began or ended). */
export function recheckAllCallButtons() {
  answers.clear();
  for (const box of document.querySelectorAll(".call-actions[data-call-ready]")) checkBox(box);
}

function setRefused(box, refusal) {
  const wasRefused = box.classList.contains("call-actions--refused");
  box.classList.toggle("call-actions--refused", Boolean(refusal));
  for (const button of box.querySelectorAll("[data-call-start]")) {
    if (refusal) button.setAttribute("aria-disabled", "true");
    else button.removeAttribute("aria-disabled");
  }
  if (refusal) showRefusal(box, refusal.text, refusal.rule, { alert: false });
  else if (wasRefused) showRefusal(box, "");
}
