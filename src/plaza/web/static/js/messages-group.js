// A group conversation's "Members and settings" panel: the members with their roles,
// and for the group's admins renaming the group, adding people and removing members.
// Leaving is the "Leave group" button of the conversation's tools. Every change is
// answered with the conversation (or refetched), and the system line it leaves
// ("@alice added @carol") reaches every member through the stream.
//
//   const panel = createGroupPanel({ path, me, onChanged });
//   panel.render(conversation)  // shows or hides the panel, fills it

import { api } from "./api.js";
import { confirmInline, h } from "./dom.js";
import { busy, clearErrors, fieldError, say, showError } from "./forms.js";
import { displayName, usernames } from "./messages-common.js";

const $ = (id) => document.getElementById(id);
const STATES = { request: "invited", left: "left", removed: "removed" };

export function createGroupPanel({ path, me, onChanged }) {
  const panel = $("dm-group");
  const list = $("dm-group-members");
  const errorRegion = $("dm-group-error");
  const status = $("dm-group-status");
  const renameForm = $("dm-rename-form");
  const addForm = $("dm-add-form");
  let conversation = null;
  // While an inline "Remove …?" confirmation is open, a live update (someone joined,
  // the stream's conversation.updated) must not redraw the list under it: it would
  // detach the confirmation the person is about to click. The update waits.
  let confirming = false;
  let deferred = null;

  const isAdmin = () => conversation?.members?.some((m) => m.username === me && m.role === "admin" && m.state === "active");

  async function changed(answer) {
    conversation = answer || (await api.get(path));
    onChanged(conversation);
  }

  function memberRow(member) {
    const current = member.state === "active" || member.state === "request";
    const notes = [];
    if (member.role === "admin") notes.push("admin");
    if (STATES[member.state]) notes.push(STATES[member.state]);
    const row = h(
      "li",
      { class: `dm-group__member${current ? "" : " dm-group__member--gone"}`, "data-username": member.username },
      h("a", { href: `/@${encodeURIComponent(member.username)}` }, member.username === me ? "You" : displayName(member)),
      member.username === me ? null : h("span", { class: "muted" }, ` @${member.username}`),
      notes.length ? h("span", { class: "badge dm-group__role" }, notes.join(", ")) : null,
    );
    if (isAdmin() && current && member.username !== me) {
      const remove = h(
        "button",
        { type: "button", class: "button button--danger-quiet button--small", "aria-label": `Remove @${member.username} from the group` },
        "Remove",
      );
      remove.addEventListener("click", async () => {
        confirming = true;
        let confirmed;
        try {
          confirmed = await confirmInline(remove, `Remove @${member.username}?`, "Remove");
        } finally {
          confirming = false;
        }
        if (deferred) {
          const next = deferred;
          deferred = null;
          if (!confirmed) render(next);
        }
        if (!confirmed) return;
        clearErrors(errorRegion);
        try {
          await api.delete(`${path}/members/${encodeURIComponent(member.username)}`);
          await changed();
          say(status, `@${member.username} was removed from the group.`);
          $("dm-group-members-heading").focus(); // the button went with its row
        } catch (error) {
          showError(errorRegion, error);
        }
      });
      row.append(remove);
    }
    return row;
  }

  function render(next) {
    if (confirming) {
      conversation = next;
      deferred = next;
      return;
    }
    conversation = next;
    const group = conversation?.kind === "group";
    panel.hidden = !group;
    if (!group) return;
    const order = { active: 0, request: 1, left: 2, removed: 3 };
    const members = [...conversation.members].sort((a, b) => (order[a.state] ?? 9) - (order[b.state] ?? 9));
    list.replaceChildren(...members.map(memberRow));
    const admin = isAdmin();
    renameForm.hidden = !admin;
    addForm.hidden = !admin;
    const nameInput = renameForm.elements.namedItem("name");
    if (document.activeElement !== nameInput) nameInput.value = conversation.name || "";
    $("dm-group-note").hidden = admin || conversation.state !== "active";
  }

  renameForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = renameForm.elements.namedItem("name").value.trim();
    if (name === (conversation?.name || "")) return;
    busy(renameForm.querySelector("button[type=submit]"), async () => {
      clearErrors(errorRegion, renameForm);
      try {
        await changed(await api.patch(path, { name: name || null }));
        say(status, name ? `The group is now called “${name}”.` : "The group’s name was removed.");
      } catch (error) {
        showError(errorRegion, error, renameForm);
      }
    });
  });

  addForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const names = usernames(addForm.elements.namedItem("usernames").value);
    if (!names.length) {
      fieldError(errorRegion, addForm, "usernames", "Enter at least one @username.");
      return;
    }
    busy(addForm.querySelector("button[type=submit]"), async () => {
      clearErrors(errorRegion, addForm);
      try {
        await changed(await api.post(`${path}/members`, { usernames: names }));
        addForm.reset();
        say(status, `Added ${names.map((n) => `@${n}`).join(", ")}.`);
      } catch (error) {
        showError(errorRegion, error, addForm);
      }
    });
  });

  return { render };
}
