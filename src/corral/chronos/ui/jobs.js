// jobs.js: the job list (#/jobs): counters (click one to filter), then every job with its last outcome, its
// state, when it runs next, its schedule or parents, its counts, its last success and failure, and Run now /
// Edit.

import { $, badge, card, dataTable, fmtNumber, fmtTime, h, sendJSON, showError } from "./core.js";
import { editJob } from "./job_form.js";
import { jobUrl, store } from "./store.js";

const STATUS_KIND = { success: "ok", failure: "bad", fresh: "info" };

export function statusBadge(status) {
  return badge(status, STATUS_KIND[status] || "");
}

export function stateBadge(state) {
  const kind = state === "idle" ? "" : state === "queued" ? "info" : "ok";
  return badge(state, kind);
}

/** `running` for "2 running": what the counters and filters call a state. */
export const stateKind = (state) => (state.endsWith("running") ? "running" : state);

export function jobLink(name) {
  return h("a", { href: `#/jobs/${encodeURIComponent(name)}` }, name);
}

export function nextRunCell(row) {
  if (row.disabled) return h("span", { class: "muted" }, "disabled");
  if (row.parents.length) return h("span", { class: "muted" }, "after parents");
  if (!row.nextRun) return h("span", { class: "muted" }, "no more runs");
  return h("span", { title: row.schedule }, fmtTime(row.nextRun));
}

export function runNow(name) {
  return sendJSON("PUT", jobUrl(name)).catch(showError);
}

function scheduleCell(row) {
  if (!row.parents.length) return h("code", {}, row.schedule);
  return h(
    "span",
    {},
    "after ",
    row.parents.map((p, i) => [i ? ", " : "", jobLink(p)]),
  );
}

export function jobsPage() {
  const table = dataTable({
    columns: [
      {
        key: "name",
        label: "Job",
        cell: (r) => h("span", { class: r.disabled ? "disabled" : null }, jobLink(r.name)),
      },
      { key: "status", label: "Last", cell: (r) => statusBadge(r.status) },
      { key: "state", label: "State", value: (r) => stateKind(r.state), cell: (r) => stateBadge(r.state) },
      { key: "nextRun", label: "Next run", cell: nextRunCell },
      {
        key: "schedule",
        label: "Schedule or parents",
        value: (r) => r.schedule || r.parents.join(" "),
        cell: scheduleCell,
      },
      { key: "successCount", label: "Successes", num: true, cell: (r) => fmtNumber(r.successCount) },
      { key: "errorCount", label: "Failures", num: true, cell: (r) => fmtNumber(r.errorCount) },
      { key: "lastSuccess", label: "Last success", cell: (r) => fmtTime(r.lastSuccess) },
      { key: "lastError", label: "Last failure", cell: (r) => fmtTime(r.lastError) },
      {
        key: "actions",
        label: "",
        sortable: false,
        value: () => "",
        cell: (r) =>
          h(
            "span",
            { class: "links" },
            h("button", { type: "button", title: "run it now", onclick: () => runNow(r.name) }, "Run"),
            h("button", { type: "button", onclick: () => editJob(r.name) }, "Edit"),
          ),
      },
    ],
    sort: { key: "name" },
    filter: "Filter by name, state or status",
    empty: "No jobs yet: use New Job to create one",
    rowAttrs: (r) => ({ dataset: { job: r.name } }),
  });
  const counters = h("div", { class: "cards counters" });
  const el = h("div", {}, h("h1", {}, "Jobs"), counters, h("div", { class: "gap" }), table.el);

  function filterBy(text) {
    const box = $("input[type=search]", table.el);
    box.value = box.value === text ? "" : text;
    box.dispatchEvent(new Event("input"));
  }

  function update() {
    const rows = [...store.jobs.values()];
    const count = (test) => rows.filter(test).length;
    const counts = [
      ["Jobs", rows.length, ""],
      ["Success", count((r) => r.status === "success"), "success"],
      ["Failure", count((r) => r.status === "failure"), "failure"],
      ["Fresh", count((r) => r.status === "fresh"), "fresh"],
      ["Running", count((r) => stateKind(r.state) === "running"), "running"],
      ["Queued", count((r) => r.state === "queued"), "queued"],
      ["Idle", count((r) => r.state === "idle"), "idle"],
    ];
    counters.replaceChildren(
      ...counts.map(([label, n, filter]) => {
        const c = card(label, fmtNumber(n));
        c.dataset.counter = label.toLowerCase();
        c.addEventListener("click", () => filterBy(filter));
        return c;
      }),
    );
    table.update(rows);
  }

  update();
  return { el, update };
}
