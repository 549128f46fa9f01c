// One post as DOM: author, text with linked entities, media, quote, counts and the
// action buttons. User text only ever enters the page as text nodes.

import { api } from "../api.js";
import { confirmInline, h } from "../dom.js";
import { verifiedBadge } from "../premium/badge.js";
import { videoPlayer } from "./video.js";

/** The signed-in user's username (from the page head), or null for a visitor. */
export function viewerUsername() {
  return document.querySelector('meta[name="plaza-user"]')?.content || null;
}

export function postPath(post) {
  return `/@${encodeURIComponent(post.author.username)}/status/${encodeURIComponent(post.id)}`;
}

// ---- announcements ---------------------------------------------------------------------

let toast = null;

/** Say `message` in a polite live region; errors are also shown until the next message. */
export function announce(message, { error = false } = {}) {
  if (!toast) {
    toast = h("div", { class: "social-toast", role: "status", "aria-live": "polite" });
    document.body.append(toast);
  }
  toast.classList.toggle("social-toast--error", error);
  toast.textContent = "";
  requestAnimationFrame(() => {
    toast.textContent = message;
  });
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => {
    toast.textContent = "";
  }, error ? 8000 : 4000);
}

// ---- time ---------------------------------------------------------------------------------

const fullDate = new Intl.DateTimeFormat(undefined, { dateStyle: "long", timeStyle: "short" });
const dayMonth = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const dayMonthYear = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });

