// The wallet page: balance, send / request / split, top-up and cash-out through the
// sandbox rail (cash-outs and large payments ask for a step-up first), statements.
// Lists and their actions live in lists.js. Every action refreshes what it changed, and
// payments, requests and bank transfers made elsewhere (another device, the other
// party) arrive live through the page's stream (layout.js).

import { api } from "../api.js";
import { busy, clearErrors, fieldError, say, showError, values } from "../forms.js";
import { guarded, setFactors, StepUpCancelled } from "../stepup.js";
import { formatMoney, postMoney, toCents } from "./money.js";
import { loadHistory, loadRequests, loadTransfers } from "./lists.js";

const $ = (id) => document.getElementById(id);
const root = $("wallet");
const currency = root.dataset.currency;

const page = {
  async refresh() {
    await Promise.all([loadBalance(), loadRequests(page), loadTransfers(), loadHistory(page)]);
  },
};

async function loadBalance() {
  clearErrors($("balance-error"));
  try {
    const wallet = await api.get("/api/v1/wallet");
    $("balance-amount").textContent = formatMoney(wallet.balance);
    $("available-amount").textContent = formatMoney(wallet.available);
    $("incoming-amount").textContent = formatMoney(wallet.incoming);
    $("outgoing-amount").textContent = formatMoney(wallet.outgoing);
    const limits = wallet.limits;
    $("tier-badge").textContent = wallet.tier === "verified" ? "Verified" : "Unverified";
    $("tier-badge").className = wallet.tier === "verified" ? "badge badge--on" : "badge";
    $("limits-text").textContent =
      `Sending limit: ${formatMoney(limits.daily_used)} of ${formatMoney(limits.daily_limit)} used today, ` +
      `${formatMoney(limits.weekly_used)} of ${formatMoney(limits.weekly_limit)} this week. ` +
      `Payments of ${formatMoney(limits.step_up_threshold)} or more and every cash-out ask you to confirm it’s you.`;
    $("restricted-text").textContent = wallet.restricted ? `Sending is paused: ${wallet.restricted}.` : "";
  } catch (error) {
    showError($("balance-error"), error);
  }
}

/** Read the amount field; marks it and returns null when it is not a valid amount. */
function amountOf(form, region) {
  const cents = toCents(form.elements.namedItem("amount.amount").value);
  if (cents === null) fieldError(region, form, "amount.amount", "Enter an amount like 12.50");
  return cents;
}

function username(text) {
  return String(text || "").trim().replace(/^@/, "");
}

/** Wire a form: validate, run `work` (with the step-up prompt if asked), report, refresh. */
function wire(formId, section, work) {
  const form = $(formId);
  const region = $(`${formId.replace("-form", "")}-error`);
  const status = $(`${formId.replace("-form", "")}-status`);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(region, form);
    const prepared = work.prepare(form, region);
    if (!prepared) return;
    busy(form.querySelector("button[type=submit]"), async () => {
      try {
        const result = await guarded($(section), () => prepared());
        say(status, work.done(result));
        form.reset();
        await page.refresh();
      } catch (error) {
        if (error instanceof StepUpCancelled) say(status, "Cancelled; nothing was sent.");
        else showError(region, error, form);
      }
    });
  });
}

wire("send-form", "send", {
  prepare(form, region) {
    const cents = amountOf(form, region);
    const body = values(form, ["to", "note"]);
    if (!body.to) return fieldError(region, form, "to", "Who should get the money?"), null;
    if (cents === null) return null;
    return () => postMoney("/api/v1/payments", {
      to: username(body.to), amount: { amount: cents, currency }, note: body.note || "",
    });
  },
  done: (payment) => `Sent ${formatMoney(payment.amount)} to @${payment.payee.username}.`,
});

wire("request-form", "request", {
  prepare(form, region) {
    const cents = amountOf(form, region);
    const body = values(form, ["from", "note"]);
    if (!body.from) return fieldError(region, form, "from", "Who should pay you?"), null;
    if (cents === null) return null;
    return () => postMoney("/api/v1/payment-requests", {
      from: username(body.from), amount: { amount: cents, currency }, note: body.note || "",
    });
  },
  done: (request) => `Asked @${request.payer.username} for ${formatMoney(request.amount)}.`,
});

wire("split-form", "split", {
  prepare(form, region) {
    const cents = amountOf(form, region);
    const people = form.elements.namedItem("participants").value.split(/[,\s]+/).map(username).filter(Boolean);
    if (!people.length) return fieldError(region, form, "participants", "Whom do you share it with?"), null;
    if (cents === null) return null;
    const note = form.elements.namedItem("note").value.trim();
    const includeSelf = form.elements.namedItem("include_self").checked;
    return () => postMoney("/api/v1/payment-splits", {
      participants: people, amount: { amount: cents, currency }, note, include_self: includeSelf,
    });
  },
  done: (split) => `Requested ${split.shares.filter((s) => s.request_id).map((s) => `${formatMoney(s.amount)} from @${s.user.username}`).join(", ")}.`,
});

