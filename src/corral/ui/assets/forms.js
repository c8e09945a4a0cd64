// forms.js: modal dialogs and labelled form controls for Corral's UIs (Marathon's app form, Chronos's job
// form), built on core.js. Every control gets an id and a <label for> so it is reachable by its label text.
//
//   openDialog({title, body, actions, wide?}) -> {el, close(), showError(err)}
//       A modal <dialog> with a Cancel button; Esc closes it. actions: [{label, kind?: "primary" | "danger",
//       run: async () => any}]: the first primary action is also the form's submit (Enter). The dialog closes
//       when `run` resolves to anything but false; an error it throws is shown inside the dialog.
//   formDialog({title, fields: {el, fill(obj), read(base) -> obj}, value, jsonLabel, saveLabel, save})
//       -> dialog: openDialog over one object with a Form / JSON mode switch: the form edits it field by
//       field, JSON mode as text; switching carries it across, so keys the form has no control for are
//       kept. save(obj) runs as the primary action (resolve to false to keep the dialog open).
//   confirmDialog(title, text, {label?, kind?}) -> Promise<boolean>
//   describeError(err) -> string                   the message, plus Marathon's 422 `details` (path: errors)
//   field(label, control, hint?) -> <div class=field>
//   input(attrs) / textarea(attrs) / select(options, attrs)   options: [value, ...] or [[value, text], ...]
//   rowsEditor({columns: [{label, placeholder?, options?, type?}], rows?, addLabel?})
//       -> {el, value(): [[...], ...] (rows left blank are dropped), set(rows)}

import { h } from "./core.js";

let seq = 0;
const nextId = (prefix) => `${prefix}-${++seq}`;

export function describeError(err) {
  const message = err instanceof Error ? err.message : String(err);
  const details = err && err.body && Array.isArray(err.body.details) ? err.body.details : [];
  const lines = details.map((d) =>
    typeof d === "object" && d !== null ? `${d.path || ""}: ${(d.errors || []).join(", ")}` : String(d),
  );
  return [message, ...lines].join("\n");
}

export function openDialog({ title, body, actions = [], wide = false }) {
  const titleId = nextId("dialog-title");
  const problem = h("pre", { class: "dialog-error", role: "alert", hidden: true });
  const cancel = h("button", { type: "button", onclick: () => close() }, "Cancel");
  const primary = actions.find((a) => a.kind === "primary");
  // The primary action is the submit button: Enter in a field runs it, after the browser's own checks.
  const buttons = actions.map((action) =>
    action === primary
      ? h("button", { type: "submit", class: action.kind }, action.label)
      : h(
          "button",
          { type: "button", class: action.kind || null, onclick: () => perform(action) },
          action.label,
        ),
  );
  const form = h(
    "form",
    {
      onsubmit: (ev) => {
        ev.preventDefault();
        if (primary) perform(primary);
      },
    },
    h("div", { class: "dialog-body" }, body),
    problem,
    h("div", { class: "dialog-actions" }, cancel, buttons),
  );
  const el = h(
    "dialog",
    { class: wide ? "dialog wide" : "dialog", "aria-labelledby": titleId },
    h("h2", { id: titleId }, title),
    form,
  );
  el.addEventListener("close", () => el.remove());

  function showError(err) {
    problem.textContent = describeError(err);
    problem.hidden = false;
  }

  async function perform(action) {
    problem.hidden = true;
    for (const b of [...buttons, cancel]) b.disabled = true;
    try {
      if ((await action.run()) !== false) close();
    } catch (err) {
      showError(err);
    } finally {
      for (const b of [...buttons, cancel]) b.disabled = false;
    }
  }

  function close() {
    if (el.open) el.close();
  }

  document.body.append(el);
  el.showModal();
  const first = el.querySelector("input:not([type=hidden]), textarea, select");
  if (first) first.focus();
  return { el, close, showError };
}

