// core.js: what Corral's web UIs share (served at /ui/core.js; an ES module with no dependencies).
// Pages read the daemon's public JSON APIs only. Text is always escaped: h() makes text nodes, never parses HTML.
//
// Fetching
//   getJSON(url, init?) -> Promise<any>            GET; throws HttpError on non-2xx or network failure
//   sendJSON(method, url, body?, headers?) -> Promise<any>
//                                                  JSON body; resolves to the answer (null if empty)
//   class HttpError { status, message, body }      message taken from {message}, {error} or the text body;
//       status 0: no answer; with init {redirect: "manual"} a redirect throws status 307 (fetch hides which)
//   showError(errOrText) / clearError()            the banner under the top bar (#error, created if absent)
//   Every request sends the login cookie (credentials "same-origin") and X-Requested-With: XMLHttpRequest, so
//   a daemon's 401 carries no Basic challenge and the browser opens no password dialog of its own.
//   onUnauthorized(fn(message))                    fn runs on every 401 (session.js opens its login form)
// Live updates
//   follow(url, {events: {name: fn(data, ev)}, onOpen?, onStatus?}) -> {close()}
//       EventSource with reconnect (1 s doubling to 15 s); `data` is parsed JSON when it parses, else text.
//       onOpen runs on every (re)connect: refetch then, since events may have been missed while down.
//       onStatus("connecting" | "live" | "down"); by default showLive, which sets data-status and text of #live.
//       EventSource hides why a stream was refused: after a failed connect one fetch asks, and on a 401 the
//       stream holds (no retries) until resumeStreams().
//   holdStreams() / resumeStreams()                close every stream until resumed (log out, log in)
//   coalesce(fn, minMs) -> trigger()                runs async fn at most once per minMs, never two at a time,
//       and once more after a run if triggered during it (SSE burst -> one refetch)
// DOM
//   h(tag, attrs?, ...children) -> Element          attrs: class, style (object), dataset (object), on<event>
//       (function), true/false booleans, anything else as an attribute; href/src that are not http(s),
//       relative or #... become "#". Children: Node, string/number (text), arrays, null/false (skipped).
//   $(sel, root?) / $$(sel, root?)                  querySelector / querySelectorAll as an array
//   link(hash, text) -> <a href="#...">             badge(text, kind?) / stateBadge(state) -> <span class=badge>
//   bar(used, total) -> usage bar                    kv([[label, value], ...]) -> <table class=kv>
//   card(label, value, sub?) -> <div class=card>
// Tables
//   dataTable({columns, key?, pageSize?, sort?, filter?, empty?, rowAttrs?}) -> {el, update(rows)}
//       columns: [{key, label, value?: row => sort/search value (default row[key]), cell?: row => Node|string,
//       num?: true (right-aligned, sorts as a number), sortable?: false}]; sort: {key, desc}; filter: a
//       placeholder (false hides the box). Sorting and filtering run over all rows, only one page is in the
//       DOM (pages of 25 to 1000), so 10,000 rows stay quick. update(rows) keeps sort, filter and page.
//       rowAttrs?: row => attrs for the <tr> (e.g. {dataset: {id: row.id}}).
// Routing (hash based: #/agents/ID?x=1)
//   startRouter(routes, outlet, {notFound?, onChange?}) -> router
//       routes: {"/agents/:id": ({params, query, path}) => page}; a page is {el, update?(), destroy?()}.
//       router.refresh() calls the current page's update(); router.path is the current hash path.
//       Navigation marks `nav a[href="#/x"]` active when the path starts with /x.
//       Paths are matched as written (still URL-encoded); each :param is decoded. The last :param of a
//       pattern takes the rest of the path, slashes included.
//   hashOf(...segments) -> "#/a/b%2Fc"              a link target, each segment encoded
//   navigate(path, query?)                         sets location.hash
// Formatting
//   fmtBytes(bytes), fmtMiB(mib), fmtCpus(n), fmtNumber(n), fmtPercent(fraction), fmtTime(t),
//   fmtDuration(seconds). Times: epoch seconds (as Mesos sends them), epoch ms (>= 1e11) or ISO strings.

