// The dashboard: state in the URL, data from /api/v1, live updates from /api/v1/stream.
import { ApiError, AuthNeeded, getJSON, setToken, token, tokenRequired } from "./api.js";
import { $, h, clear } from "./dom.js";
import { openDrill, openLink } from "./drill.js";
import { dateTime } from "./format.js";
import { renderEmpty } from "./empty.js";
import { renderInsights, renderInsightsLoading } from "./insights.js";
import { renderLeadTime } from "./leadtime.js";
import { LiveStream } from "./live.js";
import { renderQuality } from "./quality.js";
import { previousRange, readState, scopeParams, windowRange, writeState } from "./state.js";
import { ServicesTable } from "./table.js";
import { renderTiles } from "./tiles.js";
import { Trends } from "./trends.js";

const app = {
  state: readState(),
  services: [],
  tableRows: null,
  tableKey: null,
  generation: 0,
  insightsKey: null, // the view (scope and window) whose insights the panel shows
  insightsBody: null, // and the answer it drew
  trends: new Trends($("#trends")),
  timings: [],
};
window.metricsync = app; // tests and benchmarks read app.timings and document.body.dataset.state

const tableCache = new Map(); // view key -> rows of /api/v1/dora/services
const viewCache = new Map(); // path + view key -> {body, at}: answers that do not depend on the interval

function cachedJSON(path, params, key) {
  const hit = viewCache.get(path + key);
  if (hit && Date.now() - hit.at < 60000) return Promise.resolve(hit.body);
  return getJSON(path, params).then((body) => {
    viewCache.delete(path + key);
    viewCache.set(path + key, { body, at: Date.now() });
    if (viewCache.size > 16) viewCache.delete(viewCache.keys().next().value);
    return body;
  });
}

const LIVE_TEXT = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline" };

function setLive(state) {
  const el = $("#live");
  el.dataset.state = state;
  el.querySelector(".text").textContent = LIVE_TEXT[state];
}

function showError(message) {
  const el = $("#error");
  if (!message) {
    el.hidden = true;
    clear(el);
    return;
  }
  clear(el).append(h("span", {}, message), " ",
    h("button", { type: "button", class: "link", onclick: () => navigate({ service: "", team: "" }) }, "Show all services"));
  el.hidden = false;
}

// --- token -----------------------------------------------------------------------------------------

let asking = null;
function askToken(refused) {
  if (asking) return asking;
  const dialog = $("#token-dialog");
  $("#token-error").hidden = !refused;
  asking = new Promise((resolve) => {
    const form = $("#token-form");
    const done = (event) => {
      event.preventDefault();
      const value = $("#token-input").value.trim();
      if (!value) return;
      form.removeEventListener("submit", done);
      setToken(value);
      dialog.close();
      asking = null;
      resolve();
    };
    form.addEventListener("submit", done);
    dialog.addEventListener("cancel", (event) => event.preventDefault()); // the data needs it
    dialog.showModal();
    $("#token-input").focus();
  });
  return asking;
}

async function withAuth(load) {
  for (;;) {
    try {
      return await load();
    } catch (error) {
      if (!(error instanceof AuthNeeded)) throw error;
      setToken(null);
      await askToken(true);
    }
  }
}

// --- filters ---------------------------------------------------------------------------------------

const filled = new WeakMap(); // select -> what it holds: 500 options are not rebuilt on every view change

function fillSelect(select, values, current, allLabel) {
  const key = JSON.stringify([values, current, allLabel]);
  if (filled.get(select) === key) {
    select.value = current;
    return;
  }
  filled.set(select, key);
  const options = allLabel === null ? [] : [h("option", { value: "" }, allLabel)];
  const seen = new Set(values);
  if (current && !seen.has(current)) values = [...values, current];
  for (const value of values) options.push(h("option", { value }, value));
  clear(select).append(...options);
  select.value = current;
}

