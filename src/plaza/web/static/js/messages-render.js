// One message of a conversation as DOM: author, reply quote, text, media, reactions,
// state ("Sending…", "Not sent", "edited" with its earlier versions) and its actions
// (Reply, React, Edit, Delete, Report). System lines ("@alice added @carol") and call
// lines ("Missed video call", with Call back) are centred; a payment is a bubble of its
// own ("You paid @bob", the amount and the payment's note). User text only ever enters
// the page as text nodes.
//
// renderMessage(message, ctx) fills a <li>; ctx gives the viewer and the handlers:
//   { me, meId, conversation(), canWrite(), editWindowMs, onReply, onReact, onEdit,
//     onDelete, onReport, onRetry, onDiscard, onHistory }

import { api } from "./api.js";
import { fillCallButtons } from "./calls-buttons.js";
import { h, time } from "./dom.js";
import { callSummary, displayName, paymentSentence, systemText } from "./messages-common.js";
import { formatMoney } from "./payments/money.js";
import { badgeFor } from "./premium/badge.js";
import { timeElement } from "./social/post.js";
import { videoPlayer } from "./social/video.js";

export const QUICK_REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];
const REPORT_CATEGORIES = [
  ["spam", "Spam"],
  ["hate_speech", "Hate speech"],
  ["adult", "Adult content"],
  ["crime", "Scam or crime"],
  ["obscenity_profanity", "Abuse or profanity"],
];

let formCount = 0;

function imageTile(media) {
  return h(
    "a",
    { class: "dm-msg__image", href: media.url, target: "_blank", rel: "noopener", "aria-label": media.alt_text ? `Open image: ${media.alt_text}` : "Open image" },
    h("img", { src: media.url, alt: media.alt_text || "", loading: "lazy", width: media.width, height: media.height }),
  );
}

function mediaBlock(message) {
  const items = message.media || [];
  if (!items.length) return null;
  return h("div", { class: "dm-msg__media" }, items.map((m) => (m.kind === "video" ? videoPlayer(m) : imageTile(m))));
}

function replyQuote(message, ctx) {
  const reply = message.reply_to;
  if (!reply) return null;
  const sender = ctx.conversation()?.members?.find((m) => m.id === reply.sender_id);
  const who = sender ? (sender.username === ctx.me ? "you" : displayName(sender)) : "a message";
  return h(
    "blockquote",
    { class: "dm-msg__reply" },
    h("span", { class: "dm-msg__reply-who" }, `Replying to ${who}`),
    h("span", { class: "dm-msg__reply-text" }, reply.text ? reply.text.slice(0, 200) : "Message deleted"),
  );
}

function reactionLabel(reaction) {
  const people = reaction.count === 1 ? "1 reaction" : `${reaction.count} reactions`;
  return `${reaction.emoji}, ${people}${reaction.me ? ", including yours" : ""}`;
}

function reactions(message, ctx) {
  const list = (message.reactions || []).filter((r) => r.count > 0);
  if (!list.length || message.deleted) return null;
  return h(
    "div",
    { class: "dm-msg__reactions", role: "group", "aria-label": "Reactions" },
    list.map((reaction) =>
      h(
        "button",
        {
          type: "button",
          class: "dm-reaction",
          "aria-pressed": String(Boolean(reaction.me)),
          "aria-label": reactionLabel(reaction),
          "data-key": `reaction:${reaction.emoji}`,
          "data-emoji": reaction.emoji,
          onclick: () => ctx.onReact(message, reaction.emoji, !reaction.me),
        },
        `${reaction.emoji} ${reaction.count}`,
      ),
    ),
  );
}

function palette(message, ctx, toggle) {
  const mine = new Set((message.reactions || []).filter((r) => r.me).map((r) => r.emoji));
  const box = h(
    "div",
    { class: "dm-palette", role: "group", "aria-label": "Pick a reaction" },
    QUICK_REACTIONS.map((emoji) =>
      h(
        "button",
        {
          type: "button",
          class: "dm-palette__emoji",
          "aria-label": `React with ${emoji}`,
          "aria-pressed": String(mine.has(emoji)),
          onclick: () => {
            box.remove();
            toggle.setAttribute("aria-expanded", "false");
            toggle.focus();
            ctx.onReact(message, emoji, !mine.has(emoji));
          },
        },
        emoji,
      ),
    ),
  );
  box.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    box.remove();
    toggle.setAttribute("aria-expanded", "false");
    toggle.focus();
  });
  return box;
}

