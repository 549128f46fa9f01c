// "Message" buttons (the profile page has one): a button with
// `data-message-username` opens the direct conversation with that person, starting it
// if there is none yet (POST /api/v1/conversations answers the existing one too), and
// `data-message-error` names the alert region that says why it could not.

import { ApiError, api } from "./api.js";
import { busy, showError } from "./forms.js";

function refusal(error, username) {
  if (error instanceof ApiError && error.slug === "dm-policy") {
    return Object.assign(new Error(`@${username} isn’t accepting new conversations from you.`), { friendly: true });
  }
  return error;
}

document.addEventListener("click", (event) => {
  const button = event.target.closest?.("button[data-message-username]");
  if (!button) return;
  const username = button.dataset.messageUsername;
  const region = document.getElementById(button.dataset.messageError || "");
  busy(button, async () => {
    if (region) region.textContent = "";
    try {
      const conversation = await api.post("/api/v1/conversations", { participants: [username] });
      window.location.assign(`/messages/${encodeURIComponent(conversation.id)}`);
    } catch (error) {
      showError(region, refusal(error, username));
    }
  });
});