function syncFilters() {
  const s = app.state;
  const services = app.services;
  const teams = [...new Set(services.map((r) => r.team).filter(Boolean))].sort();
  const envs = [...new Set(["production", ...services.flatMap((r) => r.environments)])].sort();
  const inTeam = s.team ? services.filter((r) => r.team === s.team) : services;
  fillSelect($("#f-service"), inTeam.map((r) => r.service), s.service, s.team ? `All of ${s.team}` : "All services");
  fillSelect($("#f-team"), teams, s.team, "All teams");
  $("#f-team").disabled = teams.length === 0;
  fillSelect($("#f-environment"), envs, s.environment, null);
  $("#f-window").value = s.window;
  $("#f-from").value = s.from;
  $("#f-to").value = s.to;
  document.body.classList.toggle("custom-window", s.window === "custom");
  $("#service-search").value = s.q;
  for (const button of document.querySelectorAll("[data-interval]")) {
    button.setAttribute("aria-pressed", String(button.dataset.interval === s.interval));
  }
}

function navigate(changes, { replace = false, reload = true } = {}) {
  app.state = { ...app.state, ...changes };
  if (changes.service) app.state.team = "";
  if (app.state.window !== "custom") app.state.from = app.state.to = "";
  writeState(app.state, { replace });
  syncFilters();
  if (reload) refresh();
}

function bindFilters() {
  $("#f-service").addEventListener("change", (e) => navigate({ service: e.target.value }));
  $("#f-team").addEventListener("change", (e) => navigate({ team: e.target.value, service: "" }));
  $("#f-environment").addEventListener("change", (e) => navigate({ environment: e.target.value }));
  $("#f-window").addEventListener("change", (e) => {
    if (e.target.value !== "custom") return navigate({ window: e.target.value });
    const range = windowRange(app.state);
    const to = new Date(Date.parse(range.to) - 1).toISOString().slice(0, 10);
    navigate({ window: "custom", from: range.from.slice(0, 10), to });
  });
  for (const id of ["#f-from", "#f-to"]) {
    $(id).addEventListener("change", () => {
      const from = $("#f-from").value, to = $("#f-to").value;
      if (from && to && from <= to) navigate({ window: "custom", from, to });
    });
  }
  $("#filters").addEventListener("submit", (e) => e.preventDefault());
  for (const button of document.querySelectorAll("[data-interval]")) {
    button.addEventListener("click", () => navigate({ interval: button.dataset.interval }));
  }
  $("#service-search").addEventListener("input", (e) => {
    app.state.q = e.target.value.trim();
    writeState(app.state, { replace: true });
    drawTable();
  });
  window.addEventListener("popstate", () => {
    app.state = readState();
    syncFilters();
    refresh();
  });
  $("#drill").addEventListener("click", (e) => {
    if (e.target.closest("[data-close]") || e.target === $("#drill")) $("#drill").close();
  });
}

// --- data ------------------------------------------------------------------------------------------

const servicesTable = new ServicesTable($("#services-table"), {
  onPick: (service) => {
    navigate({ service: app.state.service === service ? "" : service });
    window.scrollTo({ top: 0, behavior: "instant" });
  },
  onSort: (sort) => {
    navigate({ sort }, { replace: true, reload: false });
    drawTable();
    const button = document.querySelector(`#services-table [data-sort="${sort.replace(/^-/, "")}"]`);
    if (button) button.focus();
  },
});

function drawTable() {
  if (app.tableRows) servicesTable.render(app.tableRows, app.state);
}

async function loadServices() {
  const body = await withAuth(() => getJSON("/api/v1/services"));
  app.services = body.services;
  const empty = app.services.length === 0;
  $("#empty").hidden = !empty;
  for (const id of ["#overview", "#insights-section", "#trends-section", "#leadtime-section", "#services-section", "#quality-section"]) $(id).hidden = empty;
  if (empty) renderEmpty($("#empty"));
  syncFilters();
  return !empty;
}

