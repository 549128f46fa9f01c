// Search, People tab: matching accounts, with "Load more". (The Posts tab is a
// [data-timeline] list, filled by timeline.js.)

import { api } from "../api.js";
import { h } from "../dom.js";
import { showError } from "../forms.js";
import { avatar, verifiedBadge } from "./post.js";

function personRow(person) {
  return h(
    "li",
    { class: "person" },
    avatar(person),
    h(
      "a",
      { class: "person__link", href: `/@${encodeURIComponent(person.username)}` },
      h("span", { class: "post__name" }, person.display_name || person.username),
      person.verified ? verifiedBadge() : null,
      h("span", { class: "post__handle" }, `@${person.username}`),
    ),
  );
}

function hydratePeople(root) {
  const source = root.dataset.people;
  const list = h("ul", { class: "people", "aria-label": root.dataset.label || "People" });
  const error = h("div", { class: "form-error", role: "alert" });
  const empty = h("p", { class: "feed__empty muted", hidden: true }, "No one matches your search.");
  const more = h("button", { type: "button", class: "button button--secondary feed__more", hidden: true }, "Load more");
  root.append(error, list, empty, more);
  let cursor = null;

  async function load(next) {
    root.setAttribute("aria-busy", "true");
    try {
      const query = next ? `${source}&cursor=${encodeURIComponent(next)}` : source;
      const page = await api.get(query);
      const rows = page.data.map(personRow);
      list.append(...rows);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      empty.hidden = list.childElementCount > 0;
      if (next && rows[0]) rows[0].querySelector("a").focus();
    } catch (exc) {
      showError(error, exc);
    } finally {
      root.setAttribute("aria-busy", "false");
    }
  }
  more.addEventListener("click", () => load(cursor));
  load(null);
}

for (const root of document.querySelectorAll("[data-people]")) hydratePeople(root);
