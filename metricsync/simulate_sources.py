"""`metricsync simulate --sources ...`: a made-up team whose tools are any mix of the registered sources.

Each service keeps its code on GitHub or GitLab (alternating over the SCM sources chosen) and deploys
once or twice a working day, reported first-hand by its tool (a GitHub deployment status, a Jenkins
deploy job, or a GitLab deployment hook) and, when those sources are chosen, relayed again by CDEvents
(`service.deployed`, 2 minutes later) and by the push API (1 minute later): the same deployment from
several sources, which must count once (docs/metrics.md, section 1). A few deploys break production;
the incident is reported by one of the chosen incident sources in turn (Alertmanager, PagerDuty,
Opsgenie, a GitLab incident issue for GitLab services, CDEvents, the push API), and sometimes by a
second one overlapping it, which must merge. Bodies are built from the real payloads in
`metricsync/templates/` by changing values only (provenance in its README).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import random
import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from metricsync.settings import Settings
from metricsync.simulate import ORG, SimulationPlan, Webhook, _Builder, _iso, _sha, _template, service_names
from schemas.errors import MetricSyncError
from schemas.sources import Source

DEFAULT_SOURCES = frozenset({Source.GITHUB, Source.JENKINS, Source.ALERTMANAGER})
_SCM = (Source.GITHUB, Source.GITLAB)
_INCIDENT_SOURCES = (
    Source.ALERTMANAGER,
    Source.PAGERDUTY,
    Source.OPSGENIE,
    Source.GITLAB,
    Source.CDEVENTS,
    Source.PUSH,
)


def parse_sources(text: str) -> frozenset[Source]:
    """`github,gitlab,...` or `all`; names as in /healthz."""
    if text.strip().lower() == "all":
        return frozenset(Source)
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    known = {source.value: source for source in Source}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise MetricSyncError(f"--sources {text!r}: use a comma-separated list of {', '.join(known)} (or all)")
    chosen = frozenset(known[name] for name in names)
    if not chosen & set(_SCM):
        raise MetricSyncError("--sources needs github or gitlab (the code the deployments ship)")
    return chosen


def _gitlab_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000")


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


class _MixedBuilder(_Builder):
    """The GitHub, Jenkins and Alertmanager builders, plus the other sources'."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.gitlab_push_tpl = _template("gitlab_push_hook.json")
        self.gitlab_deploy_tpl = _template("gitlab_deployment_hook__success.json")
        self.gitlab_issue_tpl = _template("gitlab_issue_hook__incident_closed.json")
        self.pagerduty_tpl = _template("pagerduty_incident_triggered__v3.json")
        self.opsgenie_create_tpl = _template("opsgenie_alert_create.json")
        self.opsgenie_close_tpl = _template("opsgenie_alert_close.json")
        self.cd_deployed_tpl = _template("cdevents_service_deployed.json")
        self.cd_detected_tpl = _template("cdevents_incident_detected.json")
        self.cd_resolved_tpl = _template("cdevents_incident_resolved.json")

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128)))

    # --- GitLab ------------------------------------------------------------------------------------

    def gitlab_push(self, repo: str, at: datetime, commits: int) -> Webhook:
        body = copy.deepcopy(self.gitlab_push_tpl)
        before = self.heads.get(repo, "0" * 40)
        entries = []
        t = at - timedelta(minutes=15 * commits)
        sha = before
        for _ in range(commits):
            t += timedelta(minutes=self.rng.randint(3, 15))
            sha = _sha(self.rng)
            entry = copy.deepcopy(self.gitlab_push_tpl["commits"][0])
            entry.update(id=sha, timestamp=t.astimezone(UTC).isoformat(), message="Work\n")
            entry["url"] = f"https://gitlab.example/{repo}/commit/{sha}"
            entries.append(entry)
        body.update(before=before, after=sha, checkout_sha=sha, commits=entries, total_commits_count=len(entries))
        body["ref"] = "refs/heads/main"
        self._project(body, repo)
        self.heads[repo] = sha
        return Webhook(at, "/webhooks/gitlab", orjson.dumps(body), {"X-Gitlab-Event": "Push Hook"})

    def _project(self, body: dict[str, Any], repo: str) -> None:
        project_id = int(hashlib.sha256(repo.encode()).hexdigest()[:7], 16)
        body["project"].update(
            id=project_id,
            name=repo.split("/")[1],
            path_with_namespace=repo,
            web_url=f"https://gitlab.example/{repo}",
            default_branch="main",
        )
        if "project_id" in body:
            body["project_id"] = project_id

    def gitlab_deployment(self, repo: str, sha: str, at: datetime, status: str) -> list[Webhook]:
        deployment_id = self._id()
        hooks = []
        for state, when in (("running", at - timedelta(minutes=4)), (status, at)):
            body = copy.deepcopy(self.gitlab_deploy_tpl)
            body.update(
                status=state,
                status_changed_at=_gitlab_time(when),
                deployment_id=deployment_id,
                deployable_id=self._id(),
                environment="production",
                environment_slug="production",
                environment_tier="production",
                short_sha=sha[:8],
                commit_url=f"https://gitlab.example/{repo}/-/commit/{sha}",
                ref="main",
            )
            self._project(body, repo)
            hooks.append(Webhook(when, "/webhooks/gitlab", orjson.dumps(body), {"X-Gitlab-Event": "Deployment Hook"}))
        return hooks

    def gitlab_incident(self, repo: str, starts: datetime, ends: datetime) -> list[Webhook]:
        issue_id = self._id()
        hooks = []
        for action, when in (("open", starts), ("close", ends)):
            body = copy.deepcopy(self.gitlab_issue_tpl)
            attrs = body["object_attributes"]
            attrs.update(
                id=issue_id,
                iid=issue_id % 1000,
                action=action,
                state="opened" if action == "open" else "closed",
                created_at=_iso(starts),
                updated_at=_iso(when),
                closed_at=_iso(ends) if action == "close" else None,
                title=f"5xx rate above 5% on {repo}",
                description="Incident was observed.",
            )
            self._project(body, repo)
            at = when + timedelta(seconds=20)
            hooks.append(Webhook(at, "/webhooks/gitlab", orjson.dumps(body), {"X-Gitlab-Event": "Issue Hook"}))
        return hooks

    # --- PagerDuty, Opsgenie -----------------------------------------------------------------------

    def pagerduty_incident(self, repo: str, starts: datetime, ends: datetime) -> list[Webhook]:
        incident_id = f"P{self.rng.getrandbits(40):010X}"
        hooks = []
        for event_type, when in (("incident.triggered", starts), ("incident.resolved", ends)):
            body = copy.deepcopy(self.pagerduty_tpl)
            event = body["event"]
            event.update(id=self._uuid(), event_type=event_type, occurred_at=_iso(when))
            event["data"].update(
                id=incident_id,
                status=event_type.rpartition(".")[2],
                title=f"5xx rate above 5% on {repo}",
                urgency="high",
                html_url=f"https://acme.pagerduty.com/incidents/{incident_id}",
            )
            event["data"]["service"].update(
                summary=repo, id="PS" + hashlib.sha256(repo.encode()).hexdigest()[:6].upper()
            )
            hooks.append(Webhook(when + timedelta(seconds=10), "/webhooks/pagerduty", orjson.dumps(body)))
        return hooks

    def opsgenie_incident(self, repo: str, starts: datetime, ends: datetime) -> list[Webhook]:
        alert_id = self._uuid()
        create = copy.deepcopy(self.opsgenie_create_tpl)
        create["alert"].update(
            alertId=alert_id,
            message=f"5xx rate above 5% on {repo}",
            tags=[f"service:{repo}", "env:production"],
            createdAt=_ms(starts),
            updatedAt=_ms(starts) * 1_000_000,
            priority="P1",
        )
        close = copy.deepcopy(self.opsgenie_close_tpl)
        close["alert"].update(
            alertId=alert_id,
            message=create["alert"]["message"],
            tags=create["alert"]["tags"],
            createdAt=_ms(starts),
            updatedAt=_ms(ends) * 1_000_000,
            priority="P1",
        )
        return [
            Webhook(starts + timedelta(seconds=15), "/webhooks/opsgenie", orjson.dumps(create)),
            Webhook(ends + timedelta(seconds=15), "/webhooks/opsgenie", orjson.dumps(close)),
        ]

    # --- CDEvents, push API ------------------------------------------------------------------------

    def _cdevent(self, template: dict[str, Any], at: datetime, source: str) -> dict[str, Any]:
        body = copy.deepcopy(template)
        body["context"].update(id=self._uuid(), source=source, timestamp=_iso(at))
        body["context"].pop("links", None)
        body["context"].pop("chainId", None)
        body["subject"]["source"] = source
        return body

    def cdevents_deployed(self, repo: str, sha: str, at: datetime) -> Webhook:
        body = self._cdevent(self.cd_deployed_tpl, at, f"/tekton/{repo}")
        body["subject"]["id"] = repo
        body["subject"]["content"]["environment"] = {"id": "production"}
        body["customData"] = {"sha": sha}
        return Webhook(at, "/webhooks/cdevents", orjson.dumps(body), {"Content-Type": "application/json"})

    def cdevents_incident(self, repo: str, starts: datetime, ends: datetime) -> list[Webhook]:
        subject = f"incident-{self._id()}"
        hooks = []
        for template, when in ((self.cd_detected_tpl, starts), (self.cd_resolved_tpl, ends)):
            body = self._cdevent(template, when, "/monitoring/prod")
            body["subject"]["id"] = subject
            content = body["subject"]["content"]
            content.update(environment={"id": "production"}, service={"id": repo})
            content["description"] = f"5xx rate above 5% on {repo}"
            hooks.append(Webhook(when + timedelta(seconds=5), "/webhooks/cdevents", orjson.dumps(body)))
        return hooks

    def push_deployment(self, repo: str, sha: str, at: datetime) -> Webhook:
        body = {
            "id": f"ci-{self._id()}",
            "service": repo,
            "environment": "production",
            "finished_at": _iso(at),
            "sha": sha,
        }
        return Webhook(at, "/api/v1/deployments", orjson.dumps(body))

    def push_incident(self, repo: str, starts: datetime, ends: datetime) -> list[Webhook]:
        base = {"id": f"INC-{self._id()}", "service": repo, "started_at": _iso(starts), "title": "5xx above 5%"}
        return [
            Webhook(starts + timedelta(seconds=40), "/api/v1/incidents", orjson.dumps(base)),
            Webhook(
                ends + timedelta(seconds=40), "/api/v1/incidents", orjson.dumps({**base, "resolved_at": _iso(ends)})
            ),
        ]

    def incident(self, source: Source, repo: str, starts: datetime, ends: datetime) -> list[Webhook]:
        match source:
            case Source.ALERTMANAGER:
                return self.alert(repo, starts, ends)
            case Source.PAGERDUTY:
                return self.pagerduty_incident(repo, starts, ends)
            case Source.OPSGENIE:
                return self.opsgenie_incident(repo, starts, ends)
            case Source.GITLAB:
                return self.gitlab_incident(repo, starts, ends)
            case Source.CDEVENTS:
                return self.cdevents_incident(repo, starts, ends)
            case _:
                return self.push_incident(repo, starts, ends)


