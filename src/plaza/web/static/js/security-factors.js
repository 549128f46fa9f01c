// Authenticator app (TOTP), recovery codes and passkeys.

import { api } from "./api.js";
import { busy, clearErrors, fieldError, say, showError, values } from "./forms.js";
import { confirmInline, h, time } from "./dom.js";
import { StepUpCancelled, guarded } from "./stepup.js";
import { createPasskey, passkeysSupported } from "./webauthn.js";

const $ = (id) => document.getElementById(id);

/**
 * The enrolment QR code (inline SVG markup) as a data: URL for an <img>, so that the
 * markup is never parsed into the page. A standalone SVG needs its namespace, and a
 * viewBox to scale.
 */
function qrImage(svg) {
  let markup = svg.trim();
  const open = markup.slice(0, markup.indexOf(">"));
  if (!/\sxmlns=/.test(open)) markup = markup.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"');
  const size = open.match(/\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/);
  if (size && !/\sviewBox=/.test(open)) {
    markup = markup.replace("<svg", `<svg viewBox="0 0 ${size[1]} ${size[2]}"`);
  }
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(markup)}`;
}

/** Run a section action; a cancelled step-up is no error, anything else shows in `region`. */
async function attempt(region, form, work) {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StepUpCancelled) return undefined;
    showError(region, error, form);
    return undefined;
  }
}

export function renderFactors(page) {
  const { totp, passkeys, recovery_codes_left: left } = page.factors;
  const twoFactor = totp || passkeys > 0;
  const badge = $("totp-badge");
  badge.textContent = totp ? "On" : "Off";
  badge.classList.toggle("badge--on", totp);
  $("totp-on").hidden = !totp;
  $("totp-off").hidden = totp || !$("totp-enroll").hidden;
  $("recovery-regenerate").hidden = !twoFactor;
  const recovery = $("recovery-badge");
  recovery.textContent = !twoFactor ? "Not needed yet" : left ? `${left} left` : "None";
  $("recovery-regenerate").textContent = left ? "Generate new codes" : "Generate recovery codes";
  recovery.classList.toggle("badge--warn", twoFactor && left < 3);
  const keys = $("passkey-badge");
  keys.textContent = passkeys === 1 ? "1 passkey" : `${passkeys} passkeys`;
  keys.classList.toggle("badge--on", passkeys > 0);
}

// ---- recovery codes -----------------------------------------------------------------

function showCodes(codes) {
  const panel = $("recovery-codes");
  $("recovery-list").replaceChildren(...codes.map((code) => h("li", {}, h("code", {}, code))));
  const text = `Plaza recovery codes\n\n${codes.join("\n")}\n`;
  const link = $("recovery-download");
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  panel.dataset.text = text;
  panel.hidden = false;
  $("recovery-regenerate").hidden = true;
  panel.focus();
}

function hideCodes(page) {
  const panel = $("recovery-codes");
  panel.hidden = true;
  $("recovery-list").replaceChildren();
  delete panel.dataset.text;
  renderFactors(page);
  $("recovery-heading").scrollIntoView({ block: "nearest" });
}

function initRecovery(page) {
  const section = $("recovery");
  const region = $("recovery-error");
  $("recovery-done").addEventListener("click", () => {
    hideCodes(page);
    say($("recovery-status"), "Recovery codes hidden. Keep them safe.");
  });
  $("recovery-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("recovery-codes").dataset.text || "");
      say($("recovery-status"), "Codes copied.");
    } catch {
      say($("recovery-status"), "Copying is blocked here; use Download instead.");
    }
  });
  const regenerate = $("recovery-regenerate");
  regenerate.addEventListener("click", async () => {
    if (page.factors.recovery_codes_left > 0) {
      const ok = await confirmInline(regenerate, "Your current codes will stop working.", "Generate new codes");
      if (!ok) return;
    }
    clearErrors(region);
    await attempt(region, null, async () => {
      const answer = await guarded(section, () => api.post("/api/v1/me/recovery-codes"));
      showCodes(answer.recovery_codes);
      await page.refreshFactors();
      page.refreshDevices();
      page.refreshLog();
    });
  });
}

// ---- authenticator app ----------------------------------------------------------------

function initTotp(page) {
  const section = $("totp");
  const region = $("totp-error");
  const enroll = $("totp-enroll");
  const form = $("totp-confirm-form");

  const begin = $("totp-begin");
  begin.addEventListener("click", () =>
    busy(begin, () =>
      attempt(region, null, async () => {
        clearErrors(region);
        const answer = await guarded(section, () => api.post("/api/v1/me/totp"));
        $("totp-qr").src = qrImage(answer.qr_svg);
        $("totp-secret").textContent = answer.secret;
        enroll.hidden = false;
        $("totp-off").hidden = true;
        form.reset();
        $("totp-code").focus();
      }),
    ),
  );

  $("totp-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("totp-secret").textContent);
      say($("totp-status"), "Key copied.");
    } catch {
      say($("totp-status"), "Copying is blocked here; select the key and copy it.");
    }
  });

  $("totp-cancel").addEventListener("click", () => {
    enroll.hidden = true;
    clearErrors(region, form);
    renderFactors(page);
    begin.focus();
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const { code } = values(form, ["code"]);
    if (!code) return fieldError(region, form, "code", "Enter the 6-digit code from your app");
    clearErrors(region, form);
    busy(form.querySelector("[type=submit]"), () =>
      attempt(region, form, async () => {
        const answer = await guarded(section, () =>
          api.post("/api/v1/me/totp/confirm", { code: code.replace(/\s+/g, "") }),
        );
        enroll.hidden = true;
        $("totp-secret").textContent = "";
        $("totp-qr").removeAttribute("src");
        say($("totp-status"), "Authenticator app turned on. Your other devices were signed out.");
        await page.refreshFactors();
        showCodes(answer.recovery_codes);
        page.refreshDevices();
        page.refreshLog();
      }),
    );
  });

  const disable = $("totp-disable");
  disable.addEventListener("click", async () => {
    const ok = await confirmInline(disable, "Turn off the authenticator app?", "Turn off");
    if (!ok) return;
    clearErrors(region);
    await attempt(region, null, async () => {
      await guarded(section, () => api.delete("/api/v1/me/totp"));
      await page.refreshFactors();
      say($("totp-status"), "Authenticator app turned off.");
      page.refreshLog();
      $("totp-begin").focus();
    });
  });
}

// ---- passkeys -------------------------------------------------------------------------

function passkeyRow(page, key) {
  const region = $("passkey-error");
  const name = h("strong", { class: "row__title" }, key.name);
  const meta = h(
    "p",
    { class: "row__meta" },
    "Added ",
    time(key.created_at, { withTime: false }),
    " · ",
    key.last_used_at ? ["Last used ", time(key.last_used_at)] : "Not used yet",
    key.backed_up ? " · Synced" : "",
  );
  const rename = h("button", { type: "button", class: "button button--small button--secondary" }, "Rename");
  const remove = h("button", { type: "button", class: "button button--small button--danger-quiet" }, "Remove");
  rename.setAttribute("aria-label", `Rename passkey ${key.name}`);
  remove.setAttribute("aria-label", `Remove passkey ${key.name}`);
  const actions = h("div", { class: "row__actions" }, rename, remove);
  const row = h("li", { class: "row", "data-id": key.id }, h("div", { class: "row__main" }, name, meta), actions);

  rename.addEventListener("click", () => {
    const inputId = `passkey-rename-${key.id}`;
    const input = h("input", { id: inputId, name: "name", value: key.name, maxlength: 64, required: true, autocomplete: "off" });
    const form = h(
      "form",
      { class: "form form--row", novalidate: true },
      h("div", { class: "field" }, h("label", { for: inputId }, `New name for “${key.name}”`), input,
        h("p", { class: "field-error", id: `${inputId}-error`, hidden: true })),
      h("div", { class: "actions" },
        h("button", { type: "submit", class: "button button--small" }, "Save"),
        h("button", { type: "button", class: "button button--small button--secondary", onclick: () => page.refreshPasskeys() }, "Cancel")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (!value) return fieldError(region, form, "name", "Enter a name");
      attempt(region, form, async () => {
        await guarded($("passkeys"), () => api.patch(`/api/v1/me/passkeys/${key.id}`, { name: value }));
        say($("passkey-status"), `Passkey renamed to “${value}”.`);
        await page.refreshPasskeys();
      });
    });
    row.replaceChildren(form);
    input.select();
    input.focus();
  });

  remove.addEventListener("click", async () => {
    const ok = await confirmInline(remove, `Remove “${key.name}”?`, "Remove");
    if (!ok) return;
    clearErrors(region);
    await attempt(region, null, async () => {
      await guarded($("passkeys"), () => api.delete(`/api/v1/me/passkeys/${key.id}`));
      say($("passkey-status"), `Passkey “${key.name}” removed.`);
      await page.refreshPasskeys();
      await page.refreshFactors();
      page.refreshLog();
      $("passkey-name").focus();
    });
  });
  return row;
}

function initPasskeys(page) {
  const section = $("passkeys");
  const region = $("passkey-error");
  const list = $("passkey-list");
  const form = $("passkey-add-form");

  page.refreshPasskeys = async () => {
    try {
      const { data } = await api.get("/api/v1/me/passkeys");
      list.replaceChildren(...data.map((key) => passkeyRow(page, key)));
      if (!data.length) list.append(h("li", { class: "row row--empty" }, "No passkeys yet."));
    } catch (error) {
      showError(region, error);
    }
  };

  if (!passkeysSupported()) {
    form.hidden = true;
    say($("passkey-status"), "This browser cannot create passkeys.");
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = values(form, ["name"]).name || "Passkey";
    clearErrors(region, form);
    busy(form.querySelector("[type=submit]"), () =>
      attempt(region, form, async () => {
        const added = await guarded(section, async () => {
          const options = await api.post("/api/v1/me/passkeys/options");
          const credential = await createPasskey(options.public_key);
          return api.post("/api/v1/me/passkeys", { challenge_id: options.challenge_id, credential, name });
        });
        form.reset();
        say($("passkey-status"), `Passkey “${name}” added.`);
        // The account's first factor comes with recovery codes, shown this once.
        if (added && added.recovery_codes) showCodes(added.recovery_codes);
        await page.refreshPasskeys();
        await page.refreshFactors();
        page.refreshDevices();
        page.refreshLog();
      }),
    );
  });
  page.refreshPasskeys();
}

export function initFactors(page) {
  initTotp(page);
  initRecovery(page);
  initPasskeys(page);
}
