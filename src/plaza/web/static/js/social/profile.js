// Profile pages: follow / block / mute buttons and the edit form on /@username, and the
// follower lists on /@username/followers and /following. Also exports peopleList(),
// which the privacy settings page uses for its lists.

import { api } from "../api.js";
import { h } from "../dom.js";
import { busy, clearErrors, say, showError } from "../forms.js";
import { uploadFile } from "../media/upload.js";
import { badgeFor } from "../premium/badge.js";

const PAGE_SIZE = 30;

/** One row of a people list: avatar, name, @handle and verified mark. */
export function personRow(author) {
  const avatar = author.avatar_url
    ? h("img", { class: "avatar avatar--md", src: author.avatar_url, alt: "", width: 40, height: 40 })
    : h("span", { class: "avatar avatar--md avatar--initial", "aria-hidden": "true" }, author.username[0].toUpperCase());
  const name = h(
    "a",
    { href: `/@${encodeURIComponent(author.username)}`, class: "people__name" },
    h("strong", {}, author.display_name || author.username),
    badgeFor(author),
    h("span", { class: "muted" }, ` @${author.username}`),
  );
  return h("li", { class: "people__row" }, avatar, name);
}

/**
 * Fill `list` (a <ul>) from a paged endpoint of AuthorOut, with a "more" button.
 * `actions(author, row)` returns the buttons of a row. Returns { reload }.
 */
