// "Where the lead time goes": the median of each stage as a stacked bar, the change counts, and the
// slowest changes with their stage times (GET /api/v1/lead-time). Testability contract: each bar
// segment and legend entry has data-stage and data-value = the API's median_seconds (empty when null);
// each count has data-count = its counts field; each slowest change is a row with data-sha.
import { h, clear } from "./dom.js";
import { duration, plural } from "./format.js";
import { linkTo } from "./links.js";

export const STAGE_TEXT = {
  coding: "Coding",
  pickup: "Pickup",
  review: "Review",
  deploy: "Deploy",
};
const STAGE_HINT = {
  coding: "first commit → ready for review",
  pickup: "ready → first review by someone else",
  review: "first review → merged",
  deploy: "merged → deployed",
};
const KIND_TEXT = { pr: "PR", bot_pr: "bot PR", direct: "direct commit" };
const COUNTS = [
  ["pull_requests", "pull requests (staged)"],
  ["bot_pull_requests", "bot pull requests"],
  ["unreviewed_pull_requests", "unreviewed pull requests"],
  ["direct_commits", "direct commits (no PR)"],
];
const raw = (value) => (value === null || value === undefined ? "" : String(value));

function bar(stages) {
  const known = stages.filter((s) => s.median_seconds !== null && s.median_seconds > 0);
  const total = known.reduce((sum, s) => sum + s.median_seconds, 0);
  const label = stages.map((s) => `${STAGE_TEXT[s.stage]} ${duration(s.median_seconds)}`).join(", ");
  const el = h("div", { class: "stage-bar", role: "img", "aria-label": `Median of each stage: ${label}` });
  if (!total) {
    el.append(h("span", { class: "stage-none" }, "no stage has a sample"));
    return el;
  }
  for (const s of known) {
    const share = s.median_seconds / total;
    const segment = h("span", {
      class: "stage", "data-stage": s.stage, "data-value": raw(s.median_seconds),
      title: `${STAGE_TEXT[s.stage]} (${STAGE_HINT[s.stage]}): median ${duration(s.median_seconds)}, p90 ${duration(s.p90_seconds)}, ${plural(s.samples, "PR")}`,
    }, share >= 0.12 ? `${STAGE_TEXT[s.stage]} ${duration(s.median_seconds)}` : "");
    segment.style.flexGrow = String(s.median_seconds); // CSSOM, allowed by the CSP (no style attribute)
    el.append(segment);
  }
  return el;
}

function legend(stages) {
  return h("dl", { class: "stage-legend" }, stages.map((s) => h("div", { "data-stage": s.stage, "data-value": raw(s.median_seconds) },
    h("dt", {}, h("span", { class: "swatch", "data-stage": s.stage, "aria-hidden": "true" }), STAGE_TEXT[s.stage],
      h("span", { class: "muted" }, ` ${STAGE_HINT[s.stage]}`)),
    h("dd", {}, h("strong", {}, duration(s.median_seconds)),
      s.samples ? h("span", { class: "muted" }, ` median · p90 ${duration(s.p90_seconds)} · ${plural(s.samples, "PR")}`)
        : h("span", { class: "muted" }, " no sample")))));
}

function counts(report) {
  const c = report.counts;
  return h("ul", { class: "counts" }, COUNTS.map(([key, text]) => h("li", { "data-count": key, "data-value": String(c[key]) },
    h("strong", {}, String(c[key])), ` ${text}`)),
  h("li", { class: "muted" }, `lead time: PRs median ${duration(report.pr_lead_time.median_seconds)}, direct commits median ${duration(report.direct_lead_time.median_seconds)}`));
}

function slowest(changes, onLink) {
  if (!changes.length) return h("p", { class: "muted", "data-empty": "slowest" }, "No change reached the environment in this window.");
  const stageCell = (seconds) => h("td", { class: "num" }, seconds === null ? h("span", { class: "muted" }, "–") : duration(seconds));
  return h("div", { class: "table-scroll" }, h("table", { class: "slowest" },
    h("caption", {}, `The ${plural(changes.length, "slowest change")}`),
    h("thead", {}, h("tr", {},
      ["Change", "Service", "Lead time", "Coding", "Pickup", "Review", "Deploy", "Links"].map((t, i) => h("th", { scope: "col", class: i >= 2 && i <= 6 ? "num" : null }, t)))),
    h("tbody", {}, changes.map((c) => h("tr", { "data-sha": c.sha, "data-kind": c.kind },
      h("td", {}, h("span", { class: "kind" }, KIND_TEXT[c.kind]), " ",
        c.number !== null ? `#${c.number}` : h("span", { class: "mono", title: c.sha }, c.sha.slice(0, 10)),
        c.author ? h("span", { class: "muted" }, ` by ${c.author}`) : null),
      h("td", { class: "name" }, c.service),
      h("td", { class: "num" }, h("strong", {}, duration(c.lead_time_seconds))),
      stageCell(c.coding_seconds), stageCell(c.pickup_seconds), stageCell(c.review_seconds), stageCell(c.deploy_seconds),
      h("td", { class: "links" }, c.links.map((link) => linkTo(link, onLink))))))));
}

export function renderLeadTime(container, report, onLink) {
  clear(container);
  const sampled = report.stages.some((s) => s.samples > 0);
  const c = report.counts;
  if (!sampled && !c.pull_requests && !c.bot_pull_requests && !c.direct_commits && !report.slowest.length) {
    container.append(h("p", { class: "muted", "data-empty": "lead-time" },
      "No change reached the environment in this window. The stages come from GitHub pull request and push webhooks of the deployed repositories."));
    return;
  }
  container.append(
    h("p", { class: "bar-title" }, h("strong", {}, "Median of each stage"),
      h("span", { class: "muted" }, " over the human pull requests that have it; the medians do not add up to the median lead time")),
    bar(report.stages), legend(report.stages), counts(report), slowest(report.slowest, onLink));
}
