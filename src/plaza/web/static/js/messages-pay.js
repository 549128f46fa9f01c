// "Send money" in a direct conversation: a modal dialog (amount, note) that pays the
// other person from the wallet with POST /api/v1/payments, naming the conversation so
// that the payment shows in the thread (the stream brings that line to both sides).
//
// Idempotency: one key per submission. A retry of an attempt that got no answer (the
// network failed, the server was busy: nothing was stored under the key) sends the same
// key, so a payment that did go through is not made twice. An attempt the server did
// answer (a 4xx is stored under its key and replayed) makes the next one use a new key:
// after a step-up, or after the amount was corrected.
//
// A payment at or above the step-up threshold answers 403 step-up-required: the
// wallet's step-up prompt (stepup.js, macros/step_up.html) opens inside the dialog and
// the payment is sent again once the session is re-proved.

import { ApiError, api } from "./api.js";
import { busy, clearErrors, fieldError, say, showError } from "./forms.js";
import { formatMoney, newKey, postMoney, toCents } from "./payments/money.js";
import { guarded, setFactors, StepUpCancelled } from "./stepup.js";

const $ = (id) => document.getElementById(id);
const dialog = $("dm-pay-dialog");
const form = $("dm-pay-form");
const errorRegion = $("dm-pay-error");
const submit = $("dm-pay-submit");

let target = null; // {username, conversationId, opener, onPaid}
let currency = "USD";
let key = null; // the Idempotency-Key of the attempt that may be retried
let lastBody = null;
let factorsLoaded = false;

/** A 4xx other than 409 (in flight) and 429 was stored under its key by the server. */
function answered(error) {
  return error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 409 && error.status !== 429;
}

async function loadWallet() {
  const available = $("dm-pay-available");
  try {
    const wallet = await api.get("/api/v1/wallet");
    currency = wallet.available?.currency || currency;
    available.textContent = `Available in your wallet: ${formatMoney(wallet.available)}.`;
    if (wallet.restricted) available.textContent += ` Sending is paused: ${wallet.restricted}.`;
  } catch {
    available.textContent = "";
  }
}

/** Open the dialog to pay `username` from conversation `conversationId`. */
export function openPayDialog({ username, conversationId, opener, onPaid }) {
  target = { username, conversationId, opener, onPaid };
  key = null;
  lastBody = null;
  form.reset();
  clearErrors(errorRegion, form);
  $("dm-pay-heading").textContent = `Send money to @${username}`;
  $("dm-pay-available").textContent = "";
  loadWallet();
  if (!factorsLoaded) {
    factorsLoaded = true;
    api.get("/api/v1/me/factors").then(setFactors).catch(() => {
      factorsLoaded = false;
    });
  }
  dialog.showModal();
  form.elements.namedItem("amount.amount").focus();
}

function close() {
  if (dialog.open) dialog.close();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!target) return;
  clearErrors(errorRegion, form);
  const cents = toCents(form.elements.namedItem("amount.amount").value);
  if (cents === null) {
    fieldError(errorRegion, form, "amount.amount", "Enter an amount like 12.50");
    return;
  }
  const body = {
    to: target.username,
    amount: { amount: cents, currency },
    note: form.elements.namedItem("note").value.trim(),
    conversation_id: target.conversationId,
  };
  // The same body again after an unanswered attempt is a retry of it: same key.
  if (key === null || JSON.stringify(body) !== lastBody) key = newKey();
  lastBody = JSON.stringify(body);
  busy(submit, async () => {
    let attempt = key;
    try {
      const payment = await guarded($("dm-pay-step-up"), async () => {
        try {
          return await postMoney("/api/v1/payments", body, { key: attempt });
        } catch (error) {
          // Stored by the server: asking again (after the step-up) needs a new key.
          if (answered(error)) attempt = key = newKey();
          throw error;
        }
      });
      key = null;
      const done = target;
      close();
      const sent = `Sent ${formatMoney(payment.amount)} to @${done.username}.`;
      done.onPaid?.(payment, payment.status === "completed" ? sent : `${sent} It is ${payment.status}.`);
    } catch (error) {
      if (error instanceof StepUpCancelled) {
        key = null;
        say($("dm-pay-status"), "Cancelled; nothing was sent.");
        form.elements.namedItem("amount.amount").focus();
        return;
      }
      if (answered(error)) key = null;
      showError(errorRegion, error, form);
    }
  });
});

$("dm-pay-cancel").addEventListener("click", close);
dialog.addEventListener("close", () => {
  // The step-up prompt may be open inside: cancel it with the dialog.
  const stepUp = $("step-up");
  if (stepUp && !stepUp.hidden) $("step-up-cancel").click();
  const opener = target?.opener;
  target = null;
  opener?.focus();
});