export function peopleList(list, url, { more, error, actions = () => [] } = {}) {
  let cursor = null;
  const empty = list.dataset.empty || "Nobody yet.";

  async function load(reset) {
    if (reset) {
      cursor = null;
      list.replaceChildren();
    }
    list.setAttribute("aria-busy", "true");
    try {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (cursor) query.set("cursor", cursor);
      const page = await api.get(`${url}?${query}`);
      for (const author of page.data) {
        const row = personRow(author);
        const buttons = actions(author, row);
        if (buttons.length) row.append(h("div", { class: "people__actions" }, buttons));
        list.append(row);
      }
      cursor = page.next_cursor;
      if (more) more.hidden = !cursor;
      if (!list.children.length) list.append(h("li", { class: "people__empty muted" }, empty));
    } catch (err) {
      showError(error, err);
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  }

  more?.addEventListener("click", () => busy(more, () => load(false)));
  load(true);
  return { reload: () => load(true) };
}

// ---- the profile page -------------------------------------------------------------

const FOLLOW_LABELS = { following: "Unfollow", requested: "Requested", none: "Follow" };

function initProfile(root) {
  const username = root.dataset.username;
  const base = `/api/v1/users/${encodeURIComponent(username)}`;
  const status = document.getElementById("profile-status");
  const error = document.getElementById("profile-error");
  const follow = document.getElementById("follow-button");
  const mute = document.getElementById("mute-button");
  const block = document.getElementById("block-button");

  async function refreshCounts() {
    try {
      const profile = await api.get(base);
      document.getElementById("count-followers").textContent = profile.counts.followers;
      document.getElementById("count-following").textContent = profile.counts.following;
      document.getElementById("count-posts").textContent = profile.counts.posts;
    } catch {
      /* the counts are a nicety; the action itself succeeded */
    }
  }

  function setFollow(state) {
    follow.dataset.state = state;
    follow.textContent = FOLLOW_LABELS[state];
    follow.classList.toggle("button--secondary", state !== "none");
  }

  follow?.addEventListener("click", () =>
    busy(follow, async () => {
      clearErrors(error);
      try {
        const state = follow.dataset.state;
        const answer = state === "none" ? await api.post(`${base}/follow`) : await api.delete(`${base}/follow`);
        setFollow(answer.state);
        say(status, answer.state === "following" ? `You follow @${username}.`
          : answer.state === "requested" ? `Follow request sent to @${username}.`
          : state === "requested" ? "Follow request withdrawn." : `You no longer follow @${username}.`);
        refreshCounts();
      } catch (err) {
        showError(error, err);
      }
    }),
  );

  mute?.addEventListener("click", () =>
    busy(mute, async () => {
      clearErrors(error);
      const on = mute.dataset.on === "true";
      try {
        await (on ? api.delete(`${base}/mute`) : api.post(`${base}/mute`));
        mute.dataset.on = String(!on);
        mute.textContent = on ? "Mute" : "Unmute";
        say(status, on ? `@${username} is no longer muted.` : `@${username} is muted. They are not told.`);
      } catch (err) {
        showError(error, err);
      }
    }),
  );

  block?.addEventListener("click", () =>
    busy(block, async () => {
      clearErrors(error);
      const on = block.dataset.on === "true";
      try {
        await (on ? api.delete(`${base}/block`) : api.post(`${base}/block`));
        block.dataset.on = String(!on);
        block.textContent = on ? "Block" : "Unblock";
        if (follow) {
          follow.hidden = !on;
          if (!on) setFollow("none");
        }
        say(status, on ? `@${username} is unblocked.` : `@${username} is blocked. Follows between you have ended.`);
        // A blocked profile is a 404 to its blocker too: reload it to show the counts.
        if (on) refreshCounts();
      } catch (err) {
        showError(error, err);
      }
    }),
  );
}

// ---- editing one's own profile ------------------------------------------------------

function initEdit(form) {
  const error = document.getElementById("edit-error");
  const status = document.getElementById("edit-status");
  const progress = document.getElementById("upload-progress");

  async function upload(input) {
    const file = input.files?.[0];
    if (!file) return undefined;
    progress.hidden = false;
    progress.value = 0;
    try {
      const media = await uploadFile(file, {
        altText: "",
        onProgress: (sent, total) => {
          progress.value = total ? sent / total : 0;
        },
      });
      return media.id;
    } finally {
      progress.hidden = true;
    }
  }

  async function save(body, message) {
    const profile = await api.patch("/api/v1/me/profile", body);
    say(status, message);
    document.getElementById("profile-display-name").textContent = profile.display_name || profile.username;
    return profile;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    busy(button, async () => {
      clearErrors(error, form);
      try {
        const body = {
          display_name: form.elements.display_name.value.trim(),
          bio: form.elements.bio.value.trim(),
          website: form.elements.website.value.trim(),
          is_creator: form.elements.is_creator.checked,
        };
        say(status, "Saving…");
        const avatar = await upload(form.elements.avatar_media_id);
        if (avatar) body.avatar_media_id = avatar;
        const banner = await upload(form.elements.banner_media_id);
        if (banner) body.banner_media_id = banner;
        await save(body, "Profile saved.");
        if (avatar || banner) window.location.reload();
      } catch (err) {
        say(status, "");
        showError(error, err, form);
      }
    });
  });

  for (const [id, field, label] of [["remove-avatar", "avatar_media_id", "Profile picture removed."], ["remove-banner", "banner_media_id", "Banner removed."]]) {
    const button = document.getElementById(id);
    button?.addEventListener("click", () =>
      busy(button, async () => {
        try {
          await save({ [field]: null }, label);
          window.location.reload();
        } catch (err) {
          showError(error, err, form);
        }
      }),
    );
  }
}

// ---- tabs (Posts / Replies / Media) ---------------------------------------------------

function initTabs(tablist) {
  const tabs = [...tablist.querySelectorAll("[role=tab]")];
  function select(tab) {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
    }
    tab.focus();
  }
  tablist.addEventListener("click", (event) => {
    const tab = event.target.closest("[role=tab]");
    if (tab) select(tab);
  });
  tablist.addEventListener("keydown", (event) => {
    const at = tabs.indexOf(document.activeElement);
    if (at < 0) return;
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (step) {
      event.preventDefault();
      select(tabs[(at + step + tabs.length) % tabs.length]);
    } else if (event.key === "Home" || event.key === "End") {
      event.preventDefault();
      select(tabs[event.key === "Home" ? 0 : tabs.length - 1]);
    }
  });
}

const profile = document.getElementById("profile");
if (profile) initProfile(profile);
const editForm = document.getElementById("profile-form");
if (editForm) initEdit(editForm);
const tablist = document.querySelector(".profile-posts [role=tablist]");
if (tablist) initTabs(tablist);
const people = document.getElementById("people");
if (people) {
  peopleList(people, people.dataset.people, {
    more: document.getElementById("people-more"),
    error: document.getElementById("people-error"),
  });
}
