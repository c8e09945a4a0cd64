// The master UI's pages for what runs: overview, agents, frameworks, tasks and their sandboxes.
import {
  bar,
  card,
  dataTable,
  fmtCpus,
  fmtDuration,
  fmtMiB,
  fmtNumber,
  fmtTime,
  h,
  hashOf,
  kv,
  stateBadge,
} from "/ui/core.js";
import {
  SCALARS,
  TASK_STATES,
  TERMINAL,
  state,
  index,
  amount,
  fmtAmount,
  findTask,
  agentLink,
  frameworkLink,
  taskHash,
  usage,
  crumbs,
  frameworkStatus,
  resourceTable,
  tasksTable,
  statePage,
  offersTable,
} from "/ui/cluster.js";
import { sandboxHash, sandboxPage } from "/ui/sandbox.js";

// ------------------------------------------------------------------ overview

function totals() {
  const sums = { total: {}, used: {}, offered: {} };
  for (const agent of state.slaves) {
    if (!agent.active) continue;
    for (const name of SCALARS) {
      sums.total[name] = (sums.total[name] || 0) + amount(agent.resources, name);
      sums.used[name] = (sums.used[name] || 0) + amount(agent.used_resources, name);
      sums.offered[name] = (sums.offered[name] || 0) + amount(agent.offered_resources, name);
    }
  }
  return sums;
}

function metricCard(metric, label, value, sub) {
  const el = card(label, value, sub);
  el.dataset.metric = metric;
  return el;
}

export function overviewPage() {
  return statePage((el) => ({
    update() {
      const active = state.slaves.filter((a) => a.active).length;
      const inactive = state.slaves.length - active + state.recovered_slaves.length;
      const live = state.frameworks.filter((f) => f.active).length;
      const sums = totals();
      const byState = new Map();
      for (const t of index.tasks) byState.set(t.state, (byState.get(t.state) || 0) + 1);
      const states = [...TASK_STATES, ...[...byState.keys()].filter((s) => !TASK_STATES.includes(s)).sort()];
      const running = index.tasks.filter((t) => !TERMINAL.has(t.state)).length;
      const resourceRows = SCALARS.map((name) => {
        const total = sums.total[name] || 0;
        const used = sums.used[name] || 0;
        const offered = sums.offered[name] || 0;
        return h(
          "tr",
          { dataset: { resource: name } },
          h("th", {}, name),
          [total, used, offered, Math.max(0, total - used - offered)].map((v) => h("td", { class: "num" }, fmtAmount(name, v))),
          h("td", {}, bar(used + offered, total)),
        );
      });
      el.replaceChildren(
        h("h1", {}, "Overview"),
        h(
          "div",
          { class: "cards" },
          metricCard("agents", "Agents", fmtNumber(active), `${fmtNumber(inactive)} inactive, ${fmtNumber(state.unreachable_slaves)} unreachable`),
          metricCard("frameworks", "Frameworks", fmtNumber(live), `${fmtNumber(state.frameworks.length - live)} inactive, ${fmtNumber(state.completed_frameworks.length)} completed`),
          metricCard("tasks", "Active tasks", fmtNumber(running), `${fmtNumber(index.tasks.length - running)} terminal`),
          metricCard("offers", "Outstanding offers", fmtNumber(index.offers.length)),
        ),
        h("h2", {}, "Resources"),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "data", id: "resources" },
            h("thead", {}, h("tr", {}, ["", "total", "used", "offered", "idle"].map((t) => h("th", { class: t ? "num" : null }, t)), h("th", {}, "used + offered"))),
            h("tbody", {}, resourceRows),
          ),
        ),
        h("h2", {}, "Tasks by state"),
        h(
          "div",
          { class: "cards" },
          states.map((s) => metricCard(s, s.replace(/^TASK_/, ""), fmtNumber(byState.get(s) || 0))),
        ),
        h("h2", {}, "Master"),
        h(
          "div",
          { class: "panel" },
          kv([
            ["leader", h("a", { href: "#/master" }, `${state.leader_info.hostname}:${state.leader_info.port}`)],
            ["cluster", state.cluster || h("span", { class: "muted" }, "unnamed")],
            ["version", state.version],
            ["started", `${fmtTime(state.start_time)} (up ${fmtDuration(Date.now() / 1000 - state.start_time)})`],
          ]),
        ),
      );
    },
  }));
}

// ------------------------------------------------------------------ agents

