// The admin page: sign in, work the approval queue, edit the registration policy.
// Plain DOM code; every call goes to the same HTTP API the clients use.
"use strict";

const $ = (selector) => document.querySelector(selector);
const state = { token: sessionStorage.getItem("portico.token"), cursor: null, confirmationId: null };

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

for (const tab of document.querySelectorAll("nav button")) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll("nav button")) other.classList.toggle("active", other === tab);
    $("#registrations").hidden = tab.dataset.tab !== "registrations";
    $("#settings").hidden = tab.dataset.tab !== "settings";
    if (tab.dataset.tab === "settings") loadSettings().catch((error) => { $("#settings-status").textContent = error.message; });
  });
}

show(Boolean(state.token));
