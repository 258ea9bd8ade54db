"""The made-up team `metricsync simulate` plays: its timeline of webhooks, deterministic for a seed.

This module holds the plan, the webhooks, the one builder of every source's webhooks, and the default
team's timeline (GitHub, Jenkins, Alertmanager); a team on any mix of sources (`--sources`) is played
by `metricsync.simulation.sources`.

Each service changes its code several times a working day, most changes through a pull request
(a push to a feature branch, the PR opened (now and then as a draft, marked ready later), a review
by a teammate, the merge and its push to main; now and then a dependabot PR, merged unreviewed), the
rest pushed straight to main; it deploys to production once or twice a working day, half of the
services through GitHub deployments, half through a Jenkins deploy job. What reaches main and the
deployments are played in time order. A deployment ships the head of main as it was when the
deployment started (a push or merge later that day is not in it), and only when that head has not
been deployed yet (no re-runs of the same sha). A few deploys fail, a few cause a critical alert that
Alertmanager fires and later resolves, and now and then a Jenkins rollback job redeploys the
previous version. In the last SLOW_REVIEW_DAYS days the first service's PRs wait far longer for a
review, so the insights have a shift to find and explain.
"""

from __future__ import annotations

import bisect
import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from metricsync.simulation import payloads
from metricsync.simulation.payloads import Commit, iso
from schemas.errors import MetricSyncError
from schemas.sources import Source

ORG = "acme"
PEOPLE = ["alice", "bob", "carol", "dave", "erin"]
BOT = "dependabot[bot]"
SLOW_REVIEW_DAYS = 14  # the first service's pickup slows down over this many last days
MERGE_PUSH_DELAY = timedelta(seconds=2)  # a merge's push to main after its `closed` delivery
SERVICE_NAMES = ["payments", "checkout", "catalog", "search", "accounts", "shipping", "inventory", "billing"]
MAX_SERVICES = 1000
ZERO_SHA = "0" * 40
PUSH_DEPLOYMENTS = "/api/v1/deployments"
PUSH_INCIDENTS = "/api/v1/incidents"


def service_names(count: int) -> list[str]:
    """The first `count` made-up service names (readable ones first, numbered beyond them)."""
    return (SERVICE_NAMES + [f"service-{i:03d}" for i in range(len(SERVICE_NAMES), count)])[:count]


DEFAULT_SOURCES = frozenset({Source.GITHUB, Source.JENKINS, Source.ALERTMANAGER})


@dataclass(frozen=True)
class SimulationPlan:
    days: int = 30
    services: int = 3
    seed: int = 7
    sources: frozenset[Source] = DEFAULT_SOURCES  # the team's tools (`--sources`)


def check_plan(plan: SimulationPlan) -> None:
    if not 1 <= plan.services <= MAX_SERVICES:
        raise MetricSyncError(f"--services must be between 1 and {MAX_SERVICES}")
    if plan.days < 1:
        raise MetricSyncError("--days must be at least 1")


@dataclass(frozen=True)
class Webhook:
    at: datetime  # when it would have been sent
    source: Source
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # the source's own, e.g. X-GitHub-Event (unsigned)
    route: str | None = None  # None: the source's webhook path; the push API has one per shape

    @property
    def path(self) -> str:
        return self.route or f"/webhooks/{self.source.value}"


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


