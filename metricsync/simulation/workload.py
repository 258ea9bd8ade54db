"""Raw deliveries fast enough for a million events (the benchmarks' and the tests' large workloads):
the real templates of metricsync/templates, shaped by the simulator's own functions
(metricsync.simulation.payloads) with placeholder values, dumped once, then filled by joining
byte slices (a couple of microseconds a body, against ~250 µs for
`simulation.team.plan_webhooks`, which deep-copies and re-serialises every payload).

`MixedWorkload` yields the raw deliveries ingest would have stored for a team of N services: pushes
of 1-3 commits, a deployment after every other push (GitHub deployment_status on even services, a
Jenkins deploy job's STARTED/COMPLETED/FINALIZED on odd ones), and a critical alert firing and
resolving after every eighth deployment. Times advance per service so the history spans `days`.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from starlette.datastructures import Headers

from ingest.identity import alertmanager_identity, github_key, jenkins_identity
from metricsync.simulation import payloads
from metricsync.simulation.payloads import iso, template
from schemas.ids import stable_id
from schemas.raw import RawDelivery
from schemas.sources import Source

_SLOT = re.compile(rb'"@@(\w+)@@"')
EVENTS_PER_PUSH_CYCLE = 3.1  # average events a push brings with its share of deployments and incidents


def slot(name: str) -> str:
    """A placeholder to put in a template document; `ByteTemplate.render` replaces it (quotes included)."""
    return f"@@{name}@@"


class ByteTemplate:
    """A JSON document with named placeholders, rendered by joining precomputed byte slices."""

    def __init__(self, document: Any) -> None:
        data = orjson.dumps(document)
        self.parts: list[bytes] = []
        self.names: list[str] = []
        last = 0
        for match in _SLOT.finditer(data):
            self.parts.append(data[last : match.start()])
            self.names.append(match.group(1).decode())
            last = match.end()
        self.parts.append(data[last:])

    def render(self, values: Mapping[str, str | int | bool]) -> bytes:
        out = [self.parts[0]]
        for name, part in zip(self.names, self.parts[1:], strict=True):
            value = values[name]
            out.append(orjson.dumps(value))
            out.append(part)
        return b"".join(out)


def push_template(commits: int) -> ByteTemplate:
    """A GitHub push of `commits` commits (slots: repo, name, before, after, created, compare, pushed_at,
    sha<i>, tree<i>, time<i>, url<i>)."""
    body = payloads.github_push(
        template(payloads.PUSH),
        repo=slot("repo"),
        name=slot("name"),
        before=slot("before"),
        after=slot("after"),
        commits=[
            payloads.Commit(slot(f"sha{i}"), slot(f"time{i}"), tree=slot(f"tree{i}"), url=slot(f"url{i}"))
            for i in range(commits)
        ],
        created=slot("created"),
        compare=slot("compare"),
        pushed_at=slot("pushed_at"),
    )
    return ByteTemplate(body)


def deployment_status_template() -> ByteTemplate:
    """A GitHub deployment_status in production (slots: repo, name, deployment_id, status_id, sha, state,
    created, updated)."""
    body = payloads.github_deployment_status(
        template(payloads.DEPLOYMENT_STATUS),
        repo=slot("repo"),
        name=slot("name"),
        deployment_id=slot("deployment_id"),
        status_id=slot("status_id"),
        sha=slot("sha"),
        state=slot("state"),
        created=slot("created"),
        updated=slot("updated"),
    )
    return ByteTemplate(body)


def jenkins_template(phase: str) -> ByteTemplate:
    """A Jenkins Notification Plugin build phase of a production deploy job (slots: job, job_url, full_url,
    number, build_url, timestamp, duration, service, scm_url, sha[, status])."""
    body = payloads.jenkins_build(
        template(payloads.JENKINS),
        job=slot("job"),
        number=slot("number"),
        phase=phase,
        status=None if phase == "STARTED" else slot("status"),
        timestamp_ms=slot("timestamp"),
        duration_ms=slot("duration"),
        service=slot("service"),
        sha=slot("sha"),
        scm_url=slot("scm_url"),
        job_url=slot("job_url"),
        build_url=slot("build_url"),
        full_url=slot("full_url"),
    )
    return ByteTemplate(body)


def alert_template() -> ByteTemplate:
    """An Alertmanager v4 notification of one critical alert (slots: status, service, fingerprint, starts,
    ends, summary, group_key)."""
    body = payloads.alertmanager_alert(
        template(payloads.ALERTMANAGER),
        status=slot("status"),
        service=slot("service"),
        fingerprint=slot("fingerprint"),
        starts=slot("starts"),
        ends=slot("ends"),
        summary=slot("summary"),
        group_key=slot("group_key"),
    )
    return ByteTemplate(body)


@dataclass(frozen=True, slots=True)
class Generated:
    delivery: RawDelivery
    events: int  # unified events the delivery maps to


def _hex(seed: int, width: int = 40) -> str:
    """A hex string (a sha, a fingerprint) that differs for every seed."""
    return hashlib.sha1(seed.to_bytes(8, "big")).hexdigest()[:width]


class MixedWorkload:
    """Deterministic raw deliveries for `services` services, ending at `end`, spanning about `days`."""

    def __init__(self, services: int, events: int, end: datetime, days: float = 365.0, prefix: str = "bench") -> None:
        self.services = [f"acme/{prefix}-svc-{i:04d}" for i in range(services)]
        pushes_per_service = max(1, round(events / services / EVENTS_PER_PUSH_CYCLE))
        self.step = timedelta(days=days) / pushes_per_service
        self.start = end - timedelta(days=days)
        self.target_events = events
        self.prefix = prefix
        self.push = {n: push_template(n) for n in (1, 2, 3)}
        self.status = deployment_status_template()
        self.jenkins = {phase: jenkins_template(phase) for phase in ("STARTED", "COMPLETED", "FINALIZED")}
        self.alert = alert_template()
        self._seq = 0

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def __iter__(self) -> Iterator[Generated]:
        """Deliveries until at least `events` events, services interleaved, each service in time order."""
        heads = dict.fromkeys(self.services, "0" * 40)
        deploys = dict.fromkeys(self.services, 0)
        total = 0
        cycle = 0
        while total < self.target_events:
            base = self.start + self.step * cycle
            for index, repo in enumerate(self.services):
                at = base + timedelta(seconds=(index * 37) % max(1, int(self.step.total_seconds() / 4)))
                commits = 1 + (cycle + index) % 3
                generated, heads[repo] = self._push(repo, heads[repo], at, commits)
                yield generated
                total += generated.events
                if (cycle + index) % 2 == 0:
                    deploys[repo] += 1
                    deploy_at = at + timedelta(minutes=30)
                    for generated in self._deploy(repo, index, heads[repo], deploy_at, deploys[repo]):
                        yield generated
                        total += generated.events
                    if deploys[repo] % 8 == 0:
                        for generated in self._incident(repo, deploy_at + timedelta(minutes=10)):
                            yield generated
                            total += generated.events
                if total >= self.target_events:
                    return
            cycle += 1

    def _push(self, repo: str, before: str, at: datetime, commits: int) -> tuple[Generated, str]:
        values: dict[str, str | int | bool] = {
            "repo": repo,
            "name": repo.split("/")[1],
            "before": before,
            "created": before == "0" * 40,
            "pushed_at": int(at.timestamp()),
        }
        sha = before
        for i in range(commits):
            sha = _hex(self._next())
            values[f"sha{i}"] = sha
            values[f"tree{i}"] = _hex(self._next())
            values[f"time{i}"] = (at - timedelta(minutes=5 * (commits - i))).isoformat()
            values[f"url{i}"] = f"https://github.com/{repo}/commit/{sha}"
        values["after"] = sha
        values["compare"] = f"https://github.com/{repo}/compare/{before[:12]}...{sha[:12]}"
        body = self.push[commits].render(values)
        return Generated(self._github("push", repo, body, at), commits), sha

    def _github(self, event: str, repo: str, body: bytes, at: datetime) -> RawDelivery:
        delivery_id = str(uuid.UUID(stable_id(self.prefix, "delivery", self._next())))
        return RawDelivery(
            delivery_id=delivery_id,
            source=Source.GITHUB,
            event_type=event,
            key=github_key({"repository": {"full_name": repo}}),
            received_at=at,
            headers=_headers({"x-github-event": event, "x-github-delivery": delivery_id}),
            body=body,
        )

    def _deploy(self, repo: str, index: int, sha: str, at: datetime, number: int) -> list[Generated]:
        name = repo.split("/")[1]
        if index % 2 == 0:
            body = self.status.render(
                {
                    "repo": repo,
                    "name": name,
                    "deployment_id": self._next(),
                    "status_id": self._next(),
                    "sha": sha,
                    "state": "success",
                    "created": iso(at - timedelta(minutes=6)),
                    "updated": iso(at),
                }
            )
            return [Generated(self._github("deployment_status", repo, body, at), 1)]
        job = f"{name}-deploy-prod"
        started = at - timedelta(minutes=5)
        out = []
        for phase, stamp in (("STARTED", started), ("COMPLETED", started), ("FINALIZED", at)):
            values: dict[str, str | int | bool] = {
                "job": job,
                "job_url": f"job/{job}/",
                "full_url": f"http://jenkins.acme.test:8080/job/{job}/{number}/",
                "number": number,
                "build_url": f"job/{job}/{number}/",
                "timestamp": int(stamp.timestamp() * 1000),
                "duration": 0 if phase == "STARTED" else 300_000,
                "service": repo,
                "scm_url": f"git@github.com:{repo}.git",
                "sha": sha,
                "status": "SUCCESS",
            }
            body = self.jenkins[phase].render(values)
            identity = jenkins_identity(Headers(), orjson.loads(body), body)
            delivery = RawDelivery(
                delivery_id=identity.delivery_id,
                source=Source.JENKINS,
                event_type=identity.event_type,
                key=identity.key,
                received_at=stamp + timedelta(seconds=1),
                headers=_headers({}),
                body=body,
            )
            out.append(Generated(delivery, 1))
        return out

    def _incident(self, repo: str, starts: datetime) -> list[Generated]:
        fingerprint = _hex(self._next(), 16)
        ends = starts + timedelta(minutes=45)
        out = []
        for status, at in (("firing", starts + timedelta(seconds=30)), ("resolved", ends + timedelta(seconds=30))):
            body = self.alert.render(
                {
                    "status": status,
                    "service": repo,
                    "fingerprint": fingerprint,
                    "starts": iso(starts),
                    "ends": iso(ends) if status == "resolved" else "0001-01-01T00:00:00Z",
                    "summary": f"5xx rate above 5% on {repo}",
                    "group_key": f'{{}}:{{alertname="HighErrorRate", service="{repo}"}}',
                }
            )
            identity = alertmanager_identity(orjson.loads(body), body)
            delivery = RawDelivery(
                delivery_id=identity.delivery_id,
                source=Source.ALERTMANAGER,
                event_type=identity.event_type,
                key=identity.key,
                received_at=at,
                headers=_headers({}),
                body=body,
            )
            out.append(Generated(delivery, 1 if status == "firing" else 2))  # resolved: opened + resolved
        return out


def _headers(extra: dict[str, str]) -> dict[str, str]:
    return {"content-type": "application/json", "user-agent": "metricsync-bench", **extra}
