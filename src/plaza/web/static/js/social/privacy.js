// Privacy settings: the private-account switch, pending follow requests (approve or
// deny), and the blocked and muted accounts (unblock, unmute).

import { api } from "../api.js";
import { h } from "../dom.js";
import { busy, clearErrors, say, showError } from "../forms.js";
import { peopleList } from "./profile.js";

const form = document.getElementById("private-form");
const toggle = document.getElementById("private-toggle");
const requestList = document.getElementById("request-list");

function rowButton(label, className, onClick) {
  const button = h("button", { type: "button", class: `button button--small ${className}` }, label);
  button.addEventListener("click", () => busy(button, onClick));
  return button;
}

/** A list whose rows each get one or two buttons that remove the row when done. */
function actionList(list, url, prefix, buttons) {
  const error = document.getElementById(`${prefix}-error`);
  const status = document.getElementById(`${prefix}-status`);
  return peopleList(list, url, {
    more: document.getElementById(`${prefix}-more`),
    error,
    actions: (author, row) =>
      buttons.map(({ label, className, run, done }) =>
        rowButton(`${label}`, className, async () => {
          clearErrors(error);
          try {
            await run(author);
            row.remove();
            say(status, done(author));
            if (!list.children.length) list.append(h("li", { class: "people__empty muted" }, list.dataset.empty));
          } catch (err) {
            showError(error, err);
          }
        }),
      ),
  });
}

const user = (author) => encodeURIComponent(author.username);

const requests = actionList(requestList, "/api/v1/me/follow-requests", "requests", [
  {
    label: "Approve",
    className: "",
    run: (a) => api.post(`/api/v1/me/follow-requests/${user(a)}/approve`),
    done: (a) => `@${a.username} now follows you.`,
  },
  {
    label: "Deny",
    className: "button--secondary",
    run: (a) => api.post(`/api/v1/me/follow-requests/${user(a)}/deny`),
    done: (a) => `Request from @${a.username} denied.`,
  },
]);

actionList(document.getElementById("block-list"), "/api/v1/me/blocks", "blocks", [
  {
    label: "Unblock",
    className: "button--secondary",
    run: (a) => api.delete(`/api/v1/users/${user(a)}/block`),
    done: (a) => `@${a.username} is unblocked.`,
  },
]);

actionList(document.getElementById("mute-list"), "/api/v1/me/mutes", "mutes", [
  {
    label: "Unmute",
    className: "button--secondary",
    run: (a) => api.delete(`/api/v1/users/${user(a)}/mute`),
    done: (a) => `@${a.username} is no longer muted.`,
  },
]);

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  const error = document.getElementById("private-error");
  const status = document.getElementById("private-status");
  busy(button, async () => {
    clearErrors(error, form);
    const wasPrivate = toggle.defaultChecked;
    try {
      const profile = await api.patch("/api/v1/me/profile", { is_private: toggle.checked });
      toggle.defaultChecked = profile.is_private;
      if (profile.is_private) {
        say(status, "Your account is private. New followers must ask first.");
      } else {
        say(status, wasPrivate ? "Your account is public. Pending follow requests were approved." : "Your account is public.");
        requests.reload();
      }
    } catch (err) {
      showError(error, err, form);
    }
  });
});
