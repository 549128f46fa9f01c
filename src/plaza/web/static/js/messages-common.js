// Shared by the messages pages: who is signed in, id order, names and previews.

import { endedText, formatDuration, spokenDuration } from "./calls-common.js";
import { h } from "./dom.js";
import { formatMoney } from "./payments/money.js";

export const API = "/api/v1/conversations";

/** The signed-in user's username (from the page head). */
export function viewerUsername() {
  return document.querySelector('meta[name="plaza-user"]')?.content || "";
}

/** Order of two snowflake ids (strings beyond 2^53): <0, 0 or >0. */
export function compareIds(a, b) {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function displayName(person) {
  return person.display_name || person.username;
}

/** The other members still in the conversation (or, if none, everyone else). */
export function others(conversation, me) {
  const rest = (conversation.members || []).filter((m) => m.username !== me);
  const current = rest.filter((m) => m.state === "active" || m.state === "request");
  return current.length ? current : rest;
}

/** "Alice", "Alice, Bob and Carol", or the group's name. */
export function conversationTitle(conversation, me) {
  if (conversation.name) return conversation.name;
  const names = others(conversation, me).map(displayName);
  if (!names.length) return "Just you";
  if (names.length <= 3) return names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
  return `${names.slice(0, 2).join(", ")} and ${names.length - 2} others`;
}

/**
 * A one-line summary of a message, as lists show it. `conversation` (when known) names
 * the people of system lines and the payee of a payment.
 */
export function preview(message, me, conversation = null) {
  if (!message) return "No messages yet";
  if (message.kind === "system") return systemText(message, conversation, me);
  if (message.kind === "call" && message.call) return callSummary(message, me, conversation).text;
  if (message.kind === "payment" && message.payment && !message.deleted) {
    return `${paymentSentence(message, conversation, me)} ${formatMoney(message.payment.amount)}`;
  }
  const who = message.sender?.username === me ? "You" : displayName(message.sender || { username: "?" });
  let body;
  if (message.deleted) body = "Message deleted";
  else if (message.text) body = message.text;
  else if (message.media?.length) body = message.media.some((m) => m.kind === "video") ? "Video" : "Photo";
  else body = "";
  return `${who}: ${body}`.slice(0, 140);
}

/**
 * Who paid whom, from the viewer's side: "You paid @bob", "@alice paid you". The
 * sender of a payment line is the payer; in a direct conversation the payee is the
 * other person.
 */
export function paymentSentence(message, conversation, me) {
  const payer = message.sender || { username: "someone" };
  const payee = conversation?.kind === "direct" ? (conversation.members || []).find((m) => m.id !== payer.id) : null;
  const payerText = payer.username === me ? "You" : `@${payer.username}`;
  if (!payee) return `${payerText} sent`;
  const payeeText = payee.username === me ? "you" : `@${payee.username}`;
  return `${payerText} paid ${payeeText}`;
}

const MEDIA_NAMES = { audio: "Audio call", video: "Video call" };

/**
 * A call line's words: `{text, spoken, missed, outgoing}`. "Audio call · 3:12" for an
 * answered call, "Missed video call" for the one who missed it, otherwise the call's
 * kind and how it ended ("Video call · @bob didn’t answer."). The caller is the sender.
 */
export function callSummary(message, me, conversation = null) {
  const call = message.call || {};
  const outgoing = message.sender?.username === me;
  const kind = MEDIA_NAMES[call.media] || "Call";
  const seconds = call.duration_seconds || 0;
  if (call.state === "ended" && seconds) {
    return { text: `${kind} · ${formatDuration(seconds)}`, spoken: `${kind}, ${spokenDuration(seconds)}`, missed: false, outgoing };
  }
  if (call.missed && !outgoing) {
    const text = `Missed ${kind.toLowerCase()}`;
    return { text, spoken: text, missed: true, outgoing };
  }
  // endedText names the other person: the callee of our call, or the caller.
  const callee = (conversation?.members || []).find((m) => m.id !== message.sender?.id);
  const peer = outgoing ? callee?.username : message.sender?.username;
  const how = endedText(call, { outgoing, peer }).replace(/\.$/, "");
  return { text: `${kind} · ${how}`, spoken: `${kind}, ${how}`, missed: false, outgoing };
}

/** The sentence for a system message ("alice added bob"). */
export function systemText(message, conversation, me) {
  const sys = message.system || {};
  const members = conversation?.members || [];
  const name = (id) => {
    const member = members.find((m) => m.id === id);
    if (!member) return "someone";
    return member.username === me ? "you" : `@${member.username}`;
  };
  const actor = message.sender?.username === me ? "You" : sys.actor_id ? name(sys.actor_id) : displayName(message.sender || { username: "Someone" });
  const Actor = actor.charAt(0).toUpperCase() + actor.slice(1);
  const users = (sys.user_ids || []).map(name).join(", ");
  switch (sys.event) {
    case "created":
      return `${Actor} started the conversation`;
    case "renamed":
      return sys.name ? `${Actor} renamed the group to “${sys.name}”` : `${Actor} removed the group’s name`;
    case "added":
      return `${Actor} added ${users}`;
    case "removed":
      return `${Actor} removed ${users}`;
    case "left":
      return `${Actor} left`;
    default:
      return message.text || "Conversation updated";
  }
}

/** "@bob, carol bob" -> ["bob", "carol"]: usernames without "@", each once. */
export function usernames(value) {
  return [...new Set(String(value).split(/[\s,]+/).map((name) => name.replace(/^@/, "").trim()).filter(Boolean))];
}

/** A random id for a message being sent (the server dedupes on it). */
export function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A small unread counter ("3") with a spoken label. */
export function unreadBadge(count) {
  return h("span", { class: "nav-badge", "aria-label": `${count} unread` }, count > 99 ? "99+" : String(count));
}
