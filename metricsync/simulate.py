"""`metricsync simulate`: realistic, correctly signed webhooks for a made-up team.

Each service changes its code several times a working day, most changes through a pull request
(a push to a feature branch, the PR opened (now and then as a draft, marked ready later), a review
by a teammate, the merge and its push to main; now and then a dependabot PR), the rest pushed
straight to main; it deploys to production once or twice a working day, half of the services
through GitHub deployments, half through a Jenkins deploy job; a few deploys fail, a few cause a
critical alert that Alertmanager fires and later resolves, and now and then a Jenkins rollback job
redeploys the previous version. In the last 14 days the first service's PRs wait far longer for a
review, so the insights have a shift to find and explain. Payloads are built from real
third-party payloads (metricsync/templates/, provenance in its README) by changing values only.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import http.client
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, TextIO
from urllib.parse import urlsplit

import orjson

from metricsync.settings import Settings
from schemas.errors import MetricSyncError

ORG = "acme"
PEOPLE = ["alice", "bob", "carol", "dave", "erin"]
BOT = "dependabot[bot]"
SLOW_REVIEW_DAYS = 14  # the first service's pickup slows down over this many last days
SERVICE_NAMES = ["payments", "checkout", "catalog", "search", "accounts", "shipping", "inventory", "billing"]


MAX_SERVICES = 1000


def service_names(count: int) -> list[str]:
    """The first `count` made-up service names (readable ones first, numbered beyond them)."""
    return (SERVICE_NAMES + [f"service-{i:03d}" for i in range(len(SERVICE_NAMES), count)])[:count]


BUILTIN_SOURCES = frozenset({"github", "jenkins", "alertmanager"})


@dataclass(frozen=True)
class SimulationPlan:
    days: int = 30
    services: int = 3
    seed: int = 7
    # source names (`--sources`); other than the built-in three: metricsync/simulate_sources.py
    sources: frozenset[str] = BUILTIN_SOURCES


@dataclass(frozen=True)
class Webhook:
    at: datetime  # when it would have been sent
    path: str  # /webhooks/<source>
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _template(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(resources.files("metricsync.templates").joinpath(name).read_bytes())
    return data


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


class _Builder:
    """Turns templates into concrete webhooks; keeps per-service state (head sha, build numbers)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.push_tpl = _template("push__single_commit.json")
        self.status_tpl = _template("deployment_status__success.json")
        self.jenkins_tpl = _template("jenkins_notification__finalized_scm.json")
        self.alert_tpl = _template("webhook_v4__resolved_single_full.json")
        self.pr_tpl = _template("pull_request__opened.json")
        self.closed_tpl = _template("pull_request__closed_not_merged.json")
        self.review_tpl = _template("pull_request_review__submitted.json")
        self.heads: dict[str, str] = {}
        self.numbers: dict[str, int] = {}
        self.builds: dict[str, int] = {}
        self.next_id = 1_000_000

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def commits(self, at: datetime, count: int) -> list[tuple[str, datetime]]:
        """`count` new commits (sha, time), a few minutes apart, the last a little before `at`."""
        t = at - timedelta(minutes=15 * count)
        out = []
        for _ in range(count):
            t += timedelta(minutes=self.rng.randint(3, 15))
            out.append((_sha(self.rng), t))
        return out

    def push(
        self, repo: str, at: datetime, commits: int | list[tuple[str, datetime]], branch: str = "main"
    ) -> tuple[Webhook, str]:
        """A push to `branch` (main: onto its head; another branch: a new branch) of new or given commits."""
        listed = self.commits(at, commits) if isinstance(commits, int) else commits
        body = copy.deepcopy(self.push_tpl)
        before = self.heads.get(repo, "0" * 40) if branch == "main" else "0" * 40
        entries = []
        for sha, t in listed:
            entry = copy.deepcopy(self.push_tpl["commits"][0])
            entry.update(id=sha, tree_id=_sha(self.rng), timestamp=t.astimezone(UTC).isoformat(), message="Work")
            entry["url"] = f"https://github.com/{repo}/commit/{sha}"
            entries.append(entry)
        sha = listed[-1][0]
        body.update(before=before, after=sha, commits=entries, head_commit=entries[-1], created=before == "0" * 40)
        body["ref"] = f"refs/heads/{branch}"
        body["compare"] = f"https://github.com/{repo}/compare/{before[:12]}...{sha[:12]}"
        body["repository"].update(full_name=repo, name=repo.split("/")[1], pushed_at=int(at.timestamp()))
        if branch == "main":
            self.heads[repo] = sha
        return Webhook(at, "/webhooks/github", orjson.dumps(body), {"X-GitHub-Event": "push"}), sha

    def pull_request(self, repo: str, pr: PullRequestPlan, action: str, at: datetime) -> Webhook:
        """A `pull_request` delivery: opened / ready_for_review from the real "opened" example, closed
        (merged) from the real "closed" one, values changed."""
        body = copy.deepcopy(self.closed_tpl if action == "closed" else self.pr_tpl)
        body["action"] = action
        self._pr_fields(body["pull_request"], repo, pr, at)
        if action == "closed":
            body["pull_request"].update(
                state="closed", merged=True, merged_at=_iso(at), closed_at=_iso(at), merge_commit_sha=pr.merge_sha
            )
        body["repository"].update(full_name=repo, name=repo.split("/")[1])
        return Webhook(at, "/webhooks/github", orjson.dumps(body), {"X-GitHub-Event": "pull_request"})

    def review(self, repo: str, pr: PullRequestPlan, at: datetime) -> Webhook:
        body = copy.deepcopy(self.review_tpl)
        self._pr_fields(body["pull_request"], repo, pr, at)
        body["review"].update(
            id=self._id(),
            state="approved",
            submitted_at=_iso(at),
            commit_id=pr.head_sha,
            html_url=f"https://github.com/{repo}/pull/{pr.number}#pullrequestreview-{self.next_id}",
        )
        body["review"]["user"].update(login=pr.reviewer, type="User")
        body["repository"].update(full_name=repo, name=repo.split("/")[1])
        return Webhook(at, "/webhooks/github", orjson.dumps(body), {"X-GitHub-Event": "pull_request_review"})

    def _pr_fields(self, pr_body: dict[str, Any], repo: str, pr: PullRequestPlan, at: datetime) -> None:
        pr_body.update(
            id=pr.pr_id,
            number=pr.number,
            html_url=f"https://github.com/{repo}/pull/{pr.number}",
            url=f"https://api.github.com/repos/{repo}/pulls/{pr.number}",
            created_at=_iso(pr.opened),
            updated_at=_iso(at),
            draft=pr.ready is not None and at < pr.ready,
            title=f"Change {pr.number}",
        )
        pr_body["user"].update(login=pr.author, type="Bot" if pr.author == BOT else "User")
        pr_body["head"].update(ref=pr.branch, sha=pr.head_sha, label=f"{repo.split('/')[0]}:{pr.branch}")
        pr_body["base"].update(ref="main", label=f"{repo.split('/')[0]}:main")

    def new_pr(self, repo: str) -> tuple[int, int]:
        number = self.numbers.get(repo, 0) + 1
        self.numbers[repo] = number
        return number, self._id()

    def github_deployment(self, repo: str, sha: str, at: datetime, state: str) -> Webhook:
        body = copy.deepcopy(self.status_tpl)
        deployment_id = self._id()
        body["deployment"].update(
            id=deployment_id,
            sha=sha,
            ref="main",
            environment="production",
            original_environment="production",
            created_at=_iso(at - timedelta(minutes=6)),
            updated_at=_iso(at),
        )
        body["deployment_status"].update(
            id=self._id(), state=state, environment="production", created_at=_iso(at), updated_at=_iso(at)
        )
        body["repository"].update(full_name=repo, name=repo.split("/")[1])
        return Webhook(at, "/webhooks/github", orjson.dumps(body), {"X-GitHub-Event": "deployment_status"})

    def jenkins_build(self, repo: str, job: str, sha: str, at: datetime, status: str) -> list[Webhook]:
        number = self.builds.get(job, 0) + 1
        self.builds[job] = number
        started = at - timedelta(minutes=self.rng.randint(3, 9))
        hooks = []
        for phase, stamp, when in (
            ("STARTED", started, started),
            ("COMPLETED", at, at),
            ("FINALIZED", at + timedelta(seconds=5), at + timedelta(seconds=5)),
        ):
            body = copy.deepcopy(self.jenkins_tpl)
            body.update(name=job, url=f"job/{job}/")
            build = body["build"]
            build.update(
                full_url=f"http://jenkins.acme.test:8080/job/{job}/{number}/",
                number=number,
                phase=phase,
                url=f"job/{job}/{number}/",
                timestamp=int(stamp.timestamp() * 1000),
                duration=int((at - started).total_seconds() * 1000) if phase != "STARTED" else 0,
                parameters={"SERVICE": repo, "ENVIRONMENT": "production"},
            )
            build["scm"].update(url=f"git@github.com:{repo}.git", branch="origin/main", commit=sha)
            build.pop("artifacts", None)
            if phase == "STARTED":
                build.pop("status", None)
            else:
                build["status"] = status
            hooks.append(Webhook(when, "/webhooks/jenkins", orjson.dumps(body)))
        return hooks

    def alert(self, repo: str, starts: datetime, ends: datetime) -> list[Webhook]:
        fingerprint = f"{self.rng.getrandbits(64):016x}"
        hooks = []
        for status, at in (
            ("firing", starts + timedelta(seconds=30)),
            ("resolved", ends + timedelta(seconds=30)),
        ):
            body = copy.deepcopy(self.alert_tpl)
            alert = body["alerts"][0]
            labels = {
                "alertname": "HighErrorRate",
                "service": repo,
                "severity": "critical",
                "namespace": "prod",
            }
            alert.update(
                status=status,
                labels=labels,
                fingerprint=fingerprint,
                startsAt=_iso(starts),
                endsAt=_iso(ends) if status == "resolved" else "0001-01-01T00:00:00Z",
            )
            alert["annotations"] = {"summary": f"5xx rate above 5% on {repo}"}
            body.update(
                status=status,
                commonLabels=labels,
                commonAnnotations=alert["annotations"],
                groupLabels={"alertname": "HighErrorRate"},
            )
            body["groupKey"] = '{}:{alertname="HighErrorRate", service="' + repo + '"}'
            hooks.append(Webhook(at, "/webhooks/alertmanager", orjson.dumps(body)))
        return hooks


