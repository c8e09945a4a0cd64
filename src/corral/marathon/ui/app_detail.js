// app_detail.js: one application (#/apps/<id>): its tasks with health and sandbox links, why it waits, its
// last task failure, its versions (apply one to roll back), and the actions Scale, Restart, Suspend, Edit,
// Destroy.

import {
  card,
  dataTable,
  fmtCpus,
  fmtMiB,
  fmtTime,
  h,
  kv,
  link,
  navigate,
  sendJSON,
  stateBadge,
} from "./core.js";
import { confirmDialog, field, input, openDialog } from "./forms.js";
import { appStatus, healthBar, instancesText } from "./apps.js";
import { openAppForm } from "./app_form.js";
import { appPath, store, touch, unwatchApp, watchApp } from "./store.js";
import { clicked, forced, withForce } from "./actions.js";

const appUrl = (id) => `/v2/apps/${appPath(id)}`;
const mib = (n) => (n ? fmtMiB(n) : "0 MiB");

/** The task in the master's UI: its sandbox view, or one file of it (stdout, stderr). */
function sandboxLink(task, text, file) {
  const info = store.info;
  const master = info && info.marathon_config && info.marathon_config.mesos_leader_ui_url;
  if (!master || !info.frameworkId) return null;
  const query = new URLSearchParams({ framework: info.frameworkId });
  if (file) query.set("file", file);
  const href = `${master.replace(/\/?$/, "/")}#/tasks/${encodeURIComponent(task.id)}/sandbox?${query}`;
  return h("a", { href, target: "_blank", rel: "noopener" }, text);
}

function taskHealth(task) {
  const results = task.healthCheckResults || [];
  if (results.length === 0) return h("span", { class: "muted nowrap" }, "no checks");
  const alive = results.every((r) => r.alive);
  const badge = stateBadge(alive ? "healthy" : "unhealthy");
  const failure = results.find((r) => !r.alive && r.lastFailureCause);
  if (failure) badge.title = failure.lastFailureCause;
  return badge;
}

function whyWaiting(item) {
  const summary = item.processedOffersSummary || {};
  const delay = item.delay || {};
  const lines = [];
  if (delay.overdue === false) {
    lines.push(`Launches are delayed for ${delay.timeLeftSeconds} s more (backoff after failures).`);
  }
  lines.push(
    `${item.count} instance(s) to launch since ${fmtTime(item.since)}; ` +
      `${summary.processedOffersCount || 0} offer(s) considered, ` +
      `${summary.unusedOffersCount || 0} did not fit.`,
  );
  if ((summary.processedOffersCount || 0) === 0) {
    lines.push("No offers received yet: no agent has resources free for this app's role.");
  }
  const declined = (summary.rejectSummaryLaunchAttempt || []).filter((r) => r.declined > 0);
  const reasons = declined.map((r) => h("li", {}, `${r.reason}: ${r.declined} of ${r.processed} offer(s)`));
  const offers = (item.lastUnusedOffers || []).map((o) =>
    h("li", {}, `${o.offer.hostname}: ${(o.reason || []).join(", ")}, at ${fmtTime(o.timestamp)}`),
  );
  return h(
    "div",
    { class: "panel waiting", dataset: { waiting: "" } },
    h("h2", {}, "Why it is not launching"),
    lines.map((line) => h("p", {}, line)),
    reasons.length
      ? [h("div", { class: "muted" }, "Offers declined, by first reason:"), h("ul", {}, reasons)]
      : null,
    offers.length
      ? [h("div", { class: "muted" }, "Last unused offer of each agent:"), h("ul", {}, offers)]
      : null,
  );
}

function lastFailure(failure) {
  return h(
    "div",
    { class: "panel failure" },
    h("h2", {}, "Last task failure"),
    kv([
      ["Task", h("span", { class: "mono" }, failure.taskId)],
      ["State", stateBadge(failure.state)],
      ["Message", failure.message || ""],
      ["Host", failure.host || ""],
      ["When", fmtTime(failure.timestamp)],
      ["Version", failure.version || ""],
    ]),
  );
}

