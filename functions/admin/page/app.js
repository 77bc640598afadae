// The admin page: sign in, work the approval queue, find customers and manage their labels and
// state, edit the registration policy.
// Plain DOM code; every call goes to the same HTTP API the clients use.
"use strict";

const $ = (selector) => document.querySelector(selector);
const state = {
  token: sessionStorage.getItem("portico.token"), cursor: null, confirmationId: null,
  customersCursor: null, customer: null,
};

// A stable random id for this browser, as every Portico client sends.
function deviceId() {
  let id = localStorage.getItem("portico.device");
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    id = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    localStorage.setItem("portico.device", id);
  }
  return id;
}

async function api(method, path, body) {
  const headers = { "x-device-id": deviceId() };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (response.status === 401 && state.token) {
    // The session ended (expired, signed out elsewhere): back to the sign-in form.
    state.token = null;
    sessionStorage.removeItem("portico.token");
    show(false);
  }
  if (!response.ok) {
    const error = new Error(data?.detail ?? response.statusText);
    error.status = response.status;
    error.problem = data;
    throw error;
  }
  return { status: response.status, data };
}

function show(signedIn) {
  $("#sign-in").hidden = signedIn;
  $("#workspace").hidden = !signedIn;
  $("#sign-out").hidden = !signedIn;
  if (signedIn) loadQueue(true);
}

function signedIn(tokens) {
  state.token = tokens.access_token;
  sessionStorage.setItem("portico.token", state.token);
  show(true);
}

$("#sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  $("#sign-in-error").textContent = "";
  try {
    const { status, data } = await api("POST", "/sessions", { email: form.get("email"), password: form.get("password") });
    if (status === 202) {
      state.confirmationId = data.confirmation_id;
      $("#device-form").hidden = false;
    } else {
      signedIn(data);
    }
  } catch (error) {
    $("#sign-in-error").textContent = error.message;
  }
});

$("#device-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const code = new FormData(event.target).get("code");
  try {
    const { data } = await api("POST", `/sessions/device-confirmations/${state.confirmationId}`, { code });
    signedIn(data);
  } catch (error) {
    $("#sign-in-error").textContent = error.message;
  }
});

$("#sign-out").addEventListener("click", async () => {
  try { await api("DELETE", "/sessions/current"); } catch { /* signed out either way */ }
  state.token = null;
  sessionStorage.removeItem("portico.token");
  show(false);
});

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  return td;
}

function row(customer) {
  const tr = document.createElement("tr");
  tr.dataset.id = customer.id;
  tr.append(
    cell(customer.name), cell(customer.email), cell(customer.account_type), cell(customer.company_name),
    cell(new Date(customer.created_at).toLocaleString()),
  );
  const actions = document.createElement("td");
  actions.className = "actions";
  if (customer.status === "pending_approval") {
    const approve = document.createElement("button");
    approve.textContent = "Approve";
    approve.addEventListener("click", () => decide(customer.id, "approve"));
    const reason = document.createElement("input");
    reason.placeholder = "Reason for rejecting";
    reason.setAttribute("aria-label", "Reason for rejecting");
    const reject = document.createElement("button");
    reject.textContent = "Reject";
    reject.addEventListener("click", () => decide(customer.id, "reject", reason.value));
    actions.append(approve, " ", reason, " ", reject);
  }
  tr.append(actions);
  return tr;
}

async function loadQueue(fresh) {
  if (fresh) {
    state.cursor = null;
    $("#queue").replaceChildren();
  }
  $("#queue-error").textContent = "";
  const params = new URLSearchParams({ status: $("#status").value, limit: "25" });
  if (state.cursor) params.set("cursor", state.cursor);
  try {
    const { data } = await api("GET", `/admin/registrations?${params}`);
    $("#queue").append(...data.items.map(row));
    state.cursor = data.next_cursor ?? null;
    $("#more").hidden = !state.cursor;
    $("#empty").hidden = $("#queue").children.length > 0;
  } catch (error) {
    $("#queue-error").textContent = error.message;
  }
}

async function decide(id, decision, reason) {
  $("#queue-error").textContent = "";
  try {
    await api("POST", `/admin/registrations/${id}/${decision}`, decision === "reject" ? { reason } : undefined);
    document.querySelector(`tr[data-id="${id}"]`)?.remove();
    $("#empty").hidden = $("#queue").children.length > 0;
  } catch (error) {
    const field = error.problem?.errors?.[0];
    $("#queue-error").textContent = field ? `${field.field} ${field.message}` : error.message;
  }
}

$("#status").addEventListener("change", () => loadQueue(true));
$("#more").addEventListener("click", () => loadQueue(false));

async function loadSettings() {
  const { data } = await api("GET", "/admin/settings/registration");
  const form = $("#settings");
  for (const [name, value] of Object.entries(data)) {
    const input = form.elements[name];
    if (!input) continue;
    if (input.type === "checkbox") input.checked = value; else input.value = value;
  }
}

