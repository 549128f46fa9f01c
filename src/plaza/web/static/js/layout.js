// On every page: the sign-out button and the one-time message left by the last page.

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

document.getElementById("sign-out")?.addEventListener("click", signOut);
showFlash();
