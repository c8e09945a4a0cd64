// graph.js: the dependency graph (#/graph, #/graph?job=<name> for one job's ancestors and descendants), drawn
// as inline SVG with no library. Layout: every job with an edge goes in a column by its longest path from a
// root (parents left of children), rows in each column ordered by a few barycenter sweeps to shorten edges;
// jobs without dependencies are listed below the drawing instead of widening it. Nodes are coloured by last
// outcome.

import { fmtTime, h } from "./core.js";
import { store } from "./store.js";
import { stateKind } from "./jobs.js";

const NODE_W = 190;
const NODE_H = 36;
const GAP_X = 90;
const GAP_Y = 16;
const PAD = 16; // room for an edge's lane above the first row
const SWEEPS = 4;
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children.flat()) if (child) el.append(child);
  return el;
}

/** Columns by longest path from a root; a node on a cycle (the API refuses them) stays in column 0. */
function columnsOf(names, parentsOf) {
  const column = new Map();
  const visiting = new Set();
  const depth = (name) => {
    if (column.has(name)) return column.get(name);
    if (visiting.has(name)) return 0;
    visiting.add(name);
    const parents = parentsOf(name);
    const d = parents.length ? 1 + Math.max(...parents.map(depth)) : 0;
    visiting.delete(name);
    column.set(name, d);
    return d;
  };
  for (const name of names) depth(name);
  return column;
}

/** Positions of `rows` (jobs with parents in the set, or children in it); edges are [parent, child] pairs. */
export function layout(rows) {
  const known = new Map(rows.map((r) => [r.name, r]));
  const edges = [];
  for (const row of rows) for (const p of row.parents) if (known.has(p)) edges.push([p, row.name]);
  const linked = new Set(edges.flat());
  const parentsOf = (n) => known.get(n).parents.filter((p) => linked.has(p));
  const childrenOf = new Map([...linked].map((n) => [n, []]));
  for (const [p, c] of edges) childrenOf.get(p).push(c);
  const column = columnsOf([...linked].sort(), parentsOf);
  const columns = [];
  for (const name of [...linked].sort()) (columns[column.get(name)] ||= []).push(name);
  const index = new Map();
  const reindex = (col) => col.forEach((n, i) => index.set(n, i));
  columns.forEach(reindex);
  const mean = (ns) => (ns.length ? ns.reduce((s, n) => s + index.get(n), 0) / ns.length : null);
  const sortBy = (col, neighbours) => {
    const keyed = col.map((n, i) => [mean(neighbours(n)) ?? i, i, n]);
    keyed.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    col.splice(0, col.length, ...keyed.map((k) => k[2]));
    reindex(col);
  };
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    for (const col of columns.slice(1)) sortBy(col, parentsOf);
    for (const col of columns.slice(0, -1).reverse()) sortBy(col, (n) => childrenOf.get(n));
  }
  const nodes = new Map();
  columns.forEach((col, x) =>
    col.forEach((name, y) =>
      nodes.set(name, { x: PAD + x * (NODE_W + GAP_X), y: PAD + y * (NODE_H + GAP_Y) }),
    ),
  );
  const tallest = Math.max(0, ...columns.map((c) => c.length));
  return {
    nodes,
    edges,
    isolated: rows.filter((r) => !linked.has(r.name)).map((r) => r.name),
    width: 2 * PAD + columns.length * NODE_W + Math.max(0, columns.length - 1) * GAP_X,
    height: 2 * PAD + tallest * NODE_H + Math.max(0, tallest - 1) * GAP_Y,
  };
}

/** `name`, its ancestors and its descendants. */
function related(name) {
  const keep = new Set([name]);
  const walk = (start, next) => {
    const todo = [start];
    while (todo.length) {
      for (const n of next(todo.pop())) {
        if (!keep.has(n) && store.jobs.has(n)) {
          keep.add(n);
          todo.push(n);
        }
      }
    }
  };
  walk(name, (n) => (store.jobs.get(n) ? store.jobs.get(n).parents : []));
  const children = new Map();
  for (const row of store.jobs.values())
    for (const p of row.parents) (children.get(p) || children.set(p, []).get(p)).push(row.name);
  walk(name, (n) => children.get(n) || []);
  return [...keep].map((n) => store.jobs.get(n)).filter(Boolean);
}

function label(name) {
  const room = Math.floor((NODE_W - 20) / 7.2);
  return name.length > room ? `${name.slice(0, room - 1)}\u2026` : name;
}

