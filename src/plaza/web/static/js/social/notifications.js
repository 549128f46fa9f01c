// Notifications: the unread badge on the "Notifications" link of every page that loads
// this module, and, on /notifications, the list with "mark all as read".

import { api, csrfToken } from "../api.js";
import { h, time } from "../dom.js";
import { busy, say, showError } from "../forms.js";
import { badgeFor } from "../premium/badge.js";

const PAGE_SIZE = 30;
const WHAT = {
  like: "liked your post",
  reply: "replied to your post",
  repost: "reposted your post",
  quote: "quoted your post",
  follow: "followed you",
  follow_request: "asked to follow you",
  mention: "mentioned you",
  message_request: "sent you a message request",
  missed_call: "tried to call you",
};
// Where a notification's button leads: [href, label].
const FOLLOW_UP = {
  follow_request: ["/settings/privacy#requests", "Review"],
  message_request: ["/messages?tab=requests", "Open requests"],
  missed_call: ["/calls?tab=missed", "Call log"],
  premium_payment_failed: ["/premium", "Manage Premium"],
  premium_expired: ["/premium", "Renew Premium"],
};
// Notices from Plaza itself (their actor is the recipient): a sentence, not "X did Y".
const FROM_PLAZA = {
  premium_payment_failed: "Your Premium payment failed: top up your wallet and we will try again, or pay now. Premium stays on during the grace period.",
  premium_expired: "Your Premium has ended: the verified badge, calls, long posts and edits are off until you subscribe again.",
};

/** Show the unread count next to the nav link (hidden at zero). */
export async function refreshBadge() {
  const link = document.querySelector('.site-nav a[href="/notifications"]');
  if (!link || !csrfToken()) return;
  let count = 0;
  try {
    ({ count } = await api.get("/api/v1/notifications/unread-count"));
  } catch {
    return;
  }
  let badge = link.querySelector(".nav-badge");
  if (!badge) {
    badge = h("span", { class: "nav-badge" });
    link.append(badge);
  }
  badge.hidden = count === 0;
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.setAttribute("aria-label", `${count} unread`);
}

function postLink(item) {
  // The thread page accepts any handle; the post's author is the recipient (us).
  const me = document.querySelector(".site-nav__user")?.textContent.replace(/^@/, "") || "i";
  return `/@${encodeURIComponent(me)}/status/${item.post_id}`;
}

function row(item) {
  const actor = item.actor;
  const notice = FROM_PLAZA[item.kind];
  const who = notice
    ? null
    : h("a", { href: `/@${encodeURIComponent(actor.username)}` }, h("strong", {}, actor.display_name || actor.username), badgeFor(actor), ` @${actor.username}`);
  const what = notice || (item.post_id ? h("a", { href: postLink(item) }, WHAT[item.kind] || item.kind) : WHAT[item.kind] || item.kind);
  const [href, label] = FOLLOW_UP[item.kind] || [];
  const extra = href ? h("a", { href, class: "button button--small button--secondary" }, label) : null;
  return h(
    "li",
    { class: `notification${item.read ? "" : " notification--unread"}` },
    item.read ? null : h("span", { class: "visually-hidden" }, "Unread: "),
    who,
    who ? " " : null,
    what,
    " · ",
    time(item.created_at),
    extra ? " " : null,
    extra,
  );
}

function initList(list) {
  const more = document.getElementById("notifications-more");
  const empty = document.getElementById("notifications-empty");
  const error = document.getElementById("notifications-error");
  const status = document.getElementById("notifications-status");
  const markRead = document.getElementById("mark-read");
  let cursor = null;
  let newest = null;

  async function load(reset) {
    if (reset) {
      cursor = null;
      list.replaceChildren();
    }
    list.setAttribute("aria-busy", "true");
    try {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (cursor) query.set("cursor", cursor);
      const page = await api.get(`/api/v1/notifications?${query}`);
      if (reset) newest = page.data[0]?.id ?? null;
      list.append(...page.data.map(row));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      empty.hidden = list.children.length > 0;
    } catch (err) {
      showError(error, err);
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  }

  more.addEventListener("click", () => busy(more, () => load(false)));
  markRead.addEventListener("click", () =>
    busy(markRead, async () => {
      try {
        // Up to the newest one shown: anything that arrived since stays unread.
        await api.post("/api/v1/notifications/read", newest ? { up_to: newest } : {});
        for (const item of list.querySelectorAll(".notification--unread")) {
          item.classList.remove("notification--unread");
          item.querySelector(".visually-hidden")?.remove();
        }
        say(status, "All notifications marked as read.");
        refreshBadge();
      } catch (err) {
        showError(error, err);
      }
    }),
  );
  load(true);
}

const list = document.getElementById("notifications");
if (list) initList(list);
refreshBadge();
