// job_detail.js: one job (#/jobs/<name>): its definition, parents and children, the next five due times, its
// counts and run-time statistics, and its run history with sandbox links; Run now, Edit, Stop, Delete.
// Refetched (job and /job/stat) whenever the event stream says the job changed.

import {
  HttpError,
  badge,
  card,
  coalesce,
  dataTable,
  fmtCpus,
  fmtDuration,
  fmtMiB,
  fmtTime,
  getJSON,
  h,
  kv,
  navigate,
  sendJSON,
  showError,
} from "./core.js";
import { confirmDialog } from "./forms.js";
import { editJob } from "./job_form.js";
import { jobLink, nextRunCell, runNow, stateBadge, statusBadge } from "./jobs.js";
import { childrenOf, jobUrl, store } from "./store.js";

/** A histogram value (milliseconds, as Chronos reports them). */
const runTime = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : fmtDuration(ms / 1000));

function nextRunCard(row) {
  if (row && row.nextRun && !row.disabled) {
    const [day, time] = fmtTime(row.nextRun).split(" ");
    return card("Next run", day, `at ${time}`);
  }
  return card("Next run", "\u2014", row ? nextRunCell(row) : "");
}

const RUN_KIND = {
  succeeded: "ok",
  failed: "bad",
  killed: "",
  skipped: "warn",
  running: "info",
  launched: "info",
};

/**
 * The run's sandbox in the master's UI. The history's `sandbox` is the master's /files/browse URL of the run
 * directory; its origin is the master and its path names the framework.
 */
function sandboxLink(run, text, file) {
  if (!run.sandbox) return null;
  const url = new URL(run.sandbox);
  const framework = (url.searchParams.get("path") || "").split("/")[2];
  const query = new URLSearchParams({ framework });
  if (file) query.set("file", file);
  const href = `${url.origin}/#/tasks/${encodeURIComponent(run.taskId)}/sandbox?${query}`;
  return h("a", { href, target: "_blank", rel: "noopener" }, text);
}

function historyTable() {
  return dataTable({
    columns: [
      {
        key: "attempt",
        label: "Attempt",
        num: true,
        cell: (r) => h("span", { title: r.taskId }, String(r.attempt + 1)),
      },
      { key: "status", label: "Status", cell: (r) => badge(r.status, RUN_KIND[r.status] || "") },
      { key: "due", label: "Due", cell: (r) => fmtTime(r.due) },
      {
        key: "startedAt",
        label: "Started",
        value: (r) => r.startedAt || r.launchedAt,
        cell: (r) => fmtTime(r.startedAt || r.launchedAt),
      },
      { key: "endedAt", label: "Ended", cell: (r) => fmtTime(r.endedAt) },
      { key: "duration", label: "Duration" },
      { key: "hostname", label: "Host" },
      { key: "exitStatus", label: "Exit", num: true },
      { key: "message", label: "Message", cell: (r) => h("span", { class: "message" }, r.message) },
      {
        key: "sandbox",
        label: "Sandbox",
        sortable: false,
        value: () => "",
        cell: (r) =>
          h(
            "span",
            { class: "links" },
            sandboxLink(r, "files"),
            sandboxLink(r, "stdout", "stdout"),
            sandboxLink(r, "stderr", "stderr"),
          ),
      },
    ],
    sort: { key: "startedAt", desc: true },
    filter: "Filter runs",
    empty: "No runs yet",
    rowAttrs: (r) => ({ dataset: { run: r.taskId, status: r.status } }),
  });
}

