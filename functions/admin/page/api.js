// The one way the console talks to Portico: the same HTTP API every client uses, with the
// signed-in staff member's token (kept in sessionStorage: it dies with the tab).
"use strict";

export const session = {
  token: sessionStorage.getItem("portico.token"),
  /** `GET /me`: the staff member, with `permissions` and `locale`. */
  me: null,
  /** Called when the API says the session ended (expired, signed out elsewhere, disabled). */
  onEnded: () => {},
};

export function signedIn(accessToken) {
  session.token = accessToken;
  sessionStorage.setItem("portico.token", accessToken);
}

export function signedOut() {
  session.token = null;
  session.me = null;
  sessionStorage.removeItem("portico.token");
}

/** Whether the staff member holds `permission` (the API checks again; this only hides what it
 *  would refuse). */
export const can = (permission) => Boolean(session.me?.permissions?.includes(permission));

// A stable random id for this browser, as every Portico client sends.
function deviceId() {
  let id = localStorage.getItem("portico.device");
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    id = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    localStorage.setItem("portico.device", id);
  }
  return id;
}

/** A refused call: `status`, and the problem+json body (`code`, `detail`, `errors[]`). */
export class ApiError extends Error {
  constructor(status, problem, fallback) {
    super(problem?.detail ?? problem?.title ?? fallback);
    this.status = status;
    this.problem = problem;
  }
}

export async function api(method, path, body) {
  const headers = { "x-device-id": deviceId(), accept: "application/json, application/problem+json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (session.token) headers.authorization = `Bearer ${session.token}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, null, "The server can't be reached. Check the connection and try again.");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON (a gateway's error page): the status says enough.
  }
  if (response.status === 401 && session.token) {
    signedOut();
    session.onEnded();
  }
  if (!response.ok) throw new ApiError(response.status, data, response.statusText || `HTTP ${response.status}`);
  return { status: response.status, data };
}