$("#settings").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const policy = {};
  for (const input of form.elements) {
    if (!input.name) continue;
    policy[input.name] = input.type === "checkbox" ? input.checked : input.value;
  }
  try {
    await api("PUT", "/admin/settings/registration", policy);
    $("#settings-status").textContent = "Saved.";
  } catch (error) {
    $("#settings-status").textContent = error.message;
  }
});

// ---- Customers: the list (by state, searched by the start of a name or address) and a page.

function customerRow(customer) {
  const tr = document.createElement("tr");
  tr.className = "clickable";
  tr.tabIndex = 0;
  tr.dataset.id = customer.id;
  tr.append(cell(customer.name), cell(customer.email), cell(customer.lifecycle), cell(new Date(customer.created_at).toLocaleDateString()));
  const open = () => openCustomer(customer.id);
  tr.addEventListener("click", open);
  tr.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
  return tr;
}

async function loadCustomers(fresh) {
  // Only the latest load shows: a search sent while the tab's first load is out wins.
  const load = (state.customersLoad = (state.customersLoad ?? 0) + 1);
  if (fresh) {
    state.customersCursor = null;
    $("#customer-list").replaceChildren();
  }
  $("#customers-error").textContent = "";
  const form = $("#customer-search");
  const params = new URLSearchParams({ status: form.elements.status.value, limit: "25" });
  const q = form.elements.q.value.trim();
  if (q) params.set("q", q);
  if (state.customersCursor) params.set("cursor", state.customersCursor);
  try {
    const { data } = await api("GET", `/admin/customers?${params}`);
    if (load !== state.customersLoad) return;
    $("#customer-list").append(...data.items.map(customerRow));
    state.customersCursor = data.next_cursor ?? null;
    $("#customers-more").hidden = !state.customersCursor;
    $("#customers-empty").hidden = $("#customer-list").children.length > 0;
  } catch (error) {
    $("#customers-error").textContent = error.message;
  }
}

function swatch(colour) {
  const span = document.createElement("span");
  span.className = "swatch";
  span.style.background = colour;
  span.setAttribute("aria-hidden", "true");
  return span;
}

async function openCustomer(id) {
  $("#customer-error").textContent = "";
  try {
    const [{ data: customer }, { data: labels }] = await Promise.all([
      api("GET", `/admin/customers/${id}`),
      api("GET", "/admin/labels?limit=100"),
    ]);
    state.customer = customer;
    $("#customer").hidden = false;
    $("#customer-name").textContent = customer.name;
    const profile = $("#customer-profile");
    profile.replaceChildren();
    for (const [term, value] of [
      ["E-mail", customer.email], ["Type", customer.account_type], ["Company", customer.company_name],
      ["Phone", customer.phone], ["State", customer.status], ["Lifecycle", customer.lifecycle],
      ["Registered", new Date(customer.created_at).toLocaleString()],
    ]) {
      if (value === undefined || value === null) continue;
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      profile.append(dt, dd);
    }
    const action = $("#customer-status-action");
    action.hidden = !["active", "disabled"].includes(customer.status);
    action.textContent = customer.status === "active" ? "Disable" : "Enable";
    const list = $("#customer-labels");
    list.replaceChildren(...customer.label_details.map((label) => {
      const li = document.createElement("li");
      li.dataset.labelId = label.id;
      const detach = document.createElement("button");
      detach.textContent = "×";
      detach.setAttribute("aria-label", `Detach ${label.name}`);
      detach.addEventListener("click", () => linkLabel(label.id, "DELETE"));
      li.append(swatch(label.colour), label.name, detach);
      return li;
    }));
    const carried = new Set(customer.labels);
    $("#label-choice").replaceChildren(...labels.items.filter((label) => !carried.has(label.id)).map((label) => {
      const option = document.createElement("option");
      option.value = label.id;
      option.textContent = label.name;
      return option;
    }));
    $("#customer-devices").replaceChildren(...customer.devices.map((device) => {
      const li = document.createElement("li");
      li.textContent = `${device.label} — last seen ${new Date(device.last_seen).toLocaleString()}`;
      return li;
    }));
    if (customer.devices.length === 0) {
      const li = document.createElement("li");
      li.textContent = "None.";
      $("#customer-devices").append(li);
    }
    $("#customer-name").scrollIntoView?.();
  } catch (error) {
    $("#customer-error").textContent = error.message;
  }
}

async function linkLabel(labelId, method) {
  const id = state.customer?.id;
  if (!id || !labelId) return;
  try {
    await api(method, `/admin/customers/${id}/labels/${labelId}`);
    await openCustomer(id);
  } catch (error) {
    $("#customer-error").textContent = error.message;
  }
}

