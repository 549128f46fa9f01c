// Lists of posts: every [data-timeline="/api/v1/..."] element on the page becomes a
// feed of that endpoint's Page (TimelineItems or bare PostOuts), with "Load more".
//
// Options, as data attributes on the element:
// - data-timeline-label: the feed's accessible name (default "Posts");
// - data-timeline-empty: what to say when there is nothing;
// - data-timeline-poll: check for new posts every N seconds (the home timeline);
// - data-timeline-own: "true" to show the viewer's new posts at the top at once.

import { api } from "../api.js";
import { h } from "../dom.js";
import { showError } from "../forms.js";
import { renderItem } from "./post.js";

const PAGE_SIZE = 20;

function withQuery(url, params) {
  const [path, query = ""] = url.split("?");
  const search = new URLSearchParams(query);
  for (const [key, value] of Object.entries(params)) if (value !== null && value !== undefined) search.set(key, value);
  return `${path}?${search}`;
}

/** A stable key per entry: a post and a repost of it are two entries. */
function keyOf(item) {
  if (item.post && item.kind) return `${item.kind}:${item.id}:${item.post.id}`;
  return `post:${item.id}`;
}

export function hydrateTimeline(root) {
  if (root.dataset.hydrated) return null;
  root.dataset.hydrated = "true";
  const source = root.dataset.timeline;
  const feed = h("div", { class: "feed", role: "feed", "aria-busy": "true", "aria-label": root.dataset.timelineLabel || "Posts" });
  const error = h("div", { class: "form-error", role: "alert" });
  const empty = h("p", { class: "feed__empty muted", hidden: true }, root.dataset.timelineEmpty || "Nothing here yet.");
  const more = h("button", { type: "button", class: "button button--secondary feed__more", hidden: true }, "Load more");
  const fresh = h("button", { type: "button", class: "button button--small feed__fresh", hidden: true });
  const status = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });
  root.append(fresh, error, feed, empty, more, status);

  const seen = new Set();
  let cursor = null;
  let pending = [];
  let loading = false;

  function render(items, where) {
    const nodes = [];
    for (const item of items) {
      const key = keyOf(item);
      if (seen.has(key)) continue;
      seen.add(key);
      const article = renderItem(item);
      article.dataset.key = key;
      nodes.push(article);
    }
    if (where === "top") feed.prepend(...nodes);
    else feed.append(...nodes);
    const articles = feed.querySelectorAll(":scope > article");
    articles.forEach((a, i) => a.setAttribute("aria-posinset", String(i + 1)));
    empty.hidden = articles.length > 0;
    return nodes;
  }

  async function load(next) {
    if (loading) return;
    loading = true;
    feed.setAttribute("aria-busy", "true");
    error.textContent = "";
    try {
      const page = await api.get(withQuery(source, { limit: PAGE_SIZE, cursor: next }));
      const added = render(page.data, "bottom");
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (next) status.textContent = added.length ? `${added.length} more posts loaded.` : "No more posts.";
      if (next && added[0]) {
        added[0].tabIndex = -1;
        added[0].focus({ preventScroll: false });
      }
    } catch (exc) {
      showError(error, exc);
      empty.hidden = true;
    } finally {
      feed.setAttribute("aria-busy", "false");
      loading = false;
    }
  }

  more.addEventListener("click", () => load(cursor));

  // New posts: until the real-time gateway (WS /api/v1/stream) carries timeline
  // events, poll the first page and offer what is new instead of moving the list
  // under the reader.
  const pollSeconds = Number(root.dataset.timelinePoll) || 0;
  async function poll() {
    if (document.hidden || loading) return;
    try {
      const page = await api.get(withQuery(source, { limit: PAGE_SIZE }));
      const fresher = [];
      for (const item of page.data) {
        if (seen.has(keyOf(item))) break; // everything below was already shown
        fresher.push(item);
      }
      const known = new Set(pending.map(keyOf));
      pending = [...fresher.filter((i) => !known.has(keyOf(i))), ...pending.filter((i) => !fresher.some((f) => keyOf(f) === keyOf(i)))];
      if (pending.length) {
        const label = pending.length === 1 ? "Show 1 new post" : `Show ${pending.length} new posts`;
        if (fresh.textContent !== label) {
          fresh.textContent = label;
          status.textContent = pending.length === 1 ? "1 new post." : `${pending.length} new posts.`;
        }
        fresh.hidden = false;
      }
    } catch {
      /* a missed poll is retried on the next tick */
    }
  }
  fresh.addEventListener("click", () => {
    const nodes = render(pending, "top");
    pending = [];
    fresh.hidden = true;
    if (nodes[0]) {
      nodes[0].tabIndex = -1;
      nodes[0].focus();
    }
  });
  if (pollSeconds > 0) {
    setInterval(poll, pollSeconds * 1000);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) poll();
    });
  }

  if (root.dataset.timelineOwn === "true") {
    document.addEventListener("plaza:post-created", (event) => {
      const post = event.detail;
      render([{ id: post.id, kind: "post", post, reposted_by: null, at: post.created_at }], "top");
    });
  }

  load(null);
  return { reload: () => load(null) };
}

for (const root of document.querySelectorAll("[data-timeline]")) hydrateTimeline(root);
