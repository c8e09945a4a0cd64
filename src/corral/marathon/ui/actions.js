// actions.js: how the Marathon UI sends changes: 409 (the app is locked by a deployment) offers to force.

import { HttpError, showError } from "./core.js";
import { confirmDialog } from "./forms.js";

/**
 * send(false) first; on 409 ask, then send(true) with `?force=true` (upstream's "Stop the current deployment
 * and scale/restart" dialog). Resolves to the answer, or null when the user declines.
 */
export async function withForce(send) {
  try {
    return await send(false);
  } catch (err) {
    if (!(err instanceof HttpError) || err.status !== 409) throw err;
    const yes = await confirmDialog(
      "The app is locked by a deployment",
      `${err.message}. Stop that deployment and apply this change anyway?`,
      { label: "Force", kind: "danger" },
    );
    return yes ? send(true) : null;
  }
}

/** A click handler running `fn`; what it throws goes to the page's error banner. */
export function clicked(fn) {
  return () => Promise.resolve().then(fn).catch(showError);
}

/** `url` with `?force=true` appended when `force`. */
export function forced(url, force) {
  return force ? `${url}${url.includes("?") ? "&" : "?"}force=true` : url;
}