export class HttpError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function errorMessage(status, text) {
  try {
    const body = JSON.parse(text);
    const message = body && (body.message || body.error);
    if (message) return [typeof message === "string" ? message : JSON.stringify(message), body];
    return [`HTTP ${status}`, body];
  } catch {
    return [text.trim() || `HTTP ${status}`, text];
  }
}

const AJAX = { "X-Requested-With": "XMLHttpRequest" };
let unauthorized = () => {};

export function onUnauthorized(fn) {
  unauthorized = fn;
}

async function request(url, init) {
  let response;
  try {
    const headers = { ...AJAX, ...init.headers };
    response = await fetch(url, { credentials: "same-origin", ...init, headers });
  } catch (e) {
    throw new HttpError(0, `${url}: ${e.message || "network error"}`, null);
  }
  if (response.type === "opaqueredirect") throw new HttpError(307, `${url}: redirected`, null);
  const text = await response.text();
  if (!response.ok) {
    const [message, body] = errorMessage(response.status, text);
    if (response.status === 401) unauthorized(message);
    throw new HttpError(response.status, `${url}: ${message}`, body);
  }
  return text ? JSON.parse(text) : null;
}

export function getJSON(url, init = {}) {
  return request(url, { ...init, headers: { Accept: "application/json", ...(init.headers || {}) } });
}

export function sendJSON(method, url, body, headers = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return request(url, init);
}

function errorBanner() {
  let banner = document.getElementById("error");
  if (!banner) {
    banner = h("div", { id: "error", class: "error-banner", role: "alert", hidden: true });
    const topbar = $(".topbar");
    if (topbar) topbar.after(banner);
    else document.body.prepend(banner);
  }
  return banner;
}

export function showError(err) {
  if (err instanceof HttpError && err.status === 401) return; // the login form says it
  const banner = errorBanner();
  banner.textContent = err instanceof Error ? err.message : String(err);
  banner.hidden = false;
}

export function clearError() {
  const banner = document.getElementById("error");
  if (banner) banner.hidden = true;
}

// ------------------------------------------------------------------ live updates

export function showLive(status) {
  const el = document.getElementById("live");
  if (!el) return;
  el.dataset.status = status;
  el.textContent = { live: "live", connecting: "connecting", down: "disconnected" }[status];
}

const streams = new Set(); // every open follow(): {hold(), resume()}

export function holdStreams() {
  for (const stream of streams) stream.hold();
}

export function resumeStreams() {
  for (const stream of streams) stream.resume();
}

// The 401 message for `url`, or null if it is not refused with 401. Asked with fetch, which sees the status
// EventSource hides; the body of an accepted stream is not read, and a silent server is given up on in 5 s.
async function refusal(url) {
  const abort = new AbortController();
  const timeout = setTimeout(() => abort.abort(), 5000);
  try {
    const response = await fetch(url, {
      headers: { ...AJAX, Accept: "text/event-stream" },
      credentials: "same-origin",
      signal: abort.signal,
    });
    if (response.status !== 401) return null;
    return errorMessage(401, await response.text())[0];
  } catch {
    return null; // no answer: the reconnect finds out
  } finally {
    clearTimeout(timeout);
    abort.abort();
  }
}

