// The wallet page's lists: the requests inbox, bank transfers and the history, each
// with its actions (accept, decline, cancel, remind, refund).

import { api } from "../api.js";
import { busy, clearErrors, say, showError } from "../forms.js";
import { h, time } from "../dom.js";
import { formatMoney, postMoney } from "./money.js";
import { guarded, StepUpCancelled } from "../stepup.js";

const $ = (id) => document.getElementById(id);

const KINDS = {
  payment: "Payment",
  refund: "Refund",
  deposit: "Top-up",
  cashout: "Cash-out",
  fee: "Instant cash-out fee",
  return: "Returned by the bank",
  dispute: "Dispute adjustment",
  premium: "Plaza Premium",
};

function who(user) {
  return user?.username ? `@${user.username}` : "a deleted account";
}

function actionButton(label, describe, handler, { danger = false } = {}) {
  const cls = danger ? "button button--small button--danger-quiet" : "button button--small button--secondary";
  const button = h("button", { type: "button", class: cls, "aria-label": describe }, label);
  button.addEventListener("click", () => busy(button, handler));
  return button;
}

// ---- requests inbox ----------------------------------------------------------------------

function requestRow(page, request) {
  const incoming = request.direction === "incoming";
  const other = incoming ? request.requester : request.payer;
  const amount = formatMoney(request.amount);
  const title = incoming ? `${who(other)} asks you for ${amount}` : `You asked ${who(other)} for ${amount}`;
  const meta = h("p", { class: "row__meta" }, request.note ? `“${request.note}” · ` : "", time(request.created_at),
    request.status !== "pending" ? ` · ${request.status}` : "");
  const actions = h("div", { class: "row__actions" });
  const region = $("inbox-status");
  const errors = $("inbox-error");
  const run = (work, done) => async () => {
    clearErrors(errors);
    try {
      await work();
      say(region, done);
      await page.refresh();
    } catch (error) {
      if (!(error instanceof StepUpCancelled)) showError(errors, error);
    }
  };
  if (request.status === "pending" && incoming) {
    actions.append(
      actionButton("Pay", `Pay ${amount} to ${who(other)}`, run(
        () => guarded($("inbox"), () => postMoney(`/api/v1/payment-requests/${request.id}/accept`)),
        `Paid ${amount} to ${who(other)}.`)),
      actionButton("Decline", `Decline the request from ${who(other)}`, run(
        () => api.post(`/api/v1/payment-requests/${request.id}/decline`), "Request declined."), { danger: true }),
    );
  } else if (request.status === "pending") {
    actions.append(
      actionButton("Remind", `Remind ${who(other)}`, run(
        () => api.post(`/api/v1/payment-requests/${request.id}/remind`), `Reminder sent to ${who(other)}.`)),
      actionButton("Cancel", `Cancel the request to ${who(other)}`, run(
        () => api.post(`/api/v1/payment-requests/${request.id}/cancel`), "Request cancelled."), { danger: true }),
    );
  }
  return h("li", { class: "row" }, h("div", { class: "row__main" },
    h("div", { class: "row__line" }, h("strong", { class: "row__title" }, title)), meta), actions);
}

export async function loadRequests(page) {
  clearErrors($("inbox-error"));
  try {
    const [incoming, outgoing] = await Promise.all([
      api.get("/api/v1/payment-requests?direction=incoming&limit=20"),
      api.get("/api/v1/payment-requests?direction=outgoing&limit=20"),
    ]);
    for (const [list, data, empty] of [
      [$("incoming-list"), incoming.data, "Nobody has asked you for money."],
      [$("outgoing-list"), outgoing.data, "You have not asked anyone for money."],
    ]) {
      list.replaceChildren(...(data.length ? data.map((r) => requestRow(page, r))
        : [h("li", { class: "row row--empty" }, empty)]));
    }
  } catch (error) {
    showError($("inbox-error"), error);
  }
}

// ---- bank transfers ----------------------------------------------------------------------

const RAIL_STATUS = {
  created: "starting", pending: "pending", settled: "settled", failed: "failed", returned: "returned by the bank",
};

