// deployments.js: the running deployments (#/deployments): affected apps, the current step and its actions,
// the progress of each action's app, and Rollback (DELETE: a new deployment back to the original) or Stop
// (force).

import { badge, bar, dataTable, fmtTime, h, sendJSON } from "./core.js";
import { confirmDialog } from "./forms.js";
import { clicked } from "./actions.js";
import { appPath, store, touch } from "./store.js";

/** How far an action's app is: instances running of those wanted (for a stop, the ones left to stop). */
function actionProgress(action) {
  const app = store.apps.get(action.app);
  if (!app) return h("span", { class: "muted" }, action.action === "StopApplication" ? "stopped" : "");
  const running = app.tasksRunning || 0;
  return h(
    "span",
    { class: "progress" },
    bar(Math.min(running, app.instances), app.instances || 1),
    ` ${running} of ${app.instances}`,
  );
}

function stepCell(d) {
  const actions = (d.currentActions || []).map((a) =>
    h(
      "div",
      { class: "action" },
      badge(a.action, "info"),
      " ",
      h("a", { href: `#/apps/${appPath(a.app)}` }, a.app),
      " ",
      actionProgress(a),
    ),
  );
  return h("div", {}, h("div", { class: "muted" }, `step ${d.currentStep} of ${d.totalSteps}`), actions);
}

async function cancel(deployment, force) {
  const [title, text, label] = force
    ? [`Stop deployment ${deployment.id}?`, "It stops where it is: nothing is rolled back.", "Stop"]
    : [
        `Roll back deployment ${deployment.id}?`,
        "A new deployment takes its apps back to where they were.",
        "Roll back",
      ];
  if (!(await confirmDialog(title, text, { label, kind: "danger" }))) return;
  await sendJSON(
    "DELETE",
    `/v2/deployments/${encodeURIComponent(deployment.id)}${force ? "?force=true" : ""}`,
  );
  touch(null);
}

export function deploymentsPage() {
  const table = dataTable({
    columns: [
      { key: "id", label: "Deployment", cell: (d) => h("span", { class: "mono" }, d.id) },
      {
        key: "apps",
        label: "Apps",
        value: (d) => d.affectedApps.join(" "),
        cell: (d) => d.affectedApps.map((id) => h("div", {}, h("a", { href: `#/apps/${appPath(id)}` }, id))),
      },
      { key: "step", label: "Current step", value: (d) => d.currentStep / d.totalSteps, cell: stepCell },
      { key: "version", label: "Started", cell: (d) => fmtTime(d.version) },
      {
        key: "actions",
        label: "",
        sortable: false,
        cell: (d) =>
          h(
            "span",
            { class: "links" },
            h("button", { type: "button", onclick: clicked(() => cancel(d, false)) }, "Rollback"),
            h(
              "button",
              {
                type: "button",
                class: "danger",
                title: "stop without rolling back",
                onclick: clicked(() => cancel(d, true)),
              },
              "Stop",
            ),
          ),
      },
    ],
    sort: { key: "version", desc: true },
    filter: "Filter deployments",
    empty: "No deployments in progress",
    rowAttrs: (d) => ({ dataset: { deployment: d.id } }),
  });
  const el = h("div", {}, h("h1", {}, "Deployments"), table.el);
  const update = () => table.update(store.deployments);
  update();
  return { el, update };
}
