import { wireCancelDeletion } from "./forms.js";

wireCancelDeletion(
  document.getElementById("cancel-deletion"),
  document.getElementById("cancel-deletion-error"),
);
