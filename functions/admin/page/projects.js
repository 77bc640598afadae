// Projects: create and rename. Contact fields and staff belong to projects.
"use strict";

import { api } from "./api.js";
import { $, el, fill, itemForm, loadList } from "./ui.js";

let editor;

function rename(project) {
  editor.edit(project.id, `Rename ${project.name}`);
  $("#project-form").elements.name.value = project.name;
  $("#project-form").elements.name.focus();
}

const row = (project) => el("li", { dataset: { projectId: project.id } },
  el("span", {}, project.name),
  el("button", { type: "button", "aria-label": `Rename ${project.name}`, onclick: () => rename(project) }, "Rename"));

const load = () => loadList($("#projects"), $("#projects-error"), async () => {
  const { data } = await api("GET", "/admin/projects");
  fill($("#project-list"), data, row, $("#projects-empty"));
});

function send(id) {
  const body = { name: $("#project-form").elements.name.value };
  return id ? api("PATCH", `/admin/projects/${id}`, body) : api("POST", "/admin/projects", body);
}

export function init() {
  editor = itemForm($("#project-form"), {
    title: $("#project-form-title"), newTitle: "New project", cancel: $("#project-cancel"), send, after: load,
  });
}

export const open = load;
