// DOM helpers the screens share: building elements, dates and numbers in the staff member's
// locale, problems shown beside the controls they name, loading and empty states.
"use strict";

import { api, session } from "./api.js";

export const $ = (selector, root = document) => root.querySelector(selector);

const PROPERTIES = new Set(["checked", "value", "disabled", "hidden", "selected", "tabIndex"]);

/** `<tag>` with attributes (`on…` are listeners, a few are properties) and children. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (PROPERTIES.has(name)) node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

const locale = () => session.me?.locale ?? navigator.language;
const format = (options) => new Intl.DateTimeFormat(locale(), options);

export const formatDate = (iso) => (iso ? format({ dateStyle: "medium" }).format(new Date(iso)) : "");
export const formatDateTime = (iso) => (iso ? format({ dateStyle: "medium", timeStyle: "short" }).format(new Date(iso)) : "");
export const formatNumber = (number) => new Intl.NumberFormat(locale()).format(number);

/** A coloured dot for a label. */
export function swatch(colour) {
  const dot = el("span", { class: "swatch", "aria-hidden": "true" });
  dot.style.background = colour;
  return dot;
}

/** The slot for `field`'s message in `root`: `[data-error-for=field]`, else that of the field's
 *  head (`roles[1]` → `roles`, `field_type.options` → `field_type`). */
function slotFor(root, field) {
  for (let name = field; name; name = name.replace(/(\[[^\]]*\]|\.[^.[]*)$/, "")) {
    const slot = root.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (slot) return slot;
    if (!/[.[]/.test(name)) break;
  }
  return null;
}

export function clearProblems(root) {
  for (const slot of root.querySelectorAll("[data-error-for]")) slot.textContent = "";
  for (const control of root.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  const status = root.querySelector(".status");
  if (status) status.textContent = "";
}

/** Shows a refused call in `root`: each of `errors[]` beside the control it names (marked
 *  invalid), the rest in `root`'s `.status` line. */
export function showProblem(root, error) {
  clearProblems(root);
  const unplaced = [];
  for (const { field, message } of error.problem?.errors ?? []) {
    const slot = slotFor(root, field);
    if (!slot) {
      unplaced.push(`${field}: ${message}`);
      continue;
    }
    slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
    const control = slot.id && root.querySelector(`[aria-describedby~="${CSS.escape(slot.id)}"]`);
    if (control) control.setAttribute("aria-invalid", "true");
  }
  const status = root.querySelector(".status");
  if (status) status.textContent = unplaced.length ? unplaced.join(" ") : error.problem?.errors?.length ? "" : error.message;
}

/** Says `message` in `root`'s `.status` line. */
export function say(root, message) {
  const status = root.querySelector(".status");
  if (status) status.textContent = message;
}

/** Runs `work` with `root` marked busy and its `.loading` line shown. */
export async function loading(root, work) {
  const line = root.querySelector(".loading");
  root.setAttribute("aria-busy", "true");
  if (line) line.hidden = false;
  try {
    return await work();
  } finally {
    root.removeAttribute("aria-busy");
    if (line) line.hidden = true;
  }
}

/** Replaces `body`'s rows with `items` made by `row`; `empty` shows when there are none. */
export function fill(body, items, row, empty) {
  body.replaceChildren(...items.map(row));
  if (empty) empty.hidden = items.length > 0;
}

/** Destructive actions ask first. */
export const confirmed = (message) => window.confirm(message);

/** Checkboxes named `name`, one per `{ value, label }`, in `container`. */
export function checkboxes(container, name, options, checked = []) {
  container.replaceChildren(...options.map(({ value, label }) =>
    el("label", { class: "check" }, el("input", { type: "checkbox", name, value, checked: checked.includes(value) }), " ", label)));
}

/** The values of the checked boxes named `name` in `form`. */
export const checkedValues = (form, name) =>
  [...form.querySelectorAll(`input[name="${CSS.escape(name)}"]:checked`)].map((box) => box.value);

/** The form of a screen that makes new items and changes one. `key` is the item being changed
 *  (null for a new one); `edit(key, heading)` switches to changing it, `reset()` back to new
 *  (parts marked `.new-only` hide, their controls disabled, while changing); `onReset` runs
 *  after every reset. A submit calls `send(key)`; problems show beside their controls, success
 *  says "Saved.", resets the form and calls `after()`. */
export function itemForm(form, { title, newTitle, cancel, onReset = () => {}, send, after }) {
  const newOnly = (shown) => {
    for (const part of form.querySelectorAll(".new-only")) {
      part.hidden = !shown;
      for (const control of part.querySelectorAll("input, select, textarea")) control.disabled = !shown;
    }
  };
  const editor = {
    get key() {
      return form.dataset.key ?? null;
    },
    reset() {
      form.reset();
      delete form.dataset.key;
      clearProblems(form);
      title.textContent = newTitle;
      cancel.hidden = true;
      newOnly(true);
      onReset();
    },
    edit(key, heading) {
      editor.reset();
      form.dataset.key = key;
      title.textContent = heading;
      cancel.hidden = false;
      newOnly(false);
    },
  };
  cancel.addEventListener("click", () => editor.reset());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblems(form);
    try {
      await send(editor.key);
      editor.reset();
      say(form, "Saved.");
      await after();
    } catch (error) {
      showProblem(form, error);
    }
  });
  return editor;
}

/** Runs a screen's list load: `.loading` shown meanwhile, a failure said in `errorLine`. */
export async function loadList(screen, errorLine, work) {
  errorLine.textContent = "";
  try {
    await loading(screen, work);
  } catch (error) {
    errorLine.textContent = error.message;
  }
}

/** A row's action (`method` on `path`), then `after()`; a refusal is said in `errorLine`. */
export async function rowAction(method, path, errorLine, after) {
  errorLine.textContent = "";
  try {
    await api(method, path);
    await after();
  } catch (error) {
    errorLine.textContent = error.message;
  }
}
