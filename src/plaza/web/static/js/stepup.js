// The inline "confirm it's you" prompt: when an action answers step-up-required,
// ask for a second factor (or the password when there is none), then retry it.

import { api } from "./api.js";
import { busy, clearErrors, fieldError, showError, values } from "./forms.js";
import { getPasskey, passkeysSupported } from "./webauthn.js";

export class StepUpCancelled extends Error {
  constructor() {
    super("Step-up cancelled");
    this.name = "StepUpCancelled";
  }
}

const $ = (id) => document.getElementById(id);
const form = $("step-up");
const region = $("step-up-error");
let pending = null;
let mode = "password";
let factors = { totp: false, passkeys: 0, recovery_codes_left: 0 };

/** Tell the prompt which factors the account has (from GET /api/v1/me/factors). */
export function setFactors(next) {
  factors = next;
}

function twoFactor() {
  return factors.totp || factors.passkeys > 0;
}

function setMode(next) {
  mode = next;
  $("step-up-password").hidden = mode !== "password";
  $("step-up-totp").hidden = mode !== "totp";
  $("step-up-recovery").hidden = mode !== "recovery_code";
  $("step-up-submit").hidden = mode === "passkey";
  const canRecover = twoFactor() && factors.recovery_codes_left > 0;
  const toggle = $("step-up-toggle-recovery");
  toggle.hidden = !canRecover || (mode === "recovery_code" && !factors.totp);
  toggle.textContent = mode === "recovery_code" ? "Use your authenticator app" : "Use a recovery code";
  $("step-up-passkey").hidden = !(factors.passkeys > 0 && passkeysSupported());
  const intro = {
    password: "This change needs a fresh check. Enter your password to continue.",
    totp: "This change needs a fresh check. Enter a code from your authenticator app.",
    recovery_code: "This change needs a fresh check. Enter one of your recovery codes.",
    passkey: "This change needs a fresh check. Confirm with your passkey.",
  }[mode];
  $("step-up-intro").textContent = intro;
  clearErrors(region, form);
}

function close() {
  form.hidden = true;
  form.reset();
  clearErrors(region, form);
}

function finish(ok) {
  const current = pending;
  pending = null;
  close();
  if (!current) return;
  if (ok) current.resolve();
  else current.reject(new StepUpCancelled());
}

/** Show the prompt at the end of `container`; resolves once the session is re-proved. */
export function promptStepUp(container) {
  if (pending) finish(false);
  return new Promise((resolve, reject) => {
    pending = { resolve, reject };
    setMode(!twoFactor() ? "password" : factors.totp ? "totp" : "passkey");
    container.append(form);
    form.hidden = false;
    const input = form.querySelector("div:not([hidden]) > .field input");
    (input || $("step-up-heading")).focus();
  });
}

/**
 * Run `work`; if the server wants a step-up first, prompt inside `container` and
 * run it again. Rejects with StepUpCancelled if the user gives up.
 */
export async function guarded(container, work) {
  try {
    return await work();
  } catch (error) {
    if (!error?.stepUpRequired) throw error;
  }
  await promptStepUp(container);
  return work();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = { password: "password", totp: "totp_code", recovery_code: "recovery_code" }[mode];
  if (!name) return;
  const body = values(form, [name], { keepEmpty: [name] });
  if (!body[name]) return fieldError(region, form, name, "This is needed to confirm it’s you");
  if (name === "totp_code") body.totp_code = body.totp_code.replace(/\s+/g, "");
  busy($("step-up-submit"), async () => {
    try {
      await api.post("/api/v1/me/step-up", body);
      finish(true);
    } catch (error) {
      showError(region, error, form);
    }
  });
});

$("step-up-passkey").addEventListener("click", (event) =>
  busy(event.currentTarget, async () => {
    clearErrors(region, form);
    try {
      const options = await api.post("/api/v1/me/step-up/passkey-options");
      const credential = await getPasskey(options.public_key);
      await api.post("/api/v1/me/step-up", {
        passkey: { challenge_id: options.challenge_id, credential },
      });
      finish(true);
    } catch (error) {
      showError(region, error, form);
    }
  }),
);

$("step-up-toggle-recovery").addEventListener("click", () => {
  setMode(mode === "recovery_code" ? (factors.totp ? "totp" : "passkey") : "recovery_code");
  form.querySelector("div:not([hidden]) > .field input")?.focus();
});
$("step-up-cancel").addEventListener("click", () => finish(false));
form.addEventListener("keydown", (event) => {
  if (event.key === "Escape") finish(false);
});
