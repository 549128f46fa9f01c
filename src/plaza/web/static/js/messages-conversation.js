// /messages/{id}: one conversation. History pages back with the cursor ("Load older",
// or scrolling to the top); the page's stream brings new messages, edits, deletions,
// reactions, receipts and typing live.
//
// Every message is shown exactly once: nodes are keyed by message id, and a message
// being sent is keyed by its client_id until the server copy (from the POST answer or
// the stream, whichever comes first) takes its place. After the stream reconnects, or
// on "resync", the page catches up with GET .../messages?after=<newest id shown>; what
// the stream replays meanwhile finds its node already there.

import { ApiError, api } from "./api.js";
import { confirmInline, h } from "./dom.js";
import { busy, say, showError } from "./forms.js";
import { createMessageComposer } from "./messages-composer.js";
import { API, compareIds, conversationTitle, displayName, newClientId, others, preview, viewerUsername } from "./messages-common.js";
import { createGroupPanel } from "./messages-group.js";
import { renderMessage } from "./messages-render.js";
import { badgeFor } from "./premium/badge.js";

const PAGE_SIZE = 30;
const CATCH_UP_PAGE = 100;
const CATCH_UP_PAGES = 20; // beyond that, reload the newest page instead
const TYPING_EVERY_MS = 3000;
const TYPING_SHOWN_MS = 6000;
const READ_DELAY_MS = 150;
const NEAR_BOTTOM_PX = 120;

const root = document.getElementById("conversation");
const convId = root.dataset.conversationId;
const meId = root.dataset.me;
const me = viewerUsername();
const path = `${API}/${encodeURIComponent(convId)}`;
const scroller = document.getElementById("dm-scroll");
const list = document.getElementById("dm-messages");
const olderButton = document.getElementById("dm-older");
const typingLine = document.getElementById("dm-typing");
const liveRegion = document.getElementById("dm-live");
const errorRegion = document.getElementById("dm-error");
const goneNote = document.getElementById("dm-gone");

let conversation = null;
const byId = new Map(); // message id -> {message, li}
const pending = new Map(); // client_id -> {body, message, li}
const removed = new Set(); // ids deleted for me: a late copy must not bring them back
let cursor = null;
let historyLoaded = false;
let loadingOlder = false;
let lastReadSent = null;
let readTimer = null;
let lastTypingSent = 0;
const typers = new Map(); // username -> timer

// ---- rendering ------------------------------------------------------------------------------

const ctx = {
  me,
  meId,
  conversation: () => conversation,
  canWrite: () => canWrite(),
  editWindowMs: Number(root.dataset.editWindow || 900) * 1000,
  onReply: (message) => composer.setReply(message),
  onReact: react,
  onEdit: edit,
  onDelete: remove,
  onReport: report,
  onRetry: (clientId) => sendPending(clientId),
  onDiscard: discard,
  onHistory: editHistory,
};

const histories = new Map(); // "id:edited_at" -> the earlier versions (a promise)

/** A message's earlier versions, asked once per edit (a re-render keeps them open). */
function editHistory(message) {
  const key = `${message.id}:${message.edited_at}`;
  if (!histories.has(key)) {
    const asked = api.get(`${path}/messages/${encodeURIComponent(message.id)}/edits`).then((page) => page.data);
    asked.catch(() => histories.delete(key));
    histories.set(key, asked);
  }
  return histories.get(key);
}

function nearBottom() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_BOTTOM_PX;
}

function scrollToBottom() {
  scroller.scrollTop = scroller.scrollHeight;
}

/** The newest message id shown (server copies only), or null. */
function newestId() {
  let newest = null;
  for (const id of byId.keys()) if (newest === null || compareIds(id, newest) > 0) newest = id;
  return newest;
}

/** Put a server copy's node in id order, above any message still being sent. */
function place(li, id) {
  for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
    if (node === li || node.dataset.state !== "sent") continue;
    if (compareIds(node.dataset.messageId, id) < 0) {
      if (node.nextElementSibling !== li) node.after(li);
      return;
    }
  }
  if (list.firstElementChild !== li) list.prepend(li);
}