export function agentsPage() {
  return statePage((el) => {
    const table = dataTable({
      filter: "Filter agents",
      empty: "No agents",
      sort: { key: "hostname" },
      rowAttrs: (a) => ({ dataset: { agent: a.id } }),
      columns: [
        { key: "id", label: "ID", cell: (a) => h("a", { href: hashOf("agents", a.id), class: "mono" }, a.id) },
        { key: "hostname", label: "Host", value: (a) => `${a.hostname}:${a.port}` },
        { key: "active", label: "State", value: (a) => (a.active ? "ACTIVE" : "INACTIVE"), cell: (a) => stateBadge(a.active ? "ACTIVE" : "INACTIVE") },
        ...SCALARS.map((name) => ({
          key: name,
          label: name,
          num: true,
          value: (a) => amount(a.used_resources, name),
          cell: (a) => usage(amount(a.used_resources, name), amount(a.resources, name), name),
        })),
        { key: "tasks", label: "Tasks", num: true, value: (a) => (index.tasksByAgent.get(a.id) || []).filter((t) => !TERMINAL.has(t.state)).length },
        { key: "registered", label: "Registered", value: (a) => a.registered_time, cell: (a) => fmtTime(a.registered_time) },
      ],
    });
    el.append(h("h1", {}, "Agents"), table.el);
    return { update: () => table.update(state.slaves) };
  });
}

export function agentPage({ params }) {
  return statePage((el) => {
    const head = h("div");
    const tasks = tasksTable();
    el.append(head, h("h2", {}, "Tasks"), tasks.el);
    return {
      update() {
        const agent = index.agents.get(params.id);
        if (!agent) {
          head.replaceChildren(crumbs(h("a", { href: "#/agents" }, "Agents"), params.id), h("p", { class: "empty" }, `No agent ${params.id}`));
          tasks.update([]);
          return;
        }
        const attributes = Object.entries(agent.attributes || {});
        const reserved = Object.entries(agent.reserved_resources || {});
        const free = Object.fromEntries(
          SCALARS.map((n) => [n, amount(agent.resources, n) - amount(agent.used_resources, n) - amount(agent.offered_resources, n)]),
        );
        head.replaceChildren(
          crumbs(h("a", { href: "#/agents" }, "Agents"), agent.id),
          h("h1", {}, `${agent.hostname}:${agent.port} `, stateBadge(agent.active ? "ACTIVE" : "INACTIVE")),
          h(
            "div",
            { class: "grid2" },
            h(
              "div",
              { class: "panel" },
              kv([
                ["id", h("span", { class: "mono" }, agent.id)],
                ["pid", h("span", { class: "mono" }, agent.pid)],
                ["version", agent.version],
                ["registered", fmtTime(agent.registered_time)],
                ["re-registered", fmtTime(agent.reregistered_time) || "never"],
                ["attributes", attributes.length ? kv(attributes) : h("span", { class: "muted" }, "none")],
              ]),
            ),
            h(
              "div",
              {},
              resourceTable([["total", agent.resources], ["used", agent.used_resources], ["offered", agent.offered_resources], ["free", free]]),
              h(
                "div",
                { class: "panel", style: { marginTop: "12px" } },
                kv(SCALARS.map((n) => [n, usage(amount(agent.used_resources, n), amount(agent.resources, n), n)])),
              ),
            ),
          ),
          ...(reserved.length ? [h("h2", {}, "Reserved"), resourceTable(reserved)] : []),
        );
        tasks.update(index.tasksByAgent.get(agent.id) || []);
      },
    };
  });
}

// ------------------------------------------------------------------ frameworks

function frameworkRoles(f) {
  return (f.roles || [f.role]).join(", ");
}

export function frameworksPage() {
  return statePage((el) => {
    const table = dataTable({
      filter: "Filter frameworks",
      empty: "No frameworks",
      sort: { key: "name" },
      rowAttrs: (f) => ({ dataset: { framework: f.id } }),
      columns: [
        { key: "id", label: "ID", cell: (f) => h("a", { href: hashOf("frameworks", f.id), class: "mono" }, f.id) },
        { key: "name", label: "Name", cell: (f) => h("a", { href: hashOf("frameworks", f.id) }, f.name) },
        { key: "status", label: "State", value: frameworkStatus, cell: (f) => stateBadge(frameworkStatus(f)) },
        { key: "role", label: "Roles", value: frameworkRoles },
        { key: "user", label: "User" },
        { key: "tasks", label: "Active tasks", num: true, value: (f) => f.tasks.length },
        { key: "cpus", label: "CPUs", num: true, value: (f) => amount(f.used_resources, "cpus"), cell: (f) => fmtCpus(amount(f.used_resources, "cpus")) },
        { key: "mem", label: "Mem", num: true, value: (f) => amount(f.used_resources, "mem"), cell: (f) => fmtMiB(amount(f.used_resources, "mem")) },
        { key: "registered", label: "Registered", value: (f) => f.registered_time, cell: (f) => fmtTime(f.registered_time) },
      ],
    });
    el.append(h("h1", {}, "Frameworks"), table.el);
    return { update: () => table.update([...state.frameworks, ...state.completed_frameworks]) };
  });
}