class Repository:
    """The pushes of one repository's main branch, in time order: what its head was at any moment."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.times: list[datetime] = []
        self.heads: list[str] = []

    @property
    def head(self) -> str:
        return self.heads[-1] if self.heads else ZERO_SHA

    def pushed(self, at: datetime, sha: str) -> None:
        if self.times and at < self.times[-1]:
            raise ValueError(f"pushes to {self.name} must be added in time order")
        self.times.append(at)
        self.heads.append(sha)

    def head_at(self, moment: datetime) -> str | None:
        """The head as it was at `moment` (pushes at `moment` included); None before the first push."""
        index = bisect.bisect_right(self.times, moment)
        return self.heads[index - 1] if index else None


@dataclass
class PullRequestPlan:
    number: int
    pr_id: int
    author: str
    reviewer: str | None  # None: merged without a review (a bot's PR)
    branch: str
    commits: list[tuple[str, datetime]]  # (sha, time), oldest first
    opened: datetime
    ready: datetime | None  # opened as a draft and marked ready then
    reviewed: datetime | None
    merged: datetime
    merge_sha: str

    @property
    def head_sha(self) -> str:
        return self.commits[-1][0]


class _Builder:
    """Turns the packaged templates into concrete webhooks of every source; keeps ids, PR and build numbers."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.templates: dict[str, payloads.Document] = {}
        self.builds: dict[str, int] = {}
        self.numbers: dict[str, int] = {}  # the last PR number per repository
        self.next_id = 1_000_000

    def _tpl(self, name: str) -> payloads.Document:
        if name not in self.templates:
            self.templates[name] = payloads.template(name)
        return self.templates[name]

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128)))

    def commits(self, at: datetime, count: int) -> list[tuple[str, datetime]]:
        """`count` new commits (sha, time), a few minutes apart, the last a little before `at`."""
        t = at - timedelta(minutes=15 * count)
        out = []
        for _ in range(count):
            t += timedelta(minutes=self.rng.randint(3, 15))
            out.append((_sha(self.rng), t))
        return out

    def _commits(self, at: datetime, count: int, url: str, tree: bool) -> list[Commit]:
        return [
            Commit(sha, t.astimezone(UTC).isoformat(), tree=_sha(self.rng) if tree else None, url=url + sha)
            for sha, t in self.commits(at, count)
        ]

    # --- GitHub, Jenkins, Alertmanager -------------------------------------------------------------

    def push(
        self, repo: Repository, at: datetime, commits: int | list[tuple[str, datetime]], branch: str = "main"
    ) -> Webhook:
        """A push to `branch` of `commits` new commits, or of the commits given: onto main's head, or
        (another branch) a new branch."""
        url = f"https://github.com/{repo.name}/commit/"
        if isinstance(commits, int):
            listed = self._commits(at, commits, url, tree=True)
        else:
            listed = [
                Commit(sha, t.astimezone(UTC).isoformat(), tree=_sha(self.rng), url=url + sha) for sha, t in commits
            ]
        before = repo.head if branch == "main" else ZERO_SHA
        after = str(listed[-1].sha)
        body = payloads.github_push(
            self._tpl(payloads.PUSH),
            repo=repo.name,
            name=repo.name.split("/")[1],
            before=before,
            after=after,
            commits=listed,
            created=before == ZERO_SHA,
            compare=f"https://github.com/{repo.name}/compare/{before[:12]}...{after[:12]}",
            pushed_at=int(at.timestamp()),
            ref=f"refs/heads/{branch}",
        )
        if branch == "main":
            repo.pushed(at, after)
        return Webhook(at, Source.GITHUB, orjson.dumps(body), {"X-GitHub-Event": "push"})

    def new_pr(self, repo: str) -> tuple[int, int]:
        """The next PR number of `repo` and a new PR id."""
        number = self.numbers.get(repo, 0) + 1
        self.numbers[repo] = number
        return number, self._id()

    def _pr(self, repo: str, pr: PullRequestPlan) -> payloads.PullRequest:
        return payloads.PullRequest(
            repo=repo,
            pr_id=pr.pr_id,
            number=pr.number,
            title=f"Change {pr.number}",
            author=pr.author,
            bot=pr.author == BOT,
            branch=pr.branch,
            head_sha=pr.head_sha,
            created=iso(pr.opened),
        )

    def pull_request(self, repo: str, pr: PullRequestPlan, action: str, at: datetime) -> Webhook:
        """A `pull_request` delivery: opened / ready_for_review from the real "opened" example, closed
        (merged) from the real "closed" one, values changed."""
        body = payloads.github_pull_request(
            self._tpl(payloads.PULL_REQUEST_CLOSED if action == "closed" else payloads.PULL_REQUEST),
            pr=self._pr(repo, pr),
            action=action,
            updated=iso(at),
            draft=pr.ready is not None and at < pr.ready,
            merged=(iso(at), pr.merge_sha) if action == "closed" else None,
        )
        return Webhook(at, Source.GITHUB, orjson.dumps(body), {"X-GitHub-Event": "pull_request"})

    def review(self, repo: str, pr: PullRequestPlan, at: datetime) -> Webhook:
        """`pr`'s approving review by its reviewer."""
        body = payloads.github_review(
            self._tpl(payloads.PULL_REQUEST_REVIEW),
            pr=self._pr(repo, pr),
            review_id=self._id(),
            reviewer=pr.reviewer or PEOPLE[0],
            submitted=iso(at),
        )
        return Webhook(at, Source.GITHUB, orjson.dumps(body), {"X-GitHub-Event": "pull_request_review"})

    def github_deployment(self, repo: str, sha: str, created: datetime, at: datetime, state: str) -> Webhook:
        body = payloads.github_deployment_status(
            self._tpl(payloads.DEPLOYMENT_STATUS),
            repo=repo,
            name=repo.split("/")[1],
            deployment_id=self._id(),
            status_id=self._id(),
            sha=sha,
            state=state,
            created=iso(created),
            updated=iso(at),
        )
        return Webhook(at, Source.GITHUB, orjson.dumps(body), {"X-GitHub-Event": "deployment_status"})

    def jenkins_build(
        self, repo: str, job: str, sha: str, started: datetime, at: datetime, status: str
    ) -> list[Webhook]:
        number = self.builds.get(job, 0) + 1
        self.builds[job] = number
        hooks = []
        for phase, when in (("STARTED", started), ("COMPLETED", at), ("FINALIZED", at + timedelta(seconds=5))):
            body = payloads.jenkins_build(
                self._tpl(payloads.JENKINS),
                job=job,
                number=number,
                phase=phase,
                status=None if phase == "STARTED" else status,
                timestamp_ms=int(when.timestamp() * 1000),
                duration_ms=int((at - started).total_seconds() * 1000) if phase != "STARTED" else 0,
                service=repo,
                sha=sha,
            )
            hooks.append(Webhook(when, Source.JENKINS, orjson.dumps(body)))
        return hooks

    def alert(self, repo: str, starts: datetime, ends: datetime) -> list[Webhook]:
        fingerprint = f"{self.rng.getrandbits(64):016x}"
        hooks = []
        for status, at in (("firing", starts + timedelta(seconds=30)), ("resolved", ends + timedelta(seconds=30))):
            body = payloads.alertmanager_alert(
                self._tpl(payloads.ALERTMANAGER),
                status=status,
                service=repo,
                fingerprint=fingerprint,
                starts=iso(starts),
                ends=iso(ends) if status == "resolved" else payloads.NEVER,
                summary=f"5xx rate above 5% on {repo}",
                group_key='{}:{alertname="HighErrorRate", service="' + repo + '"}',
            )
            hooks.append(Webhook(at, Source.ALERTMANAGER, orjson.dumps(body)))
        return hooks

    # --- GitLab --------------------------------------------------------------------------------------

    def gitlab_push(self, repo: Repository, at: datetime, count: int) -> Webhook:
        before = repo.head
        commits = self._commits(at, count, f"https://gitlab.example/{repo.name}/commit/", tree=False)
        after = str(commits[-1].sha)
        body = payloads.gitlab_push(
            self._tpl(payloads.GITLAB_PUSH),
            repo=repo.name,
            project_id=_project_id(repo.name),
            before=before,
            after=after,
            commits=commits,
        )
        repo.pushed(at, after)
        return Webhook(at, Source.GITLAB, orjson.dumps(body), {"X-Gitlab-Event": "Push Hook"})

    def gitlab_deployment(self, repo: str, sha: str, started: datetime, at: datetime, status: str) -> list[Webhook]:
        deployment_id = self._id()
        hooks = []
        for state, when in (("running", started), (status, at)):
            body = payloads.gitlab_deployment(
                self._tpl(payloads.GITLAB_DEPLOYMENT),
                repo=repo,
                project_id=_project_id(repo),
                deployment_id=deployment_id,
                deployable_id=self._id(),
                sha=sha,
                status=state,
                at=when,
            )
            hooks.append(Webhook(when, Source.GITLAB, orjson.dumps(body), {"X-Gitlab-Event": "Deployment Hook"}))
        return hooks

    def gitlab_incident(self, repo: str, starts: datetime, ends: datetime) -> list[Webhook]:
        issue_id = self._id()
        hooks = []
        for action, when in (("open", starts), ("close", ends)):
            body = payloads.gitlab_incident_issue(
                self._tpl(payloads.GITLAB_INCIDENT),
                repo=repo,
                project_id=_project_id(repo),
                issue_id=issue_id,
                action=action,
                created=iso(starts),
                updated=iso(when),
                closed=iso(ends) if action == "close" else None,
                title=f"5xx rate above 5% on {repo}",
            )
            at = when + timedelta(seconds=20)
            hooks.append(Webhook(at, Source.GITLAB, orjson.dumps(body), {"X-Gitlab-Event": "Issue Hook"}))
        return hooks

    # --- PagerDuty, Opsgenie -------------------------------------------------------------------------

    def pagerduty_incident(self, repo: str, starts: datetime, ends: datetime) -> list[Webhook]:
        incident_id = f"P{self.rng.getrandbits(40):010X}"
        hooks = []
        for event_type, when in (("incident.triggered", starts), ("incident.resolved", ends)):
            body = payloads.pagerduty_incident(
                self._tpl(payloads.PAGERDUTY),
                event_id=self._uuid(),
                event_type=event_type,
                occurred=iso(when),
                incident_id=incident_id,
                service=repo,
                service_id="PS" + hashlib.sha256(repo.encode()).hexdigest()[:6].upper(),
                title=f"5xx rate above 5% on {repo}",
            )
            hooks.append(Webhook(when + timedelta(seconds=10), Source.PAGERDUTY, orjson.dumps(body)))
        return hooks

    def opsgenie_incident(self, repo: str, starts: datetime, ends: datetime) -> list[Webhook]:
        alert_id = self._uuid()
        hooks = []
        for name, when in ((payloads.OPSGENIE_CREATE, starts), (payloads.OPSGENIE_CLOSE, ends)):
            body = payloads.opsgenie_alert(
                self._tpl(name),
                alert_id=alert_id,
                message=f"5xx rate above 5% on {repo}",
                tags=[f"service:{repo}", "env:production"],
                created_ms=_ms(starts),
                updated_ns=_ms(when) * 1_000_000,
            )
            hooks.append(Webhook(when + timedelta(seconds=15), Source.OPSGENIE, orjson.dumps(body)))
        return hooks

    # --- CDEvents, push API --------------------------------------------------------------------------

    def cdevents_deployed(self, repo: str, sha: str, at: datetime) -> Webhook:
        body = payloads.cdevent(
            self._tpl(payloads.CDEVENTS_DEPLOYED),
            event_id=self._uuid(),
            source=f"/tekton/{repo}",
            timestamp=iso(at),
            subject_id=repo,
        )
        body["subject"]["content"]["environment"] = {"id": "production"}
        body["customData"] = {"sha": sha}
        return Webhook(at, Source.CDEVENTS, orjson.dumps(body))

    def cdevents_incident(self, repo: str, starts: datetime, ends: datetime) -> list[Webhook]:
        subject = f"incident-{self._id()}"
        hooks = []
        for name, when in ((payloads.CDEVENTS_INCIDENT_DETECTED, starts), (payloads.CDEVENTS_INCIDENT_RESOLVED, ends)):
            body = payloads.cdevent(
                self._tpl(name),
                event_id=self._uuid(),
                source="/monitoring/prod",
                timestamp=iso(when),
                subject_id=subject,
            )
            content = body["subject"]["content"]
            content.update(environment={"id": "production"}, service={"id": repo})
            content["description"] = f"5xx rate above 5% on {repo}"
            hooks.append(Webhook(when + timedelta(seconds=5), Source.CDEVENTS, orjson.dumps(body)))
        return hooks

    def push_deployment(self, repo: str, sha: str, at: datetime) -> Webhook:
        body = payloads.push_deployment(deployment_id=f"ci-{self._id()}", service=repo, finished=iso(at), sha=sha)
        return Webhook(at, Source.PUSH, orjson.dumps(body), route=PUSH_DEPLOYMENTS)

    def push_incident(self, repo: str, starts: datetime, ends: datetime) -> list[Webhook]:
        incident_id = f"INC-{self._id()}"
        return [
            Webhook(
                when + timedelta(seconds=40),
                Source.PUSH,
                orjson.dumps(
                    payloads.push_incident(
                        incident_id=incident_id,
                        service=repo,
                        started=iso(starts),
                        title="5xx above 5%",
                        resolved=resolved,
                    )
                ),
                route=PUSH_INCIDENTS,
            )
            for when, resolved in ((starts, None), (ends, iso(ends)))
        ]

    def incident(self, source: Source, repo: str, starts: datetime, ends: datetime) -> list[Webhook]:
        """An incident of `repo` from `starts` to `ends` as `source` reports it (opened, then resolved)."""
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
            case Source.PUSH:
                return self.push_incident(repo, starts, ends)
            case _:
                raise ValueError(f"{source.value} reports no incidents")


