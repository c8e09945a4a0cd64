// chronos.js: the Chronos UI's entry point: the routes, the New Job button, and the live job feed (store.js)
// that re-renders the open page with the names of the jobs each frame changed.

import { $, startRouter } from "./core.js";
import { jobsPage } from "./jobs.js";
import { jobDetailPage } from "./job_detail.js";
import { graphPage } from "./graph.js";
import { openJobForm } from "./job_form.js";
import { onChange, startLive } from "./store.js";
import { startSession } from "./session.js";

const router = startRouter(
  {
    "/": () => {
      location.replace("#/jobs");
      return jobsPage();
    },
    "/jobs": jobsPage,
    "/jobs/:name": jobDetailPage,
    "/graph": graphPage,
  },
  $("#outlet"),
);

$("#new-job").addEventListener("click", () => openJobForm());
onChange((names) => {
  if (router.page && router.page.update) router.page.update(names);
});
startSession({ label: "User" }); // the stream's snapshot on reconnect reloads everything
startLive();
