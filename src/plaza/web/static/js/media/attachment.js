// One attachment row of a composer (a post's or a message's): upload its file with
// the resumable uploader, loaded when first needed, and keep the row's progress bar,
// state text and screen-reader announcement in step.
//
//   await uploadAttachment(item, { altText, uploadStatus, errorRegion });
//
// `item` carries the row's elements (`row`, `progress`, `stateText`), its `file`, and
// `removed` (set when the person removed the row meanwhile); this sets `item.state`
// ("done" | "failed") and, on success, `item.media`.

import { say, showError } from "../forms.js";

let uploader = null;

function loadUploader() {
  uploader ??= import("./upload.js").then((m) => m.uploadFile);
  return uploader;
}

export async function uploadAttachment(item, { altText = "", uploadStatus, errorRegion }) {
  try {
    const uploadFile = await loadUploader();
    const media = await uploadFile(item.file, {
      altText,
      onProgress(sent, total) {
        if (item.removed || !total) return;
        const percent = Math.min(100, Math.round((sent / total) * 100));
        item.progress.value = percent;
        item.stateText.textContent = sent >= total ? "Processing…" : `${percent}%`;
      },
    });
    if (item.removed) return;
    item.media = media;
    item.state = "done";
    item.progress.value = 100;
    item.progress.setAttribute("aria-label", `${item.file.name} uploaded`);
    item.stateText.textContent = "Uploaded";
    item.row.dataset.state = "done";
    say(uploadStatus, `${item.file.name} uploaded.`);
  } catch (error) {
    if (item.removed) return;
    item.state = "failed";
    item.row.dataset.state = "failed";
    item.stateText.textContent = "Failed";
    const shown = error.detail
      ? error
      : Object.assign(new Error(`${item.file.name} could not be uploaded.`), { friendly: true });
    showError(errorRegion, shown);
  }
}