wire("topup-form", "bank", {
  prepare(form, region) {
    const cents = amountOf(form, region);
    if (cents === null) return null;
    return () => postMoney("/api/v1/wallet/deposits", { amount: { amount: cents, currency } });
  },
  done: (t) => t.status === "settled"
    ? `${formatMoney(t.amount)} added to your wallet.`
    : `Top-up of ${formatMoney(t.amount)} is ${t.status}; it becomes available when your bank settles it.`,
});

wire("cashout-form", "bank", {
  prepare(form, region) {
    const cents = amountOf(form, region);
    if (cents === null) return null;
    const speed = form.elements.namedItem("speed").value;
    return () => postMoney("/api/v1/wallet/cashouts", { amount: { amount: cents, currency }, speed });
  },
  done: (t) => t.status === "settled"
    ? `${formatMoney(t.amount)} sent to your bank (fee ${formatMoney(t.fee)}).`
    : `Cash-out of ${formatMoney(t.amount)} is ${t.status}.`,
});

const VERIFY_BADGE = { none: "Not verified", pending: "Under review", verified: "Verified", rejected: "Not accepted" };

async function loadVerification() {
  try {
    const state = await api.get("/api/v1/wallet/verification");
    $("verify-badge").textContent = VERIFY_BADGE[state.status] || state.status;
    $("verify-badge").className = state.status === "verified" ? "badge badge--on" : "badge";
    $("verify-form").hidden = state.status === "verified" || state.status === "pending";
  } catch (error) {
    showError($("verify-error"), error);
  }
}

$("verify-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const region = $("verify-error");
  clearErrors(region, form);
  const v = values(form, [
    "legal_name", "date_of_birth", "address.line1", "address.line2", "address.city",
    "address.region", "address.postal_code", "address.country",
  ]);
  for (const [name, message] of [
    ["legal_name", "Enter your legal name"],
    ["date_of_birth", "Enter your date of birth"],
    ["address.line1", "Enter your street address"],
    ["address.city", "Enter your city"],
    ["address.postal_code", "Enter your postal code"],
    ["address.country", "Enter your two-letter country code"],
  ]) {
    if (!v[name]) return fieldError(region, form, name, message);
  }
  const body = {
    legal_name: v.legal_name,
    date_of_birth: v.date_of_birth,
    address: {
      line1: v["address.line1"], line2: v["address.line2"] || "", city: v["address.city"],
      region: v["address.region"] || "", postal_code: v["address.postal_code"],
      country: v["address.country"].toUpperCase(),
    },
  };
  busy(form.querySelector("button[type=submit]"), async () => {
    try {
      const state = await api.post("/api/v1/wallet/verification", body);
      form.reset();
      say($("verify-status"), state.status === "verified"
        ? "You are verified: your limits are higher now."
        : "Thanks: your details are under review.");
      await Promise.all([loadVerification(), loadBalance()]);
    } catch (error) {
      showError(region, error, form);
    }
  });
});

$("history-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  loadHistory(page);
});
$("history-more").addEventListener("click", (event) => busy(event.currentTarget, () => loadHistory(page, { more: true })));
$("refresh").addEventListener("click", (event) => busy(event.currentTarget, () => page.refresh()));
$("statement-month").addEventListener("change", (event) => {
  const month = event.currentTarget.value;
  if (month) $("statement-download").href = `/api/v1/wallet/statement.csv?month=${encodeURIComponent(month)}`;
});

const bps = Number(root.dataset.feeBps);
$("instant-label").textContent =
  `Instant (fee ${(bps / 100).toFixed(2)}%, at least ${formatMoney({ amount: Number(root.dataset.feeMin), currency })})`;

api.get("/api/v1/me/factors").then(setFactors).catch(() => {});
const LIVE_TYPES = new Set([
  "payment.completed",
  "payment.requested",
  "payment.request_resolved",
  "wallet.transfer",
]);
let liveRefresh = null;
function refreshSoon() {
  // A burst of events (a split, a batch settling) becomes one refresh.
  clearTimeout(liveRefresh);
  liveRefresh = setTimeout(() => page.refresh(), 150);
}
document.addEventListener("plaza:stream", (event) => {
  if (LIVE_TYPES.has(event.detail.type)) refreshSoon();
});
document.addEventListener("plaza:resync", refreshSoon);

page.refresh();
loadVerification();
// The forms' buttons wait for this script: a click before it ran would submit the
// form natively and be lost.
for (const button of document.querySelectorAll("button[data-needs-script]")) button.disabled = false;
