// Tiny DOM helpers: build elements without innerHTML, and format times.

/** h("li", {class: "row"}, "text", child) -> an element; attributes starting "on" are listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "long" });

/** A <time> element for an RFC 3339 timestamp. */
export function time(iso, { withTime = true } = {}) {
  const when = new Date(iso);
  return h("time", { datetime: iso }, (withTime ? dateTime : dateOnly).format(when));
}

export function formatDate(iso) {
  return dateOnly.format(new Date(iso));
}

/** "Firefox on Linux"-style name for a user agent string. */
export function describeAgent(ua) {
  if (!ua) return "Unknown device";
  const browser =
    /Edg\//.test(ua) ? "Edge"
    : /OPR\//.test(ua) ? "Opera"
    : /Firefox\//.test(ua) ? "Firefox"
    : /(Chrome|Chromium)\//.test(ua) ? "Chrome"
    : /Safari\//.test(ua) ? "Safari"
    : /curl|python|httpx|okhttp/i.test(ua) ? "API client"
    : "Browser";
  const os =
    /Android/.test(ua) ? "Android"
    : /iPhone|iPad|iOS/.test(ua) ? "iOS"
    : /Mac OS X|Macintosh/.test(ua) ? "macOS"
    : /Windows/.test(ua) ? "Windows"
    : /CrOS/.test(ua) ? "ChromeOS"
    : /Linux/.test(ua) ? "Linux"
    : "";
  return os ? `${browser} on ${os}` : browser;
}

/**
 * Ask "are you sure?" in place of `button`: resolves true if the user confirms.
 * Keeps focus on the new controls, and returns it to `button` afterwards.
 */
export function confirmInline(button, question, confirmLabel, cancelLabel = "Cancel") {
  return new Promise((resolve) => {
    const yes = h("button", { type: "button", class: "button button--danger button--small" }, confirmLabel);
    const no = h("button", { type: "button", class: "button button--secondary button--small" }, cancelLabel);
    const box = h("div", { class: "confirm", role: "group", "aria-label": question }, h("span", {}, question), yes, no);
    const done = (answer) => {
      box.remove();
      button.hidden = false;
      if (!answer) button.focus();
      resolve(answer);
    };
    yes.addEventListener("click", () => done(true));
    no.addEventListener("click", () => done(false));
    box.addEventListener("keydown", (event) => {
      if (event.key === "Escape") done(false);
    });
    button.hidden = true;
    button.after(box);
    no.focus();
  });
}
