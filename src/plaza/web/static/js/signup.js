// Sign-up: create the account, sign straight in, and go on.

import { api } from "./api.js";
import { busy, clearErrors, fieldError, flashNext, showError, values } from "./forms.js";

const root = document.getElementById("signup");
const form = document.getElementById("signup-form");
const region = document.getElementById("signup-error");
const next = root.dataset.next && root.dataset.next.startsWith("/") && !root.dataset.next.startsWith("//")
  ? root.dataset.next
  : "/";

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const body = values(form, ["username", "password", "email"], { keepEmpty: ["password"] });
  if (!body.username) return fieldError(region, form, "username", "Choose a username");
  if (!body.password) return fieldError(region, form, "password", "Choose a password");
  clearErrors(region, form);
  busy(form.querySelector("[type=submit]"), async () => {
    try {
      await api.post("/api/v1/accounts", body);
    } catch (error) {
      if (error.status === 409) return fieldError(region, form, "username", "is taken; choose another");
      return showError(region, error, form);
    }
    try {
      await api.post("/api/v1/sessions", { username: body.username, password: body.password });
    } catch {
      flashNext("Your account is ready. Sign in to continue.");
      return window.location.assign("/login");
    }
    flashNext(`Welcome to Plaza, ${body.username}! Your account is ready.`);
    window.location.assign(next);
  });
});
