// Video in posts: the browser's own player, loading only metadata until played
// (the media server answers Range requests, so seeking fetches just what is needed).

import { h } from "../dom.js";

function duration(ms) {
  if (!ms) return null;
  const total = Math.round(ms / 1000);
  const minutes = Math.floor(total / 60);
  return `${minutes}:${String(total % 60).padStart(2, "0")}`;
}

/**
 * A <figure> with a <video> for a post's video `media`. With `deferred`, the source
 * is set only when the caller reveals it (sensitive media stay unloaded until then).
 */
export function videoPlayer(media, { deferred = false } = {}) {
  const label = media.alt_text ? `Video: ${media.alt_text}` : "Video";
  const video = h("video", {
    controls: true,
    preload: "metadata",
    playsinline: true,
    poster: media.thumbnail_url || null,
    width: media.width,
    height: media.height,
    "aria-label": label,
    "data-media-id": media.id,
  });
  if (deferred) video.dataset.src = media.url;
  else video.src = media.url;
  const length = duration(media.duration_ms);
  return h(
    "figure",
    { class: "post__video" },
    video,
    length ? h("figcaption", { class: "post__video-length" }, h("span", { class: "visually-hidden" }, "Length "), length) : null,
  );
}

// One video plays at a time, and a video scrolled out of view pauses.
document.addEventListener(
  "play",
  (event) => {
    if (!(event.target instanceof HTMLVideoElement)) return;
    for (const other of document.querySelectorAll("video")) {
      if (other !== event.target && !other.paused) other.pause();
    }
    watch(event.target);
  },
  true,
);

const offscreen =
  "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => {
        for (const entry of entries) {
          if (!entry.isIntersecting && !entry.target.paused) entry.target.pause();
        }
      })
    : null;

function watch(video) {
  if (offscreen && !video.dataset.watched) {
    video.dataset.watched = "true";
    offscreen.observe(video);
  }
}
