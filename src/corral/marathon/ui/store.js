// store.js: what the Marathon UI knows, kept in step with the server by its event stream.
//
// Everything comes from the v2 API. /v2/events says which apps changed (status updates, health, deployments);
// those apps are refetched one by one, or the whole list when many changed at once, and the deployments and
// the launch queue with them. Refetches are coalesced and spaced by what they cost, so a burst of 10,000
// status updates becomes a few list fetches, not 10,000 requests. After every (re)connect everything is
// refetched: events may have been missed while the stream was down.

import { coalesce, follow, getJSON, showError, clearError, HttpError } from "./core.js";

const LIST_EMBEDS = "embed=apps.counts&embed=apps.deployments&embed=apps.lastTaskFailure";
const DETAIL_EMBEDS =
  "embed=app.counts&embed=app.deployments&embed=app.lastTaskFailure&embed=app.tasks&embed=app.readiness";
const BATCH_LIMIT = 20; // more changed apps than this: fetch the list instead
const MIN_INTERVAL_MS = 200;

// The app an event is about, by event type.
const APP_EVENTS = {
  status_update_event: (e) => e.appId,
  health_status_changed_event: (e) => e.appId,
  instance_health_changed_event: (e) => e.runSpecId,
  failed_health_check_event: (e) => e.appId,
  unhealthy_instance_kill_event: (e) => e.appId,
  app_terminated_event: (e) => e.appId,
};
const DEPLOYMENT_EVENTS = [
  "deployment_info",
  "deployment_success",
  "deployment_failed",
  "deployment_step_success",
  "deployment_step_failure",
];

export const store = {
  info: null, // /v2/info
  apps: new Map(), // id -> AppInfo (counts, deployments, lastTaskFailure)
  queue: new Map(), // app id -> /v2/queue item (with lastUnusedOffers)
  deployments: [], // /v2/deployments
  detail: null, // {id, app (with tasks) | null, versions} of the app whose page is open
  loaded: false,
};

const listeners = new Set();
const dirty = { all: true, apps: new Set(), detail: false };
let watched = null;

export function appPath(id) {
  return id.split("/").filter(Boolean).map(encodeURIComponent).join("/");
}

export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Open the detail of one app: its tasks and versions are kept as well from now on. */
export function watchApp(id) {
  watched = id;
  store.detail = null;
  dirty.detail = true;
  sync();
}

export function unwatchApp() {
  watched = null;
  store.detail = null;
}

/**
 * After one of our own changes (events follow too, but an app whose change made no deployment sends none).
 */
export function touch(appId) {
  if (appId) dirty.apps.add(appId);
  else dirty.all = true;
  if (appId === watched) dirty.detail = true;
  sync();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function loadList() {
  const { apps } = await getJSON(`/v2/apps?${LIST_EMBEDS}`);
  store.apps = new Map(apps.map((a) => [a.id, a]));
}

/**
 * Through the list's `id` filter (a substring match), so an app that is gone is an empty answer, not a 404.
 */
async function loadApp(id) {
  const { apps } = await getJSON(`/v2/apps?id=${encodeURIComponent(id)}&${LIST_EMBEDS}`);
  const app = apps.find((a) => a.id === id);
  if (app) store.apps.set(id, app);
  else store.apps.delete(id);
}

async function loadQueue() {
  const { queue } = await getJSON("/v2/queue?embed=lastUnusedOffers");
  store.queue = new Map(queue.map((item) => [item.app.id, item]));
}

async function loadDeployments() {
  store.deployments = await getJSON("/v2/deployments");
}

async function loadDetail(id) {
  let app = null;
  try {
    ({ app } = await getJSON(`/v2/apps/${appPath(id)}?${DETAIL_EMBEDS}`));
  } catch (err) {
    if (!(err instanceof HttpError) || err.status !== 404) throw err;
  }
  const previous = store.detail && store.detail.id === id ? store.detail : null;
  let versions = previous ? previous.versions : [];
  if (app && (!previous || !previous.app || previous.app.version !== app.version)) {
    ({ versions } = await getJSON(`/v2/apps/${appPath(id)}/versions`));
  }
  if (watched === id) store.detail = { id, app, versions };
}

async function syncNow() {
  const started = Date.now();
  const all = dirty.all || dirty.apps.size > BATCH_LIMIT;
  const ids = all ? [] : [...dirty.apps];
  const detail = watched !== null && (all || dirty.detail || ids.includes(watched));
  dirty.all = false;
  dirty.apps.clear();
  dirty.detail = false;
  try {
    await Promise.all([
      all ? loadList() : Promise.all(ids.map(loadApp)),
      loadQueue(),
      loadDeployments(),
      detail ? loadDetail(watched) : null,
      all && store.info === null ? getJSON("/v2/info").then((info) => (store.info = info)) : null,
    ]);
    store.loaded = true;
    clearError();
  } catch (err) {
    dirty.all = true; // start over on the next change or reconnect
    showError(err);
  }
  for (const fn of listeners) fn();
  // Space refetches by what they cost: a list that takes 1 s to fetch is not fetched more than once a second.
  await sleep(Date.now() - started);
}

const sync = coalesce(syncNow, MIN_INTERVAL_MS);

function markApp(appId) {
  if (!appId) return;
  dirty.apps.add(appId);
  if (appId === watched) dirty.detail = true;
  sync();
}

function markDeployment(event) {
  const plan = event.plan || {};
  for (const step of plan.steps || []) {
    for (const action of step.actions || []) markApp(action.app);
  }
  sync();
}

export function startLive() {
  const types = [...Object.keys(APP_EVENTS), ...DEPLOYMENT_EVENTS, "group_change_success"];
  const events = {};
  for (const [type, appOf] of Object.entries(APP_EVENTS)) events[type] = (e) => markApp(appOf(e));
  for (const type of DEPLOYMENT_EVENTS) events[type] = markDeployment;
  events.group_change_success = () => touch(null);
  const query = types.map((t) => `event_type=${t}`).join("&");
  touch(null); // the first load does not wait for the stream
  return follow(`/v2/events?${query}`, { events, onOpen: () => touch(null) });
}
