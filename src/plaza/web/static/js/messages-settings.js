// /messages/settings: who may start a conversation with you (dm_policy) and read
// receipts, read from and saved through GET/PATCH /api/v1/me/settings. The controls
// stay disabled until the current values are in, so that Save never sends a guess.

import { api } from "./api.js";
import { busy, clearErrors, say, showError } from "./forms.js";

const form = document.getElementById("dm-settings-form");
const errors = document.getElementById("dm-settings-error");
const status = document.getElementById("dm-settings-status");
const receipts = form.elements.namedItem("read_receipts");

const POLICY_SAID = {
  everyone: "Anyone’s first message now lands in your inbox.",
  following: "People you follow land in your inbox; others wait in Message requests.",
  verified: "People you follow and verified accounts land in your inbox; others wait in Message requests.",
  none: "Only people you follow can start a conversation with you now.",
};

function show(settings) {
  for (const input of form.querySelectorAll('input[name="dm_policy"]')) input.checked = input.value === settings.dm_policy;
  receipts.checked = Boolean(settings.read_receipts);
}

function enable() {
  for (const control of form.querySelectorAll("input, button")) control.disabled = false;
  form.setAttribute("aria-busy", "false");
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const policy = form.querySelector('input[name="dm_policy"]:checked')?.value;
  const body = { read_receipts: receipts.checked };
  if (policy) body.dm_policy = policy;
  busy(form.querySelector('button[type="submit"]'), async () => {
    clearErrors(errors, form);
    try {
      const saved = await api.patch("/api/v1/me/settings", body);
      show(saved);
      const receiptsSaid = saved.read_receipts ? "Read receipts are on." : "Read receipts are off.";
      say(status, `Saved. ${POLICY_SAID[saved.dm_policy] ?? ""} ${receiptsSaid}`);
    } catch (error) {
      showError(errors, error, form);
    }
  });
});

(async () => {
  try {
    show(await api.get("/api/v1/me/settings"));
    enable();
  } catch (error) {
    form.setAttribute("aria-busy", "false");
    showError(errors, error);
  }
})();
