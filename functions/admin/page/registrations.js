// The approval queue: registrations by state; pending ones are approved or rejected with a reason.
"use strict";

import { api } from "./api.js";
import { $, el, formatDateTime, loading, showProblem } from "./ui.js";

let cursor = null;

function row(customer) {
  const reason = el("input", { "aria-label": `Reason for rejecting ${customer.name}`, placeholder: "Reason for rejecting" });
  const actions = customer.status === "pending_approval"
    ? [
      el("button", { type: "button", onclick: () => decide(customer.id, "approve") }, "Approve"), " ",
      reason, " ",
      el("button", { type: "button", onclick: () => decide(customer.id, "reject", reason.value) }, "Reject"),
    ]
    : [];
  return el("tr", { dataset: { id: customer.id } },
    el("td", {}, customer.name), el("td", {}, customer.email), el("td", {}, customer.account_type),
    el("td", {}, customer.company_name ?? ""), el("td", {}, formatDateTime(customer.created_at)),
    el("td", { class: "actions" }, actions));
}

async function load(fresh) {
  const screen = $("#registrations");
  if (fresh) {
    cursor = null;
    $("#queue").replaceChildren();
  }
  $("#queue-error").textContent = "";
  const params = new URLSearchParams({ status: $("#status").value, limit: "25" });
  if (cursor) params.set("cursor", cursor);
  try {
    const { data } = await loading(screen, () => api("GET", `/admin/registrations?${params}`));
    $("#queue").append(...data.items.map(row));
    cursor = data.next_cursor ?? null;
    $("#more").hidden = !cursor;
    $("#empty").hidden = $("#queue").children.length > 0;
  } catch (error) {
    showProblem(screen, error);
  }
}

async function decide(id, decision, reason) {
  const screen = $("#registrations");
  $("#queue-error").textContent = "";
  try {
    await api("POST", `/admin/registrations/${id}/${decision}`, decision === "reject" ? { reason } : undefined);
    document.querySelector(`#queue tr[data-id="${CSS.escape(id)}"]`)?.remove();
    $("#empty").hidden = $("#queue").children.length > 0;
  } catch (error) {
    const field = error.problem?.errors?.[0];
    if (field) $("#queue-error").textContent = `${field.field}: ${field.message}`;
    else showProblem(screen, error);
  }
}

export function init() {
  $("#status").addEventListener("change", () => load(true));
  $("#more").addEventListener("click", () => load(false));
}

export const open = () => load(true);
