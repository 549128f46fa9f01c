// Moderation: the report queue grouped by subject, resolving reports, changing a
// subject's labels, and the audit log. Everything goes through the JSON API.

import { api } from "../api.js";
import { busy, clearErrors, fieldError, say, showError } from "../forms.js";
import { h, time } from "../dom.js";

const root = document.getElementById("moderation");
const CATEGORIES = root.dataset.categories.split(" ");
const RISKS = root.dataset.risks.split(" ");

const queue = document.getElementById("queue");
const queueMore = document.getElementById("queue-more");
const queueError = document.getElementById("queue-error");
const queueStatus = document.getElementById("queue-status-text");
const statusSelect = document.getElementById("queue-status");
let queueCursor = null;

const human = (name) => name.replaceAll("_", " ");

function labelList(labels, name) {
  if (!labels.length) return h("p", { class: "muted" }, "No labels.");
  return h(
    "ul",
    { class: "labels", "aria-label": name },
    labels.map((l) =>
      h("li", { class: `badge label-risk--${l.risk}` }, `${human(l.category)}: ${l.risk} (${l.source})`),
    ),
  );
}

function options(values, format = human) {
  return values.map((v) => h("option", { value: v }, format(v)));
}

/** The apply/dismiss controls of one open group. */
function decisionForm(group) {
  const id = `${group.subject}-${group.subject_id}`;
  const report = group.reports[0];
  const alert = h("div", { class: "form-error", role: "alert", "aria-live": "assertive" });
  const category = h("select", { id: `apply-category-${id}`, name: "category" }, options(CATEGORIES));
  const top = [...group.categories].sort((a, b) => b.count - a.count)[0];
  if (top) category.value = top.category;
  const risk = h("select", { id: `apply-risk-${id}`, name: "risk" }, options(RISKS));
  risk.value = "medium";
  const note = h("input", { id: `apply-note-${id}`, name: "note", maxlength: 1000 });
  const apply = h("button", { type: "submit", class: "button button--small" }, "Apply label");
  const dismiss = h("button", { type: "button", class: "button button--small button--secondary" }, "Dismiss reports");
  const form = h(
    "form",
    { class: "form form--row", novalidate: true, "aria-label": `Decide on ${group.subject} ${group.subject_id}` },
    alert,
    h("div", { class: "field" }, h("label", { for: category.id }, "Category"), category),
    h("div", { class: "field" }, h("label", { for: risk.id }, "Risk"), risk),
    h("div", { class: "field" }, h("label", { for: note.id }, "Note"), note),
    h("div", { class: "actions" }, apply, dismiss),
  );
  const decide = (button, body) =>
    busy(button, async () => {
      clearErrors(alert, form);
      try {
        const result = await api.post(`/api/v1/moderation/reports/${report.id}/resolve`, body);
        say(queueStatus, `${result.resolved_reports} report(s) on ${group.subject} ${group.subject_id} ${result.status}.`);
        await loadQueue();
        await loadAudit();
      } catch (error) {
        showError(alert, error, form);
      }
    });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    decide(apply, {
      action: "apply",
      labels: [{ category: category.value, risk: risk.value }],
      note: note.value.trim(),
    });
  });
  dismiss.addEventListener("click", () => decide(dismiss, { action: "dismiss", note: note.value.trim() }));
  return form;
}

function groupItem(group) {
  const counts = group.categories.map((c) => `${human(c.category)} × ${c.count}`).join(", ");
  const headingId = `group-${group.subject}-${group.subject_id}`;
  return h(
    "li",
    { class: "card", "aria-labelledby": headingId },
    h("h3", { id: headingId }, `${group.subject} ${group.subject_id}`),
    h(
      "p",
      { class: "muted" },
      `${group.report_count} report(s): ${counts}. `,
      group.author_id ? `Author id ${group.author_id}. ` : "",
      "First reported ",
      time(group.first_reported_at),
      ".",
    ),
    labelList(group.labels, "Labels now"),
    h(
      "ol",
      { class: "queue__reports", "aria-label": "Reports" },
      group.reports.map((r) =>
        h("li", {}, h("strong", {}, human(r.category)), r.reason ? ` — ${r.reason}` : "", " · ", time(r.created_at)),
      ),
    ),
    group.status === "open" ? decisionForm(group) : null,
  );
}

