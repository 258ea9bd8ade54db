"""Export and import of one service's state as plain JSON-able data (orjson).

Only the facts are exported (commits of pushes, deployment events, incident signals, seen event ids);
everything derived is rebuilt on import by replaying them through the same incremental code, in an order
that makes the replay cheap (the whole commit graph first, then deployments by finish time).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from metrics_worker.deployments import DeploymentFact
from metrics_worker.incidents import Signal
from metrics_worker.rollup import Rollup
from metrics_worker.state import ServiceState
from schemas.events import DeploymentStatus

FORMAT = 1
_T = TypeVar("_T")


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


def import_state(
    service: str, data: dict[str, Any], window_us: int | None, rollups: Callable[[str], Rollup | None]
) -> ServiceState:
    """Rebuild a service from exported facts. The facts are all checked before any is applied, so a damaged
    state raises StateFormatError and leaves the rollups untouched."""
    if data.get("format") != FORMAT:
        raise StateFormatError(
            f"state of service '{service}' has format {data.get('format')!r}; this engine reads format {FORMAT}"
        )
    try:
        facts = _parse(data)
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise StateFormatError(f"state of service '{service}' is damaged: {e!r}") from e
    state = ServiceState(service, window_us, rollups)
    state.seen, state.last_event = facts.seen, facts.last_event
    for commit in facts.commits:
        state.add_commit(*commit)
    for key, (deployments, signals) in facts.streams.items():
        stream = state.stream(key)
        for fact in sorted(deployments, key=lambda f: (f.finish, f.deployment_id, f.event_id)):
            stream.add_deployment(fact)
        for signal in signals:
            stream.add_signal(signal)
    return state


@dataclass(slots=True)
class _Facts:
    seen: set[str]
    last_event: int | None
    commits: list[tuple[str, str, str, int, str, int]]
    streams: dict[str, tuple[list[DeploymentFact], list[Signal]]]


def _parse(data: dict[str, Any]) -> _Facts:
    times = {_str(sha): _int(t) for sha, t in data["commit_times"].items()}
    commits = [
        (_str(push_id), _str(before), _str(after), _int(pos), _str(sha), times[sha])
        for push_id, before, after, rows in data["pushes"]
        for pos, sha in rows
    ]
    streams = {}
    for key, content in data["streams"].items():
        deployments = [
            DeploymentFact(
                event_id=_str(row[0]),
                deployment_id=_str(row[1]),
                status=DeploymentStatus(row[2]),
                time_rank=_int(row[3]),
                finished=_opt(_int, row[4]),
                event_at=_int(row[5]),
                sha=_opt(_str, row[6]),
                rollback=_bool(row[7]),
                environment=_str(row[8]),
                production=_bool(row[9]),
            )
            for row in content["deployments"]
        ]
        signals = [
            Signal(
                _str(incident_id),
                _int(start),
                _opt(_int, end),
                frozenset(map(_str, causes)),
                frozenset(map(_str, shas)),
            )
            for incident_id, start, end, causes, shas in content["signals"]
        ]
        streams[_str(key)] = (deployments, signals)
    return _Facts(
        seen={_str(i) for i in data["seen"]},
        last_event=_opt(_int, data["last_event"]),
        commits=commits,
        streams=streams,
    )


def _int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected an integer, got {value!r}")


def _str(value: object) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {value!r}")


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected true or false, got {value!r}")


def _opt(parse: Callable[[object], _T], value: object) -> _T | None:
    return None if value is None else parse(value)
