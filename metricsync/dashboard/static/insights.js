// Insights (GET /api/v1/insights): the findings of the view's window against the window before, in the
// API's order. Strength is a word and a mark, never a colour alone; the numbers behind a finding are
// one click away. Testability contract: each finding is an <li> with data-kind and data-strength; while a
// new view's insights load, the container has data-loading="true" and aria-busy="true", a .loading line
// naming the new window, and any findings of the view before greyed and inert (never shown as current).
// Only the first SHOWN findings (the strongest: the API orders by strength) are shown until "Show all"
// is pressed; every finding is an <li> either way (the others are `hidden`), and the choice holds across
// the live refreshes of the page.
import { h, clear } from "./dom.js";
import { dateTime } from "./format.js";
import { linkTo } from "./links.js";

const STRENGTH = { high: ["▲▲▲", "Strong"], medium: ["▲▲", "Medium"], low: ["▲", "Weak"] };
const CATEGORY = { shift: "what changed", driver: "what explains it", outlier: "outlier", data_quality: "data quality" };
export const SHOWN = 5;
let showAll = false;

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

// A finding's links: the first LINKS_SHOWN, and "+N more" for the rest (a finding about five deployments
// has five deployment links, which fill a phone's screen); every link is in the DOM, the rest `hidden`.
export const LINKS_SHOWN = 3;

function checkLinks(f, onLink) {
  const items = f.links.map((link, i) => h("span", { class: "check-link", hidden: i >= LINKS_SHOWN && f.links.length > LINKS_SHOWN + 1 ? "" : null },
    i ? h("span", { class: "sep", "aria-hidden": "true" }, " · ") : null, linkTo(link, (l) => onLink(l, f.sentence))));
  const line = h("p", { class: "finding-links" }, h("span", { class: "muted" }, "Check: "), items);
  const hidden = items.filter((item) => item.hidden);
  if (hidden.length) {
    const more = h("button", { type: "button", class: "more-links", "aria-label": `Show ${hidden.length} more links of this finding` }, ` +${hidden.length} more`);
    more.addEventListener("click", () => {
      hidden.forEach((item) => { item.hidden = false; });
      more.remove();
    });
    line.append(more);
  }
  return line;
}

// The loading state of a new view (`label`: its scope and window): the request is not sent before the
// other panels' answers are in, so this can show for a second or more on a large history.
export function renderInsightsLoading(container, label, days) {
  const kept = container.querySelector(":scope > .stale-findings"); // a change during the loading of another
  const before = [...(kept || container).children].filter((el) => !el.matches(".compared, .loading, .tally, .show-all"));
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
  const all = report.findings;
  const counts = ["high", "medium", "low"].map((s) => [s, all.filter((f) => f.strength === s).length]).filter(([, n]) => n);
  container.append(h("p", { class: "muted tally", "data-count": String(all.length) },
    `${all.length} ${all.length === 1 ? "finding" : "findings"}: `,
    counts.map(([s, n], i) => `${i ? ", " : ""}${n} ${STRENGTH[s][1].toLowerCase()}`).join(""), "."));
  const list = h("ol", { class: "findings", id: "findings-list" }, all.map((f, i) => {
    const [mark, word] = STRENGTH[f.strength];
    return h("li", { class: "finding", "data-kind": f.kind, "data-strength": f.strength, hidden: !showAll && i >= SHOWN ? "" : null },
      h("p", { class: "finding-head" },
        h("span", { class: "strength", "data-strength": f.strength }, h("span", { class: "mark", "aria-hidden": "true" }, mark), ` ${word}`),
        h("span", { class: "category" }, CATEGORY[f.category] || f.category),
        f.service ? h("span", { class: "service" }, f.service) : null),
      h("p", { class: "sentence" }, f.sentence),
      f.links.length ? checkLinks(f, onLink) : null,
      numbers(f.numbers));
  }));
  container.append(list);
  if (all.length > SHOWN) {
    const label = () => (showAll ? `Show the strongest ${SHOWN} only` : `Show all ${all.length} findings`);
    const toggle = h("button", { type: "button", class: "show-all", "aria-controls": "findings-list", "aria-expanded": String(showAll) }, label());
    toggle.addEventListener("click", () => {
      showAll = !showAll;
      [...list.children].forEach((li, i) => { li.hidden = !showAll && i >= SHOWN; });
      toggle.setAttribute("aria-expanded", String(showAll));
      toggle.textContent = label();
      if (!showAll) container.scrollIntoView({ block: "nearest" });
    });
    container.append(toggle);
  }
}
