// /admin/premium: the operators' figures (GET /api/v1/admin/premium) and the past-due
// accounts, read again on Refresh.

import { api } from "../api.js";
import { h, time } from "../dom.js";
import { busy, clearErrors, say, showError } from "../forms.js";
import { formatMoney } from "../payments/money.js";

const $ = (id) => document.getElementById(id);
const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
const count = new Intl.NumberFormat();

function row(account) {
  const who = account.username
    ? h("a", { href: `/@${encodeURIComponent(account.username)}` }, `@${account.username}`)
    : h("span", { class: "muted" }, "Deleted account");
  return h(
    "tr",
    {},
    h("th", { scope: "row" }, who),
    h("td", {}, account.plan),
    h("td", {}, time(account.past_due_since)),
    h("td", {}, time(account.grace_ends_at)),
    h("td", {}, count.format(account.attempts)),
  );
}

async function load({ announce = false } = {}) {
  clearErrors($("admin-error"));
  $("admin-figures").setAttribute("aria-busy", "true");
  try {
    const o = await api.get("/api/v1/admin/premium");
    $("figure-active").textContent = count.format(o.active);
    $("figure-cancelling").textContent = count.format(o.cancelling);
    $("figure-past-due").textContent = count.format(o.past_due);
    $("figure-mrr").textContent = formatMoney(o.mrr);
    $("figure-churn").textContent = `${percent.format(o.churn_rate_30d)} (${count.format(o.churned_30d)} ended)`;
    const accounts = o.past_due_accounts || [];
    $("past-due-rows").replaceChildren(...accounts.map(row));
    $("past-due-table").hidden = accounts.length === 0;
    $("past-due-empty").hidden = accounts.length > 0;
    if (announce) say($("admin-status"), "Figures updated.");
  } catch (error) {
    showError($("admin-error"), error);
  } finally {
    $("admin-figures").setAttribute("aria-busy", "false");
  }
}

$("admin-refresh").addEventListener("click", (event) => busy(event.currentTarget, () => load({ announce: true })));
load();
