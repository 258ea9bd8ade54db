// "Explain this number": the deployments and incidents behind a tile, linked both ways.
import { getJSON } from "./api.js";
import { append, h, clear } from "./dom.js";
import { dateTime, duration, plural } from "./format.js";
import { linkText } from "./links.js";
import { BY_KEY } from "./metrics.js";

const LIMIT = 500;

const EXPLAIN = {
  deployment_frequency: "Successful deployments finishing in the window, per day of the window.",
  lead_time: "Median over the changes below of commit → first deployment shipping it (negative ones excluded).",
  change_failure_rate: "Deployments marked failed (by an incident or a rollback) over all deployments below.",
  time_to_restore: "Median of the incidents' open → resolved times below (open incidents are not counted).",
  failed_deployment_recovery: "Median time from a failed deployment to the deployment that recovered it.",
  rework_rate: "Deployments that were unplanned fixes (after a failure) over all deployments below.",
};

const short = (sha) => (sha ? sha.slice(0, 10) : "–");
const rowId = (kind, id) => `${kind}-${id.replace(/[^A-Za-z0-9_-]/g, "_")}`;

function jump(id) {
  const row = document.getElementById(id);
  if (!row) return;
  row.scrollIntoView({ block: "center" });
  row.classList.add("flash");
  row.focus();
  setTimeout(() => row.classList.remove("flash"), 1500);
}

function link(kind, id, text) {
  return h("button", { type: "button", class: "link", "data-target": rowId(kind, id), onclick: () => jump(rowId(kind, id)) }, text);
}

function leadTimes(changes) {
  if (!changes.length) return h("span", { class: "muted" }, "none known");
  // counted ones first, shortest first; negative (excluded) ones after them
  const rank = (c) => (c.lead_time_seconds < 0 ? Infinity : c.lead_time_seconds);
  const sorted = [...changes].sort((a, b) => rank(a) - rank(b));
  const shown = sorted.slice(0, 4).map((c) => h("span", {
    class: c.lead_time_seconds < 0 ? "lt negative" : "lt",
    title: `${c.sha} committed ${dateTime(c.commit_time)}${c.lead_time_seconds < 0 ? " (negative: excluded)" : ""}`,
  }, duration(c.lead_time_seconds)));
  return [shown, sorted.length > 4 ? h("span", { class: "muted" }, ` +${sorted.length - 4} more`) : null];
}

function incidentLabel(incidents, id) {
  const incident = incidents.get(id);
  return incident ? `incident opened ${dateTime(incident.started_at)}` : `incident ${id.split("@")[0]}`;
}

