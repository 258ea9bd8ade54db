"""`metricsync simulate`: realistic, correctly signed webhooks for a made-up team.

Each service pushes commits to GitHub several times a day and deploys to production once or
twice a working day, half of them through GitHub deployments, half through a Jenkins deploy job;
a few deploys fail, a few cause a critical alert that Alertmanager fires and later resolves, and
now and then a Jenkins rollback job redeploys the previous version. Payloads are built from real
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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, TextIO
from urllib.parse import urlsplit

import orjson

from metricsync.settings import Settings
from schemas.errors import MetricSyncError

ORG = "acme"
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
        self.heads: dict[str, str] = {}
        self.builds: dict[str, int] = {}
        self.next_id = 1_000_000

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def push(self, repo: str, at: datetime, commits: int) -> tuple[Webhook, str]:
        body = copy.deepcopy(self.push_tpl)
        before = self.heads.get(repo, "0" * 40)
        entries = []
        t = at - timedelta(minutes=15 * commits)
        sha = before
        for _ in range(commits):
            t += timedelta(minutes=self.rng.randint(3, 15))
            sha = _sha(self.rng)
            entry = copy.deepcopy(self.push_tpl["commits"][0])
            entry.update(id=sha, tree_id=_sha(self.rng), timestamp=t.astimezone(UTC).isoformat(), message="Work")
            entry["url"] = f"https://github.com/{repo}/commit/{sha}"
            entries.append(entry)
        body.update(before=before, after=sha, commits=entries, head_commit=entries[-1], created=before == "0" * 40)
        body["ref"] = "refs/heads/main"
        body["compare"] = f"https://github.com/{repo}/compare/{before[:12]}...{sha[:12]}"
        body["repository"].update(full_name=repo, name=repo.split("/")[1], pushed_at=int(at.timestamp()))
        self.heads[repo] = sha
        return Webhook(at, "/webhooks/github", orjson.dumps(body), {"X-GitHub-Event": "push"}), sha

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
        for day in range(plan.days + 1):
            day_start = start_day + timedelta(days=day)
            if day_start.weekday() >= 5:
                continue
            for push_no in range(rng.randint(1, 4)):
                at = day_start + timedelta(hours=9 + push_no * 2, minutes=rng.randint(0, 59))
                if at >= now:
                    break
                hook, _ = builder.push(repo, at, rng.randint(1, 4))
                hooks.append(hook)
            for deploy_no in range(rng.choice([0, 1, 1, 2])):
                at = day_start + timedelta(hours=13 + deploy_no * 3, minutes=rng.randint(0, 59))
                sha = builder.heads.get(repo)
                if at >= now or sha is None:
                    break
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
                        hooks.extend(
                            builder.jenkins_build(repo, f"{name}-rollback-prod", deployed[-2], back, "SUCCESS")
                        )
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


def run_simulation(url: str, plan: SimulationPlan, settings: Settings, out: TextIO) -> int:
    hooks = planned_webhooks(plan, datetime.now(UTC))
    target = urlsplit(url)
    if target.scheme not in ("http", "https") or not target.hostname:
        raise MetricSyncError(f"--url {url!r} is not an http(s) URL")
    conn_cls = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(target.hostname, target.port, timeout=30)
    prefix = target.path.rstrip("/")
    sources = ",".join(sorted(plan.sources))
    print(
        f"simulating {plan.services} services over {plan.days} days ({sources}): {len(hooks)} webhooks to {url}",
        file=out,
    )
    counts: dict[int, int] = {}
    started = time.perf_counter()
    for n, hook in enumerate(hooks, 1):
        try:
            conn.request("POST", prefix + hook.path, body=hook.body, headers=sign(hook, settings))
            response = conn.getresponse()
            detail = response.read()
        except OSError as e:
            raise MetricSyncError(f"cannot reach MetricSync at {url}: {e}") from e
        counts[response.status] = counts.get(response.status, 0) + 1
        if response.status >= 400:
            print(f"  {hook.path} answered {response.status}: {detail.decode(errors='replace')[:200]}", file=out)
            if response.status == 401:
                print("  set the same METRICSYNC_*_SECRET/TOKEN here as on the server", file=out)
                return 1
        if n % 100 == 0 or n == len(hooks):
            print(f"  sent {n}/{len(hooks)}", file=out, flush=True)
    conn.close()
    elapsed = time.perf_counter() - started
    summary = ", ".join(f"{status}: {count}" for status, count in sorted(counts.items()))
    print(f"done in {elapsed:.1f}s ({summary}); see {url}/api/v1/dora", file=out)
    return 0 if all(status < 400 for status in counts) else 1