@dataclass
class PullRequestPlan:
    number: int
    pr_id: int
    author: str
    reviewer: str | None  # None: merged without a review (a bot's PR)
    branch: str
    commits: list[tuple[str, datetime]]
    opened: datetime
    ready: datetime | None  # opened as a draft and marked ready then
    reviewed: datetime | None
    merged: datetime
    merge_sha: str

    @property
    def head_sha(self) -> str:
        return self.commits[-1][0]


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


def _pr_hooks(builder: _Builder, repo: str, pr: PullRequestPlan, now: datetime) -> list[Webhook]:
    """The feature push and the PR's deliveries before its merge (those before `now`)."""
    hooks = [builder.push(repo, pr.commits[-1][1] + timedelta(minutes=1), pr.commits, branch=pr.branch)[0]]
    hooks.append(builder.pull_request(repo, pr, "opened", pr.opened))
    if pr.ready is not None:
        hooks.append(builder.pull_request(repo, pr, "ready_for_review", pr.ready))
    if pr.reviewed is not None:
        hooks.append(builder.review(repo, pr, pr.reviewed))
    return [h for h in hooks if h.at < now]


def plan_webhooks(plan: SimulationPlan, now: datetime) -> list[Webhook]:
    """Every webhook of the simulation, in the order they would have been sent."""
    if not 1 <= plan.services <= MAX_SERVICES:
        raise MetricSyncError(f"--services must be between 1 and {MAX_SERVICES}")
    if plan.days < 1:
        raise MetricSyncError("--days must be at least 1")
    rng = random.Random(plan.seed)
    builder = _Builder(rng)
    hooks: list[Webhook] = []
    start_day = (now - timedelta(days=plan.days)).replace(hour=0, minute=0, second=0, microsecond=0)
    for index, name in enumerate(service_names(plan.services)):
        repo = f"{ORG}/{name}"
        via_jenkins = index % 2 == 1
        deployed: list[str] = []
        # what reaches main, and the deploys, in time order: ("push", commits) or ("merge", PR) or ("deploy", None)
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
                pr = _plan_pr(builder, repo, at, slow)
                hooks.extend(_pr_hooks(builder, repo, pr, now))
                if pr.merged < now:
                    timeline.append((pr.merged, len(timeline), "merge", pr))
            for deploy_no in range(rng.choice([0, 1, 1, 2])):
                at = day_start + timedelta(hours=13 + deploy_no * 3, minutes=rng.randint(0, 59))
                if at < now:
                    timeline.append((at, len(timeline), "deploy", None))
        timeline.sort(key=lambda item: (item[0], item[1]))
        for at, _, kind, what in timeline:
            if kind == "push":
                hooks.append(builder.push(repo, at, what)[0])
                continue
            if kind == "merge":
                pr = what
                hooks.append(builder.pull_request(repo, pr, "closed", at))
                # GitHub's push for a merge commit: the branch's commits and the merge commit
                hooks.append(builder.push(repo, at + timedelta(seconds=2), [*pr.commits, (pr.merge_sha, at)])[0])
                continue
            sha = builder.heads.get(repo)
            if sha is None:
                continue
            failed_attempt = rng.random() < 0.08
            status_word = (
                ("FAILURE" if via_jenkins else "failure")
                if failed_attempt
                else ("SUCCESS" if via_jenkins else "success")
            )
            if via_jenkins:
                hooks.extend(builder.jenkins_build(repo, f"{name}-deploy-prod", sha, at, status_word))
            else:
                hooks.append(builder.github_deployment(repo, sha, at, status_word))
            if failed_attempt:
                continue
            deployed.append(sha)
            roll = rng.random()
            if roll < 0.12:  # the deploy breaks production: a critical alert
                starts = at + timedelta(minutes=rng.randint(5, 60))
                ends = starts + timedelta(minutes=rng.randint(15, 240))
                if ends < now:
                    hooks.extend(builder.alert(repo, starts, ends))
            elif roll < 0.16 and via_jenkins and len(deployed) >= 2:  # rolled back
                back = at + timedelta(minutes=rng.randint(20, 90))
                if back < now:
                    hooks.extend(builder.jenkins_build(repo, f"{name}-rollback-prod", deployed[-2], back, "SUCCESS"))
                    deployed.append(deployed[-2])
    hooks.sort(key=lambda h: h.at)
    return hooks