$("#attach-label").addEventListener("click", () => linkLabel($("#label-choice").value, "PUT"));
$("#customer-status-action").addEventListener("click", async () => {
  const customer = state.customer;
  if (!customer) return;
  const disabling = customer.status === "active";
  if (disabling && !window.confirm(`Disable ${customer.name}? Their sessions end at once.`)) return;
  try {
    await api("POST", `/admin/customers/${customer.id}/${disabling ? "disable" : "enable"}`);
    await openCustomer(customer.id);
    await loadCustomers(true);
  } catch (error) {
    $("#customer-error").textContent = error.message;
  }
});
$("#customer-search").addEventListener("submit", (event) => {
  event.preventDefault();
  $("#customer").hidden = true;
  loadCustomers(true);
});
$("#customers-more").addEventListener("click", () => loadCustomers(false));

// ---- Labels: create, edit (name, description, colour), delete; the lifecycle stages' built-in
// labels keep their names and can't be deleted.

const labelForm = () => $("#label-form");

function resetLabelForm() {
  const form = labelForm();
  form.reset();
  delete form.dataset.id;
  $("#label-form-title").textContent = "New label";
  $("#label-cancel").hidden = true;
  form.elements.name.disabled = false;
  for (const field of ["name", "description", "colour"]) $(`#label-${field}-error`).textContent = "";
}

function labelRow(label) {
  const tr = document.createElement("tr");
  tr.dataset.labelId = label.id;
  const name = document.createElement("td");
  name.append(swatch(label.colour), " ", label.name);
  if (label.lifecycle_stage) name.append(" (lifecycle stage)");
  const actions = document.createElement("td");
  actions.className = "actions";
  const edit = document.createElement("button");
  edit.textContent = "Edit";
  edit.setAttribute("aria-label", `Edit ${label.name}`);
  edit.addEventListener("click", () => {
    resetLabelForm();
    const form = labelForm();
    form.dataset.id = label.id;
    form.elements.name.value = label.name;
    form.elements.name.disabled = Boolean(label.lifecycle_stage);
    form.elements.description.value = label.description;
    form.elements.colour.value = label.colour;
    $("#label-form-title").textContent = `Edit ${label.name}`;
    $("#label-cancel").hidden = false;
    form.elements.name.focus();
  });
  actions.append(edit);
  if (!label.lifecycle_stage) {
    const remove = document.createElement("button");
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Delete ${label.name}`);
    remove.addEventListener("click", async () => {
      if (!window.confirm(`Delete the label ${label.name}?`)) return;
      $("#labels-error").textContent = "";
      try {
        await api("DELETE", `/admin/labels/${label.id}`);
        await loadLabels();
      } catch (error) {
        $("#labels-error").textContent = error.message;
      }
    });
    actions.append(" ", remove);
  }
  tr.append(name, cell(label.description), cell(new Intl.NumberFormat().format(label.usage)), actions);
  return tr;
}

async function loadLabels() {
  $("#labels-error").textContent = "";
  try {
    const { data } = await api("GET", "/admin/labels?limit=100");
    $("#label-list").replaceChildren(...data.items.map(labelRow));
  } catch (error) {
    $("#labels-error").textContent = error.message;
  }
}

labelForm().addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = labelForm();
  for (const field of ["name", "description", "colour"]) $(`#label-${field}-error`).textContent = "";
  $("#label-status").textContent = "";
  const body = { description: form.elements.description.value, colour: form.elements.colour.value };
  if (!form.elements.name.disabled) body.name = form.elements.name.value;
  try {
    if (form.dataset.id) await api("PATCH", `/admin/labels/${form.dataset.id}`, body);
    else await api("POST", "/admin/labels", body);
    resetLabelForm();
    $("#label-status").textContent = "Saved.";
    await loadLabels();
  } catch (error) {
    // Each problem next to the control it names.
    const errors = error.problem?.errors ?? [];
    for (const { field, message } of errors) {
      const slot = $(`#label-${field}-error`);
      if (slot) slot.textContent = message;
    }
    if (errors.length === 0) $("#label-status").textContent = error.message;
  }
});
$("#label-cancel").addEventListener("click", resetLabelForm);

for (const tab of document.querySelectorAll("nav button")) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll("nav button")) other.classList.toggle("active", other === tab);
    $("#registrations").hidden = tab.dataset.tab !== "registrations";
    $("#customers").hidden = tab.dataset.tab !== "customers";
    $("#labels").hidden = tab.dataset.tab !== "labels";
    if (tab.dataset.tab === "labels") loadLabels();
    $("#settings").hidden = tab.dataset.tab !== "settings";
    if (tab.dataset.tab === "customers") loadCustomers(true);
    if (tab.dataset.tab === "settings") loadSettings().catch((error) => { $("#settings-status").textContent = error.message; });
  });
}

show(Boolean(state.token));
