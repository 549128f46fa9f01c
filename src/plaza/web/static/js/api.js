// The one way pages talk to the JSON API: JSON in and out, the session cookie,
// the CSRF header on unsafe methods, and problem documents turned into ApiError.

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `Request failed (${status})`);
    this.name = "ApiError";
    this.status = status;
    this.type = problem.type || "";
    this.title = problem.title || "";
    this.detail = problem.detail || this.message;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.retryAfter = problem.retryAfter ?? null;
  }

  /** The last part of the problem type, e.g. "step-up-required". */
  get slug() {
    return this.type.split("/").pop();
  }

  get stepUpRequired() {
    return this.status === 403 && this.slug === "step-up-required";
  }
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

/**
 * Call the API. `body` (if any) is sent as JSON. Resolves to the parsed JSON body,
 * or null for an empty answer; rejects with ApiError on any non-2xx answer.
 */
export async function api(method, path, body) {
  method = method.toUpperCase();
  const headers = { Accept: "application/json, application/problem+json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE.has(method)) {
    const token = csrfToken();
    if (token) headers["X-CSRF-Token"] = token;
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { detail: "Plaza could not be reached. Check your connection and try again." });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text.slice(0, 200) };
    }
  }
  if (!response.ok) {
    const problem = data && typeof data === "object" ? data : {};
    const retry = response.headers.get("Retry-After");
    if (retry) problem.retryAfter = Number(retry);
    if (response.status === 401 && csrfToken()) checkSession();
    throw new ApiError(response.status, problem);
  }
  return data;
}

let checking = false;

/**
 * A 401 on a signed-in page may be a wrong password, or the session may have ended
 * (signed out elsewhere, revoked, expired). Ask once; if it ended, go to sign-in.
 */
async function checkSession() {
  if (checking) return;
  checking = true;
  try {
    const response = await fetch("/api/v1/me", { credentials: "same-origin" });
    if (response.status === 401) {
      try {
        sessionStorage.setItem("plaza.flash", "Your session has ended. Sign in again to continue.");
      } catch {
        /* the message is a nicety */
      }
      const here = window.location.pathname + window.location.search;
      window.location.assign(`/login?next=${encodeURIComponent(here)}`);
    }
  } catch {
    /* offline: the caller shows its own error */
  } finally {
    checking = false;
  }
}

api.get = (path) => api("GET", path);
api.post = (path, body = {}) => api("POST", path, body);
api.patch = (path, body) => api("PATCH", path, body);
api.delete = (path) => api("DELETE", path);
