// The composer: text with a live counter that measures like the server, up to four
// images or one video uploaded while you write, and the Post button.
//
// Mounted on every [data-composer] element on load; thread.js and the quote dialog
// build their own with createComposer().

import { api } from "../api.js";
import { h } from "../dom.js";
import { uploadAttachment } from "../media/attachment.js";
import { clearErrors, say, showError } from "../forms.js";
import { announce, quoteEmbed } from "./post.js";

// ---- counting, as the server does (plaza.social.text) ---------------------------------------

export const URL_WEIGHT = 23;
export const MAX_LENGTH = 280;
const MAX_IMAGES = 4;

const GTLDS =
  "com|org|net|edu|gov|mil|int|info|biz|name|pro|aero|coop|museum|mobi|asia|tel|travel|" +
  "io|co|dev|app|ai|me|tv|ly|gg|fm|to|sh|so|xyz|online|site|tech|store|shop|blog|news|" +
  "social|page|link|cloud|club|live|world|today|media|space|website|art|design";
const LABEL = String.raw`[\p{L}\p{N}](?:[\p{L}\p{N}\-]{0,61}[\p{L}\p{N}])?`;
const PATH = String.raw`(?:\/[^\s<>"]*)?`;
const PORT = String.raw`(?::\d{1,5})?`;
const URL_RE = new RegExp(
  String.raw`(?<![\p{L}\p{N}@$#_\/.\-])(?:https?:\/\/[^\s<>"]+` +
    String.raw`|(?:${LABEL}\.)+(?:${GTLDS})${PORT}(?![\p{L}\p{N}\-])${PATH}` +
    String.raw`|(?:${LABEL}\.)+[a-z]{2}${PORT}\/[^\s<>"]*)`,
  "giu",
);
const TRAILING = ".,:;!?'\")]}>*";

const segmenter = "Segmenter" in Intl ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;

export function graphemes(text) {
  if (!segmenter) return Array.from(text).length;
  let n = 0;
  for (const _ of segmenter.segment(text)) n += 1;
  return n;
}

function trimTrailing(value) {
  let end = value.length;
  while (end > 0 && TRAILING.includes(value[end - 1])) end -= 1;
  let trimmed = value.slice(0, end);
  // A closing bracket that belongs to the URL ("wiki/Foo_(bar)") stays.
  const count = (s, c) => s.split(c).length - 1;
  if (value[end] === ")" && count(trimmed, "(") > count(trimmed, ")")) trimmed += ")";
  return trimmed;
}

/** The URLs in `text` as [start, end) UTF-16 offsets, found as the server finds them. */
export function findUrls(text) {
  const found = [];
  for (const match of text.matchAll(URL_RE)) {
    const value = trimTrailing(match[0]);
    if (!value.split("://").at(-1).includes(".")) continue;
    found.push([match.index, match.index + value.length]);
  }
  return found;
}

/** The length the server gives `text`: graphemes, with every URL counting 23. */
export function weightedLength(text) {
  const normal = text.normalize("NFC");
  let length = 0;
  let cursor = 0;
  for (const [start, end] of findUrls(normal)) {
    length += graphemes(normal.slice(cursor, start)) + URL_WEIGHT;
    cursor = end;
  }
  return length + graphemes(normal.slice(cursor));
}

// ---- uploads ------------------------------------------------------------------------------------

const IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];
const VIDEO_TYPES = ["video/mp4", "video/webm", "video/quicktime"];

let composerCount = 0;

/**
 * Build a composer form.
 * - `label`: the textarea's visible label;
 * - `replyTo` / `quote`: the post answered or quoted (PostOut);
 * - `maxLength`: the author's limit (Premium long posts raise it);
 * - `onPosted(post)`: called after the server stored the post.
 */
