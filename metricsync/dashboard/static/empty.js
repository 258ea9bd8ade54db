// The empty state: no events yet. How to connect GitHub, Jenkins and Alertmanager to this server.
import { h, clear } from "./dom.js";

function code(text) {
  return h("pre", {}, h("code", {}, text));
}

export function renderEmpty(section) {
  const base = location.origin;
  clear(section).append(
    h("h2", { id: "empty-title" }, "No data yet: connect your tools"),
    h("p", {}, "MetricSync computes the DORA metrics from the webhooks your tools already send. Point them at this server; the page updates by itself as soon as the first deployment arrives."),
    h("ol", { class: "steps" },
      h("li", {}, h("p", {}, h("strong", {}, "Set a secret per source"), " on the server, then restart it:"),
        code("export METRICSYNC_GITHUB_SECRET=...       # GitHub webhook secret\nexport METRICSYNC_JENKINS_TOKEN=...       # Jenkins token\nexport METRICSYNC_ALERTMANAGER_TOKEN=...  # Alertmanager bearer token")),
      h("li", {}, h("p", {}, h("strong", {}, "GitHub"), " (repository or organization webhook, content type application/json, events: pushes, deployment statuses, pull requests, issues, workflow runs):"),
        code(`${base}/webhooks/github`)),
      h("li", {}, h("p", {}, h("strong", {}, "Jenkins"), " (Notification Plugin, JSON over HTTP, or the CloudEvents plugin's HTTP sink):"),
        code(`${base}/webhooks/jenkins?token=TOKEN`)),
      h("li", {}, h("p", {}, h("strong", {}, "Alertmanager"), " receiver:"),
        code(`receivers:\n  - name: metricsync\n    webhook_configs:\n      - url: ${base}/webhooks/alertmanager\n        send_resolved: true\n        http_config:\n          authorization: { credentials: TOKEN }`))),
    h("p", { class: "muted" }, "Just trying it? ", h("code", {}, `metricsync simulate --url ${base}`), " sends 30 days of realistic webhooks for a made-up team."));
}
