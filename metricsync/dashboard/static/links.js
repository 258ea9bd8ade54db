// The links of a finding or a slow change: a web page (a pull request) opens as a link; an API URL
// (/api/v1/..., which needs the bearer token) is a button that opens it in the drill-down dialog.
import { h } from "./dom.js";

const REL_TEXT = {
  deployments: "deployments",
  incidents: "incidents",
  "lead-time": "lead-time breakdown",
  "pull-request": "pull request",
  "dead-letters": "server status",
};

export function linkText(link) {
  const rel = REL_TEXT[link.rel] || link.rel;
  if (!link.title) return rel;
  return link.rel === "pull-request" ? link.title : `${rel}: ${link.title}`;
}

export function linkTo(link, onLink) {
  if (link.href.startsWith("/api/v1/")) {
    return h("button", { type: "button", class: "link", "data-rel": link.rel, "data-href": link.href, onclick: () => onLink(link) }, linkText(link));
  }
  return h("a", { href: link.href, "data-rel": link.rel, target: "_blank", rel: "noopener noreferrer" }, linkText(link));
}
