// Call settings on /calls: calls on or off, who may call you, relaying (hides your IP
// address). They are part of the account's settings (GET/PATCH /api/v1/me/settings).

import { api } from "./api.js";
import { busy, clearErrors, say, showError } from "./forms.js";

const form = document.getElementById("call-settings-form");
const errorRegion = document.getElementById("call-settings-error");
const status = document.getElementById("call-settings-status");
const enabled = form.elements.namedItem("calls_enabled");
const relay = form.elements.namedItem("calls_relay_only");
const submit = form.querySelector("button[type=submit]");

function show(settings) {
  enabled.checked = Boolean(settings.calls_enabled);
  relay.checked = Boolean(settings.calls_relay_only);
  for (const radio of form.querySelectorAll("input[name=call_policy]")) radio.checked = radio.value === settings.call_policy;
  policyEnabled();
}

function policyEnabled() {
  // "Who can call you" means nothing while calls are off.
  for (const radio of form.querySelectorAll("input[name=call_policy]")) radio.disabled = !enabled.checked;
}

async function load() {
  try {
    show(await api.get("/api/v1/me/settings"));
    for (const input of [enabled, relay, submit]) input.disabled = false;
    policyEnabled();
  } catch (error) {
    showError(errorRegion, error);
  } finally {
    form.setAttribute("aria-busy", "false");
  }
}

enabled.addEventListener("change", policyEnabled);
form.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(submit, async () => {
    clearErrors(errorRegion, form);
    const changes = { calls_enabled: enabled.checked, calls_relay_only: relay.checked };
    const policy = form.querySelector("input[name=call_policy]:checked");
    if (policy) changes.call_policy = policy.value;
    try {
      show(await api.patch("/api/v1/me/settings", changes));
      say(status, "Call settings saved.");
    } catch (error) {
      showError(errorRegion, error, form);
    }
  });
});
load();