/**
 * Show `message` once. A copy of a message already shown replaces it only when
 * `overwrite` (stream events are newer than a page fetched earlier). Returns true if
 * the message was new to the page.
 */
function upsert(message, { overwrite = false } = {}) {
  if (String(message.conversation_id) !== convId || removed.has(message.id)) return false;
  const known = byId.get(message.id);
  if (known) {
    if (overwrite) {
      known.message = message;
      renderMessage(known.li, message, ctx);
      updateSeen();
    }
    return false;
  }
  let li = null;
  const mine = message.sender?.id === meId;
  const optimistic = mine && message.client_id ? pending.get(message.client_id) : null;
  if (optimistic) {
    // Our own message came back: the server copy takes the optimistic node's place.
    pending.delete(message.client_id);
    li = optimistic.li;
  } else {
    li = h("li", {});
  }
  li.dataset.state = "sent";
  li.dataset.messageId = message.id;
  if (message.client_id) li.dataset.clientId = message.client_id;
  byId.set(message.id, { message, li });
  renderMessage(li, message, ctx);
  place(li, message.id);
  updateSeen();
  return !optimistic;
}

function updateSeen() {
  for (const slot of list.querySelectorAll(".dm-msg__seen:not([hidden])")) {
    slot.hidden = true;
    slot.textContent = "";
  }
  if (!conversation) return;
  const receipts = conversation.read_receipts || {};
  // Lines without a "Seen" slot (calls, system lines) do not carry it.
  const mineSent = [...list.children].filter((li) => li.dataset.state === "sent" && byId.get(li.dataset.messageId)?.message.sender?.id === meId && li.querySelector(".dm-msg__seen"));
  const seenBy = new Map(); // li -> names
  for (const member of conversation.members || []) {
    const upTo = receipts[member.id];
    if (member.id === meId || !upTo) continue;
    // Under the newest message of ours that this member has read.
    const li = mineSent.findLast((node) => compareIds(node.dataset.messageId, upTo) <= 0);
    if (!li) continue;
    if (!seenBy.has(li)) seenBy.set(li, []);
    seenBy.get(li).push(displayName(member));
  }
  for (const [li, names] of seenBy) {
    const slot = li.querySelector(".dm-msg__seen");
    if (!slot) continue;
    slot.textContent = conversation.kind === "group" ? `Seen by ${names.join(", ")}` : "Seen";
    slot.hidden = false;
  }
}

function canWrite() {
  return conversation !== null && (conversation.state === "active" || conversation.state === "request");
}

function renderHeader() {
  const title = conversationTitle(conversation, me);
  const people = others(conversation, me);
  // A direct conversation is named after the other person: their badge goes with it.
  const named = conversation.kind === "direct" && !conversation.name && people.length === 1;
  document.getElementById("dm-title").replaceChildren(...[title, named ? badgeFor(people[0]) : null].filter(Boolean));
  document.title = `${title} · Messages · Plaza`;
  const membersLine = document.getElementById("dm-members");
  membersLine.replaceChildren(
    ...people.flatMap((m, i) => [i ? ", " : "", h("a", { href: `/@${encodeURIComponent(m.username)}` }, `@${m.username}`), named ? "" : badgeFor(m) || ""]),
    conversation.kind === "group" ? ` · ${people.length + 1} members` : "",
  );
  const pay = document.getElementById("dm-pay");
  const direct = conversation.kind === "direct" && people.length === 1;
  // Paying needs a conversation both have accepted: the payment's line lands in it.
  pay.hidden = !direct || conversation.state !== "active" || people[0].state !== "active";
  if (direct) pay.dataset.recipient = people[0].username;
  document.getElementById("dm-leave").hidden = conversation.kind !== "group" || conversation.state !== "active";
  // A request has its own Delete; a former member may not change anything (404).
  document.getElementById("dm-delete").hidden = conversation.state !== "active";
  groupPanel.render(conversation);
  refreshNamedLines();
  const request = document.getElementById("dm-request");
  request.hidden = !(conversation.box === "requests" && conversation.state === "request");
  if (!request.hidden) {
    const sender = requestSender();
    document.getElementById("dm-request-text").textContent = `${sender ? `@${sender.username}` : "Someone"} wants to message you. They won’t see that you read their messages until you accept.`;
  }
  const gone = conversation.state === "left" ? "You left this conversation." : conversation.state === "removed" ? "You were removed from this conversation." : "";
  goneNote.textContent = gone;
  goneNote.hidden = !gone;
  composer.element.hidden = !canWrite();
  updateSeen();
}