def plan_mixed(plan: SimulationPlan, now: datetime, sources: Collection[Source]) -> list[Webhook]:
    """Every webhook of a mixed-source simulation, in the order they would have been sent."""
    chosen = frozenset(sources)
    scms = [scm for scm in _SCM if scm in chosen]
    incident_sources = [source for source in _INCIDENT_SOURCES if source in chosen]
    rng = random.Random(plan.seed)
    builder = _MixedBuilder(rng)
    hooks: list[Webhook] = []
    start_day = (now - timedelta(days=plan.days)).replace(hour=0, minute=0, second=0, microsecond=0)
    turn = 0
    for index, name in enumerate(service_names(plan.services)):
        repo = f"{ORG}/{name}"
        scm = scms[index % len(scms)]
        via_jenkins = scm is Source.GITHUB and Source.JENKINS in chosen and (index // len(scms)) % 2 == 1
        for day in range(plan.days + 1):
            day_start = start_day + timedelta(days=day)
            if day_start.weekday() >= 5:
                continue
            for push_no in range(rng.randint(1, 4)):
                at = day_start + timedelta(hours=9 + push_no * 2, minutes=rng.randint(0, 59))
                if at >= now:
                    break
                commits = rng.randint(1, 4)
                if scm is Source.GITLAB:
                    hooks.append(builder.gitlab_push(repo, at, commits))
                else:
                    hooks.append(builder.push(repo, at, commits)[0])
            for deploy_no in range(rng.choice([0, 1, 1, 2])):
                at = day_start + timedelta(hours=13 + deploy_no * 3, minutes=rng.randint(0, 59))
                sha = builder.heads.get(repo)
                if at + timedelta(minutes=3) >= now or sha is None:
                    break
                failed = rng.random() < 0.08
                if scm is Source.GITLAB:
                    hooks.extend(builder.gitlab_deployment(repo, sha, at, "failed" if failed else "success"))
                elif via_jenkins:
                    hooks.extend(
                        builder.jenkins_build(repo, f"{name}-deploy-prod", sha, at, "FAILURE" if failed else "SUCCESS")
                    )
                else:
                    hooks.append(builder.github_deployment(repo, sha, at, "failure" if failed else "success"))
                if failed:
                    continue
                # the same deployment relayed by the chosen relays: counted once
                if Source.CDEVENTS in chosen:
                    hooks.append(builder.cdevents_deployed(repo, sha, at + timedelta(minutes=2)))
                if Source.PUSH in chosen and rng.random() < 0.5:
                    hooks.append(builder.push_deployment(repo, sha, at + timedelta(minutes=1)))
                if incident_sources and rng.random() < 0.15:  # the deploy breaks production
                    starts = at + timedelta(minutes=rng.randint(5, 60))
                    ends = starts + timedelta(minutes=rng.randint(15, 240))
                    if ends + timedelta(minutes=1) >= now:
                        continue
                    usable = [s for s in incident_sources if s is not Source.GITLAB or scm is Source.GITLAB]
                    if not usable:
                        continue
                    first = usable[turn % len(usable)]
                    turn += 1
                    hooks.extend(builder.incident(first, repo, starts, ends))
                    if len(usable) > 1 and rng.random() < 0.3:  # a second tool pages too: one incident
                        second = usable[turn % len(usable)]
                        later = starts + (ends - starts) / 2
                        hooks.extend(builder.incident(second, repo, later, ends + timedelta(minutes=10)))
    hooks.sort(key=lambda h: h.at)
    return hooks


def sign_mixed(hook: Webhook, settings: Settings) -> dict[str, str] | None:
    """Headers of a hook to a source other than GitHub, Jenkins, Alertmanager; None for those."""
    ingest = settings.ingest
    headers = {"Content-Type": "application/json", "User-Agent": "metricsync-simulate", **hook.headers}
    digest = hashlib.sha256(hook.body).digest()
    if hook.path == "/webhooks/gitlab":
        headers["X-Gitlab-Event-UUID"] = str(uuid.UUID(bytes=digest[:16]))
        if ingest.gitlab_token is not None:
            headers["X-Gitlab-Token"] = ingest.gitlab_token.get_secret_value()
        return headers
    if hook.path == "/webhooks/pagerduty":
        headers["X-Webhook-Id"] = str(uuid.UUID(bytes=digest[:16]))
        if ingest.pagerduty_secret is not None:
            key = ingest.pagerduty_secret.get_secret_value().encode()
            headers["X-PagerDuty-Signature"] = "v1=" + hmac.new(key, hook.body, hashlib.sha256).hexdigest()
        return headers
    tokens = {
        "/webhooks/opsgenie": ingest.opsgenie_token,
        "/webhooks/cdevents": ingest.cdevents_token,
        "/api/v1/deployments": ingest.push_token,
        "/api/v1/incidents": ingest.push_token,
    }
    if hook.path not in tokens:
        return None
    token = tokens[hook.path]
    if token is not None:
        headers["Authorization"] = f"Bearer {token.get_secret_value()}"
    return headers
