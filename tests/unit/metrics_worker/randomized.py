"""Random but plausible event streams (commit chains, feature branches, re-runs, rollbacks, overlapping
alerts, late and duplicate events) and a digest of everything the engine derives from them."""

import random
from datetime import datetime

from metrics_worker.engine import MetricEngine
from schemas.events import RANK_FINALIZED, RANK_RECEIVED, RANK_REPORTED, Deployment, DeploymentStatus, UnifiedEvent
from schemas.metrics import DoraMetrics
from tests.unit.metrics_worker.factories import ZERO, at, deploy, incident, opened, push, resolved
from tests.unit.metrics_worker.reference import RefDeployment, RefIncident

SERVICES = ("alpha", "beta")
ENVIRONMENTS = ("production", "prod-eu", "staging")
KEYS = ("production", "prod-eu", "staging")
EVERYTHING = (at(-10_000), at(100_000))


def random_stream(seed: int) -> list[UnifiedEvent]:
    rng = random.Random(seed)
    events: list[UnifiedEvent] = []
    for service in SERVICES:
        events += _service_stream(rng, service)
    return events


def _service_stream(rng: random.Random, service: str) -> list[UnifiedEvent]:
    events: list[UnifiedEvent] = []
    clock = 0.0
    head = ZERO
    main: list[str] = []
    deployed: list[tuple[str, str | None]] = []  # (deployment id, sha) per environment, in order
    serial = 0

    def sha() -> str:
        nonlocal serial
        serial += 1
        return f"{service[0]}{serial:03d}"

    for step in range(rng.randint(6, 14)):
        clock += rng.choice([1.0, 2.0, 3.0, 5.0])
        # a push to main, sometimes repeating commits of an earlier feature-branch push
        if rng.random() < 0.25:
            feature = [(sha(), clock - rng.choice([0.0, 1.0]))]
            events += push(f"{service}-f{step}", head, feature, service=service)
            commits = [(feature[0][0], feature[0][1] + rng.choice([0.0, 2.0])), (sha(), clock)]
        else:
            commits = [(sha(), clock - rng.choice([0.0, 0.5, 1.0, -1.0])) for _ in range(rng.randint(1, 3))]
        events += push(f"{service}-p{step}", head, commits, service=service)
        head = commits[-1][0]
        main += [c for c, _ in commits]
        # one to three deployment moves
        for move in range(rng.randint(1, 3)):
            clock += rng.choice([0.0, 1.0, 2.0])
            events += _deployment_move(rng, service, f"{service}-d{step}.{move}", clock, head, main, deployed)
        # incidents around now
        if rng.random() < 0.6:
            start = clock + rng.choice([-1.0, 0.0, 0.5, 1.0, 30.0, 80.0])
            end = None if rng.random() < 0.15 else start + rng.choice([0.5, 1.0, 2.0, 4.0])
            cause_dep = rng.choice([None, None, None, "nope", *(d for d, _ in deployed[-3:])])
            cause_sha = rng.choice([None, None, None, "zzz", *main[-3:]])
            env = rng.choice(["production", "production", "prod-eu", "staging"])
            name = f"{service}-i{step}-{serial}"
            if end is not None and rng.random() < 0.2:
                events.append(resolved(name, start, end, service=service, environment=env, cause_sha=cause_sha))
            else:
                events += incident(
                    name, start, end, service=service, environment=env, cause_deployment=cause_dep, cause_sha=cause_sha
                )
            if rng.random() < 0.3:  # a second, overlapping alert
                events.append(opened(f"{name}-b", start + 0.25, service=service, environment=env))
                if rng.random() < 0.8:
                    events.append(resolved(f"{name}-b", start + 0.25, start + 3.0, service=service, environment=env))
    if events and rng.random() < 0.5:
        events.append(events[rng.randrange(len(events))])  # a duplicate
    return events


def _deployment_move(
    rng: random.Random,
    service: str,
    name: str,
    clock: float,
    head: str,
    main: list[str],
    deployed: list[tuple[str, str | None]],
) -> list[Deployment]:
    env = rng.choice(ENVIRONMENTS)
    roll = rng.random()
    flag = False
    target: str | None
    if roll < 0.55:
        target = head
    elif roll < 0.7 and deployed:
        target = rng.choice(deployed)[1]  # re-run or rollback by sha
    elif roll < 0.8:
        target, flag = rng.choice([None, "unknown", *main[-4:]]), True
    else:
        target = rng.choice([None, "ghost", *main])
    shape = rng.random()

    success = DeploymentStatus.SUCCESS

    def event(hours: float, status: DeploymentStatus = success, rank: int = RANK_REPORTED) -> Deployment:
        return deploy(name, target, hours, status=status, rank=rank, service=service, environment=env, rollback=flag)

    out: list[Deployment] = []
    if shape < 0.6:
        out.append(event(clock))
    elif shape < 0.7:  # started, then finished; the finalisation lands a bit later with a lower rank
        out.append(event(clock - 0.5, DeploymentStatus.IN_PROGRESS))
        out += [event(clock), event(clock + 0.25, rank=RANK_FINALIZED)]
    elif shape < 0.8:  # a received-time success, corrected by a reported failure
        out += [event(clock + 1, rank=RANK_RECEIVED), event(clock, DeploymentStatus.FAILURE)]
    elif shape < 0.9:  # a received-time success, corrected to an earlier reported finish
        out += [event(clock + 2, rank=RANK_RECEIVED), event(clock)]
    else:
        out.append(event(clock, DeploymentStatus.ERROR))
    if out[-1].status is DeploymentStatus.SUCCESS:
        deployed.append((name, target))
    return out


def digest(
    engine: MetricEngine,
) -> dict[tuple[str, str], tuple[list[RefDeployment], list[RefIncident]]]:
    """Everything the engine derived, per (service, environment key), in the reference model's terms."""
    out = {}
    for service in SERVICES:
        for key in KEYS:
            deployments = [
                RefDeployment(
                    deployment_id=v.deployment_id,
                    finished_at=v.finished_at,
                    sha=v.sha,
                    changes=tuple(sorted(c.sha for c in v.changes)),
                    rollback=v.rollback,
                    failure_causes=tuple(sorted((c.kind, c.id) for c in v.failure_causes)),
                    recovered_at=v.recovered_at,
                    rework=v.rework,
                )
                for v in engine.deployments([service], key, *EVERYTHING)
            ]
            incidents = [
                RefIncident(v.incident_id, v.started_at, v.resolved_at, tuple(v.parts), v.failed_deployment_id)
                for v in engine.incidents([service], key, *EVERYTHING)
            ]
            out[(service, key)] = (deployments, incidents)
    return out


def reports(engine: MetricEngine) -> list[DoraMetrics]:
    """Reports over a few windows, per service and pooled."""
    windows: list[tuple[datetime, datetime]] = [EVERYTHING, (at(0), at(24)), (at(10), at(40)), (at(30), at(200))]
    scopes: list[list[str] | None] = [None, ["alpha"], ["beta"]]
    return [engine.report(scope, key, start, end) for scope in scopes for key in KEYS for start, end in windows]
