// /messages: the conversation list of one box (Inbox or Requests) with unread badges on
// the tabs and rows, and the "New message" form. The list follows the stream: any
// messaging event reloads the first page (a burst costs one request).

import { api } from "./api.js";
import { h } from "./dom.js";
import { busy, clearErrors, fieldError, showError } from "./forms.js";
import { refreshMessagesBadge } from "./messages-badge.js";
import { API, conversationTitle, others, preview, unreadBadge, usernames, viewerUsername } from "./messages-common.js";
import { badgeFor } from "./premium/badge.js";
import { timeElement } from "./social/post.js";

const PAGE_SIZE = 30;
const RELOAD_MS = 300;
const RELEVANT = new Set(["message.created", "message.updated", "message.deleted", "receipt", "conversation.updated"]);

const me = viewerUsername();
const section = document.getElementById("conversations-section");
const list = document.getElementById("conversations");
const more = document.getElementById("conversations-more");
const empty = document.getElementById("conversations-empty");
const errorRegion = document.getElementById("list-error");
const box = section.dataset.box;
let cursor = null;
let reloadTimer = null;

function row(conversation) {
  const unread = conversation.unread_count || 0;
  const title = conversationTitle(conversation, me);
  const when = conversation.last_message_at || conversation.created_at;
  // A direct conversation is named after the other person: their badge goes with it.
  const people = others(conversation, me);
  const badge = conversation.kind === "direct" && !conversation.name && people.length === 1 ? badgeFor(people[0]) : null;
  return h(
    "li",
    { class: `dm-row${unread ? " dm-row--unread" : ""}`, "data-conversation-id": conversation.id },
    h(
      "a",
      { class: "dm-row__link", href: `/messages/${encodeURIComponent(conversation.id)}` },
      h("span", { class: "dm-row__title" }, title, badge, conversation.kind === "group" ? h("span", { class: "badge dm-row__kind" }, "Group") : null),
      h("span", { class: "dm-row__preview" }, preview(conversation.last_message, me, conversation)),
    ),
    h("span", { class: "dm-row__meta" }, when ? timeElement(when) : null, unread ? unreadBadge(unread) : null),
  );
}

async function load(reset) {
  list.setAttribute("aria-busy", "true");
  try {
    const query = new URLSearchParams({ box, limit: String(PAGE_SIZE) });
    if (!reset && cursor) query.set("cursor", cursor);
    const page = await api.get(`${API}?${query}`);
    const rows = page.data.map(row);
    if (reset) list.replaceChildren(...rows);
    else list.append(...rows);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    empty.hidden = list.children.length > 0;
    clearErrors(errorRegion);
  } catch (error) {
    showError(errorRegion, error);
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

function reloadSoon() {
  clearTimeout(reloadTimer);
  // The first page again: rows move to the top as they get new messages.
  reloadTimer = setTimeout(() => load(true), RELOAD_MS);
}

function paintTabs(counts) {
  for (const badge of document.querySelectorAll("[data-unread]")) {
    const count = counts?.[badge.dataset.unread] || 0;
    badge.hidden = count === 0;
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.setAttribute("aria-label", badge.dataset.unread === "requests" ? `${count} waiting` : `${count} unread`);
  }
}

// ---- new conversation ---------------------------------------------------------------------

const form = document.getElementById("new-form");
const formError = document.getElementById("new-error");

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const submit = form.querySelector('button[type="submit"]');
  busy(submit, async () => {
    clearErrors(formError, form);
    const participants = usernames(form.elements.namedItem("participants").value);
    if (!participants.length) {
      fieldError(formError, form, "participants", "Enter at least one @username.");
      return;
    }
    const body = { participants };
    const name = form.elements.namedItem("name").value.trim();
    if (name) body.name = name;
    try {
      const conversation = await api.post(API, body);
      window.location.assign(`/messages/${encodeURIComponent(conversation.id)}`);
    } catch (error) {
      showError(formError, error, form);
    }
  });
});

more.addEventListener("click", () => busy(more, () => load(false)));
document.addEventListener("plaza:stream", (event) => {
  if (RELEVANT.has(event.detail?.type)) reloadSoon();
});
document.addEventListener("plaza:resync", reloadSoon);
document.addEventListener("plaza:messages-unread", (event) => paintTabs(event.detail));
load(true);
refreshMessagesBadge();