function configuration(app) {
  const pairs = (object, show) =>
    Object.entries(object || {})
      .map(([k, v]) => `${k}=${show(v)}`)
      .join("  ");
  return kv([
    ["Command", h("code", {}, app.cmd || "")],
    ["Ports", (app.portDefinitions || []).map((p) => p.port).join(", ")],
    ["Environment", pairs(app.env, (v) => (typeof v === "string" ? v : "(secret)"))],
    ["Labels", pairs(app.labels, String)],
    ["Constraints", (app.constraints || []).map((c) => c.join(":")).join(", ")],
    [
      "Health checks",
      (app.healthChecks || [])
        .map((c) => `${c.protocol} ${c.path || (c.command && c.command.value) || ""}`)
        .join(", "),
    ],
    ["Version", app.version],
    ["Config changed", fmtTime(app.versionInfo && app.versionInfo.lastConfigChangeAt)],
  ]);
}

const put = (app, body) => withForce((force) => sendJSON("PUT", forced(appUrl(app.id), force), body));

function scaleDialog(app) {
  const count = input({ type: "number", min: 0, step: 1, value: app.instances });
  openDialog({
    title: `Scale ${app.id}`,
    body: field("Instances", count),
    actions: [
      {
        label: "Scale",
        kind: "primary",
        run: () => put(app, { instances: Number(count.value) }).then(() => touch(app.id)),
      },
    ],
  });
}

async function confirmed(title, text, label, kind, then) {
  if (await confirmDialog(title, text, { label, kind })) await then();
}

function actionBar(app, status) {
  const act = (label, run, kind) =>
    h("button", { type: "button", class: kind || null, onclick: clicked(run) }, label);
  const done = () => touch(app.id);
  return h(
    "div",
    { class: "toolbar actions" },
    act("Scale", () => scaleDialog(app)),
    act("Restart", () =>
      withForce((force) => sendJSON("POST", forced(`${appUrl(app.id)}/restart`, force))).then(done),
    ),
    app.instances > 0
      ? act("Suspend", () =>
          confirmed(
            `Suspend ${app.id}?`,
            "Its instances are scaled to 0; the definition is kept.",
            "Suspend",
            "primary",
            () => put(app, { instances: 0 }).then(done),
          ),
        )
      : null,
    act("Edit", () => openAppForm({ app, onSaved: done })),
    status === "Delayed"
      ? act("Reset delay", () => sendJSON("DELETE", `/v2/queue/${appPath(app.id)}/delay`).then(done))
      : null,
    h("span", { class: "spacer" }),
    act(
      "Destroy",
      () =>
        confirmed(
          `Destroy ${app.id}?`,
          "Its tasks are killed and its definition is deleted.",
          "Destroy",
          "danger",
          () =>
            sendJSON("DELETE", appUrl(app.id)).then(() => {
              done();
              navigate("/apps");
            }),
        ),
      "danger",
    ),
  );
}