async function loadQueue({ more = false } = {}) {
  const params = new URLSearchParams({ status: statusSelect.value, limit: "20" });
  if (more && queueCursor) params.set("cursor", queueCursor);
  try {
    const page = await api.get(`/api/v1/moderation/reports?${params}`);
    if (!more) queue.replaceChildren();
    queue.append(...page.data.map(groupItem));
    if (!queue.children.length) queue.append(h("li", { class: "row--empty" }, "Nothing here."));
    queueCursor = page.next_cursor;
    queueMore.hidden = !queueCursor;
  } catch (error) {
    showError(queueError, error);
  }
}

const audit = document.getElementById("audit");
const auditMore = document.getElementById("audit-more");
const auditError = document.getElementById("audit-error");
let auditCursor = null;

function auditItem(entry) {
  const detail = entry.detail || {};
  const why = detail.reason || detail.note || "";
  return h(
    "li",
    { class: "log__item" },
    h("span", { class: "log__what" }, `${entry.action} on ${entry.subject} ${entry.subject_id}`, why ? ` — ${why}` : ""),
    h("span", { class: "log__when" }, time(entry.created_at)),
    h("span", { class: "log__where" }, `moderator id ${entry.actor_id}`),
  );
}

async function loadAudit({ more = false } = {}) {
  const params = new URLSearchParams({ limit: "20" });
  if (more && auditCursor) params.set("cursor", auditCursor);
  try {
    const page = await api.get(`/api/v1/moderation/audit?${params}`);
    if (!more) audit.replaceChildren();
    audit.append(...page.data.map(auditItem));
    auditCursor = page.next_cursor;
    auditMore.hidden = !auditCursor;
  } catch (error) {
    showError(auditError, error);
  }
}

const overrideForm = document.getElementById("override-form");
const overrideError = document.getElementById("override-error");
const overrideStatus = document.getElementById("override-status");
const overrideLabels = document.getElementById("override-labels");

overrideForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const f = overrideForm.elements;
  const subject = f.namedItem("subject").value.trim();
  const subjectId = f.namedItem("subject_id").value.trim();
  if (!/^\d{1,20}$/.test(subjectId)) {
    fieldError(overrideError, overrideForm, "subject_id", "Enter the numeric id of the content.");
    return;
  }
  const category = f.namedItem("category").value;
  const [action, risk] = f.namedItem("action").value.split(":");
  const body = { reason: f.namedItem("reason").value.trim() };
  if (action === "set") body.set = [{ category, risk }];
  else body[action] = [category];
  const button = overrideForm.querySelector('button[type="submit"]');
  busy(button, async () => {
    clearErrors(overrideError, overrideForm);
    try {
      const path = `/api/v1/moderation/subjects/${encodeURIComponent(subject)}/${subjectId}/labels`;
      const result = await api.post(path, body);
      overrideLabels.replaceChildren(
        ...result.labels.map((l) => h("li", { class: `badge label-risk--${l.risk}` }, `${human(l.category)}: ${l.risk} (${l.source})`)),
      );
      say(overrideStatus, result.labels.length ? "Saved. The labels now are listed below." : "Saved. It has no labels now.");
      await loadAudit();
    } catch (error) {
      showError(overrideError, error, overrideForm);
    }
  });
});

statusSelect.addEventListener("change", () => loadQueue());
queueMore.addEventListener("click", () => busy(queueMore, () => loadQueue({ more: true })));
auditMore.addEventListener("click", () => busy(auditMore, () => loadAudit({ more: true })));
loadQueue();
loadAudit();
