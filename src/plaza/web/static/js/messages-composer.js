// The conversation's composer: a text box (Enter sends, Shift+Enter starts a new line),
// attachments uploaded while you write with the resumable uploader and a progress bar
// each (as the post composer shows them), and the message being replied to.
//
//   const composer = createMessageComposer({ maxLength, onSend, onTyping });
//   onSend({text, media_ids, reply_to}, {mediaCount}) -> Promise: the composer clears
//   as soon as it is called (the message shows optimistically); onTyping() on input.

import { h } from "./dom.js";
import { clearErrors, say } from "./forms.js";
import { uploadAttachment } from "./media/attachment.js";
import { displayName } from "./messages-common.js";

const IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];
const VIDEO_TYPES = ["video/mp4", "video/webm", "video/quicktime"];
const MAX_ATTACHMENTS = 4;

export function createMessageComposer({ maxLength = 10_000, onSend, onTyping = () => {} }) {
  const attachments = [];
  let replyTo = null;
  let seq = 0;

  const textarea = h("textarea", {
    id: "dm-text",
    name: "text",
    rows: 2,
    class: "composer__text dm-composer__text",
    maxlength: maxLength,
    "aria-describedby": "dm-text-hint dm-text-error",
    autocomplete: "off",
  });
  const fileInput = h("input", {
    type: "file",
    id: "dm-file",
    accept: [...IMAGE_TYPES, ...VIDEO_TYPES].join(","),
    multiple: true,
    hidden: true,
  });
  const attach = h("button", { type: "button", class: "button button--secondary button--small", "aria-controls": "dm-attachments" }, "Attach photos or video");
  const submit = h("button", { type: "submit", class: "button dm-composer__send" }, "Send");
  const list = h("ul", { class: "composer__media", id: "dm-attachments", "aria-label": "Attachments" });
  const uploadStatus = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });
  const errorRegion = h("div", { class: "form-error", role: "alert", "aria-live": "assertive" });
  const replyText = h("span", { class: "dm-composer__reply-text" });
  const cancelReply = h("button", { type: "button", class: "button button--link" }, "Cancel reply");
  const replyBar = h("div", { class: "dm-composer__reply", hidden: true }, replyText, cancelReply);
  const form = h(
    "form",
    { class: "composer dm-composer", novalidate: true, "aria-label": "Send a message" },
    errorRegion,
    replyBar,
    h(
      "div",
      { class: "field composer__field" },
      h("label", { for: "dm-text" }, "Message"),
      textarea,
      h("p", { class: "field-hint", id: "dm-text-hint" }, "Enter sends; Shift+Enter starts a new line."),
      h("p", { class: "field-error", id: "dm-text-error", hidden: true }),
    ),
    list,
    h("div", { class: "composer__bar" }, attach, fileInput, h("span", { class: "composer__spacer" }), submit),
    uploadStatus,
  );

  const uploading = () => attachments.some((a) => a.state === "uploading");
  const hasVideo = () => attachments.some((a) => a.kind === "video");

  function refresh() {
    const empty = !textarea.value.trim() && !attachments.some((a) => a.state === "done");
    const failed = attachments.some((a) => a.state === "failed");
    submit.disabled = empty || uploading() || failed;
    submit.setAttribute("aria-busy", String(uploading()));
    attach.disabled = hasVideo() || attachments.length >= MAX_ATTACHMENTS;
  }

  function remove(item) {
    item.removed = true;
    attachments.splice(attachments.indexOf(item), 1);
    URL.revokeObjectURL(item.objectUrl);
    item.row.remove();
    say(uploadStatus, `${item.file.name} removed.`);
    refresh();
    textarea.focus();
  }

  function row(item) {
    const preview =
      item.kind === "image"
        ? h("img", { class: "composer__preview", src: item.objectUrl, alt: `Preview of ${item.file.name}` })
        : h("video", { class: "composer__preview", src: item.objectUrl, muted: true, preload: "metadata", "aria-label": `Preview of ${item.file.name}` });
    item.progress = h("progress", { max: 100, value: 0, class: "composer__progress", "aria-label": `Uploading ${item.file.name}` });
    item.stateText = h("span", { class: "composer__state" }, "Starting…");
    const removeButton = h("button", { type: "button", class: "button button--small button--danger-quiet", "aria-label": `Remove ${item.file.name}` }, "Remove");
    removeButton.addEventListener("click", () => remove(item));
    item.row = h(
      "li",
      { class: "composer__item", "data-state": "uploading" },
      preview,
      h("div", { class: "composer__item-body" }, h("div", { class: "composer__item-line" }, item.progress, item.stateText), removeButton),
    );
    return item.row;
  }

  async function upload(item) {
    refresh();
    await uploadAttachment(item, { uploadStatus, errorRegion });
    refresh();
  }

  function addFiles(files) {
    clearErrors(errorRegion);
    for (const file of files) {
      const kind = IMAGE_TYPES.includes(file.type) ? "image" : VIDEO_TYPES.includes(file.type) ? "video" : null;
      let problem = null;
      if (!kind) problem = `${file.name} is not an image or video Plaza can show.`;
      else if ((kind === "video" && attachments.length) || hasVideo()) problem = "A message holds one video, or up to four images, not both.";
      else if (attachments.length >= MAX_ATTACHMENTS) problem = "A message holds up to four images.";
      if (problem) {
        errorRegion.textContent = problem;
        continue;
      }
      const item = { id: ++seq, file, kind, objectUrl: URL.createObjectURL(file), state: "uploading", media: null, removed: false };
      attachments.push(item);
      list.append(row(item));
      upload(item);
    }
    refresh();
  }

  function send() {
    refresh();
    if (submit.disabled) return;
    clearErrors(errorRegion, form);
    const body = { text: textarea.value.trim() };
    const mediaIds = attachments.filter((a) => a.media).map((a) => a.media.id);
    if (mediaIds.length) body.media_ids = mediaIds;
    if (replyTo) body.reply_to = replyTo.id;
    for (const item of attachments) URL.revokeObjectURL(item.objectUrl);
    attachments.length = 0;
    list.replaceChildren();
    textarea.value = "";
    setReply(null);
    refresh();
    textarea.focus();
    // The message shows at once; a failure is shown on it, with Retry.
    onSend(body, { mediaCount: mediaIds.length });
  }

  function setReply(message) {
    replyTo = message;
    replyBar.hidden = !message;
    if (message) {
      const who = message.sender ? displayName(message.sender) : "message";
      replyText.textContent = `Replying to ${who}: ${(message.text || "").slice(0, 120)}`;
      textarea.focus();
    }
  }

  attach.addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", () => {
    addFiles([...fileInput.files]);
    fileInput.value = "";
  });
  textarea.addEventListener("input", () => {
    refresh();
    if (textarea.value.trim()) onTyping();
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    } else if (event.key === "Escape" && replyTo) {
      setReply(null);
    }
  });
  cancelReply.addEventListener("click", () => {
    setReply(null);
    textarea.focus();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  refresh();

  return {
    element: form,
    errorRegion,
    setReply,
    focus: () => textarea.focus(),
  };
}