export function formDialog({ title, fields, value, jsonLabel, saveLabel, save }) {
  let base = value;
  let jsonMode = false;
  const json = textarea({ class: "json-editor", spellcheck: "false", "aria-label": jsonLabel });
  const jsonPane = h("div", { hidden: true }, json);
  const formButton = h(
    "button",
    { type: "button", "aria-pressed": "true", onclick: () => setMode(false) },
    "Form",
  );
  const jsonButton = h(
    "button",
    { type: "button", "aria-pressed": "false", onclick: () => setMode(true) },
    "JSON mode",
  );
  fields.fill(base);

  function current() {
    if (!jsonMode) return fields.read(base);
    try {
      return JSON.parse(json.value);
    } catch (err) {
      throw new Error(`The JSON does not parse: ${err.message}`);
    }
  }

  function setMode(toJson) {
    if (toJson === jsonMode) return;
    try {
      base = current();
    } catch (err) {
      dialog.showError(err);
      return;
    }
    jsonMode = toJson;
    if (toJson) json.value = JSON.stringify(base, null, 2);
    else fields.fill(base);
    fields.el.hidden = toJson;
    jsonPane.hidden = !toJson;
    formButton.setAttribute("aria-pressed", String(!toJson));
    jsonButton.setAttribute("aria-pressed", String(toJson));
  }

  const dialog = openDialog({
    title,
    wide: true,
    body: [
      h("div", { class: "mode-switch", role: "group", "aria-label": "Mode" }, formButton, jsonButton),
      fields.el,
      jsonPane,
    ],
    actions: [{ label: saveLabel, kind: "primary", run: () => save(current()) }],
  });
  return dialog;
}

export function confirmDialog(title, text, { label = "OK", kind = "primary" } = {}) {
  return new Promise((resolve) => {
    let answer = false;
    const dialog = openDialog({
      title,
      body: h("p", {}, text),
      actions: [{ label, kind, run: () => (answer = true) }],
    });
    dialog.el.addEventListener("close", () => resolve(answer));
  });
}

export function field(label, control, hint) {
  if (!control.id) control.id = nextId("field");
  return h(
    "div",
    { class: "field" },
    h("label", { for: control.id }, label),
    control,
    hint ? h("div", { class: "hint" }, hint) : null,
  );
}

export function input(attrs = {}) {
  return h("input", { type: "text", ...attrs });
}

export function textarea(attrs = {}) {
  const { value = "", ...rest } = attrs;
  const el = h("textarea", rest);
  el.value = value;
  return el;
}

export function select(options, attrs = {}) {
  const { value, ...rest } = attrs;
  const el = h(
    "select",
    rest,
    options.map((o) =>
      Array.isArray(o) ? h("option", { value: o[0] }, o[1]) : h("option", { value: o }, o),
    ),
  );
  if (value !== undefined) el.value = value;
  return el;
}

export function rowsEditor({ columns, rows = [], addLabel = "Add" }) {
  const body = h("tbody");
  const head = h(
    "tr",
    {},
    columns.map((c) => h("th", {}, c.label)),
    h("th", {}),
  );

  function control(column, value, index) {
    const label = `${column.label} ${index + 1}`;
    if (column.options)
      return select(column.options, { value: value ?? column.options[0], "aria-label": label });
    return input({
      type: column.type || "text",
      value: value ?? "",
      placeholder: column.placeholder || "",
      "aria-label": label,
    });
  }

  function addRow(values = []) {
    const index = body.children.length;
    const tr = h(
      "tr",
      {},
      columns.map((c, i) => h("td", {}, control(c, values[i], index))),
      h("td", {}, h("button", { type: "button", title: "remove", onclick: () => tr.remove() }, "\u2715")),
    );
    body.append(tr);
  }

  function set(newRows) {
    body.replaceChildren();
    for (const row of newRows) addRow(row);
  }

  function value() {
    return Array.from(body.children)
      .map((tr) => Array.from(tr.querySelectorAll("input, select")).map((c) => c.value.trim()))
      .filter((values) => values.some((v, i) => v !== "" && !columns[i].options));
  }

  set(rows);
  const el = h(
    "div",
    { class: "rows-editor" },
    h("table", {}, h("thead", {}, head), body),
    h("button", { type: "button", onclick: () => addRow() }, addLabel),
  );
  return { el, value, set };
}