/** System and payment lines name members: draw them again with the current members. */
function refreshNamedLines() {
  for (const { message, li } of byId.values()) {
    if (message.kind === "system" || message.kind === "payment") renderMessage(li, message, ctx);
  }
}

/** A system line about someone this page does not know yet (just added): fetch them. */
function namesUnknown(message) {
  if (message.kind !== "system" || !message.system || !conversation) return false;
  const known = new Set((conversation.members || []).map((m) => m.id));
  return [message.system.actor_id, ...(message.system.user_ids || [])].some((id) => id && !known.has(id));
}

function requestSender() {
  const theirs = [...byId.values()].map((v) => v.message).filter((m) => m.sender && m.sender.id !== meId && m.kind !== "system");
  theirs.sort((a, b) => compareIds(a.id, b.id));
  const last = theirs.at(-1);
  if (last) return last.sender;
  return others(conversation, me).find((m) => m.role === "admin") || others(conversation, me)[0] || null;
}

// ---- loading ------------------------------------------------------------------------------------

async function loadConversation() {
  try {
    conversation = await api.get(path);
    renderHeader();
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      document.getElementById("dm-title").textContent = "Conversation not found";
      goneNote.textContent = "This conversation doesn’t exist, or you are not in it.";
      goneNote.hidden = false;
      composer.element.hidden = true;
    } else showError(errorRegion, error);
    return false;
  }
}

async function loadNewest({ overwrite = false } = {}) {
  const page = await api.get(`${path}/messages?limit=${PAGE_SIZE}`);
  const stick = !historyLoaded || nearBottom();
  for (const message of [...page.data].reverse()) upsert(message, { overwrite });
  if (!historyLoaded) cursor = page.next_cursor;
  historyLoaded = true;
  olderButton.hidden = !cursor;
  if (stick) scrollToBottom();
}

async function loadOlder() {
  if (!cursor || loadingOlder || !historyLoaded) return;
  loadingOlder = true;
  try {
    await busy(olderButton, async () => {
      const page = await api.get(`${path}/messages?limit=${PAGE_SIZE}&cursor=${encodeURIComponent(cursor)}`);
      const before = scroller.scrollHeight;
      for (const message of page.data) upsert(message);
      // Keep what the reader was looking at in place.
      scroller.scrollTop += scroller.scrollHeight - before;
      cursor = page.next_cursor;
      if (!cursor && document.activeElement === olderButton) scroller.focus(); // not lost to <body>
      olderButton.hidden = !cursor;
    });
  } catch (error) {
    showError(errorRegion, error);
  } finally {
    loadingOlder = false;
  }
}

let catching = null;
let catchAgain = false;

/** Fetch every message after the newest one shown (after a reconnect or a resync). */
async function catchUp() {
  if (catching) {
    catchAgain = true;
    return catching;
  }
  catching = (async () => {
    const stick = nearBottom();
    let added = false;
    let after = newestId();
    if (after === null) {
      await loadNewest();
      return;
    }
    for (let pages = 0; ; pages++) {
      if (pages >= CATCH_UP_PAGES) {
        await loadNewest(); // a long absence: the newest page, older ones on scroll
        break;
      }
      const page = await api.get(`${path}/messages?after=${encodeURIComponent(after)}&limit=${CATCH_UP_PAGE}`);
      for (const message of page.data) added = upsert(message) || added;
      if (page.data.length < CATCH_UP_PAGE) break;
      after = page.data.at(-1).id;
    }
    if (added && stick) scrollToBottom();
    if (added) markRead();
  })();
  try {
    await catching;
  } catch (error) {
    showError(errorRegion, error);
  } finally {
    catching = null;
    if (catchAgain) {
      catchAgain = false;
      catchUp();
    }
  }
}

