// job_form.js: the New Job / Edit dialog: labelled fields, scheduled or dependent (with its parents), a
// preview of the next five due times as the schedule is typed (GET /scheduler/schedule/preview), and a JSON
// mode showing the same job as text. Fields the form has no control for are kept and posted back unchanged.

import { coalesce, fmtTime, getJSON, h, sendJSON, showError } from "./core.js";
import { field, formDialog, input, select, textarea } from "./forms.js";
import { jobUrl, store } from "./store.js";

const NAME = /^[\w.-]+$/; // the 3.x name rule (the UI posts under /v1/scheduler)
const POLICIES = [
  ["FORBID", "Forbid: one run at a time"],
  ["ALLOW", "Allow: runs may overlap"],
  ["REPLACE", "Replace: a new run kills the running one"],
];

function nextHour() {
  const t = new Date();
  t.setUTCMinutes(0, 0, 0);
  t.setUTCHours(t.getUTCHours() + 1);
  return t.toISOString().replace(".000Z", "Z");
}

function newJob() {
  return {
    name: "",
    command: "",
    schedule: `R/${nextHour()}/PT24H`,
    scheduleTimeZone: "",
    owner: "",
    description: "",
    cpus: 0.1,
    mem: 128,
    disk: 256,
    retries: 2,
    disabled: false,
    concurrencyPolicy: "FORBID",
  };
}

function checkbox(attrs) {
  return h("input", { type: "checkbox", ...attrs });
}

