// store.js: the Chronos UI's jobs, kept by the server's /scheduler/events stream (a Corral addition): a
// snapshot of every job's row when the stream opens, then the rows of the jobs each change touched. No
// polling: the page re-renders when a frame arrives, and the open job's details and history are refetched
// when it changes.

import { follow } from "./core.js";

export const store = {
  jobs: new Map(), // name -> row: summary keys, counts, last success and error, nextRun
  loaded: false,
};

const listeners = new Set();

export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function changed(names) {
  for (const fn of listeners) fn(names);
}

/** Job URLs under the 3.x prefix (the name rule the form checks is 3.x's). */
export const jobUrl = (name, what = "job") => `/v1/scheduler/${what}/${encodeURIComponent(name)}`;

export function childrenOf(name) {
  return [...store.jobs.values()].filter((row) => row.parents.includes(name)).map((row) => row.name);
}

export function startLive() {
  return follow("/v1/scheduler/events", {
    events: {
      snapshot: ({ jobs }) => {
        store.jobs = new Map(jobs.map((row) => [row.name, row]));
        store.loaded = true;
        changed(null);
      },
      jobs: ({ jobs, removed }) => {
        for (const row of jobs) store.jobs.set(row.name, row);
        for (const name of removed) store.jobs.delete(name);
        changed(new Set([...jobs.map((row) => row.name), ...removed]));
      },
    },
  });
}
