// Overview tiles. Testability contract: data-metric = the metric's name (the API's field name, but
// failed_deployment_recovery_time for the API's failed_deployment_recovery), data-value = the raw number
// shown (per day, seconds or ratio as in the API JSON), empty when the API gives null.
import { h, clear } from "./dom.js";
import { day, plural } from "./format.js";
import { LEVEL_MARK, LEVEL_TEXT, METRICS } from "./metrics.js";

export function levelBadge(level, { none = "No data" } = {}) {
  if (!level) return h("span", { class: "level", "data-level": "none" }, none);
  return h("span", { class: "level", "data-level": level },
    h("span", { class: "mark", "aria-hidden": "true" }, LEVEL_MARK[level]), LEVEL_TEXT[level]);
}

// `record` ({from, none, short}): where the scope's record of deployments begins, when the previous window
// starts before it (the API's scope.history_from). none: that window ends before it, nothing to compare
// with; short: less than half of it is on record; else the comparison says from when.
function delta(metric, current, previous, days, record) {
  const span = `vs previous ${days === 1 ? "day" : `${days % 1 ? days.toFixed(1) : days} days`}`;
  if (record && record.none) {
    return h("p", { class: "delta", "data-trend": "none" }, `no comparison: nothing on record before ${day(record.from)}`);
  }
  if (record && record.short) {
    return h("p", { class: "delta", "data-trend": "none" }, `no comparison: on record only since ${day(record.from)}`);
  }
  return deltaOf(metric, current, previous, record ? `${span} (on record from ${day(record.from)})` : span);
}

// As the insights' rule (metrics_worker/insights/inputs.py, MIN_RECORD_SHARE): a previous window less than
// half on record is not compared.
const MIN_RECORD_SHARE = 0.5;

function recordOf(from, scope) {
  const begins = new Date(from), start = new Date(scope.from), end = new Date(scope.to);
  return { from, none: begins >= end, short: end - begins < MIN_RECORD_SHARE * (end - start) };
}

function deltaOf(metric, current, previous, span) {
  if (current === null || current === undefined || previous === null || previous === undefined) {
    return h("p", { class: "delta", "data-trend": "none" }, `no comparison ${span}`);
  }
  if (previous === 0) {
    if (current === 0) return h("p", { class: "delta", "data-trend": "flat" }, `unchanged ${span}`);
    return h("p", { class: "delta", "data-trend": metric.better === "up" ? "better" : "worse" }, `▲ from 0 ${span}`);
  }
  const change = ((current - previous) / Math.abs(previous)) * 100;
  if (Math.abs(change) < 0.05) return h("p", { class: "delta", "data-trend": "flat" }, `unchanged ${span}`);
  const up = change > 0;
  const better = (up && metric.better === "up") || (!up && metric.better === "down");
  return h("p", { class: "delta", "data-trend": better ? "better" : "worse" },
    h("span", { "aria-hidden": "true" }, up ? "▲ " : "▼ "),
    h("span", { class: "visually-hidden" }, up ? "up " : "down "),
    `${Math.abs(change).toFixed(change >= 100 || change <= -100 ? 0 : 1)} % ${span}`,
    h("span", { class: "visually-hidden" }, better ? " (better)" : " (worse)"));
}

export function renderTiles(container, report, previous, days, onExplain) {
  const focused = document.activeElement && document.activeElement.closest("[data-metric]");
  const focusedKey = focused && focused.getAttribute("data-metric");
  clear(container);
  const from = previous && previous.scope ? previous.scope.history_from : null;
  const record = from ? recordOf(from, previous.scope) : null;
  for (const metric of METRICS) {
    const block = report[metric.key];
    const value = metric.value(block);
    const before = previous ? metric.value(previous[metric.key]) : null;
    const level = metric.level(block);
    const detail = metric.detail ? metric.detail(block) : null;
    const samples = metric.samples(block).map(([n, word, many]) => (many && n !== 1 ? `${n} ${many}` : plural(n, word)));
    const few = metric.samples(block)[0][0] < 5;
    const tile = h("article", {
      class: "tile",
      "data-metric": metric.tile || metric.key,
      "data-value": value === null || value === undefined ? "" : String(value),
      "data-level": level || "",
      "aria-labelledby": `tile-${metric.key}`,
    },
      h("h3", { id: `tile-${metric.key}` }, metric.title),
      h("p", { class: "value" }, metric.format(value)),
      h("p", { class: "level-line" }, metric.bands
        ? levelBadge(level)
        : h("span", { class: "level", "data-level": "none" }, "No DORA level defined")),
      delta(metric, value, before, days, record),
      h("p", { class: few ? "samples few" : "samples" },
        samples.join(" · "), few ? h("span", { class: "warn-text" }, " · few samples, read with care") : null,
        detail ? ` · ${detail}` : null),
      h("button", { type: "button", class: "explain", onclick: () => onExplain(metric.key), "aria-label": `Explain ${metric.title}` }, "Explain this number"));
    container.append(tile);
  }
  if (focusedKey) {
    const button = container.querySelector(`[data-metric="${focusedKey}"] button`);
    if (button) button.focus();
  }
}
