// Content settings: saves the sensitive-media choice through PATCH /api/v1/me/settings.

import { api } from "../api.js";
import { busy, clearErrors, say, showError } from "../forms.js";

const form = document.getElementById("sensitive-form");
const errors = document.getElementById("sensitive-error");
const status = document.getElementById("sensitive-status");

const LABELS = {
  show: "Sensitive media will be shown.",
  warn: "Sensitive media will stay behind a warning.",
  hide: "Posts with sensitive media will be hidden.",
};

form?.addEventListener("submit", (event) => {
  event.preventDefault();
  const choice = form.querySelector('input[name="sensitive_media"]:checked')?.value;
  if (!choice) return;
  const button = form.querySelector('button[type="submit"]');
  busy(button, async () => {
    clearErrors(errors, form);
    try {
      const settings = await api.patch("/api/v1/me/settings", { sensitive_media: choice });
      say(status, `Saved. ${LABELS[settings.sensitive_media] ?? ""}`);
    } catch (error) {
      showError(errors, error, form);
    }
  });
});
