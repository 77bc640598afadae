// Customers: the list by state, searched by the start of a name or address, and a customer's
// page: profile, state (disable/enable), labels with their colours, trusted devices.
"use strict";

import { api, can } from "./api.js";
import { $, clearProblems, confirmed, el, formatDate, formatDateTime, loading, showProblem, swatch } from "./ui.js";

let cursor = null;
let latestLoad = 0;
let current = null;

function row(customer) {
  const show = () => openCustomer(customer.id);
  return el("tr", {
    class: "clickable", tabIndex: 0, dataset: { id: customer.id }, onclick: show,
    onkeydown: (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); show(); } },
  }, el("td", {}, customer.name), el("td", {}, customer.email), el("td", {}, customer.lifecycle ?? ""),
  el("td", {}, formatDate(customer.created_at)));
}

async function load(fresh) {
  // Only the latest load shows: a search sent while the tab's first load is out wins.
  const load = ++latestLoad;
  const search = $("#customer-search");
  if (fresh) {
    cursor = null;
    $("#customer-list").replaceChildren();
  }
  const params = new URLSearchParams({ status: search.elements.status.value, limit: "25" });
  const q = search.elements.q.value.trim();
  if (q) params.set("q", q);
  if (cursor) params.set("cursor", cursor);
  try {
    const { data } = await loading($("#customers"), () => api("GET", `/admin/customers?${params}`));
    if (load !== latestLoad) return;
    clearProblems(search);
    $("#customer-list").append(...data.items.map(row));
    cursor = data.next_cursor ?? null;
    $("#customers-more").hidden = !cursor;
    $("#customers-empty").hidden = $("#customer-list").children.length > 0;
  } catch (error) {
    if (load === latestLoad) showProblem(search, error);
  }
}

function profileRows(customer) {
  return [
    ["E-mail", customer.email], ["Type", customer.account_type], ["Company", customer.company_name],
    ["Phone", customer.phone], ["State", customer.status], ["Lifecycle", customer.lifecycle],
    ["Registered", formatDateTime(customer.created_at)],
  ].filter(([, value]) => value !== undefined && value !== null)
    .map(([term, value]) => el("div", {}, el("dt", {}, term), el("dd", {}, value)));
}

async function openCustomer(id) {
  const page = $("#customer");
  try {
    const mayLabel = can("settings.manage");
    const [{ data: customer }, labels] = await Promise.all([
      api("GET", `/admin/customers/${id}`),
      mayLabel ? api("GET", "/admin/labels?limit=100").then(({ data }) => data.items) : [],
    ]);
    current = customer;
    page.hidden = false;
    $("#customer-error").textContent = "";
    $("#customer-name").textContent = customer.name;
    $("#customer-profile").replaceChildren(...profileRows(customer));
    const action = $("#customer-status-action");
    action.hidden = !can("users.manage") || !["active", "disabled"].includes(customer.status);
    action.textContent = customer.status === "active" ? "Disable" : "Enable";
    $("#customer-labels").replaceChildren(...customer.label_details.map((label) =>
      el("li", { dataset: { labelId: label.id } }, swatch(label.colour), label.name,
        mayLabel && el("button", { type: "button", "aria-label": `Detach ${label.name}`, onclick: () => link(label.id, "DELETE") }, "×"))));
    if (customer.label_details.length === 0) $("#customer-labels").append(el("li", { class: "none" }, "No labels."));
    const carried = new Set(customer.labels);
    const choices = labels.filter((label) => !carried.has(label.id));
    $("#label-choice").replaceChildren(...choices.map((label) => el("option", { value: label.id }, label.name)));
    $("#label-attach").hidden = !mayLabel || choices.length === 0;
    const devices = customer.devices.map((device) =>
      el("li", {}, `${device.label} — last seen ${formatDateTime(device.last_seen)}`));
    $("#customer-devices").replaceChildren(...(devices.length ? devices : [el("li", {}, "None.")]));
    $("#customer-name").scrollIntoView?.();
  } catch (error) {
    page.hidden = false;
    showProblem(page, error);
  }
}

async function link(labelId, method) {
  if (!current || !labelId) return;
  try {
    await api(method, `/admin/customers/${current.id}/labels/${labelId}`);
    await openCustomer(current.id);
  } catch (error) {
    showProblem($("#customer"), error);
  }
}

async function changeState() {
  if (!current) return;
  const disabling = current.status === "active";
  if (disabling && !confirmed(`Disable ${current.name}? They are signed out everywhere at once.`)) return;
  try {
    await api("POST", `/admin/customers/${current.id}/${disabling ? "disable" : "enable"}`);
    await openCustomer(current.id);
    await load(true);
  } catch (error) {
    showProblem($("#customer"), error);
  }
}

export function init() {
  $("#attach-label").addEventListener("click", () => link($("#label-choice").value, "PUT"));
  $("#customer-status-action").addEventListener("click", changeState);
  $("#customer-search").addEventListener("submit", (event) => {
    event.preventDefault();
    $("#customer").hidden = true;
    load(true);
  });
  $("#customers-more").addEventListener("click", () => load(false));
}

export function open() {
  $("#customer").hidden = true;
  return load(true);
}