function editable(message, ctx) {
  if (message.sender?.id !== ctx.meId || message.deleted || message.kind !== "text") return false;
  return Date.now() - new Date(message.created_at).getTime() < ctx.editWindowMs;
}

/** An inline form that replaces the text while editing. */
function editForm(li, message, ctx) {
  const id = `dm-edit-${++formCount}`;
  const textarea = h("textarea", { id, name: "text", rows: 2, class: "composer__text dm-edit__text" });
  textarea.value = message.text;
  const error = h("p", { class: "form-error", role: "alert" });
  const cancel = h("button", { type: "button", class: "button button--secondary button--small" }, "Cancel");
  const form = h(
    "form",
    { class: "dm-edit", "aria-label": "Edit message" },
    h("label", { for: id, class: "visually-hidden" }, "Edit message"),
    textarea,
    error,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button button--small" }, "Save"), cancel),
  );
  const close = () => {
    form.remove();
    li.classList.remove("dm-msg--editing");
    li.querySelector('[data-key="edit"]')?.focus();
  };
  cancel.addEventListener("click", close);
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
    else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = textarea.value.trim();
    if (!text || text === message.text) {
      close();
      return;
    }
    try {
      await ctx.onEdit(message, text);
      li.classList.remove("dm-msg--editing");
    } catch (err) {
      error.textContent = err.detail || "The message could not be edited.";
    }
  });
  return form;
}

function deleteChoice(message, ctx, opener) {
  const cancel = h("button", { type: "button", class: "button button--secondary button--small" }, "Cancel");
  const box = h(
    "div",
    { class: "confirm dm-confirm", role: "group", "aria-label": "Delete message" },
    h("span", {}, "Delete this message?"),
    h("button", { type: "button", class: "button button--danger-quiet button--small", onclick: () => ctx.onDelete(message, "me") }, "Delete for me"),
    message.sender?.id === ctx.meId
      ? h("button", { type: "button", class: "button button--danger button--small", onclick: () => ctx.onDelete(message, "everyone") }, "Delete for everyone")
      : null,
    cancel,
  );
  const close = () => {
    box.remove();
    opener.hidden = false;
    opener.focus();
  };
  cancel.addEventListener("click", close);
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });
  return box;
}

function reportForm(message, ctx, opener) {
  const id = `dm-report-${++formCount}`;
  const select = h("select", { id, name: "category" }, REPORT_CATEGORIES.map(([value, label]) => h("option", { value }, label)));
  const cancel = h("button", { type: "button", class: "button button--secondary button--small" }, "Cancel");
  const form = h(
    "form",
    { class: "dm-confirm dm-report-inline", "aria-label": "Report message" },
    h("label", { for: id }, "Report as"),
    select,
    h("button", { type: "submit", class: "button button--danger button--small" }, "Send report"),
    cancel,
  );
  const close = () => {
    form.remove();
    opener.hidden = false;
    opener.focus();
  };
  cancel.addEventListener("click", close);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await ctx.onReport(message, select.value)) close();
  });
  return form;
}

function actions(li, message, ctx) {
  if (message.kind === "system" || message.kind === "call" || li.dataset.state !== "sent") return null;
  const bar = h("div", { class: "dm-msg__actions", role: "group", "aria-label": "Message actions" });
  const button = (label, key, onclick, extra = {}) =>
    h("button", { type: "button", class: "button button--link dm-msg__action", "data-key": key, onclick, ...extra }, label);
  if (!message.deleted) {
    bar.append(button("Reply", "reply", () => ctx.onReply(message)));
    const react = button("React", "react", () => {
      const open = li.querySelector(".dm-palette");
      if (open) {
        open.remove();
        react.setAttribute("aria-expanded", "false");
        return;
      }
      react.setAttribute("aria-expanded", "true");
      const box = palette(message, ctx, react);
      bar.after(box);
      box.querySelector("button").focus();
    }, { "aria-expanded": "false" });
    bar.append(react);
  }
  if (editable(message, ctx)) {
    bar.append(
      button("Edit", "edit", () => {
        if (li.querySelector(".dm-edit")) return;
        li.classList.add("dm-msg--editing");
        const form = editForm(li, message, ctx);
        li.querySelector(".dm-msg__body").after(form);
        form.querySelector("textarea").focus();
      }),
    );
  }
  const del = button("Delete", "delete", () => {
    del.hidden = true;
    const box = deleteChoice(message, ctx, del);
    bar.after(box);
    box.querySelector("button").focus();
  });
  bar.append(del);
  if (message.sender?.id !== ctx.meId && !message.deleted && message.kind === "text") {
    const report = button("Report", "report", () => {
      report.hidden = true;
      const form = reportForm(message, ctx, report);
      bar.after(form);
      form.querySelector("select").focus();
    });
    bar.append(report);
  }
  return bar;
}