export function appDetailPage(id) {
  watchApp(id);
  const kill = (task, scale) =>
    clicked(() =>
      sendJSON("POST", `/v2/tasks/delete${scale ? "?scale=true" : ""}`, { ids: [task.id] }).then(() =>
        touch(id),
      ),
    );
  const tasks = dataTable({
    columns: [
      { key: "id", label: "Task", cell: (t) => h("span", { class: "mono" }, t.id) },
      { key: "host", label: "Host" },
      { key: "ports", label: "Ports", value: (t) => (t.ports || []).join(", ") },
      { key: "state", label: "State", cell: (t) => stateBadge(t.state) },
      {
        key: "health",
        label: "Health",
        value: (t) => (t.healthCheckResults || []).map((r) => r.alive).join(),
        cell: taskHealth,
      },
      {
        key: "startedAt",
        label: "Started",
        value: (t) => t.startedAt || t.stagedAt,
        cell: (t) => fmtTime(t.startedAt || t.stagedAt),
      },
      { key: "version", label: "Version", cell: (t) => fmtTime(t.version) },
      {
        key: "sandbox",
        label: "Sandbox",
        sortable: false,
        cell: (t) =>
          h(
            "span",
            { class: "links" },
            sandboxLink(t, "files"),
            sandboxLink(t, "stdout", "stdout"),
            sandboxLink(t, "stderr", "stderr"),
          ),
      },
      {
        key: "kill",
        label: "",
        sortable: false,
        cell: (t) =>
          h(
            "span",
            { class: "links" },
            h(
              "button",
              { type: "button", title: "kill it; Marathon starts a replacement", onclick: kill(t, false) },
              "Kill",
            ),
            h(
              "button",
              { type: "button", title: "kill it and scale down by one", onclick: kill(t, true) },
              "Kill & scale",
            ),
          ),
      },
    ],
    sort: { key: "startedAt", desc: true },
    filter: "Filter tasks",
    empty: "No tasks",
    rowAttrs: (t) => ({ dataset: { task: t.id, state: t.state } }),
  });
  const versions = dataTable({
    columns: [
      { key: "version", label: "Version", cell: (v) => h("span", { title: v.version }, fmtTime(v.version)) },
      { key: "apply", label: "", sortable: false, cell: (v) => v.cell },
    ],
    sort: { key: "version", desc: true },
    filter: false,
    pageSize: 25,
    empty: "No versions",
  });
  const header = h("div");
  const cards = h("div", { class: "cards" });
  const notices = h("div", { class: "notices" });
  const config = h("div", { class: "panel" });
  const content = h(
    "div",
    { class: "detail" },
    cards,
    notices,
    h("h2", {}, "Tasks"),
    tasks.el,
    h(
      "div",
      { class: "grid2" },
      h("div", {}, h("h2", {}, "Configuration"), config),
      h("div", {}, h("h2", {}, "Versions"), versions.el),
    ),
  );
  const el = h("div", {}, header, content);

  function rollback(app, version) {
    return confirmed(
      `Apply version ${version}?`,
      `${app.id} is deployed again with the definition it had then.`,
      "Apply",
      "primary",
      () => put(app, { version }).then(() => touch(app.id)),
    );
  }

  function update() {
    const detail = store.detail;
    const crumbs = h("div", { class: "crumbs" }, link("/apps", "Applications"), " / ", id);
    const app = detail && detail.id === id ? detail.app : undefined;
    content.hidden = !app;
    if (!app) {
      const missing = app === null ? h("p", { class: "empty" }, `There is no app ${id}.`) : null;
      header.replaceChildren(crumbs, h("h1", {}, id), missing);
      return;
    }
    const status = appStatus(store.apps.get(id) || app);
    const queued = store.queue.get(id);
    header.replaceChildren(crumbs, h("h1", {}, app.id, " ", stateBadge(status)), actionBar(app, status));
    cards.replaceChildren(
      card("Instances", instancesText(app), "running of desired"),
      card(
        "Health",
        healthBar(app),
        `${app.tasksHealthy || 0} healthy, ${app.tasksUnhealthy || 0} unhealthy`,
      ),
      card("CPUs", fmtCpus(app.cpus), "per instance"),
      card("Memory", mib(app.mem), "per instance"),
      card("Disk", mib(app.disk), "per instance"),
      card(
        "Deployments",
        String((app.deployments || []).length),
        h("a", { href: "#/deployments" }, "show all"),
      ),
    );
    notices.replaceChildren(
      ...[
        queued ? whyWaiting(queued) : null,
        app.lastTaskFailure ? lastFailure(app.lastTaskFailure) : null,
      ].filter(Boolean),
    );
    config.replaceChildren(configuration(app));
    tasks.update(app.tasks || []);
    versions.update(
      detail.versions.map((version) => ({
        version,
        cell:
          version === app.version
            ? h("span", { class: "badge ok" }, "current")
            : h(
                "button",
                { type: "button", onclick: clicked(() => rollback(app, version)) },
                "Apply (roll back)",
              ),
      })),
    );
  }

  update();
  return { el, update, destroy: unwatchApp };
}
