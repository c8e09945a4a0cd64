// session.js: logging in to a daemon that authenticates (served at /ui/session.js, built on core.js).
//
// On a 401, from a fetch or an event stream, the page's content is hidden and a login form opens: a modal
// <dialog> (keyboard first; above any other dialog, so a half-filled app or job form survives the login). It
// posts the principal and password to /login as HTTP Basic; the daemon answers with an HttpOnly cookie that
// every later fetch and event stream carries, so the password is dropped once sent and never stored. Then the
// page reloads its data (`onLogin`) and its event streams reconnect, and the top bar names the principal
// beside a Log out button (POST /logout clears the cookie and brings the form back). Only the principal's
// name, no secret, is kept (localStorage) to show that control after a reload. A daemon that authenticates
// nothing never answers 401: then none of this appears.
//
//   startSession({label?, onLogin?})   call once from a UI's entry point. label names the first field
//       ("Principal" on Mesos, "User" on Marathon and Chronos); onLogin reloads the page's data.

import { $, HttpError, h, holdStreams, onUnauthorized, resumeStreams, sendJSON, showError } from "./core.js";

const STORED = "corral.principal";

function basic(principal, password) {
  const bytes = new TextEncoder().encode(`${principal}:${password}`);
  return `Basic ${btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""))}`;
}

const messageOf = (err) => (err instanceof HttpError && err.body && err.body.message) || err.message;

export function startSession({ label = "Principal", onLogin = () => {} } = {}) {
  let required = false;
  let form = null;
  const control = h("span", { class: "session", hidden: true });
  const live = $("#live");
  if (live) live.before(control);
  else $(".topbar").append(control);

  function showPrincipal(principal) {
    const logout = h("button", { type: "button", onclick: logOut }, "Log out");
    control.replaceChildren(h("span", { class: "muted", title: "logged in as" }, principal), logout);
    control.hidden = false;
  }

  function loginForm() {
    const principal = h("input", {
      id: "login-principal",
      type: "text",
      autocomplete: "username",
      required: true,
    });
    const password = h("input", {
      id: "login-password",
      type: "password",
      autocomplete: "current-password",
      required: true,
    });
    const problem = h("p", { class: "login-error", role: "alert", hidden: true });
    const submit = h("button", { type: "submit", class: "primary" }, "Log in");
    const el = h(
      "dialog",
      { class: "login", "aria-labelledby": "login-title" },
      h(
        "form",
        {
          onsubmit: (ev) => {
            ev.preventDefault();
            logIn();
          },
        },
        h("h2", { id: "login-title" }, "Log in"),
        h("p", { class: "muted" }, `${location.host} asks who you are.`),
        h("label", { for: principal.id }, label),
        principal,
        h("label", { for: password.id }, "Password"),
        password,
        problem,
        h("div", { class: "login-actions" }, submit),
      ),
    );
    // Esc may close a modal dialog whatever `cancel` does: while a login is needed, the form comes back.
    el.addEventListener("cancel", (ev) => ev.preventDefault());
    el.addEventListener("close", () => required && el.showModal());
    document.body.append(el);

    function say(message) {
      problem.textContent = message;
      problem.hidden = !message;
    }

    async function logIn() {
      submit.disabled = true;
      try {
        const answer = await sendJSON("POST", "/login", undefined, {
          Authorization: basic(principal.value, password.value),
        });
        loggedIn(answer.principal);
      } catch (err) {
        say(messageOf(err));
        password.focus();
      } finally {
        password.value = "";
        submit.disabled = false;
      }
    }

    function open(message) {
      say(message);
      if (!el.open) el.showModal();
      (principal.value ? password : principal).focus();
    }

    return { el, open };
  }

  function loginRequired(message) {
    if (required) return; // the form is up: what it shows is its own errors, not the page's refused fetches
    required = true;
    localStorage.removeItem(STORED);
    control.hidden = true;
    $("main").hidden = true;
    form = form || loginForm();
    form.open(message);
  }

  function loggedIn(principal) {
    required = false;
    localStorage.setItem(STORED, principal);
    form.el.close();
    $("main").hidden = false;
    showPrincipal(principal);
    resumeStreams();
    onLogin();
  }

  async function logOut() {
    try {
      await sendJSON("POST", "/logout");
    } catch (err) {
      showError(err);
      return;
    }
    holdStreams();
    loginRequired("");
  }

  onUnauthorized(loginRequired);
  const principal = localStorage.getItem(STORED);
  if (principal) showPrincipal(principal);
}
