// The master UI's data: the latest /master/state with its index, and the pieces every page shows it with.
import { bar, dataTable, fmtCpus, fmtMiB, fmtTime, h, hashOf, stateBadge } from "/ui/core.js";
import { sandboxHash } from "/ui/sandbox.js";

export const SCALARS = ["cpus", "mem", "disk", "gpus"];
export const TASK_STATES = ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_FINISHED",
  "TASK_KILLED", "TASK_FAILED", "TASK_LOST"];
export const TERMINAL = new Set(["TASK_FINISHED", "TASK_KILLED", "TASK_FAILED", "TASK_LOST", "TASK_ERROR",
  "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"]);

// Live bindings: importers see each new state as soon as `adopt` takes it.
export let state = null; // the latest /master/state
export let index = null; // lookups derived from it

export function adopt(doc) {
  state = doc;
  index = buildIndex(doc);
}

// ------------------------------------------------------------------ the state and its index

export const amount = (resources, name) => (resources && resources[name]) || 0;
export const fmtAmount = (name, value) => (name === "mem" || name === "disk" ? fmtMiB(value) : fmtCpus(value));
export const started = (task) => (task.statuses.length ? task.statuses[0].timestamp : null);
export const updated = (task) => (task.statuses.length ? task.statuses[task.statuses.length - 1].timestamp : null);

function buildIndex(s) {
  const agents = new Map(s.slaves.map((a) => [a.id, a]));
  const frameworks = new Map();
  const completed = new Set();
  const tasks = [];
  for (const f of [...s.frameworks, ...s.completed_frameworks]) {
    frameworks.set(f.id, f);
    for (const t of [...f.tasks, ...f.unreachable_tasks, ...f.completed_tasks]) tasks.push(t);
  }
  for (const f of s.completed_frameworks) completed.add(f.id);
  const tasksByAgent = new Map();
  for (const t of tasks) {
    if (!tasksByAgent.has(t.slave_id)) tasksByAgent.set(t.slave_id, []);
    tasksByAgent.get(t.slave_id).push(t);
  }
  return { agents, frameworks, completed, tasks, tasksByAgent, offers: s.frameworks.flatMap((f) => f.offers) };
}

export function findTask(id, frameworkId) {
  return index.tasks.find((t) => t.id === id && (!frameworkId || t.framework_id === frameworkId)) || null;
}

// ------------------------------------------------------------------ shared pieces

export function agentLink(agentId) {
  const agent = index.agents.get(agentId);
  return h("a", { href: hashOf("agents", agentId) }, agent ? agent.hostname : agentId);
}

export function frameworkLink(frameworkId) {
  const framework = index.frameworks.get(frameworkId);
  return h("a", { href: hashOf("frameworks", frameworkId) }, framework ? framework.name : frameworkId);
}

export function taskHash(task) {
  return `${hashOf("tasks", task.id)}?${new URLSearchParams({ framework: task.framework_id })}`;
}

export function usage(used, total, name) {
  return h("div", {}, `${fmtAmount(name, used)} / ${fmtAmount(name, total)}`, bar(used, total));
}

export function crumbs(...parts) {
  return h("div", { class: "crumbs" }, parts.flatMap((p, i) => (i ? [" / ", p] : [p])));
}

export function frameworkStatus(f) {
  if (index.completed.has(f.id)) return "COMPLETED";
  return f.active ? "ACTIVE" : "INACTIVE";
}

// A resources table: one row per scalar, one column per named resources object.
export function resourceTable(columns) {
  const names = [...SCALARS];
  for (const [, resources] of columns) {
    for (const [name, value] of Object.entries(resources || {})) {
      if (typeof value === "number" && !names.includes(name)) names.push(name);
    }
  }
  const head = h("tr", {}, h("th", {}, "resource"), columns.map(([label]) => h("th", { class: "num" }, label)));
  const rows = names.map((name) =>
    h(
      "tr",
      { dataset: { resource: name } },
      h("th", { class: "muted" }, name),
      columns.map(([, resources]) => h("td", { class: "num" }, fmtAmount(name, amount(resources, name)))),
    ),
  );
  return h("div", { class: "table-wrap" }, h("table", { class: "data" }, h("thead", {}, head), h("tbody", {}, rows)));
}

export function tasksTable() {
  return dataTable({
    filter: "Filter tasks",
    empty: "No tasks",
    sort: { key: "updated", desc: true },
    rowAttrs: (t) => ({ dataset: { task: t.id } }),
    columns: [
      { key: "id", label: "ID", cell: (t) => h("a", { href: taskHash(t), class: "mono" }, t.id) },
      { key: "name", label: "Name" },
      { key: "state", label: "State", cell: (t) => stateBadge(t.state) },
      {
        key: "framework",
        label: "Framework",
        value: (t) => index.frameworks.get(t.framework_id)?.name ?? t.framework_id,
        cell: (t) => frameworkLink(t.framework_id),
      },
      {
        key: "agent",
        label: "Agent",
        value: (t) => index.agents.get(t.slave_id)?.hostname ?? t.slave_id,
        cell: (t) => agentLink(t.slave_id),
      },
      { key: "cpus", label: "CPUs", num: true, value: (t) => amount(t.resources, "cpus"), cell: (t) => fmtCpus(amount(t.resources, "cpus")) },
      { key: "mem", label: "Mem", num: true, value: (t) => amount(t.resources, "mem"), cell: (t) => fmtMiB(amount(t.resources, "mem")) },
      { key: "started", label: "Started", value: started, cell: (t) => fmtTime(started(t)) },
      { key: "updated", label: "Updated", value: updated, cell: (t) => fmtTime(updated(t)) },
      { key: "sandbox", label: "", sortable: false, value: () => "", cell: (t) => h("a", { href: sandboxHash(t, "stdout") }, "sandbox") },
    ],
  });
}

// A page built once the state is known (a deep link may open before it is), then updated with each state.
export function statePage(build) {
  const el = h("div");
  let built = null;
  function update() {
    if (state === null) return;
    if (built === null) built = build(el) || {};
    if (built.update) built.update();
  }
  update();
  return { el, update, destroy: () => built && built.destroy && built.destroy() };
}


export function offersTable() {
  return dataTable({
    filter: "Filter offers",
    empty: "No outstanding offers",
    sort: { key: "id" },
    rowAttrs: (o) => ({ dataset: { offer: o.id } }),
    columns: [
      { key: "id", label: "ID", cell: (o) => h("span", { class: "mono" }, o.id) },
      { key: "framework", label: "Framework", value: (o) => index.frameworks.get(o.framework_id)?.name ?? o.framework_id, cell: (o) => frameworkLink(o.framework_id) },
      { key: "agent", label: "Agent", value: (o) => index.agents.get(o.slave_id)?.hostname ?? o.slave_id, cell: (o) => agentLink(o.slave_id) },
      { key: "role", label: "Role", value: (o) => o.allocation_info?.role ?? "" },
      ...SCALARS.map((name) => ({
        key: name,
        label: name,
        num: true,
        value: (o) => amount(o.resources, name),
        cell: (o) => fmtAmount(name, amount(o.resources, name)),
      })),
      { key: "ports", label: "Ports", value: (o) => o.resources.ports || "" },
    ],
  });
}

