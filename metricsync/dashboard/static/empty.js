// The empty state: no events yet. How to connect each tool MetricSync reads to this server, whether this
// server has the secret it needs (GET /healthz: how each source is verified), and how to import history.
// Testability contract: each tool is an <li data-source="github|..."> with data-verification = the mode
// /healthz gives ("token", "hmac-sha256", "unconfigured", "off"; absent when /healthz does not say);
// the section has data-verified="true" once those are in.
import { h, clear } from "./dom.js";

function code(text) {
  return h("pre", {}, h("code", {}, text));
}

const MODE = {
  unconfigured: ["missing", "no secret set: its webhooks are refused (401)"],
  off: ["unverified", "no secret set: accepted unverified (METRICSYNC_ALLOW_UNSIGNED)"],
};

function status(mode, variable) {
  if (!mode) return null;
  const [word, title] = MODE[mode] || ["ready", `secret set (${mode})`];
  return h("span", { class: "source-status", "data-status": word, title },
    word === "ready" ? "✓ secret set" : word === "missing" ? `✗ set ${variable}` : `! ${variable} not set: unverified`);
}

// [source, name, variable, how to point the tool here (the URL in it), what it sends]
function sources(base) {
  return [
    ["github", "GitHub", "METRICSYNC_GITHUB_SECRET",
      "Repository or organization webhook, content type application/json, this secret; events: pushes, deployment statuses, pull requests, pull request reviews, issues, workflow runs",
      code(`${base}/webhooks/github`)],
    ["jenkins", "Jenkins", "METRICSYNC_JENKINS_TOKEN",
      "Notification Plugin (JSON over HTTP) or the CloudEvents plugin's HTTP sink",
      code(`${base}/webhooks/jenkins?token=TOKEN`)],
    ["alertmanager", "Alertmanager", "METRICSYNC_ALERTMANAGER_TOKEN",
      "A receiver; alerts with severity critical or page are incidents of their service label",
      code(`receivers:\n  - name: metricsync\n    webhook_configs:\n      - url: ${base}/webhooks/alertmanager\n        send_resolved: true\n        http_config:\n          authorization: { credentials: TOKEN }`)],
    ["gitlab", "GitLab", "METRICSYNC_GITLAB_TOKEN",
      "Settings > Webhooks, Secret token = the token; push, merge request, pipeline, deployment and issues events",
      code(`${base}/webhooks/gitlab`)],
    ["pagerduty", "PagerDuty", "METRICSYNC_PAGERDUTY_SECRET",
      "Generic Webhooks (v3), incident.triggered and incident.resolved; its signing secret",
      code(`${base}/webhooks/pagerduty`)],
    ["opsgenie", "Opsgenie", "METRICSYNC_OPSGENIE_TOKEN",
      "Webhook integration, custom header Authorization: Bearer TOKEN, alert actions Create and Close",
      code(`${base}/webhooks/opsgenie`)],
    ["cdevents", "CDEvents", "METRICSYNC_CDEVENTS_TOKEN",
      "Tekton, Keptn or any CloudEvents sender: the sink URL",
      code(`${base}/webhooks/cdevents?token=TOKEN`)],
    ["push", "Anything else (a CI step, a deploy script)", "METRICSYNC_PUSH_TOKEN",
      "The push API, one request per deployment or incident",
      code(`curl -fsS ${base}/api/v1/deployments \\\n  -H "Authorization: Bearer $METRICSYNC_PUSH_TOKEN" -H 'Content-Type: application/json' \\\n  -d '{"id": "build-42", "service": "payments", "environment": "production",\n       "finished_at": "'"$(date -u +%FT%TZ)"'", "sha": "'"$GIT_COMMIT"'"}'`)],
  ];
}

async function verification() {
  try {
    const response = await fetch("/healthz", { headers: { Accept: "application/json" } });
    if (!response.ok) return {};
    const body = await response.json();
    return body && typeof body.verification === "object" ? body.verification : {};
  } catch {
    return {};
  }
}

// Drawn at once, then again with each source's status once /healthz answers (data-verified="true").
export function renderEmpty(section) {
  draw(section, {});
  delete section.dataset.verified;
  verification().then((modes) => {
    if (section.hidden) return; // the first data arrived meanwhile
    draw(section, modes);
    section.dataset.verified = "true";
  });
}

function draw(section, modes) {
  const base = location.origin;
  clear(section).append(
    h("h2", { id: "empty-title" }, "No data yet: connect your tools"),
    h("p", {}, "MetricSync computes the DORA metrics from the webhooks your tools already send. Point them at this server; the page updates by itself as soon as the first deployment arrives."),
    h("p", {}, h("strong", {}, "Set a secret per source"), " on the server (the ones you use), then restart it; each tool below says whether this server has its secret."),
    h("ol", { class: "steps" }, sources(base).map(([source, name, variable, how, where]) =>
      h("li", { "data-source": source, "data-verification": modes[source] || null },
        h("p", {}, h("strong", {}, name), " ", status(modes[source], variable), h("br"),
          h("span", { class: "muted" }, `${how}. Secret: `), h("code", {}, variable)),
        where))),
    h("p", {}, h("strong", {}, "Have history?"), " Import it from the tools' APIs (deployments, merge requests, incidents of the past months), e.g. ",
      h("code", {}, "METRICSYNC_GITHUB_TOKEN=... metricsync import github --repo acme/shop --since 90d"), " (also gitlab, jenkins, prometheus; see docs/import.md)."),
    h("p", { class: "muted" }, "Just trying it? ", h("code", {}, `metricsync simulate --url ${base}`), " sends 30 days of realistic webhooks for a made-up team. The API reference is at ",
      h("a", { href: "/docs" }, "/docs"), "."));
}