function jobFields(editing) {
  const name = input({
    name: "name",
    required: true,
    readonly: editing,
    autocomplete: "off",
    placeholder: "nightly-report",
  });
  const command = textarea({ name: "command", rows: 3, placeholder: "echo hello" });
  const scheduled = h("input", { type: "radio", name: "kind", value: "scheduled", id: "kind-scheduled" });
  const dependent = h("input", { type: "radio", name: "kind", value: "dependent", id: "kind-dependent" });
  const schedule = input({
    name: "schedule",
    placeholder: "R/2026-01-01T00:00:00Z/PT24H or 0 3 * * *",
    autocomplete: "off",
  });
  const zone = input({ name: "scheduleTimeZone", placeholder: "UTC", autocomplete: "off" });
  const preview = h("ol", { class: "preview", "aria-live": "polite" });
  const parentFilter = input({ type: "search", placeholder: "Filter jobs", "aria-label": "Filter parents" });
  const parents = h("select", { multiple: true, size: 6, name: "parents", id: "job-parents" });
  const description = input({ name: "description" });
  const owner = input({ name: "owner", placeholder: "someone@example.com" });
  const cpus = input({ type: "number", name: "cpus", min: 0, step: "any" });
  const mem = input({ type: "number", name: "mem", min: 0, step: "any" });
  const disk = input({ type: "number", name: "disk", min: 0, step: "any" });
  const retries = input({ type: "number", name: "retries", min: 0, step: 1 });
  const policy = select(POLICIES, { name: "concurrencyPolicy" });
  const disabled = checkbox({ name: "disabled" });

  const schedulePane = h(
    "div",
    { class: "kind-pane" },
    h(
      "div",
      { class: "field-row schedule-row" },
      field("Schedule", schedule, "ISO 8601 R[n]/start/period, or a cron expression"),
      field("Time zone", zone, "IANA name; empty is the start's offset (UTC for cron)"),
    ),
    h("div", { class: "field" }, h("span", { class: "label" }, "Next five due times"), preview),
  );
  const parentsPane = h(
    "div",
    { class: "kind-pane field" },
    h("label", { for: parents.id }, "Parents"),
    parentFilter,
    parents,
    h("div", { class: "hint" }, "Runs after every parent succeeded. Ctrl-click picks several."),
  );
  const el = h(
    "div",
    { class: "job-form" },
    field("Name", name, editing ? "The name cannot change." : "Letters, digits, '_', '-' and '.'."),
    field("Command", command),
    h(
      "div",
      { class: "kind", role: "radiogroup", "aria-label": "Runs" },
      h("label", { for: scheduled.id }, scheduled, " On a schedule"),
      h("label", { for: dependent.id }, dependent, " After parent jobs"),
    ),
    schedulePane,
    parentsPane,
    h(
      "details",
      { class: "advanced" },
      h("summary", {}, "More settings"),
      h(
        "div",
        { class: "dialog-body" },
        field("Description", description),
        field("Owner", owner, "E-mail address(es), comma-separated"),
      ),
      h(
        "div",
        { class: "field-row" },
        field("CPUs", cpus),
        field("Memory (MiB)", mem),
        field("Disk (MiB)", disk),
        field("Retries", retries),
      ),
      h(
        "div",
        { class: "field-row" },
        field("Concurrency", policy),
        h("label", { class: "check" }, disabled, " Disabled"),
      ),
    ),
  );

  function showKind() {
    schedulePane.hidden = !scheduled.checked;
    parentsPane.hidden = scheduled.checked;
  }

  const refreshPreview = coalesce(async () => {
    if (!scheduled.checked || !schedule.value.trim()) {
      preview.replaceChildren();
      return;
    }
    const query = new URLSearchParams({
      schedule: schedule.value.trim(),
      scheduleTimeZone: zone.value.trim(),
    });
    try {
      const { times } = await getJSON(`/v1/scheduler/schedule/preview?${query}`);
      preview.classList.remove("invalid");
      preview.replaceChildren(
        ...(times.length
          ? times.map((t) => h("li", { title: t }, fmtTime(t)))
          : [h("li", { class: "muted" }, "never: no run left")]),
      );
    } catch (err) {
      preview.classList.add("invalid");
      preview.replaceChildren(h("li", {}, (err.body && err.body.message) || err.message));
    }
  }, 250);

  function fillParents(chosen) {
    const wanted = parentFilter.value.trim().toLowerCase();
    const names = [...store.jobs.keys()].filter((n) => n !== name.value.trim()).sort();
    parents.replaceChildren(
      ...names
        .filter((n) => chosen.has(n) || !wanted || n.toLowerCase().includes(wanted))
        .map((n) => h("option", { value: n, selected: chosen.has(n) }, n)),
    );
  }

  const chosenParents = () => new Set(Array.from(parents.selectedOptions, (o) => o.value));
  parentFilter.addEventListener("input", () => fillParents(chosenParents()));
  for (const control of [scheduled, dependent])
    control.addEventListener("change", () => (showKind(), refreshPreview()));
  for (const control of [schedule, zone]) control.addEventListener("input", refreshPreview);

  function fill(job) {
    name.value = job.name || "";
    command.value = job.command || "";
    const isDependent = Array.isArray(job.parents) && job.parents.length > 0 && !job.schedule;
    scheduled.checked = !isDependent;
    dependent.checked = isDependent;
    schedule.value = job.schedule || "";
    zone.value = job.scheduleTimeZone || "";
    fillParents(new Set(job.parents || []));
    description.value = job.description || "";
    owner.value = job.owner || "";
    cpus.value = job.cpus ?? "";
    mem.value = job.mem ?? "";
    disk.value = job.disk ?? "";
    retries.value = job.retries ?? "";
    policy.value = job.concurrencyPolicy || (job.concurrent ? "ALLOW" : "FORBID");
    disabled.checked = Boolean(job.disabled);
    showKind();
    refreshPreview();
  }

  function read(base) {
    const job = {
      ...base,
      name: name.value.trim(),
      command: command.value,
      description: description.value,
      owner: owner.value,
    };
    for (const [key, control] of [
      ["cpus", cpus],
      ["mem", mem],
      ["disk", disk],
      ["retries", retries],
    ]) {
      if (control.value.trim() === "") delete job[key];
      else job[key] = Number(control.value);
    }
    job.concurrencyPolicy = policy.value;
    delete job.concurrent; // concurrencyPolicy says it; the two must agree
    job.disabled = disabled.checked;
    if (scheduled.checked) {
      job.schedule = schedule.value.trim();
      job.scheduleTimeZone = zone.value.trim();
      delete job.parents;
    } else {
      job.parents = [...chosenParents()];
      delete job.schedule;
      delete job.scheduleTimeZone;
      delete job.scheduleOrigin;
    }
    return job;
  }

  return { el, fill, read };
}

/** Open the dialog for a new job, or for `job` (GET /scheduler/job/<name>) to change it. */
export function openJobForm({ job = null } = {}) {
  const editing = job !== null;
  formDialog({
    title: editing ? `Edit ${job.name}` : "New Job",
    fields: jobFields(editing),
    value: editing ? { ...job } : newJob(),
    jsonLabel: "Job (JSON)",
    saveLabel: editing ? "Save" : "Create Job",
    save: async (body) => {
      if (!NAME.test(String(body.name || "")))
        throw new Error("Name: use letters, digits, '_', '-' and '.' only");
      const dependent = Array.isArray(body.parents) && body.parents.length > 0 && !body.schedule;
      if (!dependent && !body.schedule)
        throw new Error("Schedule: a scheduled job needs one (or pick parents)");
      await sendJSON("POST", `/v1/scheduler/${dependent ? "dependency" : "iso8601"}`, body);
    },
  });
}

export function editJob(name) {
  return getJSON(jobUrl(name))
    .then((job) => openJobForm({ job }))
    .catch(showError);
}
