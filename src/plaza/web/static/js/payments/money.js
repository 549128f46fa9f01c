// Money on the wallet page: amounts typed as "12.50" become integer cents without
// floating point, cents are shown in the wallet currency, and every request that
// moves money carries a fresh Idempotency-Key so a retried click never pays twice.

import { ApiError, csrfToken } from "../api.js";

const AMOUNT = /^\s*(\d{1,10})(?:[.,](\d{1,2}))?\s*$/;

/** "12.5" -> 1250; null when it is not an amount with at most two decimals. */
export function toCents(text) {
  const match = AMOUNT.exec(String(text ?? ""));
  if (!match) return null;
  const cents = Number(match[1]) * 100 + Number((match[2] || "0").padEnd(2, "0"));
  return cents > 0 ? cents : null;
}

/** {amount: 1250, currency: "USD"} -> "$12.50" in the reader's locale. */
export function formatMoney(money) {
  const amount = Number(money?.amount ?? 0);
  return new Intl.NumberFormat(undefined, { style: "currency", currency: money?.currency || "USD" })
    .format(amount / 100);
}

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * POST that moves money: JSON in and out, CSRF and an Idempotency-Key (a new one
 * unless `key` is given: a retry of the same attempt passes the key it used).
 */
export async function postMoney(path, body = {}, { key = newKey() } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        Accept: "application/json, application/problem+json",
        "Content-Type": "application/json",
        "X-CSRF-Token": csrfToken(),
        "Idempotency-Key": key,
      },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { detail: "Plaza could not be reached. Check your connection and try again." });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text.slice(0, 200) };
  }
  if (!response.ok) {
    const problem = data && typeof data === "object" ? data : {};
    const retry = response.headers.get("Retry-After");
    if (retry) problem.retryAfter = Number(retry);
    throw new ApiError(response.status, problem);
  }
  return data;
}