export function follow(url, { events = {}, onOpen = () => {}, onStatus = showLive } = {}) {
  let source = null;
  let timer = null;
  let delay = 1000;
  let closed = false;
  let held = false;

  function connect() {
    timer = null;
    if (closed || held) return;
    onStatus("connecting");
    source = new EventSource(url); // same origin: it carries the login cookie
    source.onopen = () => {
      delay = 1000;
      onStatus("live");
      onOpen();
    };
    source.onerror = () => {
      // The browser retries by itself only while readyState is CONNECTING; after an HTTP error it gives up.
      if (source.readyState !== EventSource.CLOSED) {
        onStatus("connecting");
        return;
      }
      onStatus("down");
      retry();
    };
    for (const [name, handler] of Object.entries(events)) {
      source.addEventListener(name, (ev) => {
        let data = ev.data;
        try {
          data = JSON.parse(ev.data);
        } catch {
          // not JSON: hand over the text
        }
        handler(data, ev);
      });
    }
  }

  async function retry() {
    const message = await refusal(url);
    if (message !== null) {
      held = true;
      unauthorized(message);
    }
    if (closed || held || timer !== null) return;
    timer = setTimeout(connect, delay);
    delay = Math.min(delay * 2, 15000);
  }

  function stop() {
    clearTimeout(timer);
    timer = null;
    if (source) source.close();
    source = null;
  }

  const stream = {
    hold() {
      if (held) return;
      held = true;
      stop();
      onStatus("down");
    },
    resume() {
      if (!held) return;
      held = false;
      delay = 1000;
      stop();
      connect();
    },
  };
  streams.add(stream);
  connect();
  return {
    close() {
      closed = true;
      streams.delete(stream);
      stop();
    },
  };
}

export function coalesce(fn, minMs) {
  let running = false;
  let again = false;
  let last = 0;
  let timer = null;

  async function run() {
    timer = null;
    running = true;
    again = false;
    last = Date.now();
    try {
      await fn();
    } finally {
      running = false;
      if (again) trigger();
    }
  }

  function trigger() {
    if (running) {
      again = true;
      return;
    }
    if (timer !== null) return;
    timer = setTimeout(run, Math.max(0, last + minMs - Date.now()));
  }

  return trigger;
}

// ------------------------------------------------------------------ DOM