export async function loadTransfers() {
  try {
    const page = await api.get("/api/v1/wallet/transfers?limit=5");
    $("transfer-list").replaceChildren(...(page.data.length ? page.data.map((t) => {
      const what = t.direction === "deposit" ? "Top-up" : `Cash-out (${t.speed})`;
      const fee = t.fee.amount ? ` · fee ${formatMoney(t.fee)}` : "";
      return h("li", { class: "row" }, h("div", { class: "row__main" },
        h("div", { class: "row__line" }, h("strong", { class: "row__title" }, `${what} of ${formatMoney(t.amount)}`),
          h("span", { class: t.status === "settled" ? "badge badge--on" : "badge" }, RAIL_STATUS[t.status] || t.status)),
        h("p", { class: "row__meta" }, time(t.created_at), fee)));
    }) : [h("li", { class: "row row--empty" }, "No bank transfers yet.")]));
  } catch (error) {
    showError($("balance-error"), error);
  }
}

// ---- history ---------------------------------------------------------------------------

let cursor = null;

function historyQuery() {
  const form = $("history-filters");
  const params = new URLSearchParams({ limit: "20" });
  for (const name of ["kind", "direction"]) {
    const value = form.elements.namedItem(name).value;
    if (value) params.set(name, value);
  }
  const since = form.elements.namedItem("since").value;
  const until = form.elements.namedItem("until").value;
  if (since) params.set("since", `${since}T00:00:00Z`);
  if (until) {
    // "Until" includes that day: the API's range ends before the next midnight.
    const next = new Date(`${until}T00:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    params.set("until", next.toISOString());
  }
  if (cursor) params.set("cursor", cursor);
  return params;
}

function historyRow(page, line) {
  const incoming = line.direction === "in";
  const sign = incoming ? "+" : "−";
  const kind = KINDS[line.kind] || line.kind;
  const title = line.counterparty
    ? `${kind} ${incoming ? "from" : "to"} ${who(line.counterparty)}`
    : kind;
  const amount = h("span", { class: `row__amount amount--${incoming ? "in" : "out"}` },
    `${sign}${formatMoney(line.amount)}`);
  const meta = h("p", { class: "row__meta" }, time(line.at), line.note ? ` · “${line.note}”` : "");
  const actions = h("div", { class: "row__actions" });
  if (line.receipt_id) {
    actions.append(h("a", {
      class: "button button--small button--secondary",
      href: `/premium/receipts/${encodeURIComponent(line.receipt_id)}`,
      "aria-label": `Receipt for ${line.note || kind}`,
    }, "Receipt"));
  }
  if (incoming && line.kind === "payment" && line.payment_id) {
    actions.append(actionButton("Refund", `Refund ${formatMoney(line.amount)} to ${who(line.counterparty)}`, async () => {
      clearErrors($("history-error"));
      try {
        await guarded($("history"), () => postMoney(`/api/v1/payments/${line.payment_id}/refunds`, {}));
        say($("history-status"), `Refunded ${who(line.counterparty)}.`);
        await page.refresh();
      } catch (error) {
        if (!(error instanceof StepUpCancelled)) showError($("history-error"), error);
      }
    }));
  }
  return h("li", { class: "row" }, h("div", { class: "row__main" },
    h("div", { class: "row__line" }, h("strong", { class: "row__title" }, title), amount), meta), actions);
}

export async function loadHistory(page, { more = false } = {}) {
  if (!more) cursor = null;
  clearErrors($("history-error"));
  try {
    const result = await api.get(`/api/v1/wallet/history?${historyQuery()}`);
    const rows = result.data.map((line) => historyRow(page, line));
    if (more) $("history-list").append(...rows);
    else $("history-list").replaceChildren(...(rows.length ? rows
      : [h("li", { class: "row row--empty" }, "Nothing here yet.")]));
    cursor = result.next_cursor;
    $("history-more").hidden = !cursor;
  } catch (error) {
    showError($("history-error"), error, $("history-filters"));
  }
}
