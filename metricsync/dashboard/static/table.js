// The services table: every service of the scope with each metric and level; sortable, searchable;
// a click on a service filters the page to it.
import { h, clear } from "./dom.js";
import { LEVEL_MARK, LEVEL_TEXT, METRICS } from "./metrics.js";

const COLUMNS = [
  { key: "service", title: "Service", get: (r) => r.service },
  { key: "team", title: "Team", get: (r) => r.team || "" },
  ...METRICS.map((m) => ({ key: m.key, title: m.title, metric: m, get: (r) => m.value(r[m.key]) })),
];

function compare(a, b) {
  const missingA = a === null || a === undefined || a === "";
  const missingB = b === null || b === undefined || b === "";
  if (missingA || missingB) return missingA === missingB ? 0 : missingA ? 1 : -1; // no data last, either way
  if (typeof a === "number") return a - b;
  return String(a).localeCompare(String(b));
}

export function parseSort(text) {
  const descending = text.startsWith("-");
  const key = descending ? text.slice(1) : text;
  return COLUMNS.some((c) => c.key === key) ? { key, descending } : { key: "service", descending: false };
}

export function renderTable(container, rows, state, { onPick, onSort }) {
  const sort = parseSort(state.sort);
  const column = COLUMNS.find((c) => c.key === sort.key);
  const needle = state.q.toLowerCase();
  const shown = rows.filter((r) => !needle || r.service.includes(needle) || (r.team || "").toLowerCase().includes(needle));
  shown.sort((a, b) => {
    const va = column.get(a), vb = column.get(b);
    const missing = (v) => v === null || v === undefined || v === "";
    if (missing(va) || missing(vb)) return compare(va, vb);
    const order = compare(va, vb);
    return (sort.descending ? -order : order) || a.service.localeCompare(b.service);
  });
  const head = h("tr", {}, COLUMNS.map((c) => {
    const active = c.key === sort.key;
    const ariaSort = active ? (sort.descending ? "descending" : "ascending") : "none";
    const next = active && !sort.descending ? `-${c.key}` : c.key;
    return h("th", { scope: "col", "aria-sort": ariaSort, class: c.metric ? "num" : "" },
      h("button", { type: "button", class: "sort", "data-sort": c.key, onclick: () => onSort(next) },
        c.title, h("span", { class: "arrow", "aria-hidden": "true" }, active ? (sort.descending ? " ▼" : " ▲") : "")));
  }));
  const body = document.createDocumentFragment();
  for (const row of shown) {
    const selected = row.service === state.service;
    body.append(h("tr", { "data-service": row.service, class: selected ? "selected" : "" },
      h("th", { scope: "row", class: "name" },
        h("button", { type: "button", class: "pick", title: `Show only ${row.service}`, "aria-pressed": selected ? "true" : "false", onclick: () => onPick(row.service) }, row.service)),
      h("td", { class: "team" }, row.team || "–"),
      METRICS.map((m) => {
        const block = row[m.key];
        const value = m.value(block);
        const level = m.level(block);
        return h("td", { class: "num", "data-column": m.key, "data-value": value === null ? "" : String(value) },
          h("span", { class: "cell-value" }, m.format(value)),
          level ? h("span", { class: "level small", "data-level": level, title: LEVEL_TEXT[level] },
            h("span", { class: "mark", "aria-hidden": "true" }, LEVEL_MARK[level]), LEVEL_TEXT[level]) : null);
      })));
  }
  const table = h("table", { class: "services", "aria-describedby": "services-count" },
    h("caption", { class: "visually-hidden" }, "Services and their metrics; column headers sort"),
    h("thead", {}, head), h("tbody", {}, body));
  clear(container).append(
    h("p", { id: "services-count", class: "muted" },
      needle ? `${shown.length} of ${rows.length} services match “${state.q}”` : `${rows.length} services`),
    table);
}
