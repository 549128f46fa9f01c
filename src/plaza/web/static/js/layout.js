// On every page: the sign-out button, the one-time message left by the last page, and,
// for a signed-in user, the one live stream of this page. Pages listen for its frames
// as "plaza:stream" events on document (and "plaza:resync" when they must reload), so
// that a page never opens a second socket.

import { api } from "./api.js";
import { flashNext } from "./forms.js";

function showFlash() {
  let message = null;
  try {
    message = sessionStorage.getItem("plaza.flash");
    sessionStorage.removeItem("plaza.flash");
  } catch {
    return;
  }
  const region = document.getElementById("flash");
  if (message && region) region.textContent = message;
}

async function signOut(event) {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    await api.delete("/api/v1/sessions/current");
  } catch (error) {
    // 401: the session had already ended; either way the user is now signed out.
    if (error.status !== 401) {
      button.disabled = false;
      document.getElementById("flash").textContent = `Signing out failed: ${error.detail}`;
      return;
    }
  }
  flashNext("You are signed out.");
  window.location.assign("/login");
}

// Loaded after the sign-out button is wired, so that the page's controls answer as soon
// as this small module has run, not after the stream's modules have loaded too.
async function openStream() {
  const [{ connectStream }, { refreshBadge }] = await Promise.all([
    import("./realtime/stream.js"),
    import("./social/notifications.js"),
    import("./messages-badge.js"), // the Messages link's unread badge follows the stream
    // Calls ring on every page, so its listener must be there first; a failure there
    // must not cost the page its stream.
    import("./calls.js").catch((error) => console.error("calls unavailable", error)),
  ]);
  const stream = connectStream({
    onEvent(frame) {
      if (frame.type === "notification") refreshBadge();
      document.dispatchEvent(new CustomEvent("plaza:stream", { detail: frame }));
    },
    onResync(data) {
      refreshBadge();
      document.dispatchEvent(new CustomEvent("plaza:resync", { detail: data }));
    },
    onStatus(status) {
      document.documentElement.dataset.stream = status;
    },
  });
  window.addEventListener("pagehide", () => stream.close());
}

// The button is disabled in the markup until it works, so that a click that comes
// before this module has run is not silently lost.
const signOutButton = document.getElementById("sign-out");
if (signOutButton) {
  signOutButton.addEventListener("click", signOut);
  signOutButton.disabled = false;
}
showFlash();
if (document.querySelector('meta[name="plaza-user"]')) openStream();
