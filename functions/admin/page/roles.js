// Roles: the built-in ones read-only; custom ones made and changed with their permissions and a
// module × read/write/delete grid, each operation over no records, the staff member's own, or all.
"use strict";

import { api } from "./api.js";
import { $, checkboxes, checkedValues, confirmed, el, fill, formatNumber, itemForm, loadList, rowAction } from "./ui.js";

const PERMISSIONS = [
  { value: "settings.manage", label: "Change settings: registration policy, labels, roles, fields, rules" },
  { value: "registrations.approve", label: "Approve and reject registrations; see customers" },
  { value: "users.manage", label: "Create and change staff users" },
  { value: "contacts.view_masked", label: "See masked contact fields" },
  { value: "records.assign", label: "Give records to other staff" },
  { value: "forms.fill", label: "Fill agent forms" },
];
const OPERATIONS = [["r", "read"], ["w", "write"], ["d", "delete"]];
const SCOPES = [["none", "None"], ["own", "Own"], ["all", "All"]];

const form = () => $("#role-form");
let editor;
let modules = [];

/** `"r,w:own"` → `{ r: "all", w: "own", d: "none" }`. */
function parseAccess(text) {
  const access = { r: "none", w: "none", d: "none" };
  for (const group of (text ?? "").split(",").filter(Boolean)) {
    const own = group.endsWith(":own");
    for (const letter of own ? group.slice(0, -":own".length) : group) {
      access[letter] = own && access[letter] !== "all" ? "own" : "all";
    }
  }
  return access;
}

/** The inverse of `parseAccess`: `""` for no access. */
function formatAccess(access) {
  const letters = (scope) => OPERATIONS.map(([letter]) => letter).filter((letter) => access[letter] === scope).join("");
  const [all, own] = [letters("all"), letters("own")];
  return [all, own && `${own}:own`].filter(Boolean).join(",");
}

function grid(granted = {}) {
  $("#role-modules").replaceChildren(...modules.map((module) => {
    const access = parseAccess(granted[module]);
    return el("tr", { dataset: { module } }, el("th", { scope: "row" }, module),
      ...OPERATIONS.map(([letter, operation]) => el("td", {},
        el("select", { name: `${module}.${letter}`, "aria-label": `${module}: ${operation}` },
          ...SCOPES.map(([scope, label]) => el("option", { value: scope, selected: access[letter] === scope }, label))))));
  }));
}

function edit(role) {
  editor.edit(role.id, `Edit ${role.name}`);
  form().elements.id.value = role.id;
  form().elements.name.value = role.name;
  checkboxes($("#role-permissions"), "permissions", PERMISSIONS, role.permissions);
  grid(role.modules);
  form().elements.name.focus();
}

async function remove(role) {
  if (confirmed(`Delete the role ${role.name}?`)) {
    await rowAction("DELETE", `/admin/roles/${encodeURIComponent(role.id)}`, $("#roles-error"), load);
  }
}

const summary = (role) => [
  ...role.permissions,
  ...Object.entries(role.modules).map(([module, access]) => `${module}: ${access}`),
].join(", ") || "Nothing";

function row(role) {
  return el("tr", { dataset: { roleId: role.id } },
    el("td", {}, role.name, el("br"), el("small", {}, role.builtin ? `${role.id} · built-in` : role.id)),
    el("td", { class: "wrap" }, summary(role)),
    el("td", { class: "number" }, role.users === undefined || role.users === null ? "" : formatNumber(role.users)),
    el("td", { class: "actions" }, !role.builtin && [
      el("button", { type: "button", "aria-label": `Edit ${role.name}`, onclick: () => edit(role) }, "Edit"), " ",
      el("button", { type: "button", "aria-label": `Delete ${role.name}`, onclick: () => remove(role) }, "Delete"),
    ]));
}

const load = () => loadList($("#roles"), $("#roles-error"), async () => {
  const { data } = await api("GET", "/admin/roles");
  // Every module is in the administrator's grants: the grid offers those.
  modules = Object.keys(data.find((role) => role.id === "administrator")?.modules ?? {});
  if (!editor.key) grid();
  fill($("#role-list"), data, row);
});

function send(id) {
  const { elements } = form();
  const granted = {};
  for (const module of modules) {
    const access = Object.fromEntries(OPERATIONS.map(([letter]) => [letter, elements[`${module}.${letter}`].value]));
    const text = formatAccess(access);
    if (text) granted[module] = text;
  }
  const definition = { name: elements.name.value, permissions: checkedValues(form(), "permissions"), modules: granted };
  if (id) return api("PUT", `/admin/roles/${encodeURIComponent(id)}`, definition);
  return api("POST", "/admin/roles", { id: elements.id.value, ...definition });
}

export function init() {
  editor = itemForm(form(), {
    title: $("#role-form-title"), newTitle: "New role", cancel: $("#role-cancel"),
    onReset: () => {
      checkboxes($("#role-permissions"), "permissions", PERMISSIONS);
      grid();
    },
    send, after: load,
  });
  editor.reset();
}

export const open = load;