export function frameworkPage({ params }) {
  return statePage((el) => {
    const head = h("div");
    const tasks = tasksTable();
    const offers = offersTable();
    el.append(head, h("h2", {}, "Tasks"), tasks.el, h("h2", {}, "Outstanding offers"), offers.el);
    return {
      update() {
        const f = index.frameworks.get(params.id);
        if (!f) {
          head.replaceChildren(crumbs(h("a", { href: "#/frameworks" }, "Frameworks"), params.id), h("p", { class: "empty" }, `No framework ${params.id}`));
          tasks.update([]);
          offers.update([]);
          return;
        }
        head.replaceChildren(
          crumbs(h("a", { href: "#/frameworks" }, "Frameworks"), f.id),
          h("h1", {}, `${f.name} `, stateBadge(frameworkStatus(f))),
          h(
            "div",
            { class: "grid2" },
            h(
              "div",
              { class: "panel" },
              kv([
                ["id", h("span", { class: "mono" }, f.id)],
                ["roles", frameworkRoles(f)],
                ["user", f.user],
                ["principal", f.principal || h("span", { class: "muted" }, "none")],
                ["hostname", f.hostname],
                ["web UI", f.webui_url ? h("a", { href: f.webui_url }, f.webui_url) : h("span", { class: "muted" }, "none")],
                ["failover timeout", fmtDuration(f.failover_timeout)],
                ["checkpoint", String(f.checkpoint)],
                ["capabilities", f.capabilities.join(", ")],
                ["registered", fmtTime(f.registered_time)],
                ["re-registered", fmtTime(f.reregistered_time) || "never"],
                ["unregistered", fmtTime(f.unregistered_time) || "no"],
              ]),
            ),
            resourceTable([["used", f.used_resources], ["offered", f.offered_resources]]),
          ),
        );
        tasks.update([...f.tasks, ...f.unreachable_tasks, ...f.completed_tasks]);
        offers.update(f.offers);
      },
    };
  });
}

// ------------------------------------------------------------------ tasks

export function tasksPage() {
  return statePage((el) => {
    const table = tasksTable();
    el.append(h("h1", {}, "Tasks"), table.el);
    return { update: () => table.update(index.tasks) };
  });
}

export function taskPage({ params, query }) {
  return statePage((el) => ({
    update() {
      const task = findTask(params.id, query.framework);
      const path = crumbs(h("a", { href: "#/tasks" }, "Tasks"), params.id);
      if (!task) {
        el.replaceChildren(path, h("p", { class: "empty" }, `No task ${params.id}: the master keeps only recent completed tasks`));
        return;
      }
      const history = task.statuses.map((s, i) =>
        h(
          "tr",
          { dataset: { state: s.state } },
          h("td", {}, stateBadge(s.state)),
          h("td", { class: "nowrap" }, fmtTime(s.timestamp)),
          h("td", { class: "num" }, i ? `+${fmtDuration(s.timestamp - task.statuses[i - 1].timestamp)}` : ""),
          h("td", {}, s.healthy === undefined ? "" : stateBadge(s.healthy ? "HEALTHY" : "UNHEALTHY")),
        ),
      );
      const labels = (task.labels || []).map((l) => [l.key, l.value ?? ""]);
      el.replaceChildren(
        path,
        h("h1", {}, `${task.name || task.id} `, stateBadge(task.state)),
        h(
          "p",
          { class: "toolbar" },
          h("a", { href: sandboxHash(task), "data-link": "sandbox" }, "Sandbox"),
          h("a", { href: sandboxHash(task, "stdout") }, "stdout"),
          h("a", { href: sandboxHash(task, "stderr") }, "stderr"),
        ),
        h(
          "div",
          { class: "grid2" },
          h(
            "div",
            { class: "panel" },
            kv([
              ["id", h("span", { class: "mono" }, task.id)],
              ["framework", frameworkLink(task.framework_id)],
              ["agent", agentLink(task.slave_id)],
              ["executor", task.executor_id || h("span", { class: "muted" }, "command (the agent runs it)")],
              ["role", task.role],
              ["container", task.container ? task.container.type : "none"],
              ["health check", task.health_check ? task.health_check.type || "yes" : "none"],
              ["labels", labels.length ? kv(labels) : h("span", { class: "muted" }, "none")],
            ]),
          ),
          resourceTable([["amount", task.resources]]),
        ),
        h("h2", {}, "Status history"),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "data", id: "status-history" },
            h("thead", {}, h("tr", {}, ["state", "time", "after", "health"].map((t) => h("th", { class: t === "after" ? "num" : null }, t)))),
            h("tbody", {}, history),
          ),
        ),
      );
    },
  }));
}

export function sandboxRoute({ params, query }) {
  return statePage((el) => {
    const task = findTask(params.id, query.framework);
    const path = crumbs(h("a", { href: "#/tasks" }, "Tasks"), task ? h("a", { href: taskHash(task) }, task.id) : params.id, "sandbox");
    if (!task) {
      el.append(path, h("p", { class: "empty" }, `No task ${params.id}`));
      return {};
    }
    const sandbox = sandboxPage(task, query, agentLink(task.slave_id));
    el.append(path, h("h1", {}, `${task.name || task.id} `, stateBadge(task.state)), sandbox.el);
    return { destroy: sandbox.stop }; // built once: the tail goes on while the state changes
  });
}