export function createComposer({ label = "What’s happening?", submitLabel = "Post", replyTo = null, quote = null, maxLength = MAX_LENGTH, onPosted = null } = {}) {
  const n = ++composerCount;
  const id = (part) => `composer-${n}-${part}`;
  const attachments = [];

  const textarea = h("textarea", {
    id: id("text"),
    name: "text",
    rows: 3,
    class: "composer__text",
    "aria-describedby": `${id("counter")} ${id("text-error")}`,
  });
  const counter = h("span", { class: "composer__counter", id: id("counter") });
  const limitStatus = h("span", { class: "visually-hidden", role: "status", "aria-live": "polite" });
  const fileInput = h("input", {
    type: "file",
    id: id("file"),
    accept: [...IMAGE_TYPES, ...VIDEO_TYPES].join(","),
    multiple: true,
    hidden: true,
    "data-composer-file": "true",
  });
  const addMedia = h(
    "button",
    { type: "button", class: "button button--secondary button--small composer__add", "aria-controls": id("media") },
    "Add photos or video",
  );
  const submit = h("button", { type: "submit", class: "button composer__submit" }, submitLabel);
  const list = h("ul", { class: "composer__media", id: id("media"), "aria-label": "Attached media" });
  const uploadStatus = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });
  const errorRegion = h("div", { class: "form-error", role: "alert", "aria-live": "assertive" });
  const form = h(
    "form",
    { class: "composer", novalidate: true, "aria-label": replyTo ? "Reply" : quote ? "Quote post" : "New post" },
    errorRegion,
    h("div", { class: "field composer__field" }, h("label", { for: id("text") }, label), textarea, h("p", { class: "field-error", id: id("text-error"), hidden: true })),
    quote ? h("div", { class: "composer__quote" }, quoteEmbed(quote)) : null,
    list,
    h("div", { class: "composer__bar" }, addMedia, fileInput, h("span", { class: "composer__spacer" }), counter, limitStatus, submit),
    uploadStatus,
  );
  const kind = () => (attachments.some((a) => a.kind === "video") ? "video" : attachments.length ? "image" : null);
  const uploading = () => attachments.some((a) => a.state === "uploading");

  let lastLimitState = "ok";
  function refresh() {
    const used = weightedLength(textarea.value);
    const left = maxLength - used;
    counter.textContent = String(left);
    counter.classList.toggle("composer__counter--warn", left <= 20 && left >= 0);
    counter.classList.toggle("composer__counter--over", left < 0);
    counter.setAttribute("aria-label", left < 0 ? `${-left} characters over the limit` : `${left} characters left`);
    textarea.toggleAttribute("aria-invalid", left < 0);
    const state = left < 0 ? "over" : left <= 20 ? "near" : "ok";
    if (state !== lastLimitState) {
      // Announce crossing a threshold, not every keystroke.
      limitStatus.textContent = state === "over" ? `Your post is ${-left} characters too long.` : state === "near" ? `${left} characters left.` : "";
      lastLimitState = state;
    }
    const empty = !textarea.value.trim() && !attachments.some((a) => a.state === "done");
    const failed = attachments.some((a) => a.state === "failed");
    submit.disabled = empty || left < 0 || uploading() || failed;
    submit.setAttribute("aria-busy", String(uploading()));
    addMedia.disabled = kind() === "video" || attachments.length >= MAX_IMAGES;
  }

  function removeAttachment(item) {
    item.removed = true;
    const at = attachments.indexOf(item);
    if (at >= 0) attachments.splice(at, 1);
    URL.revokeObjectURL(item.objectUrl);
    item.row.remove();
    say(uploadStatus, `${item.file.name} removed.`);
    refresh();
    (attachments.at(-1)?.removeButton || addMedia).focus();
  }

  function attachmentRow(item, index) {
    const preview =
      item.kind === "image"
        ? h("img", { class: "composer__preview", src: item.objectUrl, alt: `Preview of ${item.file.name}` })
        : h("video", { class: "composer__preview", src: item.objectUrl, muted: true, preload: "metadata", "aria-label": `Preview of ${item.file.name}` });
    item.progress = h("progress", { max: 100, value: 0, "aria-label": `Uploading ${item.file.name}`, class: "composer__progress" });
    item.stateText = h("span", { class: "composer__state" }, "Starting…");
    item.removeButton = h("button", { type: "button", class: "button button--small button--danger-quiet" }, "Remove");
    item.removeButton.setAttribute("aria-label", `Remove ${item.file.name}`);
    item.removeButton.addEventListener("click", () => removeAttachment(item));
    const altId = id(`alt-${index}`);
    item.alt = h("input", { id: altId, type: "text", maxlength: 1000, class: "composer__alt", autocomplete: "off" });
    const altField =
      item.kind === "image" || item.kind === "video"
        ? h("div", { class: "field composer__alt-field" }, h("label", { for: altId }, item.kind === "image" ? `Alt text for ${item.file.name}` : `Description of ${item.file.name}`), item.alt)
        : null;
    item.row = h(
      "li",
      { class: "composer__item", "data-state": "uploading" },
      preview,
      h("div", { class: "composer__item-body" }, h("div", { class: "composer__item-line" }, item.progress, item.stateText), altField, item.removeButton),
    );
    return item.row;
  }

  async function startUpload(item) {
    item.state = "uploading";
    refresh();
    await uploadAttachment(item, { altText: item.alt.value.trim(), uploadStatus, errorRegion });
    refresh();
  }

  function addFiles(files) {
    clearErrors(errorRegion);
    for (const file of files) {
      const fileKind = IMAGE_TYPES.includes(file.type) ? "image" : VIDEO_TYPES.includes(file.type) ? "video" : null;
      let problem = null;
      if (!fileKind) problem = `${file.name} is not an image or video Plaza can show.`;
      else if (fileKind === "video" && attachments.length) problem = "A post holds one video, or up to four images, not both.";
      else if (fileKind === "image" && kind() === "video") problem = "A post holds one video, or up to four images, not both.";
      else if (attachments.length >= MAX_IMAGES) problem = "A post holds up to four images.";
      if (problem) {
        errorRegion.textContent = problem;
        continue;
      }
      const item = { file, kind: fileKind, objectUrl: URL.createObjectURL(file), state: "uploading", media: null, removed: false };
      attachments.push(item);
      list.append(attachmentRow(item, attachments.length));
      startUpload(item);
    }
    refresh();
  }

  addMedia.addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", () => {
    addFiles([...fileInput.files]);
    fileInput.value = "";
  });
  textarea.addEventListener("input", refresh);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    refresh();
    if (submit.disabled) return;
    clearErrors(errorRegion, form);
    submit.disabled = true;
    try {
      // Alt text typed after the upload started is saved on the media first.
      for (const item of attachments) {
        const alt = item.alt.value.trim();
        if (item.media && alt !== (item.media.alt_text || "")) {
          item.media = await api.patch(`/api/v1/media/${encodeURIComponent(item.media.id)}`, { alt_text: alt });
        }
      }
      const body = { text: textarea.value.trim() };
      const mediaIds = attachments.map((a) => a.media.id);
      if (mediaIds.length) body.media_ids = mediaIds;
      if (replyTo) body.reply_to = replyTo.id;
      if (quote) body.quote_of = quote.id;
      const post = await api.post("/api/v1/posts", body);
      for (const item of attachments) URL.revokeObjectURL(item.objectUrl);
      attachments.length = 0;
      list.replaceChildren();
      textarea.value = "";
      lastLimitState = "ok";
      document.dispatchEvent(new CustomEvent("plaza:post-created", { detail: post }));
      announce(replyTo ? "Your reply was sent." : "Your post was sent.");
      onPosted?.(post);
    } catch (error) {
      showError(errorRegion, error, form);
    } finally {
      refresh();
    }
  });

  refresh();
  form.focusText = () => textarea.focus();
  return form;
}