def planned_webhooks(plan: SimulationPlan, now: datetime) -> list[Webhook]:
    """The simulation's webhooks: today's team (GitHub, Jenkins, Alertmanager), or a mix of sources."""
    if plan.sources == BUILTIN_SOURCES:
        return plan_webhooks(plan, now)
    from metricsync.simulate_sources import plan_mixed
    from schemas.sources import Source

    if not 1 <= plan.services <= MAX_SERVICES:
        raise MetricSyncError(f"--services must be between 1 and {MAX_SERVICES}")
    if plan.days < 1:
        raise MetricSyncError("--days must be at least 1")
    return plan_mixed(plan, now, frozenset(Source(name) for name in plan.sources))


def sign(hook: Webhook, settings: Settings) -> dict[str, str]:
    if not hook.path.endswith(("/github", "/jenkins", "/alertmanager")):
        from metricsync.simulate_sources import sign_mixed

        mixed = sign_mixed(hook, settings)
        if mixed is not None:
            return mixed
    headers = {"Content-Type": "application/json", "User-Agent": "metricsync-simulate", **hook.headers}
    if hook.path.endswith("/github"):
        headers["X-GitHub-Delivery"] = str(uuid.UUID(bytes=hashlib.sha256(hook.body).digest()[:16]))
        if settings.ingest.github_secret is not None:
            digest = hmac.new(settings.ingest.github_secret.get_secret_value().encode(), hook.body, hashlib.sha256)
            headers["X-Hub-Signature-256"] = "sha256=" + digest.hexdigest()
    else:
        token = settings.ingest.jenkins_token if hook.path.endswith("/jenkins") else settings.ingest.alertmanager_token
        if token is not None:
            if hook.path.endswith("/jenkins"):  # the Notification Plugin sends basic auth from its URL
                creds = base64.b64encode(b"jenkins:" + token.get_secret_value().encode()).decode()
                headers["Authorization"] = f"Basic {creds}"
            else:
                headers["Authorization"] = f"Bearer {token.get_secret_value()}"
    return headers