function safeUrl(value) {
  const text = String(value);
  return /^(https?:|\/|#|\?|\.|[^:]*$)/i.test(text.trim()) ? text : "#";
}

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") el.className = value;
      else if (name === "style" && typeof value === "object") Object.assign(el.style, value);
      else if (name === "dataset") Object.assign(el.dataset, value);
      else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
      else if (value === true) el.setAttribute(name, "");
      else if (name === "href" || name === "src") el.setAttribute(name, safeUrl(value));
      else el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

export function link(hash, text) {
  return h("a", { href: hash.startsWith("#") ? hash : `#${hash}` }, text);
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}`.trim() }, text);
}

const STATE_KINDS = [
  ["bad", /FAIL|ERROR|LOST|DROPPED|GONE|UNHEALTHY/],
  ["muted", /KILLED|INACTIVE|DISABLED|DISCONNECTED|SUSPENDED|COMPLETED/],
  ["warn", /KILLING|UNREACHABLE|UNKNOWN|DELAYED|RECOVER|OVERDUE|WAITING/],
  ["info", /STAGING|STARTING|PENDING|QUEUED|DEPLOY|SCALING|STARTED|FRESH/],
  ["ok", /RUNNING|HEALTHY|SUCCESS|ACTIVE|FINISHED|LEADER|IDLE|CONNECTED/],
];

export function stateBadge(state) {
  const text = String(state ?? "");
  const upper = text.toUpperCase();
  const found = STATE_KINDS.find(([, pattern]) => pattern.test(upper));
  return h("span", { class: `badge ${found ? found[0] : ""}`.trim(), dataset: { state: text } }, text);
}

export function bar(used, total) {
  const fraction = total > 0 ? Math.min(1, Math.max(0, used / total)) : 0;
  return h(
    "span",
    { class: "bar", title: `${fmtPercent(fraction)}` },
    h("span", { style: { width: `${(fraction * 100).toFixed(1)}%` } }),
  );
}

export function kv(pairs) {
  return h(
    "table",
    { class: "kv" },
    h(
      "tbody",
      {},
      pairs.map(([label, value]) => h("tr", {}, h("th", {}, label), h("td", {}, value))),
    ),
  );
}

export function card(label, value, sub) {
  return h(
    "div",
    { class: "card" },
    h("div", { class: "label" }, label),
    h("div", { class: "value" }, value),
    sub === undefined ? null : h("div", { class: "sub" }, sub),
  );
}

// ------------------------------------------------------------------ tables

const PAGE_SIZES = [25, 50, 100, 250, 1000];

const isBlank = (v) => v === null || v === undefined || v === "";
const collator = new Intl.Collator(undefined, { numeric: true }); // 10x faster than localeCompare per call

function compare(a, b, desc) {
  if (isBlank(a) || isBlank(b)) return isBlank(a) - isBlank(b); // blanks last, whatever the direction
  const order =
    typeof a === "number" && typeof b === "number"
      ? a - b
      : collator.compare(String(a), String(b));
  return desc ? -order : order;
}

export function dataTable({
  columns,
  pageSize = 50,
  sort = null,
  filter = "Filter",
  empty = "Nothing here",
  rowAttrs = () => ({}),
}) {
  const value = (column, row) => (column.value ? column.value(row) : row[column.key]);
  let all = [];
  let haystacks = [];
  let query = "";
  let sortKey = sort ? sort.key : null;
  let desc = sort ? Boolean(sort.desc) : false;
  let page = 0;
  let size = pageSize;
  let view = null; // the filtered, sorted rows; recomputed lazily

  const headRow = h("tr");
  const body = h("tbody");
  const table = h("table", { class: "data" }, h("thead", {}, headRow), body);
  const info = h("span");
  const prev = h("button", { type: "button", title: "previous page", onclick: () => go(page - 1) }, "\u2039");
  const next = h("button", { type: "button", title: "next page", onclick: () => go(page + 1) }, "\u203A");
  const sizes = h(
    "select",
    {
      title: "rows per page",
      onchange: () => {
        size = Number(sizes.value);
        page = 0;
        render();
      },
    },
    PAGE_SIZES.map((n) => h("option", { value: n, selected: n === size }, `${n} / page`)),
  );
  const search =
    filter === false
      ? null
      : h("input", {
          type: "search",
          placeholder: filter,
          oninput: () => {
            query = search.value.trim().toLowerCase();
            page = 0;
            view = null;
            render();
          },
        });
  const pager = h("span", { class: "pager" }, info, prev, next, sizes);
  const el = h(
    "div",
    { class: "datatable" },
    h("div", { class: "toolbar" }, search, h("span", { class: "spacer" }), pager),
    h("div", { class: "table-wrap" }, table),
  );

  for (const column of columns) {
    const th = h("th", { class: column.num ? "num" : null, scope: "col" }, column.label);
    if (column.sortable !== false) {
      th.dataset.sortable = column.key;
      th.addEventListener("click", () => {
        if (sortKey === column.key) desc = !desc;
        else [sortKey, desc] = [column.key, Boolean(column.num)];
        view = null;
        render();
      });
    }
    headRow.append(th);
  }

  function compute() {
    let rows = all;
    if (query) rows = rows.filter((_, i) => haystacks[i].includes(query));
    const column = columns.find((c) => c.key === sortKey);
    if (column) {
      const keyed = rows.map((row) => [value(column, row), row]);
      keyed.sort((a, b) => compare(a[0], b[0], desc));
      rows = keyed.map((pair) => pair[1]);
    }
    return rows;
  }

  function go(to) {
    page = to;
    render();
  }

  function render() {
    if (view === null) view = compute();
    const pages = Math.max(1, Math.ceil(view.length / size));
    page = Math.min(Math.max(0, page), pages - 1);
    const start = page * size;
    const shown = view.slice(start, start + size);
    for (const th of headRow.children) {
      const sorted = th.dataset.sortable && th.dataset.sortable === sortKey;
      if (sorted) th.setAttribute("aria-sort", desc ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    }
    const rows = shown.map((row) =>
      h(
        "tr",
        rowAttrs(row),
        columns.map((c) => h("td", { class: c.num ? "num" : null }, c.cell ? c.cell(row) : value(c, row))),
      ),
    );
    if (rows.length === 0) {
      rows.push(h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, empty)));
    }
    body.replaceChildren(...rows);
    const total = view.length === all.length ? "" : ` (of ${fmtNumber(all.length)})`;
    info.textContent = view.length
      ? `${fmtNumber(start + 1)}\u2013${fmtNumber(start + shown.length)} of ${fmtNumber(view.length)}${total}`
      : `0${total}`;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }

  function update(rows) {
    all = rows;
    haystacks = rows.map((row) =>
      columns
        .map((c) => value(c, row))
        .join(" ")
        .toLowerCase(),
    );
    view = null;
    render();
  }

  update([]);
  return { el, update };
}

// ------------------------------------------------------------------ routing

function parseHash() {
  const raw = location.hash.replace(/^#/, "");
  const at = raw.indexOf("?");
  const path = (at < 0 ? raw : raw.slice(0, at)) || "/";
  return { path, query: Object.fromEntries(new URLSearchParams(at < 0 ? "" : raw.slice(at + 1))) };
}

export function hashOf(...segments) {
  return `#/${segments.map((s) => encodeURIComponent(s)).join("/")}`;
}

