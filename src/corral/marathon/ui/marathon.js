// marathon.js: the Marathon UI's entry point: the routes, the New App button, the deployments count in the
// navigation, the live link to the server (store.js) that re-renders the open page on every change, and the
// login form when Marathon asks for credentials (session.js).

import { $, startRouter } from "./core.js";
import { appsPage } from "./apps.js";
import { appDetailPage } from "./app_detail.js";
import { deploymentsPage } from "./deployments.js";
import { openAppForm } from "./app_form.js";
import { onChange, startLive, store, touch } from "./store.js";
import { startSession } from "./session.js";

const router = startRouter(
  {
    "/": () => {
      location.replace("#/apps");
      return appsPage();
    },
    "/apps": appsPage,
    "/apps/:id": ({ params }) => appDetailPage(`/${params.id}`),
    "/deployments": deploymentsPage,
  },
  $("#outlet"),
);

$("#new-app").addEventListener("click", () => openAppForm({ onSaved: () => touch(null) }));

onChange(() => {
  const count = $("#deployment-count");
  count.textContent = String(store.deployments.length);
  count.hidden = store.deployments.length === 0;
  router.refresh();
});
startSession({ label: "User", onLogin: () => touch(null) });
startLive();