def _answer(status: int, detail: bytes) -> str:
    """How one webhook was answered: accepted, duplicate or ignored (202), refused (4xx), failed (5xx)."""
    if status in (200, 202):
        try:
            said = orjson.loads(detail).get("status")
        except (orjson.JSONDecodeError, AttributeError):
            said = None
        return said if said in ("accepted", "duplicate", "ignored") else "accepted"
    return "refused" if status < 500 else "failed"


def tally_line(tally: Mapping[str, int]) -> str:
    acknowledged = sum(tally.get(k, 0) for k in ("accepted", "duplicate", "ignored"))
    return (
        f"acknowledged {acknowledged} (accepted {tally.get('accepted', 0)}, duplicate {tally.get('duplicate', 0)}, "
        f"ignored {tally.get('ignored', 0)}), refused {tally.get('refused', 0)}, failed {tally.get('failed', 0)}"
    )


def run_simulation(
    url: str,
    plan: SimulationPlan,
    settings: Settings,
    out: TextIO,
    resume_from: int = 0,
    as_of: datetime | None = None,
) -> int:
    """Send the plan's webhooks; the tally of answers is printed also when the run aborts, with the
    command that resumes it (the same `--as-of` gives the same webhooks, so the same delivery ids)."""
    now = (as_of or datetime.now(UTC)).replace(microsecond=0)
    hooks = planned_webhooks(plan, now)
    target = urlsplit(url)
    if target.scheme not in ("http", "https") or not target.hostname:
        raise MetricSyncError(f"--url {url!r} is not an http(s) URL")
    if not 0 <= resume_from <= len(hooks):
        raise MetricSyncError(f"--resume-from must be between 0 and {len(hooks)} (the plan's webhooks)")
    conn_cls = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(target.hostname, target.port, timeout=30)
    prefix = target.path.rstrip("/")
    stamp = now.isoformat().replace("+00:00", "Z")
    print(
        f"simulating {plan.services} services over {plan.days} days ({','.join(sorted(plan.sources))}) as of {stamp}: "
        f"{len(hooks)} webhooks to {url}" + (f", from #{resume_from + 1}" if resume_from else ""),
        file=out,
    )
    tally: dict[str, int] = {}
    done = resume_from  # answered without a 5xx, in order: a resume starts after it
    first_failed: int | None = None
    started = time.perf_counter()
    try:
        for n, hook in enumerate(hooks[resume_from:], resume_from + 1):
            try:
                conn.request("POST", prefix + hook.path, body=hook.body, headers=sign(hook, settings))
                response = conn.getresponse()
                detail = response.read()
            except OSError as e:
                tally["failed"] = tally.get("failed", 0) + 1
                raise MetricSyncError(f"cannot reach MetricSync at {url}: {e}") from e
            answer = _answer(response.status, detail)
            tally[answer] = tally.get(answer, 0) + 1
            if response.status >= 400:
                print(f"  {hook.path} answered {response.status}: {detail.decode(errors='replace')[:200]}", file=out)
                if response.status == 401:
                    print("  set the same METRICSYNC_*_SECRET/TOKEN here as on the server", file=out)
                    return 1
            if answer == "failed":
                first_failed = first_failed or n  # a resume sends it (and what follows) again
            elif first_failed is None:
                done = n
            if n % 100 == 0 or n == len(hooks):
                print(f"  sent {n}/{len(hooks)}", file=out, flush=True)
    finally:
        conn.close()
        print(f"{tally_line(tally)} in {time.perf_counter() - started:.1f}s", file=out)
        if done < len(hooks):
            print(
                f"stopped after {done}/{len(hooks)}; resume with: metricsync simulate --url {url} --days {plan.days} "
                f"--services {plan.services} --seed {plan.seed} --sources {','.join(sorted(plan.sources))} "
                f"--as-of {stamp} --resume-from {done}",
                file=out,
            )
    print(f"done; see {url}/api/v1/dora, {url}/api/v1/lead-time, {url}/api/v1/insights", file=out)
    return 0 if not tally.get("refused") and not tally.get("failed") else 1
