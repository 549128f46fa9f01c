// Form helpers: collect named values, show a problem next to the form and on the
// fields it names, and keep a button busy while its request runs.

import { ApiError, api } from "./api.js";

/** The trimmed values of the named fields (empty optional fields are left out). */
export function values(form, names, { keepEmpty = [] } = {}) {
  const out = {};
  for (const name of names) {
    const input = form.elements.namedItem(name);
    if (!input) continue;
    const value = input.type === "password" ? input.value : input.value.trim();
    if (value !== "" || keepEmpty.includes(name)) out[name] = value;
  }
  return out;
}

function describedBy(input, id, add) {
  const ids = new Set((input.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean));
  if (add) ids.add(id);
  else ids.delete(id);
  if (ids.size) input.setAttribute("aria-describedby", [...ids].join(" "));
  else input.removeAttribute("aria-describedby");
}

/** The input a problem's field names: "new_password" (or "query.x") -> that input. */
function inputFor(form, field) {
  if (!form || !field) return null;
  const parts = String(field).split(".").filter((p) => !["body", "query", "path"].includes(p));
  for (const name of [parts.join("."), parts[0], parts.at(-1)]) {
    if (!name) continue;
    const input = form.querySelector(`[name="${CSS.escape(name)}"]:not([type=hidden]):not([hidden])`);
    if (input) return input;
  }
  return null;
}

export function clearErrors(region, form) {
  if (region) region.textContent = "";
  if (!form) return;
  for (const input of form.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
    const slot = document.getElementById(`${input.id}-error`);
    if (slot) {
      slot.textContent = "";
      slot.hidden = true;
      describedBy(input, slot.id, false);
    }
  }
}

function humanMessage(error) {
  if (error?.friendly) return error.message;
  if (!(error instanceof ApiError)) {
    console.error(error);
    return "Something went wrong. Please try again.";
  }
  if (error.status === 429 && error.retryAfter) {
    const minutes = Math.ceil(error.retryAfter / 60);
    const wait = error.retryAfter < 90 ? `${error.retryAfter} seconds` : `${minutes} minutes`;
    return `${error.detail} Try again in ${wait}.`;
  }
  return error.detail;
}

/**
 * Show `error` in the alert `region` and, for every field it names, on that field of
 * `form`. Focuses the first invalid field (or leaves focus alone).
 */
export function showError(region, error, form = null) {
  clearErrors(region, form);
  const named = [];
  const loose = [];
  for (const item of error instanceof ApiError ? error.errors : []) {
    const input = inputFor(form, item.field);
    if (!input) {
      loose.push(item.message);
      continue;
    }
    const slot = document.getElementById(`${input.id}-error`);
    input.setAttribute("aria-invalid", "true");
    if (slot) {
      const label = form.querySelector(`label[for="${input.id}"]`)?.textContent.trim();
      slot.textContent = capitalise(item.message);
      slot.hidden = false;
      describedBy(input, slot.id, true);
      named.push(sentence(label, item.message));
    }
  }
  let message = humanMessage(error);
  if (named.length) message = named.length === 1 ? named[0] : "Please fix the highlighted fields.";
  else if (loose.length && error.status === 422) message = loose.map(capitalise).join(". ");
  if (region) region.textContent = message;
  const first = form?.querySelector("[aria-invalid=true]");
  if (first) first.focus();
}

/** Mark an error on one field without a server answer (e.g. an empty required field). */
export function fieldError(region, form, name, message) {
  showError(region, new ApiError(422, { detail: message, errors: [{ field: name, message }] }), form);
}

/** "Password" + "is too common" -> "Password is too common."; keeps other messages whole. */
function sentence(label, message) {
  const text = String(message || "").replace(/\.$/, "");
  if (!label) return `${capitalise(text)}.`;
  return /^[a-z]/.test(text) ? `${label} ${text}.` : `${label}: ${text}.`;
}

function capitalise(text) {
  const s = String(text || "");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Run `work` with `button` disabled and marked busy; returns what `work` returns. */
export async function busy(button, work) {
  if (!button) return work();
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

/** A message shown on the next page (e.g. "You are signed out."). */
export function flashNext(message) {
  try {
    sessionStorage.setItem("plaza.flash", message);
  } catch {
    /* storage may be off; the message is a nicety */
  }
}

export function say(region, message) {
  if (!region) return;
  region.textContent = "";
  // A fresh text node after clearing makes screen readers announce a repeat message.
  requestAnimationFrame(() => {
    region.textContent = message;
  });
}

/** Wire a "Keep my account" button: cancels a scheduled deletion, then reloads. */
export function wireCancelDeletion(button, errorRegion) {
  button?.addEventListener("click", () =>
    busy(button, async () => {
      try {
        await api.delete("/api/v1/me/deletion");
        flashNext("Your account will not be deleted.");
        window.location.reload();
      } catch (error) {
        showError(errorRegion, error);
      }
    }),
  );
}
