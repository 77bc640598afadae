// The registration policy: every switch, each explained beside it.
"use strict";

import { api } from "./api.js";
import { $, loading, say, showProblem } from "./ui.js";

const form = () => $("#settings-form");

async function load() {
  try {
    const { data } = await loading($("#settings"), () => api("GET", "/admin/settings/registration"));
    for (const [name, value] of Object.entries(data)) {
      const input = form().elements[name];
      if (!input) continue;
      if (input.type === "checkbox") input.checked = value;
      else input.value = value;
    }
  } catch (error) {
    showProblem(form(), error);
  }
}

async function save(event) {
  event.preventDefault();
  const policy = {};
  for (const input of form().elements) {
    if (input.name) policy[input.name] = input.type === "checkbox" ? input.checked : input.value;
  }
  try {
    await api("PUT", "/admin/settings/registration", policy);
    say(form(), "Saved.");
  } catch (error) {
    showProblem(form(), error);
  }
}

export function init() {
  form().addEventListener("submit", save);
}

export const open = load;