export function jobDetailPage({ params }) {
  const name = params.name;
  let job;
  let stat = null;
  let due = [];
  const history = historyTable();
  const header = h("div");
  const cards = h("div", { class: "cards" });
  const definition = h("div", { class: "panel" });
  const upcoming = h("div", { class: "panel" });
  const content = h(
    "div",
    { hidden: true },
    cards,
    h(
      "div",
      { class: "grid2" },
      h("div", {}, h("h2", {}, "Definition"), definition),
      h("div", {}, h("h2", {}, "Next due times"), upcoming),
    ),
    h("h2", {}, "Run history"),
    history.el,
  );
  const el = h("div", {}, header, content);

  const act = (label, run, kind) =>
    h(
      "button",
      { type: "button", class: kind || null, onclick: () => Promise.resolve().then(run).catch(showError) },
      label,
    );

  async function remove() {
    const yes = await confirmDialog(
      `Delete ${name}?`,
      "Its runs are killed and the job is forgotten; its children get its parents.",
      {
        label: "Delete",
        kind: "danger",
      },
    );
    if (!yes) return;
    await sendJSON("DELETE", jobUrl(name));
    navigate("/jobs");
  }

  /** Fetch the job, its statistics and due times, then adopt them together: a render never sees half. */
  async function load() {
    let fetched;
    try {
      fetched = await getJSON(jobUrl(name));
    } catch (err) {
      if (!(err instanceof HttpError) || err.status !== 400) throw err;
      fetched = null; // Chronos answers 400 for an unknown job
    }
    let [fetchedStat, fetchedDue] = [null, []];
    if (fetched) {
      fetchedStat = await getJSON(jobUrl(name, "job/stat"));
      if (fetched.schedule && !fetched.disabled) {
        const query = new URLSearchParams({
          schedule: fetched.schedule,
          scheduleTimeZone: fetched.scheduleTimeZone || "",
        });
        ({ times: fetchedDue } = await getJSON(`/v1/scheduler/schedule/preview?${query}`));
      }
    }
    [job, stat, due] = [fetched, fetchedStat, fetchedDue];
    render();
  }

  const reload = coalesce(() => load().catch(showError), 250);

  function render() {
    const crumbs = h("div", { class: "crumbs" }, h("a", { href: "#/jobs" }, "Jobs"), " / ", name);
    const row = store.jobs.get(name);
    content.hidden = !job;
    if (!job) {
      header.replaceChildren(
        crumbs,
        h("h1", {}, name),
        job === null ? h("p", { class: "empty" }, `There is no job ${name}.`) : null,
      );
      return;
    }
    header.replaceChildren(
      crumbs,
      h(
        "h1",
        {},
        name,
        " ",
        row ? statusBadge(row.status) : null,
        " ",
        row ? stateBadge(row.state) : null,
        job.disabled ? badge("disabled") : null,
      ),
      h(
        "div",
        { class: "toolbar" },
        act("Run now", () => runNow(name)),
        act("Edit", () => editJob(name)),
        act("Stop", () => sendJSON("DELETE", jobUrl(name, "task/kill"))),
        h("a", { href: `#/graph?job=${encodeURIComponent(name)}` }, "Show in the graph"),
        h("span", { class: "spacer" }),
        act("Delete", remove, "danger"),
      ),
    );
    const hist = stat.histogram || {};
    cards.replaceChildren(
      card("Successes", String(job.successCount), `last ${fmtTime(job.lastSuccess) || "never"}`),
      card("Failures", String(job.errorCount), `last ${fmtTime(job.lastError) || "never"}`),
      card("Skipped", String(stat.skippedCount || 0), "slots not run"),
      card(
        "Run time",
        hist.count ? runTime(hist.mean) : "\u2014",
        hist.count
          ? `mean of ${hist.count}; 95th percentile ${runTime(hist["95thPercentile"])}`
          : "no runs yet",
      ),
      nextRunCard(row),
    );
    const children = childrenOf(name);
    const links = (names) =>
      names.length ? names.map((n, i) => [i ? ", " : "", jobLink(n)]) : h("span", { class: "muted" }, "none");
    definition.replaceChildren(
      kv([
        ["Command", h("code", {}, job.command)],
        job.schedule
          ? [
              "Schedule",
              h("code", {}, `${job.schedule}${job.scheduleTimeZone ? ` (${job.scheduleTimeZone})` : ""}`),
            ]
          : ["Parents", links(job.parents || [])],
        ["Children", links(children)],
        ["Description", job.description],
        ["Owner", job.owner],
        ["Resources", `${fmtCpus(job.cpus)} CPUs, ${fmtMiB(job.mem)} memory, ${fmtMiB(job.disk)} disk`],
        ["Retries", String(job.retries)],
        ["Concurrency", job.concurrencyPolicy || (job.concurrent ? "ALLOW" : "FORBID")],
      ]),
    );
    upcoming.replaceChildren(
      job.schedule
        ? due.length
          ? h(
              "ol",
              { class: "preview" },
              due.map((t) => h("li", { title: t }, fmtTime(t))),
            )
          : h("p", { class: "muted" }, job.disabled ? "Disabled: no runs are due." : "No run left.")
        : h(
            "p",
            { class: "muted" },
            "A dependent job runs once every parent has succeeded since its last start.",
          ),
    );
    history.update(stat.taskStatHistory || []);
  }

  reload();
  return {
    el,
    update: (names) => {
      if (!names || names.has(name)) reload();
      else render();
    },
  };
}
