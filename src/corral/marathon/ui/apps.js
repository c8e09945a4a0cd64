// apps.js: the application list (#/apps), and the status and health of an app as every page shows them.

import { $, card, dataTable, fmtCpus, fmtMiB, fmtNumber, h, link, stateBadge } from "./core.js";
import { store } from "./store.js";

export const STATUSES = ["Running", "Deploying", "Waiting", "Delayed", "Suspended"];

/**
 * Upstream's status rules (marathon-ui AppsStore), refined: an app in the launch queue is Delayed while its
 * backoff runs, and Waiting once offers came and did not fit (or it has no deployment to be in); a new app
 * whose first offer is on its way stays Deploying, and so does one whose only tasks are still starting.
 */
export function appStatus(app, queued = store.queue.get(app.id)) {
  if (queued && queued.delay && queued.delay.overdue === false) return "Delayed";
  const offered =
    queued && queued.processedOffersSummary && queued.processedOffersSummary.unusedOffersCount > 0;
  const deploying = app.deployments && app.deployments.length > 0;
  if (queued && (offered || !deploying)) return "Waiting";
  if (deploying) return "Deploying";
  const running = app.tasksRunning || 0;
  if (app.instances === 0 && running === 0) return "Suspended";
  return running > 0 ? "Running" : "Deploying";
}

/**
 * The health legend: healthy, unhealthy, unknown (no checks or no result yet), staged, over capacity,
 * unscheduled.
 */
function healthParts(app) {
  const running = app.tasksRunning || 0;
  const healthy = app.tasksHealthy || 0;
  const unhealthy = app.tasksUnhealthy || 0;
  const staged = app.tasksStaged || 0;
  return [
    ["healthy", healthy],
    ["unhealthy", unhealthy],
    ["unknown", Math.max(0, running - healthy - unhealthy)],
    ["staged", staged],
    ["over capacity", Math.max(0, running + staged - app.instances)],
    ["unscheduled", Math.max(0, app.instances - running - staged)],
  ];
}

export function healthBar(app) {
  const parts = healthParts(app);
  const total = parts.reduce((sum, [, n]) => sum + n, 0);
  const title = parts
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${n} ${name}`)
    .join(", ");
  return h(
    "span",
    { class: "health-bar", title: title || "no instances" },
    parts
      .filter(([, n]) => n > 0)
      .map(([name, n]) =>
        h("span", { class: `health-${name.replace(" ", "-")}`, style: { width: `${(100 * n) / total}%` } }),
      ),
  );
}

export function instancesText(app) {
  return `${fmtNumber(app.tasksRunning || 0)} of ${fmtNumber(app.instances)}`;
}

export function appsPage() {
  const table = dataTable({
    columns: [
      { key: "id", label: "ID", cell: (a) => link(`/apps${a.id}`, a.id) },
      { key: "status", label: "Status", value: (a) => appStatus(a), cell: (a) => stateBadge(appStatus(a)) },
      {
        key: "running",
        label: "Running instances",
        num: true,
        value: (a) => a.tasksRunning || 0,
        cell: instancesText,
      },
      {
        key: "health",
        label: "Health",
        value: (a) => (a.tasksHealthy || 0) - (a.tasksUnhealthy || 0),
        cell: healthBar,
      },
      {
        key: "cpus",
        label: "CPUs",
        num: true,
        value: (a) => a.cpus * a.instances,
        cell: (a) => fmtCpus(a.cpus * a.instances),
      },
      {
        key: "mem",
        label: "Memory",
        num: true,
        value: (a) => a.mem * a.instances,
        cell: (a) => fmtMiB(a.mem * a.instances),
      },
    ],
    sort: { key: "id" },
    filter: "Filter by ID or status",
    empty: "No applications yet: use New App to create one",
    rowAttrs: (a) => ({ dataset: { app: a.id } }),
  });
  const cards = h("div", { class: "cards status-cards" });
  const el = h("div", {}, h("h1", {}, "Applications"), cards, h("div", { class: "spacer-12" }), table.el);

  function filterBy(status) {
    const box = $("input[type=search]", table.el);
    box.value = box.value === status ? "" : status;
    box.dispatchEvent(new Event("input"));
  }

  function update() {
    const apps = [...store.apps.values()];
    const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    for (const app of apps) counts[appStatus(app)] += 1;
    cards.replaceChildren(
      ...STATUSES.map((s) => {
        const c = card(s, fmtNumber(counts[s]));
        c.dataset.status = s;
        c.addEventListener("click", () => filterBy(s));
        return c;
      }),
    );
    table.update(store.loaded ? apps : []);
  }

  update();
  return { el, update };
}