def _project_id(repo: str) -> int:
    """A stable GitLab project id for a repository path."""
    return int(hashlib.sha256(repo.encode()).hexdigest()[:7], 16)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _plan_pr(builder: _Builder, repo: str, at: datetime, slow_review: bool) -> PullRequestPlan:
    """One PR whose branch was pushed at `at`: opened minutes later, reviewed after a pickup delay (hours
    when `slow_review`), merged a little after the review."""
    rng = builder.rng
    number, pr_id = builder.new_pr(repo)
    bot = rng.random() < 0.06
    author = BOT if bot else rng.choice(PEOPLE)
    commits = builder.commits(at, 1 if bot else rng.randint(1, 4))
    opened = at + timedelta(minutes=rng.randint(2, 30))
    ready = opened + timedelta(minutes=rng.randint(30, 180)) if not bot and rng.random() < 0.1 else None
    reviewer: str | None
    reviewed: datetime | None
    if bot:
        reviewer, reviewed = None, None
        merged = opened + timedelta(minutes=rng.randint(10, 120))
    else:
        reviewer = rng.choice([p for p in PEOPLE if p != author])
        pickup = timedelta(hours=rng.uniform(24, 72)) if slow_review else timedelta(minutes=rng.randint(15, 180))
        reviewed = (ready or opened) + pickup
        merged = reviewed + timedelta(minutes=rng.randint(5, 90))
    return PullRequestPlan(
        number=number,
        pr_id=pr_id,
        author=author,
        reviewer=reviewer,
        branch=f"dependabot/npm/dep-{number}" if bot else f"feature/{number}",
        commits=commits,
        opened=opened,
        ready=ready,
        reviewed=reviewed,
        merged=merged,
        merge_sha=_sha(rng),
    )


