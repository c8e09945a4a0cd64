// app_form.js: the New App / Edit dialog. A form with labelled fields (ID, Command, CPUs, Memory (MiB), Disk
// (MiB), Instances, Ports, Environment, Labels, Health checks, Constraints) and a JSON mode showing the same
// definition as text. Switching modes carries the definition across: fields the form has no control for
// (container, fetch, upgrade strategy...) are kept in the JSON and sent unchanged.

import { h, navigate, sendJSON } from "./core.js";
import { field, formDialog, input, rowsEditor, textarea } from "./forms.js";
import { appPath } from "./store.js";
import { forced, withForce } from "./actions.js";

const NEW_APP = { id: "", cmd: "", cpus: 1, mem: 128, disk: 0, instances: 1, portDefinitions: [{ port: 0 }] };
// What the API adds to an app that is not part of its definition.
const STATUS_KEYS = [
  "version",
  "versionInfo",
  "tasks",
  "tasksStaged",
  "tasksRunning",
  "tasksHealthy",
  "tasksUnhealthy",
  "deployments",
  "lastTaskFailure",
  "readinessCheckResults",
  "taskStats",
];
const CHECK_PROTOCOLS = ["HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"];
const OPERATORS = ["UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS"];

function definitionOf(app) {
  const out = { ...app };
  for (const key of STATUS_KEYS) delete out[key];
  return out;
}

function numberOr(text, fallback) {
  const trimmed = String(text).trim();
  return trimmed === "" ? fallback : Number(trimmed);
}

function setOrDelete(object, key, value, empty) {
  if (empty) delete object[key];
  else object[key] = value;
}

function checkRow(c) {
  const target = c.protocol === "COMMAND" ? (c.command && c.command.value) || "" : c.path || "";
  return [
    c.protocol,
    target,
    c.portIndex ?? "",
    c.gracePeriodSeconds ?? "",
    c.intervalSeconds ?? "",
    c.timeoutSeconds ?? "",
    c.maxConsecutiveFailures ?? "",
  ];
}

function checkOf([protocol, target, portIndex, grace, interval, timeout, failures], previous = {}) {
  const check = { ...previous, protocol };
  delete check.path;
  delete check.command;
  if (protocol === "COMMAND") {
    check.command = { value: target };
    delete check.portIndex;
  } else {
    if (protocol.includes("HTTP")) check.path = target || "/";
    setOrDelete(check, "portIndex", Number(portIndex), portIndex === "");
  }
  for (const [key, text] of [
    ["gracePeriodSeconds", grace],
    ["intervalSeconds", interval],
    ["timeoutSeconds", timeout],
    ["maxConsecutiveFailures", failures],
  ]) {
    setOrDelete(check, key, Number(text), text === "");
  }
  return check;
}

