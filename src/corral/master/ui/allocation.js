// The master UI's pages for how it allocates and who leads: roles, outstanding offers, leader and flags.
import { bar, dataTable, fmtPercent, fmtTime, h, kv } from "/ui/core.js";
import { amount, fmtAmount, index, offersTable, state, statePage } from "/ui/cluster.js";

export function rolesPage() {
  return statePage((el) => {
    const resourceColumns = (prefix, label) =>
      ["cpus", "mem"].map((name) => ({
        key: `${prefix}-${name}`,
        label: `${label} ${name}`,
        num: true,
        value: (r) => amount(r[prefix], name),
        cell: (r) => fmtAmount(name, amount(r[prefix], name)),
      }));
    const table = dataTable({
      filter: "Filter roles",
      empty: "No roles",
      sort: { key: "name" },
      rowAttrs: (r) => ({ dataset: { role: r.name } }),
      columns: [
        { key: "name", label: "Role" },
        { key: "weight", label: "Weight", num: true },
        { key: "share", label: "Dominant share", num: true, cell: (r) => h("div", {}, fmtPercent(r.share), bar(r.share, 1)) },
        { key: "frameworks", label: "Frameworks", num: true, value: (r) => r.frameworks.length },
        ...resourceColumns("allocated", "allocated"),
        ...resourceColumns("offered", "offered"),
        ...resourceColumns("reserved", "reserved"),
        {
          key: "quota",
          label: "Quota guarantee",
          value: (r) =>
            Object.entries(r.quota?.guarantee || {})
              .filter(([, v]) => v)
              .map(([n, v]) => `${n} ${fmtAmount(n, v)}`)
              .join(", "),
        },
      ],
    });
    el.append(h("h1", {}, "Roles"), table.el);
    return { update: () => table.update(state.roles || []) };
  });
}

export function offersPage() {
  return statePage((el) => {
    const table = offersTable();
    el.append(h("h1", {}, "Outstanding offers"), table.el);
    return { update: () => table.update(index.offers) };
  });
}

export function leaderPage() {
  return statePage((el) => {
    const head = h("div");
    const flags = dataTable({
      filter: "Filter flags",
      pageSize: 100,
      sort: { key: "name" },
      columns: [
        { key: "name", label: "Flag", cell: (f) => h("span", { class: "mono" }, f.name) },
        { key: "value", label: "Value", cell: (f) => h("span", { class: "mono" }, f.value) },
      ],
    });
    el.append(head, h("h2", {}, "Flags"), flags.el);
    return {
      update() {
        const leader = state.leader_info;
        const zk = state.flags.zk;
        head.replaceChildren(
          h("h1", {}, "Leader"),
          h(
            "div",
            { class: "grid2" },
            h(
              "div",
              { class: "panel", id: "leader-info" },
              kv([
                ["leader", `${leader.hostname}:${leader.port}`],
                ["leader id", h("span", { class: "mono" }, leader.id)],
                ["pid", h("span", { class: "mono" }, leader.pid)],
                ["cluster", state.cluster || h("span", { class: "muted" }, "unnamed")],
                ["version", `${state.version} (${state.build_user}, ${state.build_date})`],
                ["started", fmtTime(state.start_time)],
                ["elected", fmtTime(state.elected_time)],
              ]),
            ),
            h(
              "div",
              { class: "panel", id: "zookeeper" },
              h("strong", {}, "ZooKeeper"),
              zk
                ? kv([
                    ["ensemble", h("span", { class: "mono" }, zk)],
                    ["quorum", state.flags.quorum || ""],
                    ["leader", `${leader.hostname}:${leader.port}, elected by ZooKeeper`],
                  ])
                : h("p", { class: "muted" }, "Not used: this master was started without --zk, so it is the only master and leads alone."),
            ),
          ),
        );
        flags.update(Object.entries(state.flags).map(([name, value]) => ({ name, value: String(value) })));
      },
    };
  });
}
