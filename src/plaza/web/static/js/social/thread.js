// The thread page: the posts above, the post itself, a reply box, and the replies.

import { api } from "../api.js";
import { h } from "../dom.js";
import { showError } from "../forms.js";
import { MAX_LENGTH, createComposer } from "./compose.js";
import { postPath, renderPost } from "./post.js";

const root = document.getElementById("thread");

function unavailable(message) {
  document.title = "Post unavailable · Plaza";
  root.setAttribute("aria-busy", "false");
  root.replaceChildren(
    h("section", { class: "card" }, h("h1", { tabindex: "-1" }, "This post is unavailable"), h("p", {}, message), h("p", {}, h("a", { href: "/" }, "Back to your timeline"))),
  );
}

function titleFor(post) {
  const text = Array.from(post.text || "");
  const snippet = text.length > 40 ? `${text.slice(0, 40).join("")}…` : text.join("");
  return `${post.author.display_name || post.author.username}: “${snippet}” · Plaza`;
}

async function main() {
  const id = root.dataset.postId;
  const base = `/api/v1/posts/${encodeURIComponent(id)}/thread`;
  let thread;
  try {
    thread = await api.get(base);
  } catch (error) {
    if (error.status === 404) return unavailable("It may have been deleted, or its author may not share it with you.");
    root.setAttribute("aria-busy", "false");
    const region = h("div", { class: "form-error", role: "alert" });
    root.replaceChildren(region);
    return showError(region, error);
  }
  const { ancestors, post, replies } = thread;
  // The link may carry an old or wrong username; show the canonical address.
  if (window.location.pathname !== postPath(post)) {
    history.replaceState(null, "", postPath(post) + window.location.hash);
  }
  document.title = titleFor(post);

  const above = h(
    "div",
    { class: "thread__ancestors", role: "feed", "aria-label": "Earlier posts in this conversation" },
    ancestors.map((p, i) => renderPost(p, { showParent: i === 0 })),
  );
  let main = renderPost(post, { focus: true, showParent: !ancestors.length });
  const heading = h("h1", { class: "visually-hidden", tabindex: "-1" }, `Post by @${post.author.username}`);

  const repliesFeed = h("div", { class: "feed", role: "feed", "aria-label": "Replies" });
  const empty = h("p", { class: "feed__empty muted" }, "No replies yet.");
  const more = h("button", { type: "button", class: "button button--secondary feed__more", hidden: true }, "Show more replies");
  const error = h("div", { class: "form-error", role: "alert" });
  const shown = new Set();
  function addReplies(items, where = "bottom") {
    const nodes = items.filter((p) => !shown.has(p.id)).map((p) => {
      shown.add(p.id);
      return renderPost(p, { showParent: false });
    });
    if (where === "top") repliesFeed.prepend(...nodes);
    else repliesFeed.append(...nodes);
    empty.hidden = repliesFeed.childElementCount > 0;
    return nodes;
  }
  let cursor = replies.next_cursor;
  addReplies(replies.data);
  more.hidden = !cursor;
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const page = await api.get(`${base}?cursor=${encodeURIComponent(cursor)}`);
      const nodes = addReplies(page.replies.data);
      cursor = page.replies.next_cursor;
      more.hidden = !cursor;
      if (nodes[0]) {
        nodes[0].tabIndex = -1;
        nodes[0].focus();
      }
    } catch (exc) {
      showError(error, exc);
    } finally {
      more.disabled = false;
    }
  });

  let composer = null;
  if (post.viewer && !post.deleted) {
    composer = createComposer({
      label: `Reply to @${post.author.username}`,
      submitLabel: "Reply",
      replyTo: post,
      maxLength: Number(root.dataset.maxLength) || MAX_LENGTH,
      onPosted: (reply) => {
        post.counts.replies = (post.counts.replies || 0) + 1;
        const updated = renderPost(post, { focus: true, showParent: !ancestors.length });
        main.replaceWith(updated);
        main = updated;
        addReplies([reply], "top");
      },
    });
  }

  root.replaceChildren(
    heading,
    ancestors.length ? above : "",
    main,
    composer ? h("section", { class: "thread__reply", id: "reply", "aria-label": "Reply" }, composer) : "",
    h("section", { class: "thread__replies", "aria-labelledby": "replies-heading" }, h("h2", { id: "replies-heading" }, "Replies"), error, repliesFeed, empty, more),
  );
  root.setAttribute("aria-busy", "false");
  if (window.location.hash === "#reply" && composer) composer.focusText();
  else if (ancestors.length) main.scrollIntoView({ block: "start" });
}

if (root) main();
