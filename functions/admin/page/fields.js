// Contact fields of the projects: create (name, type, projects, unique, masked) and change which
// projects have a field and whether it is masked. Name, type and uniqueness are fixed once made.
"use strict";

import { api } from "./api.js";
import { $, checkboxes, checkedValues, el, fill, itemForm, loadList } from "./ui.js";

const TYPES = {
  text: "Text", number: "Number", bool: "Yes / no", date: "Date", date_time: "Date and time", email: "E-mail",
  phone: "Phone", select: "One of a list", list: "List of texts", lookup: "Link to a record",
};

const form = () => $("#field-form");
let editor;
let projects = [];

const projectName = (id) => projects.find((project) => project.id === id)?.name ?? id;

function showOptions() {
  $("#field-options-label").hidden = form().elements.type.value !== "select";
}

function offer(checked) {
  checkboxes($("#field-projects"), "projects", projects.map((project) => ({ value: project.id, label: project.name })), checked);
  if (projects.length === 0) $("#field-projects").append(el("p", { class: "hint" }, "No projects yet: make one first."));
}

function edit(field) {
  editor.edit(field.name, `Edit ${field.name}`);
  form().elements.masked.checked = field.masked;
  offer(field.projects);
  form().elements.masked.focus();
}

const typeText = (type) => (type.type === "select" ? `${TYPES.select}: ${type.options.join(", ")}`
  : type.type === "lookup" ? `${TYPES.lookup} (${type.module})` : TYPES[type.type] ?? type.type);

const row = (field) => el("tr", { dataset: { field: field.name } },
  el("td", {}, field.name), el("td", { class: "wrap" }, typeText(field.field_type)),
  el("td", {}, field.projects.map(projectName).join(", ")),
  el("td", {}, field.unique ? "Yes" : "No"), el("td", {}, field.masked ? "Yes" : "No"),
  el("td", { class: "actions" }, el("button", { type: "button", "aria-label": `Edit ${field.name}`, onclick: () => edit(field) }, "Edit")));

const load = () => loadList($("#fields"), $("#fields-error"), async () => {
  const [fields, projectList] = await Promise.all([api("GET", "/admin/contact-fields"), api("GET", "/admin/projects")]);
  projects = projectList.data;
  if (!editor.key) offer(checkedValues(form(), "projects"));
  fill($("#field-list"), fields.data, row, $("#fields-empty"));
});

function fieldType(elements) {
  const type = elements.type.value;
  if (type !== "select") return { type };
  return { type, options: elements.options.value.split("\n").map((option) => option.trim()).filter(Boolean) };
}

function send(name) {
  const { elements } = form();
  const projectIds = checkedValues(form(), "projects");
  if (name) {
    return api("PATCH", `/admin/contact-fields/${encodeURIComponent(name)}`, { projects: projectIds, masked: elements.masked.checked });
  }
  return api("POST", "/admin/contact-fields", {
    name: elements.name.value, field_type: fieldType(elements), projects: projectIds,
    unique: elements.unique.checked, masked: elements.masked.checked,
  });
}

export function init() {
  editor = itemForm(form(), {
    title: $("#field-form-title"), newTitle: "New contact field", cancel: $("#field-cancel"),
    onReset: () => {
      offer([]);
      showOptions();
    },
    send, after: load,
  });
  form().elements.type.addEventListener("change", showOptions);
}

export const open = load;