async function refresh({ live = false } = {}) {
  const generation = ++app.generation;
  const started = performance.now();
  const s = app.state;
  const range = windowRange(s);
  const scope = scopeParams(s);
  const current = { ...scope, from: range.from, to: range.to };
  const previous = { ...scope, ...previousRange(range) };
  const tableScope = { team: s.team, environment: s.environment, from: range.from, to: range.to };
  const tableKey = JSON.stringify({ team: s.team, environment: s.environment, window: s.window, from: s.from, to: s.to });
  document.body.dataset.state = "loading";
  document.body.dataset.panels = "loading";
  $("#scope-text").textContent = `${s.service || (s.team ? `team ${s.team}` : "all services")} · ${s.environment} · ${dateTime(range.from)} → ${dateTime(range.to)}`;
  stream.open(scope);
  const stale = () => generation !== app.generation;
  // every panel draws as soon as its data is here; the page is ready when all have
  const tiles = Promise.all([getJSON("/api/v1/dora", current), getJSON("/api/v1/dora", previous)]).then(([report, before]) => {
    if (stale()) return;
    showError(null);
    renderTiles($("#tiles"), report, before, range.days, (key) => explain(key));
    if (!performance.getEntriesByName("metricsync:tiles").length) performance.mark("metricsync:tiles");
  });
  const trends = getJSON("/api/v1/dora/series", { ...current, interval: s.interval }).then((body) => {
    if (!stale()) app.trends.render(body);
  });
  const quality = getJSON("/api/v1/quality", current).then((body) => {
    if (!stale()) renderQuality($("#quality"), body);
  });
  // the services table of a view seen in the last minute (a team cleared, a window chosen again) is
  // not asked again; a live change forgets them all
  if (live) {
    tableCache.clear();
    viewCache.clear();
  }
  const hit = tableCache.get(tableKey);
  const cached = hit && Date.now() - hit.at < 60000 ? hit.rows : null;
  const table = (cached ? Promise.resolve(cached) : getJSON("/api/v1/dora/services", tableScope).then((body) => body.services)).then((rows) => {
    if (!cached) {
      tableCache.delete(tableKey);
      tableCache.set(tableKey, { rows, at: Date.now() });
      if (tableCache.size > 8) tableCache.delete(tableCache.keys().next().value);
    }
    if (stale()) return;
    app.tableRows = rows;
    drawTable();
  });
  // the lead-time breakdown and the insights do not depend on the trend interval (kept a minute)
  const viewKey = JSON.stringify({ service: s.service, team: s.team, environment: s.environment, window: s.window, from: s.from, to: s.to });
  const leadTime = cachedJSON("/api/v1/lead-time", current, viewKey).then((body) => {
    if (!stale()) renderLeadTime($("#leadtime"), body, follow);
  });
  // the main panels: "panels ready" (data-panels, the metricsync:panels mark) once they are drawn
  const answered = Promise.all([tiles, trends, quality, leadTime, table]);
  let panels = null;
  const main = answered.then(async () => {
    if (stale()) return;
    await new Promise((resolve) => requestAnimationFrame(() => resolve()));
    if (stale()) return;
    panels = performance.now() - started;
    if (!performance.getEntriesByName("metricsync:panels").length) performance.mark("metricsync:panels");
    document.body.dataset.panels = "ready";
  });
  // the insights are the slowest answer of the single-threaded server (two windows of every change): they
  // are asked only once the other panels' answers are in, so those never wait behind them; until they are
  // drawn the panel says which view it is comparing, the findings of the view before greyed out
  if (app.insightsKey !== viewKey) {
    const scopeText = s.service || (s.team ? `team ${s.team}` : "all services");
    app.insightsKey = null;
    renderInsightsLoading($("#insights"), `${scopeText} (${s.environment}), ${dateTime(range.from)} → ${dateTime(range.to)},`, range.days);
  }
  // (on the first load nothing is on screen to keep: everything is asked at once, which is sooner)
  const first = app.timings.length === 0;
  let drewInsights = false;
  const insights = (first ? Promise.resolve() : answered).then(() => {
    if (stale()) return; // a newer view asks for its own
    return cachedJSON("/api/v1/insights", current, viewKey).then((body) => {
      if (stale() || (app.insightsKey === viewKey && app.insightsBody === body)) return; // drawn already
      renderInsights($("#insights"), body, follow);
      drewInsights = true;
      app.insightsKey = viewKey;
      app.insightsBody = body;
    });
  });
  try {
    await Promise.all([main, insights]);
    if (stale()) return;
    // the main panels waited for a frame already; another only when the insights drew after them
    if (drewInsights) await new Promise((resolve) => requestAnimationFrame(() => resolve()));
    app.timings.push({ live, panels, total: performance.now() - started });
    if (!performance.getEntriesByName("metricsync:ready").length) performance.mark("metricsync:ready");
    document.body.dataset.state = "ready";
    document.body.dataset.generation = String(generation);
  } catch (error) {
    if (stale()) return;
    if (error instanceof AuthNeeded) {
      setToken(null);
      await askToken(true);
      return refresh();
    }
    document.body.dataset.state = "error";
    showError(error instanceof ApiError ? `The server said: ${error.message}` : `Cannot reach MetricSync: ${error.message}`);
  }
}

