// The console's frame: sign in (with the device step when the policy asks), the screens the
// staff member's rights allow, sign out. Each screen lives in a module of its own.
"use strict";

import { api, can, session, signedIn, signedOut } from "./api.js";
import { $, el } from "./ui.js";
import * as registrations from "./registrations.js";
import * as customers from "./customers.js";
import * as labels from "./labels.js";
import * as users from "./users.js";
import * as roles from "./roles.js";
import * as projects from "./projects.js";
import * as fields from "./fields.js";
import * as settings from "./settings.js";

// Every screen: its section, its tab's title, the right that shows it, what it does when opened.
// The API refuses the same calls anyway: hiding only spares the staff member a dead end.
const SCREENS = [
  { id: "registrations", title: "Registrations", right: "registrations.approve", screen: registrations },
  { id: "customers", title: "Customers", right: "registrations.approve", screen: customers },
  { id: "labels", title: "Labels", right: "settings.manage", screen: labels },
  { id: "users", title: "Staff", right: "users.manage", screen: users },
  { id: "roles", title: "Roles", right: "settings.manage", screen: roles },
  { id: "projects", title: "Projects", right: "settings.manage", screen: projects },
  { id: "fields", title: "Contact fields", right: "settings.manage", screen: fields },
  { id: "settings", title: "Registration settings", right: "settings.manage", screen: settings },
];

for (const { screen } of SCREENS) screen.init();

let confirmationId = null;

function showSignIn() {
  $("#sign-in").hidden = false;
  $("#workspace").hidden = true;
  $("#sign-out").hidden = true;
  $("#who").textContent = "";
  $("#device-form").hidden = true;
}
session.onEnded = showSignIn;

function open(id) {
  for (const { id: other } of SCREENS) $(`#${other}`).hidden = other !== id;
  for (const tab of $("#screens").children) {
    if (tab.dataset.screen === id) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  SCREENS.find((screen) => screen.id === id)?.screen.open();
}

async function showWorkspace() {
  const { data: me } = await api("GET", "/me");
  session.me = me;
  $("#who").textContent = me.name;
  const allowed = SCREENS.filter(({ right }) => can(right));
  $("#screens").replaceChildren(...allowed.map(({ id, title }) =>
    el("button", { type: "button", dataset: { screen: id }, onclick: () => open(id) }, title)));
  $("#no-screens").hidden = allowed.length > 0;
  $("#sign-in").hidden = true;
  $("#workspace").hidden = false;
  $("#sign-out").hidden = false;
  if (allowed.length > 0) open(allowed[0].id);
  else for (const { id } of SCREENS) $(`#${id}`).hidden = true;
}

async function enter(tokens) {
  signedIn(tokens.access_token);
  $("#sign-in-form").reset();
  $("#device-form").reset();
  await showWorkspace();
}

$("#sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  $("#sign-in-error").textContent = "";
  try {
    const { status, data } = await api("POST", "/sessions", { email: form.get("email"), password: form.get("password") });
    if (status === 202) {
      confirmationId = data.confirmation_id;
      $("#device-form").hidden = false;
      $("#device-form input[name=code]").focus();
    } else {
      await enter(data);
    }
  } catch (error) {
    $("#sign-in-error").textContent = error.message;
  }
});

$("#device-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const code = new FormData(event.target).get("code");
  $("#sign-in-error").textContent = "";
  try {
    const { data } = await api("POST", `/sessions/device-confirmations/${encodeURIComponent(confirmationId)}`, { code });
    await enter(data);
  } catch (error) {
    $("#sign-in-error").textContent = error.message;
  }
});

$("#sign-out").addEventListener("click", async () => {
  try {
    await api("DELETE", "/sessions/current");
  } catch {
    // Signed out here either way; the session lapses by itself.
  }
  signedOut();
  showSignIn();
});

if (session.token) {
  showWorkspace().catch(() => {
    signedOut();
    showSignIn();
  });
} else {
  showSignIn();
}
