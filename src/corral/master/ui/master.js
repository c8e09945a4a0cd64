// The master's web UI. Its only source is the public API: /master/state (refetched when /master/events says
// the state's version changed), /files/* for sandboxes. Every page renders from the latest state document.
import { clearError, coalesce, follow, getJSON, showError, showLive, startRouter } from "/ui/core.js";
import { adopt, state } from "/ui/cluster.js";
import {
  overviewPage,
  agentsPage,
  agentPage,
  frameworksPage,
  frameworkPage,
  tasksPage,
  taskPage,
  sandboxRoute,
} from "/ui/pages.js";
import { rolesPage, offersPage, leaderPage } from "/ui/allocation.js";
import { startSession } from "/ui/session.js";

const router = startRouter(
  {
    "/": overviewPage,
    "/agents": agentsPage,
    "/agents/:id": agentPage,
    "/frameworks": frameworksPage,
    "/frameworks/:id": frameworkPage,
    "/tasks": tasksPage,
    "/tasks/:id/sandbox": sandboxRoute,
    "/tasks/:id": taskPage,
    "/roles": rolesPage,
    "/offers": offersPage,
    "/master": leaderPage,
  },
  document.getElementById("main"),
);

let wanted = null; // the newest version /master/events announced
let shown = null; // the version the page shows (at least)

async function load() {
  const version = wanted;
  try {
    // A follower answers with a redirect: send the whole page to the leader, which serves it there.
    adopt(await getJSON("/master/state", { redirect: "manual" }));
  } catch (e) {
    if (e.status === 307) location.replace(`/master/redirect${location.hash}`);
    else showError(e);
    return;
  }
  shown = version;
  clearError();
  const leader = state.leader_info;
  const cluster = state.cluster ? `${state.cluster} \u00b7 ` : "";
  document.getElementById("cluster").textContent = `${cluster}leader ${leader.hostname}:${leader.port}`;
  router.refresh();
}

const refetch = coalesce(load, 500);
startSession({ onLogin: refetch });
follow("/master/events", {
  events: {
    state: ({ version }) => {
      wanted = version;
      if (version !== shown) refetch();
    },
  },
  onStatus: (status) => {
    showLive(status);
    if (status === "down") refetch(); // says why: this master is gone, or no longer leads (then: go on)
  },
});
refetch();
