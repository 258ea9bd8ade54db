// All view state lives in the URL query string: a view can be bookmarked and shared.

export const DEFAULTS = Object.freeze({
  service: "",
  team: "",
  environment: "production",
  window: "30",
  from: "",
  to: "",
  interval: "week",
  sort: "service",
  q: "",
});
const WINDOWS = new Set(["7", "30", "90", "custom"]);
const INTERVALS = new Set(["day", "week", "month"]);
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function readState(search = location.search) {
  const params = new URLSearchParams(search);
  const state = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS)) {
    const value = params.get(key);
    if (value !== null) state[key] = value.trim();
  }
  if (!WINDOWS.has(state.window)) state.window = DEFAULTS.window;
  if (!INTERVALS.has(state.interval)) state.interval = DEFAULTS.interval;
  if (!DATE.test(state.from)) state.from = "";
  if (!DATE.test(state.to)) state.to = "";
  if (state.window === "custom" && !(state.from && state.to)) state.window = DEFAULTS.window;
  if (state.window !== "custom") state.from = state.to = "";
  if (state.service && state.team) state.team = "";
  state.environment = state.environment.toLowerCase() || DEFAULTS.environment;
  return state;
}

export function queryString(state) {
  const params = new URLSearchParams();
  for (const [key, fallback] of Object.entries(DEFAULTS)) {
    if (state[key] && state[key] !== fallback) params.set(key, state[key]);
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

export function writeState(state, { replace = false } = {}) {
  const url = location.pathname + queryString(state);
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
}

const DAY_MS = 86400000;

// The window [from, to) of the view as ISO strings: presets end now; a custom window includes its last day.
export function windowRange(state, now = Date.now()) {
  if (state.window === "custom") {
    const start = Date.parse(`${state.from}T00:00:00Z`);
    const end = Date.parse(`${state.to}T00:00:00Z`) + DAY_MS;
    return { from: new Date(start).toISOString(), to: new Date(end).toISOString(), days: (end - start) / DAY_MS };
  }
  const days = Number(state.window);
  const end = Math.floor(now / 1000) * 1000;
  return { from: new Date(end - days * DAY_MS).toISOString(), to: new Date(end).toISOString(), days };
}

export function previousRange(range) {
  const start = Date.parse(range.from), end = Date.parse(range.to);
  return { from: new Date(start - (end - start)).toISOString(), to: range.from };
}

export function scopeParams(state) {
  return { service: state.service, team: state.service ? "" : state.team, environment: state.environment };
}
