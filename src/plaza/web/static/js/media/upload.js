// Resumable media uploads with progress, for the compose page and anything else that
// attaches images or videos.
//
//   import { uploadFile } from "/static/js/media/upload.js";
//   const media = await uploadFile(file, { altText, onProgress: (sent, total) => ... });
//
// Protocol (documented in the API under /api/v1/media/uploads):
// 1. POST /api/v1/media/uploads {size, alt_text, filename} -> {id, offset, chunk_size}
// 2. PATCH /api/v1/media/uploads/{id} with "Upload-Offset: n" and at most chunk_size bytes
//    -> {offset}. A chunk is kept whole or not at all.
// 3. After a failed chunk: GET /api/v1/media/uploads/{id} -> {offset}, and resume there.
// 4. POST /api/v1/media/uploads/{id}/complete -> the media; videos are "processing"
//    until GET /api/v1/media/{id} says "ready" (or "failed").

import { ApiError, api, csrfToken } from "../api.js";

const MAX_FAILURES = 6; // consecutive failed attempts before giving up
const POLL_MS = 1500;
const POLL_LIMIT = 400; // about ten minutes of processing

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function retryable(error) {
  // Network trouble (0), an offset that moved (409: we resync), throttling and server
  // hiccups are worth another try; any other 4xx will not get better.
  return error.status === 0 || error.status === 409 || error.status === 429 || error.status >= 500;
}

function backoff(failures, error) {
  if (error.retryAfter) return error.retryAfter * 1000;
  return Math.min(30_000, 500 * 2 ** (failures - 1));
}

function parse(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 200) };
  }
}

/** PATCH one chunk with XHR, which (unlike fetch) reports upload progress. */
function sendChunk(path, offset, blob, onSent) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PATCH", path);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json, application/problem+json");
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("Upload-Offset", String(offset));
    const token = csrfToken();
    if (token) xhr.setRequestHeader("X-CSRF-Token", token);
    xhr.upload.onprogress = (event) => onSent(event.loaded);
    xhr.onload = () => {
      const body = parse(xhr.responseText) || {};
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(body);
        return;
      }
      const retry = xhr.getResponseHeader("Retry-After");
      if (retry) body.retryAfter = Number(retry);
      reject(new ApiError(xhr.status, body));
    };
    const offline = () =>
      reject(new ApiError(0, { detail: "The connection dropped during the upload." }));
    xhr.onerror = offline;
    xhr.ontimeout = offline;
    xhr.onabort = offline;
    xhr.send(blob);
  });
}

/** Ask the server where the upload stands, retrying while the network is down. */
async function currentOffset(path, failures) {
  for (;;) {
    try {
      return (await api.get(path)).offset;
    } catch (error) {
      if (!(error instanceof ApiError) || !retryable(error) || ++failures > MAX_FAILURES) throw error;
      await sleep(backoff(failures, error));
    }
  }
}

/**
 * Upload `file` in resumable chunks, reporting progress, and resolve to the media
 * (MediaOut) once it is ready. Rejects with ApiError: a problem naming "file" for a
 * file the server refuses (wrong type, corrupt, too large or too long).
 */
export async function uploadFile(file, { altText = "", onProgress = () => {} } = {}) {
  const total = file.size;
  const created = await api.post("/api/v1/media/uploads", {
    size: total,
    alt_text: altText,
    filename: file.name || null,
  });
  const path = `/api/v1/media/uploads/${created.id}`;
  let offset = created.offset;
  let failures = 0;
  onProgress(offset, total);
  while (offset < total) {
    const end = Math.min(offset + created.chunk_size, total);
    const start = offset;
    try {
      const state = await sendChunk(path, start, file.slice(start, end), (sent) =>
        onProgress(Math.min(start + sent, total), total),
      );
      offset = state.offset;
      failures = 0;
    } catch (error) {
      if (!(error instanceof ApiError) || !retryable(error) || ++failures > MAX_FAILURES) throw error;
      await sleep(backoff(failures, error));
      offset = await currentOffset(path, failures);
    }
    onProgress(offset, total);
  }

  let media = await api.post(`${path}/complete`);
  for (let polls = 0; media.status === "processing"; polls++) {
    if (polls >= POLL_LIMIT) {
      throw new ApiError(0, { detail: "The video is still being processed. Try again later." });
    }
    await sleep(POLL_MS);
    media = await api.get(`/api/v1/media/${media.id}`);
  }
  if (media.status === "failed") {
    const message = "The video could not be processed. Try another file.";
    throw new ApiError(422, { detail: message, errors: [{ field: "file", message }] });
  }
  return media;
}