function stateLine(li, message, ctx) {
  const state = li.dataset.state;
  const parts = [];
  if (message.created_at) parts.push(timeElement(message.created_at));
  if (message.edited_at && !message.deleted) parts.push(" · ", editedToggle(li, message, ctx));
  if (state === "pending") parts.push(" · ", h("span", { class: "dm-msg__pending" }, "Sending…"));
  if (state === "failed") {
    parts.push(
      " · ",
      h("span", { class: "dm-msg__failed" }, "Not sent."),
      " ",
      h("button", { type: "button", class: "button button--link", "data-key": "retry", onclick: () => ctx.onRetry(li.dataset.clientId) }, "Retry"),
      h("button", { type: "button", class: "button button--link", "data-key": "discard", onclick: () => ctx.onDiscard(li.dataset.clientId) }, "Discard"),
    );
  }
  return h("p", { class: "dm-msg__meta" }, parts);
}

// ---- edit history ---------------------------------------------------------------------------

/** "edited": a toggle that shows the message's earlier versions under it. */
function editedToggle(li, message, ctx) {
  const panelId = `dm-edits-${message.id}`;
  const toggle = h(
    "button",
    {
      type: "button",
      class: "button button--link dm-msg__edited",
      "data-key": "edits",
      "aria-expanded": "false",
      "aria-controls": panelId,
      "aria-label": "edited: show earlier versions",
    },
    "edited",
  );
  const open = async () => {
    toggle.setAttribute("aria-expanded", "true");
    toggle.setAttribute("aria-label", "edited: hide earlier versions");
    li.dataset.editsOpen = "true";
    const panel = h("div", { class: "dm-edits", id: panelId, role: "region", "aria-label": "Earlier versions" }, h("p", { class: "muted" }, "Loading…"));
    li.querySelector(".dm-msg__meta").after(panel);
    try {
      const edits = await ctx.onHistory(message);
      panel.replaceChildren(
        edits.length
          ? h(
              "ol",
              { class: "dm-edits__list" },
              edits.map((edit) => h("li", {}, h("span", { class: "dm-edits__text" }, edit.text || "(empty)"), " ", h("span", { class: "muted" }, "until ", time(edit.edited_at)))),
            )
          : h("p", { class: "muted" }, "No earlier versions."),
      );
    } catch (error) {
      panel.replaceChildren(h("p", { class: "form-error" }, error.detail || "The earlier versions could not be loaded."));
    }
  };
  toggle.addEventListener("click", () => {
    const panel = li.querySelector(".dm-edits");
    if (panel) {
      panel.remove();
      delete li.dataset.editsOpen;
      toggle.setAttribute("aria-expanded", "false");
      toggle.setAttribute("aria-label", "edited: show earlier versions");
    } else open();
  });
  // Re-rendered while open (a reaction came in): stay open.
  if (li.dataset.editsOpen === "true") queueMicrotask(open);
  return toggle;
}

// ---- payments ----------------------------------------------------------------------------------

// payment id -> the payment as GET /api/v1/payments/{id} answers it (or null: not ours
// to see), and the lookups under way. A payment line carries the amount; its note and
// refunds are the wallet's to tell.
const payments = new Map();
const paymentLookups = new Map();

function lookUpPayment(id) {
  if (!paymentLookups.has(id)) {
    paymentLookups.set(
      id,
      api.get(`/api/v1/payments/${encodeURIComponent(id)}`).then(
        (payment) => payments.set(id, payment).get(id),
        () => payments.set(id, null).get(id),
      ),
    );
  }
  return paymentLookups.get(id);
}

function paymentExtras(payment) {
  if (!payment) return [];
  const parts = [];
  if (payment.note) parts.push(h("p", { class: "dm-pay__note" }, payment.note));
  if (payment.refunded && payment.refunded.amount > 0) {
    const whole = payment.refunded.amount >= payment.amount.amount;
    parts.push(h("p", { class: "dm-pay__status" }, whole ? "Refunded" : `${formatMoney(payment.refunded)} refunded`));
  } else if (payment.status === "pending") parts.push(h("p", { class: "dm-pay__status" }, "Pending"));
  else if (payment.status === "failed") parts.push(h("p", { class: "dm-pay__status" }, "Failed"));
  return parts;
}

