// The read API client: one bearer token per tab (sessionStorage), never in a URL.

const TOKEN_KEY = "metricsync.api-token";

export class AuthNeeded extends Error {}
export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export function tokenRequired() {
  const meta = document.querySelector('meta[name="metricsync-token-required"]');
  return meta !== null && meta.content === "true";
}

export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(value) {
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled: the token lives as long as the page */
  }
  memoryToken = value || null;
}

let memoryToken = null;

export function authHeaders() {
  const t = token() || memoryToken;
  return t ? { Authorization: `Bearer ${t}` } : {};
}

export function apiUrl(path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  return url.pathname + url.search;
}

export async function getJSON(path, params = {}) {
  const response = await fetch(apiUrl(path, params), { headers: { Accept: "application/json", ...authHeaders() } });
  if (response.status === 401) throw new AuthNeeded("token needed");
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, body && body.error, body && body.detail);
  return body;
}