// ---- reading, typing -----------------------------------------------------------------------

function markRead() {
  if (!canWrite() || document.visibilityState !== "visible") return;
  const newest = newestId();
  if (newest === null || (lastReadSent !== null && compareIds(newest, lastReadSent) <= 0)) return;
  clearTimeout(readTimer);
  readTimer = setTimeout(async () => {
    const upTo = newestId();
    if (upTo === null || (lastReadSent !== null && compareIds(upTo, lastReadSent) <= 0)) return;
    lastReadSent = upTo;
    try {
      await api.post(`${path}/read`, { message_id: upTo });
    } catch {
      lastReadSent = null; // tried again with the next message
    }
  }, READ_DELAY_MS);
}

function markDelivered(messageId) {
  if (!canWrite()) return;
  api.post(`${path}/delivered`, { message_id: messageId }).catch(() => {});
}

function sendTyping() {
  const now = Date.now();
  if (!canWrite() || now - lastTypingSent < TYPING_EVERY_MS) return;
  lastTypingSent = now;
  api.post(`${path}/typing`).catch(() => {});
}

function paintTyping() {
  const names = [...typers.keys()];
  let text = "";
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = "Several people are typing…";
  if (typingLine.textContent !== text) typingLine.textContent = text;
}

function showTyping(username) {
  clearTimeout(typers.get(username));
  typers.set(
    username,
    setTimeout(() => {
      typers.delete(username);
      paintTyping();
    }, TYPING_SHOWN_MS),
  );
  paintTyping();
}

function stopTyping(username) {
  if (!typers.has(username)) return;
  clearTimeout(typers.get(username));
  typers.delete(username);
  paintTyping();
}

// ---- sending ------------------------------------------------------------------------------------

function send(body, { mediaCount }) {
  const clientId = newClientId();
  const message = {
    id: null,
    conversation_id: convId,
    client_id: clientId,
    sender: { id: meId, username: me, display_name: null, verified: false },
    kind: "text",
    text: body.text,
    reply_to: body.reply_to ? replyPreview(body.reply_to) : null,
    media: [],
    reactions: [],
    created_at: new Date().toISOString(),
    edited_at: null,
    deleted: false,
    pendingMedia: mediaCount,
  };
  const li = h("li", { "data-client-id": clientId, "data-state": "pending" });
  pending.set(clientId, { body: { ...body, client_id: clientId }, message, li });
  renderMessage(li, message, ctx);
  list.append(li);
  scrollToBottom();
  lastTypingSent = 0;
  sendPending(clientId);
}

function replyPreview(id) {
  const target = byId.get(id)?.message;
  return target ? { id, sender_id: target.sender?.id, text: target.text } : { id, sender_id: null, text: "" };
}

/** POST a message being sent; the same client_id on a retry stores it once. */
async function sendPending(clientId) {
  const item = pending.get(clientId);
  if (!item) return;
  item.li.dataset.state = "pending";
  renderMessage(item.li, item.message, ctx);
  try {
    const stored = await api.post(`${path}/messages`, item.body);
    upsert(stored);
    markRead();
  } catch (error) {
    if (!pending.has(clientId)) return; // the stream delivered it meanwhile
    item.li.dataset.state = "failed";
    renderMessage(item.li, item.message, ctx);
    if (error.status !== 0) showError(errorRegion, error);
  }
}

function discard(clientId) {
  const item = pending.get(clientId);
  if (!item) return;
  pending.delete(clientId);
  item.li.remove();
  composer.focus();
}

function retryFailed() {
  for (const [clientId, item] of pending) if (item.li.dataset.state === "failed") sendPending(clientId);
}

// ---- message actions ------------------------------------------------------------------------

async function react(message, emoji, add) {
  const url = `${path}/messages/${encodeURIComponent(message.id)}/reactions/${encodeURIComponent(emoji)}`;
  try {
    const updated = await api(add ? "PUT" : "DELETE", url);
    if (updated) upsert(updated, { overwrite: true });
  } catch (error) {
    showError(errorRegion, error);
  }
}