function compile(pattern) {
  const names = [];
  const source = pattern
    .split("/")
    .map((part) => {
      if (part.startsWith(":")) {
        names.push(part.slice(1));
        return "(.+?)";
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return { regex: new RegExp(`^${source}/?$`), names };
}

export function startRouter(routes, outlet, { notFound, onChange = () => {} } = {}) {
  const table = Object.entries(routes).map(([pattern, handler]) => ({ ...compile(pattern), handler }));
  const router = { path: "/", page: null, refresh };

  function show() {
    const { path, query } = parseHash();
    if (router.page && router.page.destroy) router.page.destroy();
    router.path = path;
    let page = null;
    for (const route of table) {
      const match = route.regex.exec(path);
      if (match) {
        const params = Object.fromEntries(
          route.names.map((name, i) => [name, decodeURIComponent(match[i + 1])]),
        );
        page = route.handler({ params, query, path });
        break;
      }
    }
    if (page === null) page = notFound ? notFound(path) : { el: h("p", { class: "empty" }, `No page ${path}`) };
    router.page = page;
    outlet.replaceChildren(page.el);
    for (const a of $$("nav a[href^='#/']")) {
      const target = a.getAttribute("href").slice(1);
      a.classList.toggle("active", target === "/" ? path === "/" : path.startsWith(target));
    }
    onChange(router);
    window.scrollTo(0, 0);
  }

  function refresh() {
    if (router.page && router.page.update) router.page.update();
  }

  window.addEventListener("hashchange", show);
  show();
  return router;
}

export function navigate(path, query) {
  const search = query ? `?${new URLSearchParams(query)}` : "";
  location.hash = `#${path}${search}`;
}

// ------------------------------------------------------------------ formatting

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function fmtBytes(bytes) {
  if (bytes === null || bytes === undefined || Number.isNaN(Number(bytes))) return "";
  let n = Number(bytes);
  let unit = 0;
  while (Math.abs(n) >= 1024 && unit < UNITS.length - 1) {
    n /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2;
  return `${Number(n.toFixed(digits))} ${UNITS[unit]}`;
}

export function fmtMiB(mib) {
  return mib === null || mib === undefined ? "" : fmtBytes(Number(mib) * 1024 * 1024);
}

export function fmtCpus(n) {
  return n === null || n === undefined ? "" : String(Number(Number(n).toFixed(2)));
}

export function fmtNumber(n) {
  return n === null || n === undefined ? "" : Number(n).toLocaleString("en-US");
}

export function fmtPercent(fraction) {
  return fraction === null || fraction === undefined ? "" : `${Number((fraction * 100).toFixed(1))}%`;
}

function toMs(t) {
  if (t === null || t === undefined || t === "" || t === 0) return null;
  if (typeof t === "number") return t >= 1e11 ? t : t * 1000;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

const pad = (n) => String(n).padStart(2, "0");

export function fmtTime(t) {
  const ms = toMs(t);
  if (ms === null) return "";
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return "";
  let s = Math.abs(Number(seconds));
  if (s < 10) return `${Number(s.toFixed(1))}s`;
  s = Math.round(s);
  const parts = [
    [Math.floor(s / 86400), "d"],
    [Math.floor((s % 86400) / 3600), "h"],
    [Math.floor((s % 3600) / 60), "m"],
    [s % 60, "s"],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${n}${unit}`)
    .join(" ");
}
