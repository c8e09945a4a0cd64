// The sandbox browser: a task's run directory through the master's /files/browse and /files/read (which
// proxy to the agent holding it), and a live tail of one file that follows its growing size.
import { fmtBytes, fmtTime, getJSON, h, hashOf, kv } from "/ui/core.js";

const TAIL_START = 64 * 1024; // how much of an existing file the viewer shows first
const CHUNK = 64 * 1024; // the agent answers at most 16 pages per read
const KEEP = 1024 * 1024; // characters kept in the viewer: a chatty task must not grow the page without end
const FOLLOW_MS = 1000;

// The virtual path every agent serves for an executor's latest run (a command task's executor is the task).
export function sandboxRoot(task) {
  return `/frameworks/${task.framework_id}/executors/${task.executor_id || task.id}/runs/latest`;
}

export function sandboxHash(task, file) {
  const query = new URLSearchParams({ framework: task.framework_id });
  if (file) query.set("file", file);
  return `${hashOf("tasks", task.id, "sandbox")}?${query}`;
}

const files = (path, op, extra = "") => `/files/${op}?path=${encodeURIComponent(path)}${extra}`;
const utf8 = new TextEncoder();

function tail(path) {
  const status = h("span", { class: "muted" }, "reading\u2026");
  const pre = h("pre", { class: "log", dataset: { path } });
  let offset = null;
  let timer = null;
  let stopped = false;

  function show(text) {
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
    pre.append(text);
    if (pre.textContent.length > KEEP) pre.textContent = pre.textContent.slice(-KEEP / 2);
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }

  async function follow() {
    try {
      if (offset === null) {
        const { offset: size } = await getJSON(files(path, "read", "&offset=-1"));
        offset = Math.max(0, size - TAIL_START);
        if (offset > 0) show(`\u2026 the first ${fmtBytes(offset)} are not shown\n`);
      }
      for (;;) {
        const { data } = await getJSON(files(path, "read", `&offset=${offset}&length=${CHUNK}`));
        if (stopped || !data) break;
        const read = utf8.encode(data).length;
        offset += read;
        show(data);
        if (read < CHUNK) break; // a short read: caught up
      }
      status.textContent = `following, ${fmtBytes(offset)}`;
    } catch (e) {
      status.textContent = e.message;
    }
    if (!stopped) timer = setTimeout(follow, FOLLOW_MS);
  }

  follow();
  return {
    el: h("div", {}, h("div", { class: "toolbar" }, h("strong", {}, path.split("/").pop()), status), pre),
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function listing(entries, root, task, dir) {
  const rows = entries.map((entry) => {
    const name = entry.path.slice(root.length + 1);
    const isDir = entry.mode.startsWith("d");
    const target = isDir
      ? `${hashOf("tasks", task.id, "sandbox")}?${new URLSearchParams({ framework: task.framework_id, dir: name })}`
      : sandboxHash(task, name);
    const label = name.slice(dir ? dir.length + 1 : 0) + (isDir ? "/" : "");
    return h(
      "tr",
      {},
      h("td", { class: "mono" }, entry.mode),
      h("td", {}, h("a", { href: target, class: "mono" }, label)),
      h("td", { class: "num" }, isDir ? "" : fmtBytes(entry.size)),
      h("td", { class: "nowrap" }, fmtTime(entry.mtime)),
      h("td", {}, isDir ? "" : h("a", { href: files(entry.path, "download") }, "download")),
    );
  });
  const head = ["mode", "name", "size", "modified", ""].map((t) => h("th", { class: t === "size" ? "num" : null }, t));
  return h(
    "div",
    { class: "table-wrap" },
    h("table", { class: "data" }, h("thead", {}, h("tr", {}, head)), h("tbody", {}, rows)),
  );
}

// The page for one task's sandbox: `query.dir` is the directory shown, `query.file` the file tailed.
// It is built once, not on every state: the tail goes on while the task's state changes.
export function sandboxPage(task, query, agentLink) {
  const root = sandboxRoot(task);
  const dir = query.dir || "";
  const browsed = dir ? `${root}/${dir}` : root;
  const list = h("div", {}, h("p", { class: "muted" }, "listing\u2026"));
  const viewer = query.file ? tail(`${root}/${query.file}`) : null;
  getJSON(files(browsed, "browse")).then(
    (entries) => list.replaceChildren(listing(entries, root, task, dir)),
    (e) => list.replaceChildren(h("p", { class: "error-banner" }, e.message)),
  );
  const el = h(
    "div",
    {},
    h("h2", {}, "Sandbox"),
    kv([
      ["agent", agentLink],
      ["path", h("span", { class: "mono" }, browsed)],
    ]),
    h(
      "p",
      { class: "toolbar" },
      h("a", { href: sandboxHash(task, "stdout") }, "stdout"),
      h("a", { href: sandboxHash(task, "stderr") }, "stderr"),
      dir ? h("a", { href: sandboxHash(task) }, "up to the sandbox") : null,
    ),
    list,
    viewer ? h("div", { class: "viewer" }, viewer.el) : null,
  );
  return { el, stop: () => viewer && viewer.stop() };
}
