"""Export and import of one service's state as plain JSON-able data (orjson).

Only the facts are exported (commits of pushes, deployment events, incident signals, seen event ids);
everything derived is rebuilt on import by replaying them through the same incremental code, in an order
that makes the replay cheap (the whole commit graph first, then deployments by finish time).
"""

from typing import Any

from metrics_worker.deployments import DeploymentFact
from metrics_worker.incidents import Signal
from metrics_worker.state import ServiceState
from schemas.events import DeploymentStatus

FORMAT = 1


class StateFormatError(ValueError):
    """An imported state is not one `export_state` wrote."""


def export_state(state: ServiceState) -> dict[str, Any]:
    graph = state.graph
    return {
        "format": FORMAT,
        "service": state.service,
        "seen": sorted(state.seen),
        "last_event": state.last_event,
        "pushes": [
            [push_id, push.before, push.after, [[pos, push.shas[pos]] for pos in push.positions]]
            for push_id, push in sorted(graph.pushes.items())
        ],
        "commit_times": dict(sorted(graph.commit_time.items())),
        "streams": {
            key: {
                "deployments": [
                    [
                        f.event_id,
                        f.deployment_id,
                        f.status.value,
                        f.time_rank,
                        f.finished,
                        f.event_at,
                        f.sha,
                        f.rollback,
                        f.environment,
                        f.production,
                    ]
                    for facts in stream.facts.values()
                    for f in facts.values()
                ],
                "signals": [
                    [s.incident_id, s.start, s.end, sorted(s.cause_deployments), sorted(s.cause_shas)]
                    for s in stream.timeline.signals.values()
                ],
            }
            for key, stream in sorted(state.streams.items())
        },
    }


def import_state(service: str, data: dict[str, Any], window_us: int | None) -> ServiceState:
    if data.get("format") != FORMAT:
        raise StateFormatError(
            f"state of service '{service}' has format {data.get('format')!r}; this engine reads format {FORMAT}"
        )
    try:
        return _replay(service, data, window_us)
    except (KeyError, TypeError, ValueError) as e:
        raise StateFormatError(f"state of service '{service}' is damaged: {e!r}") from e


def _replay(service: str, data: dict[str, Any], window_us: int | None) -> ServiceState:
    state = ServiceState(service, window_us)
    state.seen = set(data["seen"])
    state.last_event = data["last_event"]
    times: dict[str, int] = data["commit_times"]
    for push_id, before, after, commits in data["pushes"]:
        for pos, sha in commits:
            state.add_commit(push_id, before, after, pos, sha, times[sha])
    for key, content in data["streams"].items():
        stream = state.stream(key)
        facts = [
            DeploymentFact(
                event_id=row[0],
                deployment_id=row[1],
                status=DeploymentStatus(row[2]),
                time_rank=row[3],
                finished=row[4],
                event_at=row[5],
                sha=row[6],
                rollback=row[7],
                environment=row[8],
                production=row[9],
            )
            for row in content["deployments"]
        ]
        for fact in sorted(facts, key=lambda f: (f.finish, f.deployment_id, f.event_id)):
            stream.add_deployment(fact)
        for incident_id, start, end, causes, shas in content["signals"]:
            stream.add_signal(Signal(incident_id, start, end, frozenset(causes), frozenset(shas)))
    return state