/** "now", "5m", "3h", "1 Dec", "1 Dec 2025": short, as timelines show them. */
export function relativeTime(iso, now = Date.now()) {
  const when = new Date(iso);
  const seconds = Math.max(0, Math.round((now - when.getTime()) / 1000));
  if (seconds < 45) return "now";
  if (seconds < 3600) return `${Math.max(1, Math.round(seconds / 60))}m`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)}h`;
  const sameYear = when.getFullYear() === new Date(now).getFullYear();
  return (sameYear ? dayMonth : dayMonthYear).format(when);
}

export function timeElement(iso) {
  return h("time", { datetime: iso, title: fullDate.format(new Date(iso)) }, relativeTime(iso));
}

// ---- text with entities -------------------------------------------------------------------

function safeHref(url) {
  const candidate = /^[a-z][a-z0-9+.-]*:/i.test(url) ? url : `https://${url}`;
  try {
    const parsed = new URL(candidate);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** "https://www.example.com/a/very/long/path" -> "example.com/a/very/long/…" */
function displayUrl(url) {
  const shown = url.replace(/^https?:\/\//i, "").replace(/^www\./i, "");
  return shown.length > 32 ? `${shown.slice(0, 31)}…` : shown;
}

/**
 * The text as nodes, with mentions, hashtags and URLs as links. Entity offsets count
 * code points (the server's str indices); JS strings count UTF-16 units, so the text
 * is split into code points first.
 */
export function textNodes(text, entities = {}) {
  const points = Array.from(text || "");
  const spans = [
    ...(entities.mentions || []).map((e) => ({ ...e, type: "mention" })),
    ...(entities.hashtags || []).map((e) => ({ ...e, type: "hashtag" })),
    ...(entities.urls || []).map((e) => ({ ...e, type: "url" })),
  ]
    .filter((e) => Number.isInteger(e.start) && Number.isInteger(e.end) && e.start < e.end)
    .sort((a, b) => a.start - b.start);
  const nodes = [];
  let at = 0;
  for (const span of spans) {
    if (span.start < at || span.end > points.length) continue; // overlapping or stale
    if (span.start > at) nodes.push(document.createTextNode(points.slice(at, span.start).join("")));
    const shown = points.slice(span.start, span.end).join("");
    nodes.push(entityLink(span, shown));
    at = span.end;
  }
  if (at < points.length) nodes.push(document.createTextNode(points.slice(at).join("")));
  return nodes;
}

function entityLink(span, shown) {
  if (span.type === "mention") {
    return h("a", { class: "post__entity", href: `/@${encodeURIComponent(span.username)}` }, shown);
  }
  if (span.type === "hashtag") {
    const query = new URLSearchParams({ q: `#${span.tag}` });
    return h("a", { class: "post__entity", href: `/search?${query}` }, shown);
  }
  const href = safeHref(span.url || shown);
  if (!href) return document.createTextNode(shown);
  return h(
    "a",
    { class: "post__entity", href, rel: "noopener noreferrer nofollow ugc", target: "_blank", title: href },
    displayUrl(shown),
  );
}

// ---- author -------------------------------------------------------------------------------

export function avatar(author, size = "md") {
  if (author.avatar_url) {
    return h("img", { class: `avatar avatar--${size}`, src: author.avatar_url, alt: "", loading: "lazy" });
  }
  const initial = Array.from(author.display_name || author.username || "?")[0].toUpperCase();
  return h("span", { class: `avatar avatar--${size} avatar--initial`, "aria-hidden": "true" }, initial);
}

// One badge markup everywhere (search.js imports it from here).
export { verifiedBadge };

/** The author's name, badge and @handle, linking to the profile. */
export function authorLine(author) {
  return h(
    "a",
    { class: "post__author", href: `/@${encodeURIComponent(author.username)}` },
    h("span", { class: "post__name" }, author.display_name || author.username),
    author.verified ? verifiedBadge() : null,
    h("span", { class: "post__handle" }, `@${author.username}`),
  );
}

// ---- media --------------------------------------------------------------------------------

function imageTile(media) {
  const img = h("img", {
    src: media.url,
    alt: media.alt_text || "",
    loading: "lazy",
    width: media.width,
    height: media.height,
  });
  return h(
    "a",
    { class: "post__image", href: media.url, target: "_blank", rel: "noopener", "aria-label": media.alt_text ? `Open image: ${media.alt_text}` : "Open image" },
    img,
    media.alt_text ? h("span", { class: "post__alt-badge", "aria-hidden": "true" }, "ALT") : null,
  );
}

function mediaBlock(post) {
  const items = post.media || [];
  if (!items.length) return null;
  const tiles = items.map((m) => (m.kind === "video" ? videoPlayer(m, { deferred: post.media_warning }) : imageTile(m)));
  const grid = h("div", { class: `post__media post__media--${Math.min(items.length, 4)}` }, tiles);
  if (!post.media_warning) return grid;
  // Sensitive media stay blurred and unreachable (inert) until the viewer asks.
  grid.inert = true;
  grid.classList.add("post__media--blurred");
  const reveal = h("button", { type: "button", class: "button button--secondary button--small" }, "Show sensitive media");
  const cover = h(
    "div",
    { class: "post__sensitive" },
    h("p", {}, "This media may be sensitive."),
    reveal,
  );
  const wrap = h("div", { class: "post__media-wrap" }, grid, cover);
  reveal.addEventListener("click", () => {
    grid.inert = false;
    grid.classList.remove("post__media--blurred");
    for (const video of grid.querySelectorAll("video[data-src]")) {
      video.src = video.dataset.src;
      video.removeAttribute("data-src");
    }
    cover.remove();
    (grid.querySelector("video, a") || grid).focus?.();
  });
  return wrap;
}

// ---- labels -------------------------------------------------------------------------------

const CATEGORY_NAMES = {
  adult: "adult content",
  arms: "arms",
  crime: "crime",
  death_injury_conflict: "death, injury or conflict",
  piracy: "piracy",
  hate_speech: "hate speech",
  obscenity_profanity: "obscenity or profanity",
  drugs_alcohol_tobacco: "drugs, alcohol or tobacco",
  spam: "spam",
  terrorism: "terrorism",
  debated_social_issues: "debated social issues",
  misinformation: "misinformation",
};

function labelsBlock(post, mine) {
  if (!mine || !post.labels?.length) return null;
  return h(
    "p",
    { class: "post__labels" },
    "Labelled (visible to you): ",
    post.labels.flatMap((label, i) => [
      i ? ", " : "",
      h("span", { class: "badge badge--warn", title: `${label.risk} risk, from ${label.source}` }, CATEGORY_NAMES[label.category] || label.category),
    ]),
  );
}

// ---- actions ------------------------------------------------------------------------------

// Stroke icons (Feather's shapes), drawn in the text colour.
const ICONS = {
  reply: "M21 11.5a8.38 8.38 0 0 1-.9 3.8 8.5 8.5 0 0 1-7.6 4.7 8.38 8.38 0 0 1-3.8-.9L3 21l1.9-5.7a8.38 8.38 0 0 1-.9-3.8 8.5 8.5 0 0 1 4.7-7.6 8.38 8.38 0 0 1 3.8-.9h.5a8.48 8.48 0 0 1 8 8v.5z",
  repost: "M17 1l4 4-4 4M3 11V9a4 4 0 0 1 4-4h14M7 23l-4-4 4-4M21 13v2a4 4 0 0 1-4 4H3",
  quote: "M17 3a2.83 2.83 0 1 1 4 4L7.5 20.5 2 22l1.5-5.5L17 3z",
  like: "M20.84 4.61a5.5 5.5 0 0 0-7.78 0L12 5.67l-1.06-1.06a5.5 5.5 0 0 0-7.78 7.78l1.06 1.06L12 21.23l7.78-7.78 1.06-1.06a5.5 5.5 0 0 0 0-7.78z",
  bookmark: "M19 21l-7-5-7 5V5a2 2 0 0 1 2-2h10a2 2 0 0 1 2 2z",
  delete: "M3 6h18M19 6v14a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V6m3 0V4a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2M10 11v6M14 11v6",
};
const SVG = "http://www.w3.org/2000/svg";

function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", "post__icon");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

const numberFormat = new Intl.NumberFormat(undefined, { notation: "compact" });

function countText(n) {
  return n ? numberFormat.format(n) : "";
}

/**
 * A toggle (like, repost, bookmark): flips at once, calls the API, and flips back
 * with a message if the server refuses.
 */
function toggleButton(post, { action, label, pressedLabel, countKey }) {
  const viewerKey = action === "bookmark" ? "bookmarked" : action === "like" ? "liked" : "reposted";
  const count = h("span", { class: "post__count" });
  const button = h(
    "button",
    { type: "button", class: `post__action post__action--${action}` },
    icon(action),
    count,
  );
  const paint = () => {
    const on = Boolean(post.viewer?.[viewerKey]);
    const n = countKey ? post.counts?.[countKey] || 0 : 0;
    button.setAttribute("aria-pressed", String(on));
    count.textContent = countKey ? countText(n) : "";
    const base = on ? pressedLabel : label;
    button.setAttribute("aria-label", countKey ? `${base} (${n})` : base);
    button.title = on ? pressedLabel : label;
  };
  paint();
  let running = false;
  button.addEventListener("click", async () => {
    if (running) return;
    running = true;
    const was = Boolean(post.viewer[viewerKey]);
    post.viewer[viewerKey] = !was;
    if (countKey) post.counts[countKey] = Math.max(0, (post.counts[countKey] || 0) + (was ? -1 : 1));
    paint();
    try {
      const path = `/api/v1/posts/${encodeURIComponent(post.id)}/${action}`;
      if (was) await api.delete(path);
      else await api.post(path);
    } catch (error) {
      post.viewer[viewerKey] = was;
      if (countKey) post.counts[countKey] = Math.max(0, (post.counts[countKey] || 0) + (was ? 1 : -1));
      paint();
      announce(error.detail || "That did not work. Please try again.", { error: true });
    } finally {
      running = false;
    }
  });
  return button;
}

function actionsBar(post, mine) {
  if (!post.viewer) {
    // A visitor sees the counts; acting needs an account.
    const c = post.counts || {};
    return h(
      "p",
      { class: "post__counts muted" },
      `${c.replies || 0} replies · ${c.reposts || 0} reposts · ${c.quotes || 0} quotes · ${c.likes || 0} likes`,
    );
  }
  const replies = post.counts?.replies || 0;
  const reply = h(
    "a",
    { class: "post__action post__action--reply", href: `${postPath(post)}#reply`, "aria-label": `Reply (${replies})`, title: "Reply" },
    icon("reply"),
    h("span", { class: "post__count" }, countText(replies)),
  );
  const quotes = post.counts?.quotes || 0;
  const quote = h(
    "button",
    { type: "button", class: "post__action post__action--quote", "aria-label": `Quote (${quotes})`, title: "Quote", "aria-haspopup": "dialog" },
    icon("quote"),
    h("span", { class: "post__count" }, countText(quotes)),
  );
  quote.addEventListener("click", async () => {
    const { openQuoteDialog } = await import("./compose.js");
    openQuoteDialog(post, quote);
  });
  const bar = h(
    "div",
    { class: "post__actions", role: "group", "aria-label": "Post actions" },
    reply,
    toggleButton(post, { action: "repost", label: "Repost", pressedLabel: "Undo repost", countKey: "reposts" }),
    quote,
    toggleButton(post, { action: "like", label: "Like", pressedLabel: "Unlike", countKey: "likes" }),
    toggleButton(post, { action: "bookmark", label: "Bookmark", pressedLabel: "Remove bookmark", countKey: null }),
  );
  if (mine) bar.append(deleteButton(post));
  return bar;
}

function deleteButton(post) {
  const button = h("button", { type: "button", class: "post__action post__action--delete", "aria-label": "Delete post", title: "Delete" }, icon("delete"));
  button.addEventListener("click", async () => {
    if (!(await confirmInline(button, "Delete this post?", "Delete"))) return;
    try {
      await api.delete(`/api/v1/posts/${encodeURIComponent(post.id)}`);
      announce("Your post was deleted.");
      document.dispatchEvent(new CustomEvent("plaza:post-deleted", { detail: { id: post.id } }));
    } catch (error) {
      button.hidden = false;
      announce(error.detail || "The post could not be deleted.", { error: true });
    }
  });
  return button;
}

// ---- the post -----------------------------------------------------------------------------

function replyingTo(post) {
  const parent = post.reply_to;
  if (!parent) return null;
  // reply_to may be the parent's id, or an object with its author.
  if (typeof parent === "object") {
    const who = parent.author?.username || parent.username;
    return h(
      "p",
      { class: "post__context" },
      "Replying to ",
      who ? h("a", { href: `/@${encodeURIComponent(who)}` }, `@${who}`) : "a post",
    );
  }
  return h("p", { class: "post__context" }, "Replying to ", h("a", { href: `/@${encodeURIComponent(post.author.username)}/status/${encodeURIComponent(parent)}` }, "a post"));
}

/** A short embedded copy of a quoted post (no actions), linking to it. */
export function quoteEmbed(quoted) {
  if (!quoted) return null;
  if (quoted.deleted) return h("div", { class: "post-quote post-quote--gone" }, "This post is unavailable.");
  const body = h(
    "div",
    { class: "post-quote" },
    h("div", { class: "post__head" }, avatar(quoted.author, "sm"), authorLine(quoted.author), " · ", timeElement(quoted.created_at)),
    quoted.text ? h("div", { class: "post__text" }, textNodes(quoted.text, quoted.entities)) : null,
    quoted.media?.length
      ? h("p", { class: "muted post-quote__media" }, quoted.media.some((m) => m.kind === "video") ? "Video" : `${quoted.media.length} image${quoted.media.length > 1 ? "s" : ""}`)
      : null,
    h("a", { class: "post-quote__open", href: postPath(quoted) }, "Open quoted post"),
  );
  return body;
}

/**
 * The <article> for `post`. `repostedBy` (an AuthorOut) adds the "reposted" line;
 * `focus` renders the thread's main post larger; `showParent: false` leaves out the
 * "Replying to" line where the parent is shown just above.
 */
export function renderPost(post, { repostedBy = null, focus = false, showParent = true } = {}) {
  if (post.deleted) {
    return h("article", { class: "post post--deleted", "data-post-id": post.id }, h("p", { class: "muted" }, "This post was deleted."));
  }
  const me = viewerUsername();
  const mine = Boolean(me && post.author.username === me);
  const headingId = `post-${post.id}-${Math.random().toString(36).slice(2, 8)}`;
  const time = timeElement(post.created_at);
  const article = h(
    "article",
    { class: focus ? "post post--focus" : "post", "data-post-id": post.id, "aria-labelledby": headingId },
    repostedBy
      ? h("p", { class: "post__context" }, h("span", { "aria-hidden": "true" }, "↻ "), h("a", { href: `/@${encodeURIComponent(repostedBy.username)}` }, repostedBy.display_name || repostedBy.username), " reposted")
      : null,
    h(
      "header",
      { class: "post__head" },
      avatar(post.author),
      h("h3", { class: "post__byline", id: headingId }, authorLine(post.author)),
      h("a", { class: "post__time", href: postPath(post) }, time),
      post.edited_at ? h("span", { class: "muted post__edited" }, " · edited") : null,
    ),
    showParent ? replyingTo(post) : null,
    post.text ? h("div", { class: "post__text", dir: "auto" }, textNodes(post.text, post.entities)) : null,
    mediaBlock(post),
    quoteEmbed(post.quote),
    labelsBlock(post, mine),
    actionsBar(post, mine),
  );
  return article;
}

/** A TimelineItem ({kind, post, reposted_by}) or a bare PostOut, as an article. */
export function renderItem(item) {
  if (item && item.post && item.kind) {
    return renderPost(item.post, { repostedBy: item.kind === "repost" ? item.reposted_by : null });
  }
  return renderPost(item);
}

// A deleted post disappears from every list on the page, reposts of it included.
document.addEventListener("plaza:post-deleted", (event) => {
  for (const el of document.querySelectorAll(`article[data-post-id="${CSS.escape(event.detail.id)}"]`)) {
    if (el.classList.contains("post--focus")) {
      el.replaceChildren(h("p", { class: "muted" }, "This post was deleted."));
      el.classList.add("post--deleted");
    } else {
      el.remove();
    }
  }
});
