// The data quality panel: what makes the numbers less trustworthy, with what to fix.
import { h, clear } from "./dom.js";

const CHECKS = [
  {
    key: "dead_letters",
    title: "Deliveries that could not be mapped (dead letters, whole server)",
    hint: "The server log names each one and why (look for 'dead letter'). Fix the sender's settings or the mapping variables (METRICSYNC_JENKINS_*, METRICSYNC_ALERT_*), then run `metricsync rebuild`.",
  },
  {
    key: "deployments_without_changes",
    title: "Deployments without known changes",
    hint: "Their lead time cannot be measured. Send GitHub push and pull request webhooks of the deployed repository, and make deployments name the commit sha they ship.",
    of: "deployments",
  },
  {
    key: "incidents_without_service",
    title: "Incidents without a service",
    hint: "Alerts without a service label count for the service 'unknown'. Add a `service` (or `app`, `job`) label to the alert rules, or list your label in METRICSYNC_ALERT_SERVICE_LABELS.",
  },
  {
    key: "negative_lead_time_changes",
    title: "Changes with a negative lead time (excluded)",
    hint: "The commit time is after the deployment: a committer's clock was wrong, or the commit was rewritten. They are shown in the drill-down but not counted.",
  },
];

export function renderQuality(container, quality) {
  clear(container);
  for (const check of CHECKS) {
    const count = quality[check.key];
    const known = count !== null && count !== undefined;
    const status = !known ? "unknown" : count === 0 ? "ok" : "warn";
    const amount = !known ? "not reported" : check.of && quality[check.of] ? `${count} of ${quality[check.of]}` : String(count);
    container.append(h("li", { class: "check", "data-quality": check.key, "data-count": known ? String(count) : "", "data-status": status },
      h("span", { class: "status", "aria-hidden": "true" }, status === "ok" ? "✓" : status === "warn" ? "!" : "?"),
      h("div", {},
        h("p", { class: "check-title" }, h("strong", {}, amount), ` · ${check.title}`,
          h("span", { class: "visually-hidden" }, status === "ok" ? " (fine)" : status === "warn" ? " (needs attention)" : "")),
        status === "warn" ? h("p", { class: "hint" }, check.hint) : null)));
  }
}
