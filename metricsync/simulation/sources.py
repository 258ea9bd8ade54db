"""`metricsync simulate --sources ...`: a made-up team whose tools are any mix of the registered sources.

Each service keeps its code on GitHub or GitLab (alternating over the SCM sources chosen) and deploys
once or twice a working day, reported first-hand by its tool (a GitHub deployment status, a Jenkins
deploy job, or a GitLab deployment hook) and, when those sources are chosen, relayed again by CDEvents
(`service.deployed`, 2 minutes later) and by the push API (1 minute later): the same deployment from
several sources, which must count once (docs/metrics.md, section 1). As in the default team, a
deployment ships the head as it was when it started, and never re-runs the sha last deployed. A few
deploys break production; the incident is reported by one of the chosen incident sources in turn
(Alertmanager, PagerDuty, Opsgenie, a GitLab incident issue for GitLab services, CDEvents, the push
API), and sometimes by a second one overlapping it, which must merge. Bodies come from the one builder
(`metricsync.simulation.team`), shaped from the real templates by `metricsync.simulation.payloads`.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from metricsync.simulation.team import (
    DEFAULT_SOURCES,
    ORG,
    Repository,
    SimulationPlan,
    Webhook,
    _Builder,
    check_plan,
    plan_webhooks,
    service_names,
)
from schemas.errors import MetricSyncError
from schemas.sources import Source

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


def planned_webhooks(plan: SimulationPlan, now: datetime) -> list[Webhook]:
    """The simulation's webhooks: the default team (GitHub, Jenkins, Alertmanager), or a mix of sources."""
    if plan.sources == DEFAULT_SOURCES:
        return plan_webhooks(plan, now)
    return plan_mixed(plan, now)


def plan_mixed(plan: SimulationPlan, now: datetime) -> list[Webhook]:
    """Every webhook of a mixed-source simulation, in the order they would have been sent."""
    check_plan(plan)
    chosen = plan.sources
    scms = [scm for scm in _SCM if scm in chosen]
    if not scms:
        raise MetricSyncError("--sources needs github or gitlab (the code the deployments ship)")
    incident_sources = [source for source in _INCIDENT_SOURCES if source in chosen]
    rng = random.Random(plan.seed)
    builder = _Builder(rng)
    hooks: list[Webhook] = []
    start_day = (now - timedelta(days=plan.days)).replace(hour=0, minute=0, second=0, microsecond=0)
    turn = 0
    for index, name in enumerate(service_names(plan.services)):
        repo = Repository(f"{ORG}/{name}")
        scm = scms[index % len(scms)]
        via_jenkins = scm is Source.GITHUB and Source.JENKINS in chosen and (index // len(scms)) % 2 == 1
        deployed: list[str] = []
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
                    hooks.append(builder.push(repo, at, commits))
            for deploy_no in range(rng.choice([0, 1, 1, 2])):
                at = day_start + timedelta(hours=13 + deploy_no * 3, minutes=rng.randint(0, 59))
                started = at - timedelta(minutes=rng.randint(3, 9) if via_jenkins else 4 if scm is Source.GITLAB else 6)
                if at + timedelta(minutes=3) >= now:  # the relays follow within 2 minutes
                    break
                sha = repo.head_at(started)  # what main was when the deployment started
                if sha is None or (deployed and deployed[-1] == sha):
                    continue  # nothing pushed yet, or nothing new since the last deployment
                failed = rng.random() < 0.08
                if scm is Source.GITLAB:
                    hooks.extend(
                        builder.gitlab_deployment(repo.name, sha, started, at, "failed" if failed else "success")
                    )
                elif via_jenkins:
                    job = f"{name}-deploy-prod"
                    hooks.extend(
                        builder.jenkins_build(repo.name, job, sha, started, at, "FAILURE" if failed else "SUCCESS")
                    )
                else:
                    hooks.append(
                        builder.github_deployment(repo.name, sha, started, at, "failure" if failed else "success")
                    )
                if failed:
                    continue
                deployed.append(sha)
                # the same deployment relayed by the chosen relays: counted once
                if Source.CDEVENTS in chosen:
                    hooks.append(builder.cdevents_deployed(repo.name, sha, at + timedelta(minutes=2)))
                if Source.PUSH in chosen and rng.random() < 0.5:
                    hooks.append(builder.push_deployment(repo.name, sha, at + timedelta(minutes=1)))
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
                    hooks.extend(builder.incident(first, repo.name, starts, ends))
                    if len(usable) > 1 and rng.random() < 0.3:  # a second tool pages too: one incident
                        second = usable[turn % len(usable)]
                        later = starts + (ends - starts) / 2
                        hooks.extend(builder.incident(second, repo.name, later, ends + timedelta(minutes=10)))
    hooks.sort(key=lambda h: h.at)
    return hooks