async function edit(message, text) {
  const updated = await api.patch(`${path}/messages/${encodeURIComponent(message.id)}`, { text });
  upsert(updated, { overwrite: true });
  byId.get(message.id)?.li.querySelector('[data-key="edit"]')?.focus();
}

async function remove(message, scope) {
  try {
    await api.delete(`${path}/messages/${encodeURIComponent(message.id)}?scope=${scope}`);
    applyDeleted({ id: message.id, scope });
    say(liveRegion, "Message deleted.");
    composer.focus();
  } catch (error) {
    showError(errorRegion, error);
  }
}

async function report(message, category) {
  try {
    await api.post("/api/v1/reports", { subject: "message", subject_id: message.id, category });
    say(liveRegion, "Thanks. The message was reported to the moderators.");
    return true;
  } catch (error) {
    showError(errorRegion, error);
    return false;
  }
}

function applyDeleted({ id, scope }) {
  const known = byId.get(id);
  if (scope === "me") {
    removed.add(id);
    if (known) {
      known.li.remove();
      byId.delete(id);
      updateSeen();
    }
    return;
  }
  if (!known) return;
  const message = { ...known.message, deleted: true, text: "", media: [], reactions: [], reply_to: null };
  known.message = message;
  renderMessage(known.li, message, ctx);
  updateSeen();
}

// ---- request and group actions ---------------------------------------------------------------

async function requestAction(kind, button) {
  await busy(button, async () => {
    try {
      if (kind === "accept") {
        conversation = await api.post(`${path}/accept`);
        renderHeader();
        say(liveRegion, "Request accepted. The conversation is now in your inbox.");
        composer.focus();
      } else if (kind === "delete") {
        await api.delete(path);
        leaveTo("Request deleted.", "/messages?tab=requests");
      } else if (kind === "block") {
        const sender = requestSender();
        if (sender) await api.post(`/api/v1/users/${encodeURIComponent(sender.username)}/block`);
        await api.delete(path).catch(() => {});
        leaveTo(sender ? `You blocked @${sender.username}.` : "Request deleted.", "/messages?tab=requests");
      } else if (kind === "report") {
        const form = document.getElementById("dm-report-form");
        form.hidden = false;
        form.querySelector("select").focus();
      }
    } catch (error) {
      showError(errorRegion, error);
    }
  });
}

function leaveTo(message, href) {
  try {
    sessionStorage.setItem("plaza.flash", message);
  } catch {
    /* the message is a nicety */
  }
  window.location.assign(href);
}

document.getElementById("dm-request").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-request]");
  if (button) requestAction(button.dataset.request, button);
});
document.getElementById("dm-report-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const sender = requestSender();
  const theirs = [...byId.values()].map((v) => v.message).filter((m) => m.sender?.id === sender?.id && !m.deleted);
  const target = theirs.sort((a, b) => compareIds(a.id, b.id)).at(-1);
  if (!target) {
    errorRegion.textContent = "There is no message to report.";
    return;
  }
  if (await report(target, form.elements.namedItem("category").value)) form.hidden = true;
});
document.getElementById("dm-leave").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  await busy(button, async () => {
    try {
      await api.delete(`${path}/members/${encodeURIComponent(me)}`);
      conversation = await api.get(path);
      renderHeader();
    } catch (error) {
      showError(errorRegion, error);
    }
  });
});
document.getElementById("dm-pay").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  if (!button.dataset.recipient) return;
  try {
    // Loaded on first use: the dialog brings the wallet's step-up prompt along.
    const { openPayDialog } = await import("./messages-pay.js");
    openPayDialog({
      username: button.dataset.recipient,
      conversationId: convId,
      opener: button,
      // The payment's line comes through the stream, on every device of both people.
      onPaid: (_payment, sentence) => say(document.getElementById("dm-status"), sentence),
    });
  } catch (error) {
    showError(errorRegion, error);
  }
});
document.getElementById("dm-delete").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  const question = conversation?.kind === "group" ? "Delete this conversation for you? You stay in the group." : "Delete this conversation for you?";
  if (!(await confirmInline(button, question, "Delete"))) return;
  try {
    await api.delete(path);
    leaveTo("Conversation deleted. A new message will bring it back.", "/messages");
  } catch (error) {
    showError(errorRegion, error);
  }
});