function paymentBlock(message, ctx) {
  const id = message.payment.id;
  const extras = h("div", { class: "dm-pay__extras" }, paymentExtras(payments.get(id)));
  if (!payments.has(id)) {
    lookUpPayment(id).then((payment) => {
      if (extras.isConnected) extras.replaceChildren(...paymentExtras(payment));
    });
  }
  return h(
    "div",
    { class: "dm-pay" },
    h("p", { class: "dm-pay__who" }, paymentSentence(message, ctx.conversation(), ctx.me)),
    h("p", { class: "dm-pay__amount" }, formatMoney(message.payment.amount)),
    extras,
    h("p", { class: "dm-pay__link" }, h("a", { href: "/wallet#history" }, "View in wallet")),
  );
}

// ---- call lines -------------------------------------------------------------------------------

/** A centred call line; in a direct conversation one can still write in, Call back. */
function renderCall(li, message, ctx) {
  const conversation = ctx.conversation();
  const summary = callSummary(message, ctx.me, conversation);
  const media = message.call.media === "video" ? "video" : "audio";
  li.className = `dm-msg dm-msg--call${summary.missed ? " dm-msg--missed" : ""}`;
  const peer = conversation?.kind === "direct" ? (conversation.members || []).find((m) => m.id !== ctx.meId) : null;
  const back =
    peer && ctx.canWrite()
      ? h("span", {
          id: `dm-call-back-${message.id}`,
          "data-call-username": peer.username,
          "data-call-name": peer.display_name || "",
          "data-call-media": media,
          "data-call-label": "Call back",
          "data-call-conversation": conversation.id,
        })
      : null;
  li.replaceChildren(
    h(
      "p",
      { class: "dm-msg__call" },
      h("span", { class: "dm-msg__call-icon", "aria-hidden": "true" }, media === "video" ? "🎥" : "📞"),
      " ",
      h("span", { "aria-hidden": "true" }, summary.text),
      h("span", { class: "visually-hidden" }, summary.spoken),
      " · ",
      timeElement(message.created_at),
    ),
    back,
  );
  if (back) fillCallButtons(back);
  return li;
}

/**
 * Fill `li` with `message`. li.dataset.state is "sent" (a server copy), "pending" or
 * "failed" (an optimistic copy, keyed by client_id). Focus inside stays on the
 * equivalent control.
 */
export function renderMessage(li, message, ctx) {
  const focusedKey = li.contains(document.activeElement) ? document.activeElement.dataset.key : null;
  const mine = message.sender?.id === ctx.meId;
  if (message.kind === "call" && message.call) return renderCall(li, message, ctx);
  const payment = message.kind === "payment" && message.payment && !message.deleted;
  li.className = `dm-msg${mine ? " dm-msg--mine" : ""}${message.kind === "system" ? " dm-msg--system" : ""}${payment ? " dm-msg--payment" : ""}${message.deleted ? " dm-msg--deleted" : ""}`;
  if (message.kind === "system") {
    li.replaceChildren(h("p", { class: "dm-msg__system" }, systemText(message, ctx.conversation(), ctx.me), " · ", timeElement(message.created_at)));
    return li;
  }
  const group = ctx.conversation()?.kind === "group";
  const author = mine ? "You" : displayName(message.sender);
  let content;
  if (message.deleted) content = h("p", { class: "dm-msg__text dm-msg__text--deleted" }, "This message was deleted.");
  else if (payment) content = paymentBlock(message, ctx);
  else content = message.text ? h("p", { class: "dm-msg__text" }, message.text) : null;
  const pendingMedia = li.dataset.state !== "sent" && message.pendingMedia ? h("p", { class: "muted" }, `${message.pendingMedia} attachment${message.pendingMedia > 1 ? "s" : ""}`) : null;
  li.replaceChildren(
    h(
      "div",
      { class: "dm-msg__bubble" },
      h("p", { class: `dm-msg__author${mine || !group ? " visually-hidden" : ""}` }, author, mine || !group ? null : badgeFor(message.sender), ":"),
      h("div", { class: "dm-msg__body" }, message.deleted ? null : replyQuote(message, ctx), content, message.deleted ? null : mediaBlock(message), pendingMedia),
      reactions(message, ctx),
    ),
    stateLine(li, message, ctx),
    actions(li, message, ctx),
    h("p", { class: "dm-msg__seen", "data-seen": "true", hidden: true }),
  );
  if (focusedKey) (li.querySelector(`[data-key="${CSS.escape(focusedKey)}"]`) || li.querySelector(".dm-msg__actions button"))?.focus();
  return li;
}
