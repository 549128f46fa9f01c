// What the call screens, the call buttons and the call log share: durations, the
// sentences for a refused call and for how a call ended, and requests that must
// still go out while the page unloads.

import { ApiError, csrfToken } from "./api.js";

/** 75 -> "1:15"; 3725 -> "1:02:05". */
export function formatDuration(seconds) {
  const total = Math.max(0, Math.floor(Number(seconds) || 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** "1 minute 15 seconds", for screen readers (the visible text is 1:15). */
export function spokenDuration(seconds) {
  const total = Math.max(0, Math.floor(Number(seconds) || 0));
  const parts = [];
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h) parts.push(`${h} hour${h === 1 ? "" : "s"}`);
  if (m) parts.push(`${m} minute${m === 1 ? "" : "s"}`);
  if (s || !parts.length) parts.push(`${s} second${s === 1 ? "" : "s"}`);
  return parts.join(" ");
}

const POLICY_SENTENCES = {
  following: (who) => `${who} only takes calls from people they follow.`,
  dm_contacts: (who) => `${who} only takes calls from people they have exchanged direct messages with.`,
  verified: (who) => `${who} only takes calls from people they follow and from verified accounts.`,
  everyone: (who) => `${who}’s call settings don’t allow this call right now.`,
};

/**
 * A refused call (the API's problem, or a browser error) as a sentence a person can act
 * on. A 403 names the consent rule in `detail` (`premium_required`, `calls_enabled`,
 * `call_policy: following`, `prior_dm_required`).
 */
export function refusalSentence(error, username) {
  const who = username ? `@${username}` : "This person";
  if (error?.friendly) return error.message;
  if (!(error instanceof ApiError)) {
    console.error(error);
    return "The call could not be started. Please try again.";
  }
  const rule = String(error.detail || "");
  if (error.status === 403) {
    if (rule === "premium_required") {
      return "Making calls needs Plaza Premium. Anyone can receive calls, but only Premium members can place them.";
    }
    if (rule === "calls_enabled") return `${who} has turned calls off.`;
    if (rule.startsWith("call_policy")) {
      const choice = rule.split(":")[1]?.trim();
      return (POLICY_SENTENCES[choice] || POLICY_SENTENCES.everyone)(who);
    }
    if (rule === "prior_dm_required") {
      return `You can call ${who} once they have sent you a direct message: on Plaza, people message you first before you can call them.`;
    }
    return `You can’t call ${who} (${rule}).`;
  }
  if (error.status === 404) return `${who} can’t be called.`;
  if (error.status === 429) {
    const wait = error.retryAfter ? Math.ceil(error.retryAfter / 60) : null;
    return `You have made too many call attempts.${wait ? ` Try again in ${wait} minute${wait === 1 ? "" : "s"}.` : " Try again later."}`;
  }
  return error.detail;
}

/** The rule a refusal names (for `data-rule`), or "". */
export function refusalRule(error) {
  return error instanceof ApiError && error.status === 403 ? String(error.detail || "") : "";
}

/**
 * How a call ended, seen from one side: `ended` is a `call.ended` event or a call
 * object (`state`, `end_reason`/`reason`, `duration_seconds`).
 */
export function endedText(ended, { outgoing, peer }) {
  const who = peer ? `@${peer}` : "They";
  const reason = ended.reason ?? ended.end_reason ?? "";
  const seconds = ended.duration_seconds || 0;
  switch (ended.state) {
    case "ended":
      return `Call ended · ${formatDuration(seconds)}`;
    case "failed":
      return seconds ? `Call dropped · ${formatDuration(seconds)}` : "The call could not connect.";
    case "rejected":
      return outgoing ? `${who} declined the call.` : "You declined the call.";
    case "busy":
      return outgoing ? `${who} is on another call.` : `Missed call from ${who}.`;
    case "missed":
      return outgoing ? `${who} didn’t answer.` : `Missed call from ${who}.`;
    case "cancelled":
      if (reason === "glare") return "You were calling each other.";
      return outgoing ? "Call cancelled." : `Missed call from ${who}.`;
    default:
      return "Call ended.";
  }
}

/**
 * POST that survives the page unloading (hanging up when the tab closes). The JSON
 * API's CSRF rule applies as for any other request.
 */
export function postOnUnload(path, body = {}) {
  try {
    fetch(path, {
      method: "POST",
      keepalive: true,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body),
    }).catch(() => {});
  } catch {
    /* the server ends the call anyway when it stops ringing or a party hangs up */
  }
}

/** An Error whose message is already a sentence for the person (not a bug report). */
export function friendly(message) {
  const error = new Error(message);
  error.friendly = true;
  return error;
}
