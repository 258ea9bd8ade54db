// Insights (GET /api/v1/insights): the findings of the view's window against the window before, in the
// API's order. Strength is a word and a mark, never a colour alone; the numbers behind a finding are
// one click away. Testability contract: each finding is an <li> with data-kind and data-strength; while a
// new view's insights load, the container has data-loading="true" and aria-busy="true", a .loading line
// naming the new window, and any findings of the view before greyed and inert (never shown as current).
import { h, clear } from "./dom.js";
import { dateTime } from "./format.js";
import { linkTo } from "./links.js";

const STRENGTH = { high: ["▲▲▲", "Strong"], medium: ["▲▲", "Medium"], low: ["▲", "Weak"] };
const CATEGORY = { shift: "what changed", driver: "what explains it", outlier: "outlier", data_quality: "data quality" };

function numberText(value) {
  if (typeof value === "number" && !Number.isInteger(value)) {
    return Math.abs(value) < 0.001 && value !== 0 ? value.toExponential(2) : String(+value.toFixed(3));
  }
  return String(value);
}

function numbers(values) {
  const entries = Object.entries(values);
  if (!entries.length) return null;
  return h("details", { class: "numbers" }, h("summary", {}, "The numbers"),
    h("dl", {}, entries.map(([key, value]) => h("div", {}, h("dt", {}, key.replaceAll("_", " ")), h("dd", { class: "mono" }, numberText(value))))));
}

// The loading state of a new view (`label`: its scope and window): the request is not sent before the
// other panels' answers are in, so this can show for a second or more on a large history.
export function renderInsightsLoading(container, label, days) {
  const kept = container.querySelector(":scope > .stale-findings"); // a change during the loading of another
  const before = [...(kept || container).children].filter((el) => !el.matches(".compared, .loading"));
  const old = h("div", { class: "stale-findings", inert: "" }, before);
  const text = `Comparing ${label} with the ${days} ${days === 1 ? "day" : "days"} before…`;
  const note = before.length ? h("span", { class: "muted" }, " Greyed below: the findings of the view before.") : null;
  clear(container).append(h("p", { class: "loading", role: "status" }, text, note), before.length ? old : null);
  container.dataset.loading = "true";
  container.setAttribute("aria-busy", "true");
}

export function renderInsights(container, report, onLink) {
  clear(container);
  delete container.dataset.loading;
  container.removeAttribute("aria-busy");
  const compared = report.compared_with;
  container.append(h("p", { class: "muted compared" }, `Compared with the window just before: ${dateTime(compared.from)} → ${dateTime(compared.to)}.`));
  if (!report.findings.length) {
    container.append(h("p", { class: "muted", "data-empty": "insights" }, "Nothing stands out: no significant change against the previous window, no outlier, no data problem."));
    return;
  }
  container.append(h("ol", { class: "findings" }, report.findings.map((f) => {
    const [mark, word] = STRENGTH[f.strength];
    return h("li", { class: "finding", "data-kind": f.kind, "data-strength": f.strength },
      h("p", { class: "finding-head" },
        h("span", { class: "strength", "data-strength": f.strength }, h("span", { class: "mark", "aria-hidden": "true" }, mark), ` ${word}`),
        h("span", { class: "category" }, CATEGORY[f.category] || f.category),
        f.service ? h("span", { class: "service" }, f.service) : null),
      h("p", { class: "sentence" }, f.sentence),
      f.links.length ? h("p", { class: "finding-links" }, h("span", { class: "muted" }, "Check: "),
        f.links.map((link, i) => [i ? " · " : "", linkTo(link, (l) => onLink(l, f.sentence))])) : null,
      numbers(f.numbers));
  })));
}
