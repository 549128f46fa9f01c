// /premium: the plans with Subscribe buttons, or the subscriber's own subscription
// (plan, next charge, cancel / resume, pay now when a renewal failed) and the receipts.
// Charges go through the wallet, each with its own Idempotency-Key (postMoney), so a
// retried click never charges twice. The page follows its stream: after
// `premium.updated` (a renewal, a failed one, the end of Premium, an action on another
// device) it reads the subscription again.

import { ApiError, api } from "../api.js";
import { confirmInline, formatDate, h } from "../dom.js";
import { busy, clearErrors, say, showError } from "../forms.js";
import { formatMoney, postMoney } from "../payments/money.js";

const API = "/api/v1/premium";
const $ = (id) => document.getElementById(id);
const status = $("premium-status");
const currency = $("premium").dataset.currency;
let subscription = null;
let drawn = false; // the first drawing follows the page load: focus stays where it is
let receiptsCursor = null;

// ---- the subscription --------------------------------------------------------------------

const isLive = (sub) => Boolean(sub) && sub.status !== "expired";

function priceText(plan) {
  return `${formatMoney(plan.price)} ${plan.interval === "year" ? "a year" : "a month"}`;
}

/** Badge, "next charge" line and explanation for each state. */
function describe(sub) {
  const amount = formatMoney(sub.plan.price);
  if (sub.status === "past_due") {
    const until = sub.grace_ends_at || sub.access_until;
    return {
      badge: ["Payment due", "badge badge--warn"],
      nextLabel: "Next attempt",
      next: sub.next_attempt_at ? `${amount} on ${formatDate(sub.next_attempt_at)}` : "Pay now to keep Premium",
      note: [
        `Your renewal of ${amount} failed: your wallet did not have enough available. `,
        h("a", { href: "/wallet#bank" }, "Top up your wallet"),
        until ? ` and pay now, or Premium ends on ${formatDate(until)} (we try again every day until then).`
          : " and pay now.",
      ],
    };
  }
  if (sub.cancel_at_period_end) {
    const until = formatDate(sub.access_until || sub.current_period_end);
    return {
      badge: [`Ends ${until}`, "badge badge--warn"],
      nextLabel: "Premium until",
      next: until,
      note: [`You cancelled Premium. It stays on until ${until}, and you won’t be charged again. Changed your mind? Resume before then.`],
    };
  }
  const when = sub.next_charge_at ? formatDate(sub.next_charge_at) : null;
  return {
    badge: ["Active", "badge badge--on"],
    nextLabel: "Next charge",
    next: when ? `${formatMoney(sub.next_charge || sub.plan.price)} on ${when}` : "—",
    note: [`Renews from your wallet${when ? ` on ${when}` : ""}: keep at least ${amount} available then.`],
  };
}

function endedNote(sub) {
  if (!sub?.ended_at) return null;
  const when = formatDate(sub.ended_at);
  return sub.ended_reason === "unpaid"
    ? `Your Premium ended on ${when}: its renewal could not be paid. Subscribe again any time.`
    : `Your Premium ended on ${when}. Subscribe again any time.`;
}

/** Draw `sub` (a Subscription, or null for none): the manage view or the plans. */
function render(sub) {
  const wasLive = isLive(subscription);
  subscription = sub;
  const live = isLive(sub);
  $("manage").hidden = !live;
  $("plans").hidden = live;
  const ended = live ? null : endedNote(sub);
  $("ended-note").hidden = !ended;
  $("ended-note").textContent = ended || "";
  if (live) {
    const view = describe(sub);
    $("sub-badge").textContent = view.badge[0];
    $("sub-badge").className = view.badge[1];
    $("sub-plan").textContent = `${sub.plan.name}, ${priceText(sub.plan)}`;
    $("sub-next-label").textContent = view.nextLabel;
    $("sub-next").textContent = view.next;
    $("sub-period").textContent = `${formatDate(sub.current_period_start)} – ${formatDate(sub.current_period_end)}`;
    $("sub-note").replaceChildren(...view.note);
    $("pay-now").hidden = sub.status !== "past_due";
    $("pay-now").textContent = `Pay ${formatMoney(sub.plan.price)} now`;
    $("resume").hidden = !(sub.status === "active" && sub.cancel_at_period_end);
    $("cancel").hidden = sub.status === "active" && sub.cancel_at_period_end;
  }
  // The section that held focus may just have been hidden: move it to the one shown.
  if (drawn && wasLive !== live && document.activeElement === document.body) {
    $(live ? "manage-heading" : "plans-heading").focus();
  }
  drawn = true;
}

async function loadSubscription() {
  try {
    render(await api.get(`${API}/subscription`));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) render(null);
    else showError($("manage-error"), error);
  }
}

async function loadWallet() {
  try {
    const wallet = await api.get("/api/v1/wallet");
    $("wallet-available").textContent = formatMoney(wallet.available);
  } catch {
    $("wallet-available").textContent = "unknown";
  }
}

// ---- receipts ----------------------------------------------------------------------------

function receiptRow(receipt) {
  const period = `${formatDate(receipt.period_start)} – ${formatDate(receipt.period_end)}`;
  return h(
    "li",
    { class: "row" },
    h(
      "div",
      { class: "row__main" },
      h("div", { class: "row__line" }, h("strong", { class: "row__title" }, `${receipt.plan.name}, ${period}`),
        h("span", { class: "row__amount" }, formatMoney(receipt.amount))),
      h("p", { class: "row__meta" }, `${receipt.number} · paid ${formatDate(receipt.paid_at)} from your wallet`),
    ),
    h("div", { class: "row__actions" }, h("a", {
      class: "button button--small button--secondary",
      href: `/premium/receipts/${encodeURIComponent(receipt.id)}`,
      "aria-label": `Receipt ${receipt.number}`,
    }, "Receipt")),
  );
}