/** The form's controls, filled from a definition, and read back over it. */
function appFields(editing) {
  const id = input({
    name: "id",
    placeholder: "/my-app",
    required: true,
    readonly: editing,
    autocomplete: "off",
  });
  const cmd = textarea({ name: "cmd", rows: 3, placeholder: "python3 -m http.server $PORT0" });
  const cpus = input({ type: "number", name: "cpus", min: 0, step: "any" });
  const mem = input({ type: "number", name: "mem", min: 0, step: "any" });
  const disk = input({ type: "number", name: "disk", min: 0, step: "any" });
  const instances = input({ type: "number", name: "instances", min: 0, step: 1 });
  const ports = input({ name: "ports", placeholder: "0, 0 (0 picks a service port)" });
  const env = rowsEditor({ columns: [{ label: "Name" }, { label: "Value" }], addLabel: "Add variable" });
  const labels = rowsEditor({ columns: [{ label: "Key" }, { label: "Value" }], addLabel: "Add label" });
  const checks = rowsEditor({
    columns: [
      { label: "Protocol", options: CHECK_PROTOCOLS },
      { label: "Path or command", placeholder: "/health" },
      { label: "Port index", type: "number", placeholder: "0" },
      { label: "Grace (s)", type: "number", placeholder: "300" },
      { label: "Interval (s)", type: "number", placeholder: "60" },
      { label: "Timeout (s)", type: "number", placeholder: "20" },
      { label: "Max failures", type: "number", placeholder: "3" },
    ],
    addLabel: "Add health check",
  });
  const constraints = rowsEditor({
    columns: [
      { label: "Field", placeholder: "hostname" },
      { label: "Operator", options: OPERATORS },
      { label: "Value" },
    ],
    addLabel: "Add constraint",
  });
  const section = (legend, content) => h("fieldset", { class: "section" }, h("legend", {}, legend), content);
  const el = h(
    "div",
    { class: "app-form" },
    field(
      "ID",
      id,
      editing ? "The ID cannot change." : "Unique: letters, digits, '-', '.'; '/' separates groups.",
    ),
    field("Command", cmd),
    h(
      "div",
      { class: "field-row" },
      field("CPUs", cpus),
      field("Memory (MiB)", mem),
      field("Disk (MiB)", disk),
      field("Instances", instances),
    ),
    field("Ports", ports, "Comma-separated service ports; 0 picks a free one, empty means none."),
    section("Environment", env.el),
    section("Labels", labels.el),
    section("Health checks", checks.el),
    section("Constraints", constraints.el),
  );

  function fill(app) {
    id.value = app.id || "";
    cmd.value = app.cmd || "";
    cpus.value = app.cpus ?? "";
    mem.value = app.mem ?? "";
    disk.value = app.disk ?? "";
    instances.value = app.instances ?? "";
    ports.value = (app.portDefinitions || []).map((p) => p.port).join(", ");
    ports.disabled = !app.portDefinitions && Boolean(app.container);
    env.set(Object.entries(app.env || {}).filter(([, v]) => typeof v === "string"));
    labels.set(Object.entries(app.labels || {}));
    checks.set((app.healthChecks || []).map(checkRow));
    constraints.set((app.constraints || []).map((c) => [c[0], c[1], c[2] ?? ""]));
  }

  function read(base) {
    const app = { ...base };
    app.id = id.value.trim();
    setOrDelete(app, "cmd", cmd.value, cmd.value.trim() === "");
    for (const [key, control] of [
      ["cpus", cpus],
      ["mem", mem],
      ["disk", disk],
      ["instances", instances],
    ]) {
      setOrDelete(app, key, numberOr(control.value, null), control.value.trim() === "");
    }
    if (!ports.disabled) {
      const numbers = ports.value
        .split(/[\s,]+/)
        .filter(Boolean)
        .map(Number);
      const before = base.portDefinitions || [];
      app.portDefinitions = numbers.map((port, i) => ({ ...(before[i] || {}), port }));
      delete app.ports;
    }
    const secrets = Object.entries(base.env || {}).filter(([, v]) => typeof v !== "string");
    app.env = Object.fromEntries([...secrets, ...env.value()]);
    app.labels = Object.fromEntries(labels.value());
    const previous = base.healthChecks || [];
    app.healthChecks = checks.value().map((row, i) => checkOf(row, previous[i]));
    app.constraints = constraints.value().map(([f, op, v]) => (v === "" ? [f, op] : [f, op, v]));
    return app;
  }

  return { el, fill, read };
}

/**
 * Open the dialog: a new app, or `app` (as GET /v2/apps/{id} returns it) to edit; onSaved runs after the
 * save.
 */
export function openAppForm({ app = null, onSaved = () => {} } = {}) {
  const editing = app !== null;
  formDialog({
    title: editing ? `Edit ${app.id}` : "New Application",
    fields: appFields(editing),
    value: editing ? definitionOf(app) : { ...NEW_APP },
    jsonLabel: "App definition (JSON)",
    saveLabel: editing ? "Change and deploy" : "Create Application",
    save: async (body) => {
      if (!body || typeof body !== "object" || !String(body.id || "").trim())
        throw new Error("ID: an app needs an ID");
      if (editing) {
        const url = `/v2/apps/${appPath(app.id)}?partialUpdate=false`;
        if ((await withForce((force) => sendJSON("PUT", forced(url, force), body))) === null) return false;
      } else {
        await sendJSON("POST", "/v2/apps", body);
        navigate("/apps");
      }
      onSaved();
      return true;
    },
  });
}
