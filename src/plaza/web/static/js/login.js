// Sign-in: password, then (when the account has one) a second factor; or a passkey
// alone. On success, go where the visitor was heading.

import { api } from "./api.js";
import { busy, clearErrors, fieldError, showError, values } from "./forms.js";
import { getPasskey, passkeysSupported } from "./webauthn.js";

const root = document.getElementById("login");
const next = safeNext(root.dataset.next);
const $ = (id) => document.getElementById(id);

const passwordStep = $("password-step");
const mfaStep = $("mfa-step");
const loginForm = $("login-form");
const loginError = $("login-error");
const totpForm = $("totp-form");
const recoveryForm = $("recovery-form");
const mfaError = $("mfa-error");

let mfa = null; // { token, methods } while a second factor is due

function safeNext(value) {
  return value && value.startsWith("/") && !value.startsWith("//") && !value.startsWith("/\\")
    ? value
    : "/";
}

function signedIn() {
  window.location.assign(next);
}

function showMethod(method) {
  const methods = mfa.methods;
  totpForm.hidden = method !== "totp";
  recoveryForm.hidden = method !== "recovery_code";
  $("mfa-use-recovery").hidden = method === "recovery_code" || !methods.includes("recovery_code");
  $("mfa-use-totp").hidden = method === "totp" || !methods.includes("totp");
  $("mfa-passkey").hidden = !methods.includes("passkey") || !passkeysSupported();
  clearErrors(mfaError, method === "totp" ? totpForm : recoveryForm);
  const input = method === "totp" ? $("mfa-code") : $("mfa-recovery");
  if (method !== "passkey") input.focus();
}

function startMfa(answer) {
  mfa = { token: answer.mfa_token, methods: answer.methods };
  passwordStep.hidden = true;
  mfaStep.hidden = false;
  const first = mfa.methods.includes("totp")
    ? "totp"
    : mfa.methods.includes("passkey")
      ? "passkey"
      : "recovery_code";
  $("mfa-intro").textContent =
    first === "passkey"
      ? "Your account has two-step sign-in turned on. Confirm with your passkey."
      : "Your account has two-step sign-in turned on.";
  $("mfa-heading").focus();
  showMethod(first);
}

function restart() {
  mfa = null;
  mfaStep.hidden = true;
  passwordStep.hidden = false;
  totpForm.reset();
  recoveryForm.reset();
  clearErrors(mfaError, totpForm);
  $("login-password").value = "";
  $("login-password").focus();
}

loginForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const body = values(loginForm, ["username", "password"], { keepEmpty: ["password"] });
  if (!body.username) return fieldError(loginError, loginForm, "username", "Enter your username");
  if (!body.password) return fieldError(loginError, loginForm, "password", "Enter your password");
  clearErrors(loginError, loginForm);
  busy(loginForm.querySelector("[type=submit]"), async () => {
    try {
      const answer = await api.post("/api/v1/sessions", body);
      if (answer.mfa_required) startMfa(answer);
      else signedIn();
    } catch (error) {
      showError(loginError, error, loginForm);
      if (error.status === 401) $("login-password").select();
    }
  });
});

async function completeMfa(form, body) {
  try {
    await api.post("/api/v1/sessions/mfa", { mfa_token: mfa.token, ...body });
    signedIn();
  } catch (error) {
    showError(mfaError, error, form);
    if (error.status === 401 && /start again/i.test(error.detail)) {
      mfaError.textContent = `${error.detail} Choose “Start over”.`;
    } else if (form) {
      const input = form.querySelector("input");
      input.select();
      input.focus();
    }
  }
}

totpForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const { totp_code } = values(totpForm, ["totp_code"]);
  if (!totp_code) return fieldError(mfaError, totpForm, "totp_code", "Enter the 6-digit code");
  busy(totpForm.querySelector("[type=submit]"), () =>
    completeMfa(totpForm, { totp_code: totp_code.replace(/\s+/g, "") }),
  );
});

recoveryForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const { recovery_code } = values(recoveryForm, ["recovery_code"]);
  if (!recovery_code) {
    return fieldError(mfaError, recoveryForm, "recovery_code", "Enter one of your recovery codes");
  }
  busy(recoveryForm.querySelector("[type=submit]"), () => completeMfa(recoveryForm, { recovery_code }));
});

$("mfa-passkey").addEventListener("click", (event) =>
  busy(event.currentTarget, async () => {
    clearErrors(mfaError, null);
    try {
      const options = await api.post("/api/v1/sessions/mfa/passkey-options", { mfa_token: mfa.token });
      const credential = await getPasskey(options.public_key);
      await completeMfa(null, { passkey: { challenge_id: options.challenge_id, credential } });
    } catch (error) {
      showError(mfaError, error);
    }
  }),
);

$("mfa-use-recovery").addEventListener("click", () => showMethod("recovery_code"));
$("mfa-use-totp").addEventListener("click", () => showMethod("totp"));
$("mfa-restart").addEventListener("click", restart);

const passkeyButton = $("passkey-sign-in");
if (!passkeysSupported()) {
  passkeyButton.hidden = true;
  passwordStep.querySelector(".divider").hidden = true;
}
passkeyButton.addEventListener("click", () =>
  busy(passkeyButton, async () => {
    clearErrors(loginError, loginForm);
    try {
      const options = await api.post("/api/v1/sessions/passkey-options");
      const credential = await getPasskey(options.public_key);
      await api.post("/api/v1/sessions/passkey", { challenge_id: options.challenge_id, credential });
      signedIn();
    } catch (error) {
      showError(loginError, error);
    }
  }),
);
