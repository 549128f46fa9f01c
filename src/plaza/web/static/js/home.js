import { api } from "./api.js";
import { busy, flashNext, showError } from "./forms.js";

const cancel = document.getElementById("cancel-deletion");
cancel?.addEventListener("click", () =>
  busy(cancel, async () => {
    try {
      await api.delete("/api/v1/me/deletion");
      flashNext("Your account will not be deleted.");
      window.location.reload();
    } catch (error) {
      showError(document.getElementById("cancel-deletion-error"), error);
    }
  }),
);