def _pr_hooks(builder: _Builder, repo: Repository, pr: PullRequestPlan, now: datetime) -> list[Webhook]:
    """The feature push and the PR's deliveries before its merge (those before `now`)."""
    hooks = [builder.push(repo, pr.commits[-1][1] + timedelta(minutes=1), pr.commits, branch=pr.branch)]
    hooks.append(builder.pull_request(repo.name, pr, "opened", pr.opened))
    if pr.ready is not None:
        hooks.append(builder.pull_request(repo.name, pr, "ready_for_review", pr.ready))
    if pr.reviewed is not None:
        hooks.append(builder.review(repo.name, pr, pr.reviewed))
    return [h for h in hooks if h.at < now]


def plan_webhooks(plan: SimulationPlan, now: datetime) -> list[Webhook]:
    """Every webhook of the default team (GitHub, Jenkins, Alertmanager), in the order they would have
    been sent (all before `now`); `metricsync.simulation.sources.planned_webhooks` plays any sources."""
    check_plan(plan)
    rng = random.Random(plan.seed)
    builder = _Builder(rng)
    hooks: list[Webhook] = []
    start_day = (now - timedelta(days=plan.days)).replace(hour=0, minute=0, second=0, microsecond=0)
    for index, name in enumerate(service_names(plan.services)):
        repo = Repository(f"{ORG}/{name}")
        via_jenkins = index % 2 == 1
        deployed: list[str] = []
        # what reaches main, and the deploys, in time order: (time, n, kind, what) with kind "push"
        # (what: the number of commits), "merge" (the PR) or "deploy" (when the deployment started)
        timeline: list[tuple[datetime, int, str, Any]] = []
        for day in range(plan.days + 1):
            day_start = start_day + timedelta(days=day)
            if day_start.weekday() >= 5:
                continue
            slow = index == 0 and day > plan.days - SLOW_REVIEW_DAYS
            for push_no in range(rng.randint(1, 4)):
                at = day_start + timedelta(hours=9 + push_no * 2, minutes=rng.randint(0, 59))
                if at >= now:
                    break
                if rng.random() < 0.2:  # straight to main, no PR
                    timeline.append((at, len(timeline), "push", rng.randint(1, 4)))
                    continue
                pr = _plan_pr(builder, repo.name, at, slow)
                hooks.extend(_pr_hooks(builder, repo, pr, now))
                if pr.merged + MERGE_PUSH_DELAY < now:  # at its push's time: main's pushes are played in time order
                    timeline.append((pr.merged + MERGE_PUSH_DELAY, len(timeline), "merge", pr))
            for deploy_no in range(rng.choice([0, 1, 1, 2])):
                at = day_start + timedelta(hours=13 + deploy_no * 3, minutes=rng.randint(0, 59))
                started = at - timedelta(minutes=rng.randint(3, 9) if via_jenkins else 6)
                if at >= now:
                    break
                timeline.append((at, len(timeline), "deploy", started))
        timeline.sort(key=lambda item: (item[0], item[1]))
        for at, _, kind, what in timeline:
            if kind == "push":
                hooks.append(builder.push(repo, at, what))
                continue
            if kind == "merge":
                pr = what
                hooks.append(builder.pull_request(repo.name, pr, "closed", pr.merged))
                # GitHub's push for a merge commit: the branch's commits and the merge commit
                hooks.append(builder.push(repo, at, [*pr.commits, (pr.merge_sha, pr.merged)]))
                continue
            started = what
            sha = repo.head_at(started)  # what main was when the deployment started
            if sha is None or (deployed and deployed[-1] == sha):
                continue  # nothing pushed yet, or nothing new since the last deployment
            failed_attempt = rng.random() < 0.08
            status_word = "failure" if failed_attempt else "success"
            if via_jenkins:
                job = f"{name}-deploy-prod"
                hooks.extend(builder.jenkins_build(repo.name, job, sha, started, at, status_word.upper()))
            else:
                hooks.append(builder.github_deployment(repo.name, sha, started, at, status_word))
            if failed_attempt:
                continue
            deployed.append(sha)
            roll = rng.random()
            if roll < 0.12:  # the deploy breaks production: a critical alert
                starts = at + timedelta(minutes=rng.randint(5, 60))
                ends = starts + timedelta(minutes=rng.randint(15, 240))
                if ends < now:
                    hooks.extend(builder.alert(repo.name, starts, ends))
            elif roll < 0.16 and via_jenkins and len(deployed) >= 2:  # rolled back
                back = at + timedelta(minutes=rng.randint(20, 90))
                if back < now:
                    job = f"{name}-rollback-prod"
                    rolled_back = deployed[-2]
                    hooks.extend(
                        builder.jenkins_build(repo.name, job, rolled_back, back - timedelta(minutes=4), back, "SUCCESS")
                    )
                    deployed.append(rolled_back)
    hooks.sort(key=lambda h: h.at)
    return hooks