function nodeTitle(row) {
  const when = (t) => fmtTime(t) || "never";
  const last =
    row.status === "fresh"
      ? "has not run yet"
      : `last success ${when(row.lastSuccess)}, last failure ${when(row.lastError)}`;
  return `${row.name}: ${row.state}; ${last}`;
}

/**
 * From the parent's right side to the child's left side. An edge to the next column is one curve; a longer
 * one would cross the boxes between, so it climbs into the gap above the higher of its rows, runs along it,
 * and comes down into the child.
 */
function edgePath(a, b) {
  const [x1, y1, x2, y2] = [a.x + NODE_W, a.y + NODE_H / 2, b.x, b.y + NODE_H / 2];
  if (x2 - x1 <= GAP_X) {
    const bend = (x2 - x1) / 2;
    return `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`;
  }
  const lane = Math.min(a.y, b.y) - GAP_Y / 2;
  const q = GAP_X / 4;
  return (
    `M ${x1} ${y1} C ${x1 + q} ${y1}, ${x1 + q} ${lane}, ${x1 + 2 * q} ${lane} ` +
    `L ${x2 - 2 * q} ${lane} C ${x2 - q} ${lane}, ${x2 - q} ${y2}, ${x2} ${y2}`
  );
}

export function drawGraph(rows, focus) {
  const { nodes, edges, isolated, width, height } = layout(rows);
  const marker = svg(
    "marker",
    {
      id: "arrow",
      viewBox: "0 0 10 10",
      refX: 10,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: "auto-start-reverse",
    },
    svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }),
  );
  const lines = edges.map(([p, c]) => {
    const a = nodes.get(p);
    const b = nodes.get(c);
    return svg("path", {
      class: "edge",
      "data-edge": `${p}->${c}`,
      d: edgePath(a, b),
      "marker-end": "url(#arrow)",
    });
  });
  const boxes = [...nodes].map(([name, at]) => {
    const row = store.jobs.get(name);
    const classes = [
      "node",
      row.status,
      stateKind(row.state),
      row.disabled ? "disabled" : "",
      name === focus ? "focus" : "",
    ];
    return svg(
      "a",
      {
        href: `#/jobs/${encodeURIComponent(name)}`,
        class: classes.filter(Boolean).join(" "),
        "data-node": name,
      },
      svg("title", {}, nodeTitle(row)),
      svg("rect", { x: at.x, y: at.y, width: NODE_W, height: NODE_H, rx: 7 }),
      svg("text", { x: at.x + 10, y: at.y + NODE_H / 2 + 4.5 }, label(name)),
    );
  });
  const drawing = edges.length
    ? svg(
        "svg",
        {
          class: "dag",
          width,
          height,
          viewBox: `0 0 ${width} ${height}`,
          role: "img",
          "aria-label": "dependency graph",
        },
        svg("defs", {}, marker),
        lines,
        boxes,
      )
    : h("p", { class: "empty" }, "No dependent jobs: add a job that runs after a parent to see edges here.");
  const others = isolated.length
    ? h(
        "div",
        { class: "isolated" },
        h("h2", {}, `Jobs without dependencies (${isolated.length})`),
        h(
          "div",
          { class: "chips" },
          isolated.map((n) =>
            h("a", { href: `#/jobs/${encodeURIComponent(n)}`, class: `chip ${store.jobs.get(n).status}` }, n),
          ),
        ),
      )
    : null;
  return h("div", {}, h("div", { class: "graph-wrap" }, drawing), others);
}

export function graphPage({ query }) {
  const focus = query.job || null;
  const holder = h("div");
  const header = h(
    "div",
    {},
    h("h1", {}, focus ? `Dependencies of ${focus}` : "Dependency graph"),
    focus ? h("p", {}, h("a", { href: "#/graph" }, "Show every job")) : null,
    h(
      "div",
      { class: "legend" },
      ["success", "failure", "fresh"].map((s) => h("span", { class: `chip ${s}` }, s)),
      h("span", { class: "chip running" }, "running"),
      h("span", { class: "chip queued" }, "queued"),
    ),
  );
  const el = h("div", {}, header, holder);
  const update = () => {
    if (!store.loaded) return;
    const rows = focus ? related(focus) : [...store.jobs.values()];
    holder.replaceChildren(drawGraph(rows, focus));
  };
  update();
  return { el, update };
}
