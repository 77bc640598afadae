// Labels: create, edit (name, description, colour), delete. The lifecycle stages' built-in
// labels keep their names and can't be deleted; a label in use can't be deleted either.
"use strict";

import { api } from "./api.js";
import { $, confirmed, el, fill, formatNumber, itemForm, loadList, rowAction, swatch } from "./ui.js";

let editor;

function edit(label) {
  editor.edit(label.id, `Edit ${label.name}`);
  const { elements } = $("#label-form");
  elements.name.value = label.name;
  elements.name.disabled = Boolean(label.lifecycle_stage);
  elements.description.value = label.description;
  elements.colour.value = label.colour;
  (elements.name.disabled ? elements.description : elements.name).focus();
}

async function remove(label) {
  if (confirmed(`Delete the label ${label.name}?`)) {
    await rowAction("DELETE", `/admin/labels/${label.id}`, $("#labels-error"), load);
  }
}

const row = (label) => el("tr", { dataset: { labelId: label.id } },
  el("td", {}, swatch(label.colour), " ", label.name, label.lifecycle_stage ? " (lifecycle stage)" : ""),
  el("td", {}, label.description),
  el("td", { class: "number" }, formatNumber(label.usage)),
  el("td", { class: "actions" },
    el("button", { type: "button", "aria-label": `Edit ${label.name}`, onclick: () => edit(label) }, "Edit"),
    !label.lifecycle_stage && [" ", el("button", { type: "button", "aria-label": `Delete ${label.name}`, onclick: () => remove(label) }, "Delete")]));

const load = () => loadList($("#labels"), $("#labels-error"), async () => {
  const { data } = await api("GET", "/admin/labels?limit=100");
  fill($("#label-list"), data.items, row);
});

function send(id) {
  const { elements } = $("#label-form");
  const body = { description: elements.description.value, colour: elements.colour.value };
  if (!elements.name.disabled) body.name = elements.name.value;
  return id ? api("PATCH", `/admin/labels/${id}`, body) : api("POST", "/admin/labels", body);
}

export function init() {
  editor = itemForm($("#label-form"), {
    title: $("#label-form-title"), newTitle: "New label", cancel: $("#label-cancel"),
    onReset: () => { $("#label-form").elements.name.disabled = false; },
    send, after: load,
  });
}

export const open = load;