function deploymentsTable(deployments, incidents) {
  return h("table", { class: "drill-table", "data-table": "deployments" },
    h("caption", {}, `Deployments (${deployments.length})`),
    h("thead", {}, h("tr", {}, ["Finished", "Service", "Version", "Changes", "Lead times", "Result", "Rollback"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, deployments.slice(0, LIMIT).map((d) => h("tr", {
      id: rowId("dep", d.deployment_id), tabindex: "-1", "data-deployment-id": d.deployment_id, class: d.failed ? "failed" : "",
    },
      h("td", {}, dateTime(d.finished_at)),
      h("td", { class: "name" }, d.service),
      h("td", { class: "mono", title: d.sha || "" }, short(d.sha)),
      h("td", { class: "num" }, String(d.changes.length)),
      h("td", {}, leadTimes(d.changes)),
      h("td", {}, d.failed
        ? [h("span", { class: "bad" }, "✗ failed"), " ", d.failure_causes.map((c) => c.kind === "incident"
          ? link("inc", c.id, incidentLabel(incidents, c.id))
          : link("dep", c.id, `rolled back by ${short(c.id)}`)),
          d.recovery_seconds !== null ? h("span", { class: "muted" }, ` recovered in ${duration(d.recovery_seconds)}`) : null]
        : h("span", { class: "good" }, "✓ ok"), d.rework ? h("span", { class: "tag" }, "rework") : null),
      h("td", {}, d.rollback ? (d.rollback_flag ? "yes (flagged)" : "yes (older sha)") : "no")))));
}

function incidentsTable(incidents) {
  return h("table", { class: "drill-table", "data-table": "incidents" },
    h("caption", {}, `Incidents (${incidents.length})`),
    h("thead", {}, h("tr", {}, ["Opened", "Resolved", "Service", "Time to restore", "Cause"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, incidents.slice(0, LIMIT).map((i) => h("tr", { id: rowId("inc", i.incident_id), tabindex: "-1", "data-incident-id": i.incident_id },
      h("td", {}, dateTime(i.started_at)),
      h("td", {}, i.resolved_at ? dateTime(i.resolved_at) : h("span", { class: "bad" }, "open")),
      h("td", { class: "name" }, i.service),
      h("td", {}, duration(i.restore_seconds)),
      h("td", {}, i.failed_deployment_id
        ? link("dep", i.failed_deployment_id, `deployment ${short(i.cause_shas[0] || i.failed_deployment_id)}`)
        : i.cause_shas.length ? `sha ${i.cause_shas.map(short).join(", ")}` : h("span", { class: "muted" }, "not attributed"))))));
}

export async function openDrill(dialog, metricKey, params, context = null) {
  const body = dialog.querySelector("#drill-body");
  const metric = BY_KEY[metricKey];
  dialog.querySelector("#drill-title").textContent = context ? context.title : `Explain: ${metric.title}`;
  dialog.setAttribute("data-metric", context ? "" : metricKey);
  dialog.setAttribute("data-state", "loading");
  clear(body).append(h("p", { class: "muted" }, "Loading…"));
  if (!dialog.open) dialog.showModal();
  const [deployments, incidents] = await Promise.all([
    getJSON("/api/v1/deployments", { ...params, limit: 1000 }),  // pages of at most 1000 (docs/api.md)
    getJSON("/api/v1/incidents", { ...params, limit: 1000 }),
  ]);
  const deps = deployments.deployments, incs = incidents.incidents;  // first pages; `next` set: there are more
  const byId = new Map(incs.map((i) => [i.incident_id, i]));
  const tables = [deploymentsTable(deps, byId), incidentsTable(incs)];
  if (metricKey === "time_to_restore" || (context && context.incidentsFirst)) tables.reverse();
  append(clear(body), [
    h("p", { class: "explain-text" }, context ? context.text : EXPLAIN[metricKey]),
    h("p", { class: "muted" }, `${deployments.next ? "over " : ""}${plural(deps.length, "deployment")} and ${incidents.next ? "over " : ""}${plural(incs.length, "incident")} in ${deployments.scope.service || deployments.scope.team || "all services"}, ${deployments.scope.environment}, ${dateTime(deployments.scope.from)} → ${dateTime(deployments.scope.to)}.`,
      deps.length > LIMIT || incs.length > LIMIT ? ` The first ${LIMIT} rows of each are shown; narrow the filters to see the rest.` : ""),
    tables]);
  dialog.setAttribute("data-state", "ready");
}

function begin(dialog, title) {
  dialog.querySelector("#drill-title").textContent = title;
  dialog.setAttribute("data-metric", "");
  dialog.setAttribute("data-state", "loading");
  const body = clear(dialog.querySelector("#drill-body"));
  body.append(h("p", { class: "muted" }, "Loading…"));
  if (!dialog.open) dialog.showModal();
  return body;
}

// A link of a finding or a slow change that points into the read API (it needs the token): the
// deployments and incidents open as the drill-down, the lead-time breakdown as its panel, anything
// else as the JSON the API returns.
export async function openLink(dialog, link, { text = "", renderLeadTime, onLink }) {
  const url = new URL(link.href, location.origin);
  const params = Object.fromEntries(url.searchParams);
  const title = linkText(link);
  if (url.pathname === "/api/v1/deployments" || url.pathname === "/api/v1/incidents") {
    return openDrill(dialog, null, params, { title: `Check: ${title}`, text, incidentsFirst: url.pathname === "/api/v1/incidents" });
  }
  const body = begin(dialog, `Check: ${title}`);
  const data = await getJSON(url.pathname, params);
  clear(body);
  if (text) body.append(h("p", { class: "explain-text" }, text));
  if (url.pathname === "/api/v1/lead-time") {
    const panel = h("div", { class: "leadtime" });
    renderLeadTime(panel, data, onLink);
    body.append(h("p", { class: "muted" }, `${data.scope.service || data.scope.team || "all services"}, ${data.scope.environment}, ${dateTime(data.scope.from)} → ${dateTime(data.scope.to)}.`), panel);
  } else {
    body.append(h("pre", { class: "json" }, JSON.stringify(data, null, 2)));
  }
  dialog.setAttribute("data-state", "ready");
}