// ---- live events ---------------------------------------------------------------------------

function onFrame({ type, data }) {
  if (!data) return;
  const here = String(data.conversation_id ?? "") === convId;
  switch (type) {
    case "message.created": {
      if (!here) return;
      const stick = nearBottom() || data.sender?.id === meId;
      if (goneNote.dataset.deleted) {
        // A message after "delete for me" brings the conversation back, from here on.
        delete goneNote.dataset.deleted;
        goneNote.hidden = true;
        loadConversation();
      }
      const added = upsert(data, { overwrite: true });
      if (namesUnknown(data)) loadConversation();
      if (data.sender?.id !== meId) {
        stopTyping(data.sender?.username);
        if (added) say(liveRegion, data.kind === "text" ? `${displayName(data.sender)}: ${data.deleted ? "deleted message" : data.text || "attachment"}` : preview(data, me, conversation));
        if (document.visibilityState === "visible") markRead();
        else markDelivered(data.id);
      }
      if (stick) scrollToBottom();
      return;
    }
    case "message.updated":
      if (!here) return;
      if (byId.has(data.id)) upsert(data, { overwrite: true });
      return;
    case "message.deleted":
      if (here) applyDeleted(data);
      return;
    case "receipt":
      if (!here || data.kind !== "read" || !conversation) return;
      if (data.user_id !== meId) {
        const receipts = (conversation.read_receipts ||= {});
        const current = receipts[data.user_id];
        if (!current || compareIds(data.message_id, current) > 0) receipts[data.user_id] = data.message_id;
        updateSeen();
      }
      return;
    case "typing":
      if (here && data.user_id !== meId) showTyping(data.username);
      return;
    case "conversation.updated":
      if (String(data.id) !== convId) return;
      if (data.deleted) {
        for (const { li } of byId.values()) li.remove();
        byId.clear();
        goneNote.textContent = "You deleted this conversation.";
        goneNote.dataset.deleted = "true";
        goneNote.hidden = false;
        return;
      }
      conversation = data;
      renderHeader();
      return;
    default:
  }
}

document.addEventListener("plaza:stream", (event) => onFrame(event.detail || {}));
document.addEventListener("plaza:resync", async () => {
  // The stream skipped events: refresh the conversation and the newest page as well.
  if (await loadConversation()) {
    await loadNewest({ overwrite: true }).catch((error) => showError(errorRegion, error));
    catchUp();
  }
});

// layout.js marks the stream's state on <html data-stream>. Whenever it becomes "open"
// after the history was fetched, catch up over HTTP: after a reconnect, and also on a
// tab's first stream, which starts at the live position (no "since" yet) and so
// would miss what came between the history request and its hello.
let streamWasOpen = document.documentElement.dataset.stream === "open";
new MutationObserver(() => {
  const open = document.documentElement.dataset.stream === "open";
  if (open && !streamWasOpen && historyLoaded) {
    catchUp();
    retryFailed();
  }
  streamWasOpen = open;
}).observe(document.documentElement, { attributes: true, attributeFilter: ["data-stream"] });

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") markRead();
});
window.addEventListener("online", retryFailed);

olderButton.addEventListener("click", loadOlder);
if ("IntersectionObserver" in window) {
  new IntersectionObserver(
    (entries) => {
      if (entries.some((entry) => entry.isIntersecting)) loadOlder();
    },
    { root: scroller },
  ).observe(document.getElementById("dm-top-sentinel"));
}

// ---- start ------------------------------------------------------------------------------------

const groupPanel = createGroupPanel({
  path,
  me,
  onChanged: (next) => {
    conversation = next;
    renderHeader();
  },
});

const composer = createMessageComposer({
  maxLength: Number(root.dataset.maxLength) || 10_000,
  onSend: send,
  onTyping: sendTyping,
});
document.getElementById("dm-composer").append(composer.element);

(async () => {
  if (await loadConversation()) {
    try {
      await loadNewest();
      renderHeader(); // the request's sender is known once messages are in
      markRead();
    } catch (error) {
      showError(errorRegion, error);
    }
  }
  root.setAttribute("aria-busy", "false");
})();
