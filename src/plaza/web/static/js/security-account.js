// Signed-in devices, password change, the security log, and account deletion.

import { api } from "./api.js";
import { busy, clearErrors, fieldError, flashNext, say, showError, values, wireCancelDeletion } from "./forms.js";
import { describeAgent, formatDate, h, time } from "./dom.js";
import { StepUpCancelled, guarded } from "./stepup.js";

const $ = (id) => document.getElementById(id);

const METHODS = {
  password: "password",
  passkey: "passkey",
  "password+totp": "password and authenticator app",
  "password+passkey": "password and passkey",
  "password+recovery_code": "password and recovery code",
};

const EVENTS = {
  "account.created": "Account created",
  signin: "Signed in",
  "signin.failed": "Failed sign-in attempt",
  "device.new": "Sign-in from a new device",
  "session.revoked": "Device signed out",
  "totp.enabled": "Authenticator app turned on",
  "totp.disabled": "Authenticator app turned off",
  "totp.used": "Authenticator code used",
  "totp.failed": "Wrong authenticator code",
  "recovery_code.used": "Recovery code used",
  "recovery_code.failed": "Wrong recovery code",
  "recovery_codes.regenerated": "New recovery codes generated",
  "passkey.added": "Passkey added",
  "passkey.removed": "Passkey removed",
  "passkey.used": "Signed in with a passkey",
  "password.changed": "Password changed",
  "password.reset_by_admin": "Password reset by an administrator",
  "account.deletion_scheduled": "Account deletion scheduled",
  "account.deletion_cancelled": "Account deletion cancelled",
};
const WARNINGS = new Set(["signin.failed", "totp.failed", "recovery_code.failed", "device.new"]);

function deviceRow(page, device) {
  const title = h("strong", { class: "row__title" }, describeAgent(device.user_agent));
  const badge = device.current ? h("span", { class: "badge badge--on" }, "This device") : null;
  const meta = h(
    "p",
    { class: "row__meta" },
    "Signed in ",
    time(device.created_at),
    ` with ${METHODS[device.method] || device.method}`,
    " · Last active ",
    time(device.last_seen_at),
    device.ip ? ` · ${device.ip}` : "",
  );
  const row = h("li", { class: "row" }, h("div", { class: "row__main" }, h("div", { class: "row__line" }, title, badge), meta));
  if (!device.current) {
    const revoke = h("button", { type: "button", class: "button button--small button--danger-quiet" }, "Sign out");
    revoke.setAttribute("aria-label", `Sign out ${describeAgent(device.user_agent)}, last active ${formatDate(device.last_seen_at)}`);
    revoke.addEventListener("click", () =>
      busy(revoke, async () => {
        clearErrors($("device-error"));
        try {
          await api.delete(`/api/v1/me/sessions/${device.id}`);
          say($("device-status"), `${describeAgent(device.user_agent)} was signed out.`);
          await page.refreshDevices();
          page.refreshLog();
          $("devices-heading").focus();
        } catch (error) {
          showError($("device-error"), error);
        }
      }),
    );
    row.append(h("div", { class: "row__actions" }, revoke));
  }
  return row;
}

function initDevices(page) {
  return async function refreshDevices() {
    try {
      const { data } = await api.get("/api/v1/me/sessions");
      data.sort((a, b) => Number(b.current) - Number(a.current)); // this device first
      $("device-list").replaceChildren(...data.map((d) => deviceRow(page, d)));
    } catch (error) {
      showError($("device-error"), error);
    }
  };
}

function logRow(event) {
  const label = EVENTS[event.kind] || event.kind;
  const details = [];
  if (event.details?.method) details.push(`with ${METHODS[event.details.method] || event.details.method}`);
  if (event.details?.name) details.push(`“${event.details.name}”`);
  return h(
    "li",
    { class: WARNINGS.has(event.kind) ? "log__item log__item--warn" : "log__item" },
    h("span", { class: "log__what" }, [label, ...details].join(" ")),
    h("span", { class: "log__when" }, time(event.created_at)),
    h("span", { class: "log__where" }, [describeAgent(event.user_agent), event.ip].filter(Boolean).join(" · ")),
  );
}

function initLog() {
  const list = $("log-list");
  const more = $("log-more");
  let cursor = null;

  async function load(reset) {
    const query = new URLSearchParams({ limit: "20" });
    if (!reset && cursor) query.set("cursor", cursor);
    try {
      const page = await api.get(`/api/v1/me/security-log?${query}`);
      const rows = page.data.map(logRow);
      if (reset) list.replaceChildren(...rows);
      else list.append(...rows);
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      showError($("log-error"), error);
    }
  }
  more.addEventListener("click", () => busy(more, () => load(false)));
  return () => load(true);
}

function initPassword(page) {
  const form = $("password-form");
  const region = $("password-error");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = values(form, ["current_password", "new_password"], {
      keepEmpty: ["current_password", "new_password"],
    });
    if (!body.current_password) return fieldError(region, form, "current_password", "Enter your current password");
    if (!body.new_password) return fieldError(region, form, "new_password", "Choose a new password");
    clearErrors(region, form);
    busy(form.querySelector("[type=submit]"), async () => {
      try {
        await guarded($("password"), () => api.post("/api/v1/me/password", body));
        form.reset();
        say($("password-status"), "Password changed. Your other devices were signed out.");
        page.refreshDevices();
        page.refreshLog();
      } catch (error) {
        if (!(error instanceof StepUpCancelled)) showError(region, error, form);
      }
    });
  });
}

function initDeletion() {
  const form = $("delete-form");
  const region = $("delete-error");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = values(form, ["password"], { keepEmpty: ["password"] });
    if (!body.password) return fieldError(region, form, "password", "Enter your password to confirm");
    clearErrors(region, form);
    busy(form.querySelector("[type=submit]"), async () => {
      try {
        const answer = await guarded($("delete"), () => api.post("/api/v1/me/deletion", body));
        flashNext(
          `Your account will be deleted on ${formatDate(answer.deletion_scheduled_for)}. ` +
            "Sign in before then if you change your mind.",
        );
        window.location.assign("/login");
      } catch (error) {
        if (!(error instanceof StepUpCancelled)) showError(region, error, form);
      }
    });
  });

  wireCancelDeletion($("cancel-deletion"), $("cancel-deletion-error"));
}

export function initAccount(page) {
  const refreshDevices = initDevices(page);
  const refreshLog = initLog();
  initPassword(page);
  initDeletion();
  refreshDevices();
  refreshLog();
  return { refreshDevices, refreshLog };
}
