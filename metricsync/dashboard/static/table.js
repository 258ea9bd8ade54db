// The services table: every service of the scope with each metric and level; sortable, searchable;
// a click on a service filters the page to it. Rows are built once per answer of the server; sorting,
// searching and selecting move, hide or mark the existing rows.
import { h, clear } from "./dom.js";
import { LEVEL_MARK, LEVEL_TEXT, METRICS } from "./metrics.js";

const COLUMNS = [
  { key: "service", title: "Service", get: (r) => r.service },
  { key: "team", title: "Team", get: (r) => r.team || "" },
  ...METRICS.map((m) => ({ key: m.key, title: m.title, metric: m, get: (r) => m.value(r[m.key]) })),
];

const missing = (v) => v === null || v === undefined || v === "";

export function parseSort(text) {
  const descending = text.startsWith("-");
  const key = descending ? text.slice(1) : text;
  return COLUMNS.some((c) => c.key === key) ? { key, descending } : { key: "service", descending: false };
}

function buildRow(row, onPick) {
  return h("tr", { "data-service": row.service },
    h("th", { scope: "row", class: "name" },
      h("button", { type: "button", class: "pick", title: `Show only ${row.service}`, "aria-pressed": "false", onclick: () => onPick(row.service) }, row.service)),
    h("td", { class: "team" }, row.team || "–"),
    METRICS.map((m) => {
      const block = row[m.key];
      const value = m.value(block);
      const level = m.level(block);
      return h("td", { class: "num", "data-column": m.key, "data-value": missing(value) ? "" : String(value) },
        h("span", { class: "cell-value" }, m.format(value)),
        level ? h("span", { class: "level small", "data-level": level, title: LEVEL_TEXT[level] },
          h("span", { class: "mark", "aria-hidden": "true" }, LEVEL_MARK[level]), LEVEL_TEXT[level]) : null);
    }));
}

const PAGE = 100; // rows drawn at first; "Show all" draws the rest

export class ServicesTable {
  constructor(container, { onPick, onSort }) {
    this.container = container;
    this.onPick = onPick;
    this.onSort = onSort;
    this.rows = null;
  }

  render(rows, state) {
    let dirty = false;
    if (rows !== this.rows) {
      this.build(rows);
      dirty = true;
    }
    if (state.sort !== this.sort) {
      this.sortBy(state.sort);
      dirty = true;
    }
    const needle = (state.q || "").toLowerCase();
    if (needle !== this.needle) {
      this.needle = needle;
      this.query = state.q;
      dirty = true;
    }
    if (dirty) this.draw();
    this.select(state.service);
  }

  build(rows) {
    this.rows = rows;
    this.byService = new Map(rows.map((row) => [row.service, row]));
    this.elements = new Map(); // built when first shown
    this.expanded = false;
    this.count = h("p", { id: "services-count", class: "muted" });
    this.head = h("thead");
    this.body = h("tbody");
    this.more = h("button", { type: "button", class: "more", onclick: () => { this.expanded = true; this.draw(); } });
    const table = h("table", { class: "services", "aria-describedby": "services-count" },
      h("caption", { class: "visually-hidden" }, "Services and their metrics; column headers sort"), this.head, this.body);
    clear(this.container).append(this.count, h("div", { class: "table-scroll" }, table), this.more);
    this.sort = null;
    this.needle = null;
    this.selected = null;
  }

  element(service) {
    let tr = this.elements.get(service);
    if (!tr) {
      tr = buildRow(this.byService.get(service), this.onPick);
      if (service === this.selected) {
        tr.classList.add("selected");
        tr.querySelector("button.pick").setAttribute("aria-pressed", "true");
      }
      this.elements.set(service, tr);
    }
    return tr;
  }

  sortBy(text) {
    this.sort = text;
    const sort = parseSort(text);
    const column = COLUMNS.find((c) => c.key === sort.key);
    const values = new Map(this.rows.map((r) => [r.service, column.get(r)]));
    this.order = [...this.rows].sort((a, b) => {
      const va = values.get(a.service), vb = values.get(b.service);
      if (missing(va) || missing(vb)) return missing(va) === missing(vb) ? a.service.localeCompare(b.service) : missing(va) ? 1 : -1;
      const order = typeof va === "number" ? va - vb : String(va).localeCompare(String(vb));
      return (sort.descending ? -order : order) || a.service.localeCompare(b.service);
    }).map((r) => r.service);
    clear(this.head).append(h("tr", {}, COLUMNS.map((c) => {
      const active = c.key === sort.key;
      const next = active && !sort.descending ? `-${c.key}` : c.key;
      return h("th", { scope: "col", "aria-sort": active ? (sort.descending ? "descending" : "ascending") : "none", class: c.metric ? "num" : "" },
        h("button", { type: "button", class: "sort", "data-sort": c.key, onclick: () => this.onSort(next) },
          c.title, h("span", { class: "arrow", "aria-hidden": "true" }, active ? (sort.descending ? " ▼" : " ▲") : "")));
    })));
  }

  draw() {
    const needle = this.needle;
    const matching = needle
      ? this.order.filter((service) => service.includes(needle) || (this.byService.get(service).team || "").toLowerCase().includes(needle))
      : this.order;
    const shown = this.expanded ? matching : matching.slice(0, PAGE);
    const fragment = document.createDocumentFragment();
    for (const service of shown) fragment.append(this.element(service));
    clear(this.body).append(fragment);
    const total = this.rows.length;
    this.count.textContent = needle
      ? `${matching.length} of ${total} services match “${this.query}”`
      : `${total} services`;
    this.more.hidden = shown.length === matching.length;
    this.more.textContent = `Show all ${matching.length} services (${matching.length - shown.length} more)`;
  }

  select(service) {
    if (service === this.selected) return;
    for (const name of [this.selected, service]) {
      const tr = name && this.elements.get(name);
      if (!tr) continue;
      const on = name === service;
      tr.classList.toggle("selected", on);
      tr.querySelector("button.pick").setAttribute("aria-pressed", String(on));
    }
    this.selected = service;
  }
}
