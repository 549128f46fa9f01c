// Security settings: wires each section to the API. Factor sections live in
// security-factors.js, devices/password/log/deletion in security-account.js.

import { api } from "./api.js";
import { showError } from "./forms.js";
import { setFactors } from "./stepup.js";
import { initFactors, renderFactors } from "./security-factors.js";
import { initAccount } from "./security-account.js";

const page = {
  factors: { totp: false, passkeys: 0, recovery_codes_left: 0 },

  /** Reload the factor summary and redraw what depends on it. */
  async refreshFactors() {
    try {
      page.factors = await api.get("/api/v1/me/factors");
    } catch (error) {
      showError(document.getElementById("totp-error"), error);
      return;
    }
    setFactors(page.factors);
    renderFactors(page);
  },
};

const account = initAccount(page);
page.refreshDevices = account.refreshDevices;
page.refreshLog = account.refreshLog;
initFactors(page);
page.refreshFactors();