async function loadReceipts({ more = false } = {}) {
  const list = $("receipt-list");
  const params = new URLSearchParams({ limit: "12" });
  if (more && receiptsCursor) params.set("cursor", receiptsCursor);
  list.setAttribute("aria-busy", "true");
  try {
    const page = await api.get(`${API}/receipts?${params}`);
    const items = page.data ?? page.items ?? [];
    const rows = items.map(receiptRow);
    if (more) list.append(...rows);
    else list.replaceChildren(...(rows.length ? rows : [h("li", { class: "row row--empty" }, "No receipts yet.")]));
    receiptsCursor = page.next_cursor;
    $("receipts-more").hidden = !receiptsCursor;
    clearErrors($("receipts-error"));
  } catch (error) {
    showError($("receipts-error"), error);
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

function refreshAll() {
  return Promise.all([loadSubscription(), loadWallet(), loadReceipts()]);
}

// ---- actions -----------------------------------------------------------------------------

/** An insufficient-funds answer, said with what to do about it (and where). */
function showFundsError(region, price, then) {
  const available = $("wallet-available").textContent;
  region.replaceChildren(
    `Not enough money in your wallet: it has ${available} available, and Premium costs ${price}. `,
    h("a", { href: "/wallet#bank" }, "Top up your wallet"),
    `, then ${then}.`,
  );
}

for (const button of document.querySelectorAll("[data-plan]")) {
  button.addEventListener("click", () => {
    const region = $("plans-error");
    clearErrors(region);
    busy(button, async () => {
      try {
        const sub = await postMoney(`${API}/subscription`, { plan: button.dataset.plan });
        render(sub);
        say(status, `Welcome to Premium. ${formatMoney(sub.plan.price)} was paid from your wallet.`);
        $("manage-heading").focus();
        await Promise.all([loadWallet(), loadReceipts()]);
      } catch (error) {
        if (error instanceof ApiError && error.slug === "insufficient-funds") {
          await loadWallet();
          showFundsError(region, formatMoney({ amount: Number(button.dataset.amount), currency }), "subscribe");
        } else if (error instanceof ApiError && error.slug === "already-subscribed") {
          await loadSubscription(); // another device got there first: show it
          say(status, "You already have Premium.");
        } else showError(region, error);
      }
    });
  });
  button.disabled = false;
}

/** Run a manage action; `work` resolves to the new Subscription. */
async function act(button, work, done) {
  const region = $("manage-error");
  clearErrors(region);
  await busy(button, async () => {
    try {
      const sub = await work();
      render(sub);
      say(status, done(sub));
      const next = [$("cancel"), $("resume"), $("pay-now")].find((b) => !b.hidden);
      (isLive(sub) ? next || $("manage-heading") : $("plans-heading")).focus();
      await Promise.all([loadWallet(), loadReceipts()]);
    } catch (error) {
      if (error instanceof ApiError && error.slug === "insufficient-funds") {
        await loadWallet();
        showFundsError(region, formatMoney(subscription.plan.price), "pay now");
      } else {
        showError(region, error);
        if (error instanceof ApiError && [404, 409].includes(error.status)) await loadSubscription();
      }
    }
  });
}

$("cancel").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  const pastDue = subscription?.status === "past_due";
  const question = pastDue
    ? "Cancel Premium? Its payment is overdue, so it ends now."
    : `Cancel Premium? It stays on until ${formatDate(subscription.current_period_end)}, and you won’t be charged again.`;
  // Words that can't be misread: "Cancel" would be ambiguous beside "Cancel Premium".
  if (!(await confirmInline(button, question, "Yes, cancel Premium", "Keep Premium"))) return;
  await act(button, () => api.delete(`${API}/subscription`), (sub) =>
    isLive(sub) ? `Premium is cancelled: it stays on until ${formatDate(sub.access_until || sub.current_period_end)}.` : "Premium is cancelled and has ended.");
});

$("resume").addEventListener("click", (event) =>
  act(event.currentTarget, () => api.post(`${API}/subscription/resume`), (sub) =>
    `Premium will renew on ${formatDate(sub.current_period_end)}.`));

$("pay-now").addEventListener("click", (event) =>
  act(event.currentTarget, () => postMoney(`${API}/subscription/pay`), (sub) =>
    `Paid ${formatMoney(sub.plan.price)}: Premium runs until ${formatDate(sub.current_period_end)}.`));

$("receipts-more").addEventListener("click", (event) => busy(event.currentTarget, () => loadReceipts({ more: true })));

// ---- live --------------------------------------------------------------------------------

const WALLET_EVENTS = new Set(["payment.completed", "wallet.transfer"]);
let liveRefresh = null;
function refreshSoon() {
  // A burst of events (a renewal run, a replay after a reconnect) becomes one refresh.
  clearTimeout(liveRefresh);
  liveRefresh = setTimeout(refreshAll, 150);
}
document.addEventListener("plaza:stream", (event) => {
  const { type } = event.detail || {};
  // premium.updated says what changed ({id, status, cancel_at_period_end}); the page
  // reads the whole subscription again, with what was charged.
  if (type === "premium.updated") refreshSoon();
  else if (WALLET_EVENTS.has(type)) loadWallet();
});
document.addEventListener("plaza:resync", refreshSoon);

refreshAll();