// ---- quoting ------------------------------------------------------------------------------------

/** Open a dialog to quote `post`; focus returns to `opener` when it closes. */
export function openQuoteDialog(post, opener) {
  const close = h("button", { type: "button", class: "button button--quiet dialog__close" }, "Cancel");
  const heading = h("h2", { id: "quote-dialog-heading" }, "Quote post");
  const dialog = h("dialog", { class: "social-dialog", "aria-labelledby": "quote-dialog-heading" });
  const composer = createComposer({
    label: "Add a comment",
    submitLabel: "Post quote",
    quote: post,
    maxLength: Number(document.querySelector("[data-max-length]")?.dataset.maxLength) || MAX_LENGTH,
    onPosted: () => {
      post.counts.quotes = (post.counts.quotes || 0) + 1;
      dialog.close();
    },
  });
  dialog.append(h("div", { class: "dialog__head" }, heading, close), composer);
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    dialog.remove();
    opener?.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  composer.focusText();
}

// ---- mounting -------------------------------------------------------------------------------------

for (const slot of document.querySelectorAll("[data-composer]")) {
  const composer = createComposer({
    label: slot.dataset.label || undefined,
    maxLength: Number(slot.dataset.maxLength) || MAX_LENGTH,
  });
  slot.replaceChildren(composer);
}
