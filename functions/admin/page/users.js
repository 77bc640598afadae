// Staff users: create (name, address, first password, roles, projects, language), change roles,
// projects and language, disable and enable. The API refuses what goes beyond the caller's own
// rights and projects; the refusal shows beside the control it concerns.
"use strict";

import { api, session } from "./api.js";
import { $, checkboxes, checkedValues, confirmed, el, fill, itemForm, loadList, rowAction } from "./ui.js";

const form = () => $("#user-form");
let editor;
let roles = [];
let projects = [];

const roleName = (id) => roles.find((role) => role.id === id)?.name ?? id;
const projectName = (id) => projects.find((project) => project.id === id)?.name ?? id;

function offer(checkedRoles, checkedProjects) {
  checkboxes($("#user-roles"), "roles", roles.map((role) => ({ value: role.id, label: role.name })), checkedRoles);
  checkboxes($("#user-projects"), "projects", projects.map((project) => ({ value: project.id, label: project.name })), checkedProjects);
  if (projects.length === 0) $("#user-projects").append(el("p", { class: "hint" }, "No projects yet."));
}

function edit(user) {
  // Name, address and password are the user's own to change.
  editor.edit(user.id, `Edit ${user.name}`);
  form().elements.locale.value = user.locale;
  offer(user.roles, user.projects);
  $("#user-roles input")?.focus();
}

async function setState(user, action) {
  if (action === "disable" && !confirmed(`Disable ${user.name}? They are signed out everywhere at once.`)) return;
  await rowAction("POST", `/admin/users/${user.id}/${action}`, $("#users-error"), load);
}

function row(user) {
  const self = user.id === session.me?.id;
  const action = { active: "disable", disabled: "enable" }[user.status];
  const label = action === "disable" ? "Disable" : "Enable";
  return el("tr", { dataset: { userId: user.id } },
    el("td", {}, user.name, self ? " (you)" : ""), el("td", {}, user.email),
    el("td", {}, user.roles.map(roleName).join(", ")), el("td", {}, user.projects.map(projectName).join(", ")),
    el("td", {}, user.status),
    el("td", { class: "actions" },
      el("button", { type: "button", "aria-label": `Edit ${user.name}`, onclick: () => edit(user) }, "Edit"),
      action && !self && [" ", el("button", { type: "button", "aria-label": `${label} ${user.name}`, onclick: () => setState(user, action) }, label)]));
}

const load = () => loadList($("#users"), $("#users-error"), async () => {
  const [users, roleList, projectList] = await Promise.all([
    api("GET", "/admin/users"), api("GET", "/admin/roles"), api("GET", "/admin/projects"),
  ]);
  [roles, projects] = [roleList.data, projectList.data];
  if (!editor.key) offer(checkedValues(form(), "roles"), checkedValues(form(), "projects"));
  fill($("#user-list"), users.data, row);
});

function send(id) {
  const { elements } = form();
  const access = { roles: checkedValues(form(), "roles"), projects: checkedValues(form(), "projects"), locale: elements.locale.value };
  if (id) return api("PATCH", `/admin/users/${id}`, access);
  return api("POST", "/admin/users", { name: elements.name.value, email: elements.email.value, password: elements.password.value, ...access });
}

export function init() {
  editor = itemForm(form(), {
    title: $("#user-form-title"), newTitle: "New staff user", cancel: $("#user-cancel"),
    onReset: () => offer([], []), send, after: load,
  });
}

export const open = load;