function explain(key) {
  const range = windowRange(app.state);
  const params = { ...scopeParams(app.state), from: range.from, to: range.to };
  withAuth(() => openDrill($("#drill"), key, params)).catch((error) => showError(`Drill-down failed: ${error.message}`));
}

// a link into the read API (a finding's or a slow change's): opened in the drill-down dialog
function follow(link, text = "") {
  withAuth(() => openLink($("#drill"), link, { text, renderLeadTime, onLink: follow }))
    .catch((error) => showError(`Opening ${link.href} failed: ${error.message}`));
}

// --- live ------------------------------------------------------------------------------------------

let pending = null;
let settling = null;
let firstPendingAt = 0;
function scheduleLiveRefresh(newService) {
  const now = Date.now();
  // distributed mode: the read API has a change once the worker checkpointed it; read again then
  clearTimeout(settling);
  if (stream.settleMs > 0) settling = setTimeout(() => refresh({ live: true }), stream.settleMs);
  if (!pending) firstPendingAt = now;
  clearTimeout(pending);
  const wait = Math.max(0, Math.min(250, firstPendingAt + 1000 - now));
  pending = setTimeout(async () => {
    pending = null;
    if (newService || $("#empty").hidden === false) {
      if (!(await loadServices())) return;
    }
    refresh({ live: true });
  }, wait);
}

const stream = new LiveStream({
  onChange: (change) => scheduleLiveRefresh(!app.services.some((r) => r.service === change.service)),
  onReset: () => scheduleLiveRefresh(true),
  onState: setLive,
  onAuth: () => askToken(true).then(() => {
    stream.close();
    refresh();
  }),
});

// --- start -----------------------------------------------------------------------------------------

async function start() {
  bindFilters();
  syncFilters();
  if (tokenRequired() && !token()) await askToken(false);
  // the services list (filters, empty state) and the first view load side by side
  const services = loadServices().catch((error) => {
    document.body.dataset.state = "error";
    showError(`Cannot reach MetricSync: ${error.message}`);
    return null;
  });
  const first = refresh();
  const hasData = await services;
  if (hasData === false) {
    app.generation += 1; // the view's answers, if any arrive, are not shown over the empty state
    stream.open(scopeParams(app.state));
    const emptyGeneration = app.generation;
    await first; // "empty" once the view's requests are over: none is left in flight (a reload aborts it)
    if (app.generation === emptyGeneration) document.body.dataset.state = "empty"; // unless data came since
    return;
  }
  await first;
}

performance.mark("metricsync:start");
start();
