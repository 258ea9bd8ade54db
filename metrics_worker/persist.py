"""Export and import of one service's state as plain JSON-able data (orjson).

Only the facts are exported (commits of pushes, deployment events, incident signals, seen event ids);
everything derived is rebuilt on import by replaying them through the same incremental code, in an order
that makes the replay cheap (the whole commit graph first, then deployments by finish time).

A state with a retention horizon keeps only what is at or after it: `import_state` drops the older facts
(a commit of a push by the commit time that push reported, deployment events by finish, incidents by
resolution or open start, seen ids by day), so exporting, moving the horizon and importing is how
MetricEngine.prune drops old history. Format 1 (no horizon, seen ids without days, one time per commit)
is still read: its ids take the day of the last event. Format 3 adds `pulls` (the PR fact rows, by the
time of their event, and the branch of each push); formats 1 and 2 have none.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from metrics_worker.deployments import DeploymentFact
from metrics_worker.incidents import Signal
from metrics_worker.pulls import Row
from metrics_worker.rollup import Rollup
from metrics_worker.state import ServiceState
from metrics_worker.timebase import day_of
from schemas.events import DeploymentStatus

FORMAT = 3
READS = frozenset({1, 2, 3})
_T = TypeVar("_T")


class StateFormatError(ValueError):
    """An imported state is not one `export_state` wrote."""


def export_state(state: ServiceState) -> dict[str, Any]:
    graph = state.graph
    return {
        "format": FORMAT,
        "service": state.service,
        "seen": sorted(state.seen.items()),
        "last_event": state.last_event,
        "horizon": state.horizon,
        "pushes": [
            [
                push_id,
                push.before,
                push.after,
                [[pos, push.shas[pos], t] for pos, t in zip(push.positions, push.times, strict=True)],
            ]
            for push_id, push in sorted(graph.pushes.items())
        ],
        "pulls": {
            "rows": [list(row) for _, row in sorted(state.pulls.rows.items())],
            "branches": sorted([push_id, branch] for push_id, branch in state.pulls.branch.items()),
        },
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
    if data.get("format") not in READS:
        raise StateFormatError(
            f"state of service '{service}' has format {data.get('format')!r}; this engine reads formats {sorted(READS)}"
        )
    try:
        facts = _parse(data)
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise StateFormatError(f"state of service '{service}' is damaged: {e!r}") from e
    if facts.horizon is not None:
        facts = _retained(facts, facts.horizon)
    state = ServiceState(service, window_us, rollups)
    state.last_event, state.horizon = facts.last_event, facts.horizon
    for event_id, day in facts.seen.items():
        state.remember(event_id, day)
    times: list[int] = []
    for commit in facts.commits:
        state.add_commit(*commit)
        times.append(commit[5])
    pushes = state.graph.pushes
    for push_id, branch in facts.branches:
        push = pushes.get(push_id)
        if push is not None:  # pushes whose commits all left the retention go with them
            state.pulls.note_push(push_id, branch, push.after)
    for row in facts.rows:
        state.pulls.add_row(row)
        times.append(row[2])
    for key, (deployments, signals) in facts.streams.items():
        stream = state.stream(key)
        for fact in sorted(deployments, key=lambda f: (f.finish, f.deployment_id, f.event_id)):
            stream.add_deployment(fact)
            times.append(fact.finish)
        for signal in signals:
            stream.add_signal(signal)
            times.append(_signal_time(signal))
    state.oldest = min(times, default=None)
    return state


def _signal_time(signal: Signal) -> int:
    return signal.end if signal.end is not None else signal.start


def _retained(facts: "_Facts", horizon: int) -> "_Facts":
    """The facts at or after `horizon` (see state.fact_time)."""
    first_day = day_of(horizon)
    return _Facts(
        seen={event_id: day for event_id, day in facts.seen.items() if day >= first_day},
        last_event=facts.last_event,
        horizon=horizon,
        commits=[commit for commit in facts.commits if commit[5] >= horizon],
        rows=[row for row in facts.rows if row[2] >= horizon],
        branches=facts.branches,
        streams={
            key: (
                [f for f in deployments if f.finish >= horizon],
                [s for s in signals if _signal_time(s) >= horizon],
            )
            for key, (deployments, signals) in facts.streams.items()
        },
    )


@dataclass(slots=True)
class _Facts:
    seen: dict[str, int]  # event id -> day
    last_event: int | None
    horizon: int | None
    commits: list[tuple[str, str, str, int, str, int]]
    rows: list[Row]
    branches: list[tuple[str, str]]
    streams: dict[str, tuple[list[DeploymentFact], list[Signal]]]


def _parse(data: dict[str, Any]) -> _Facts:
    if data["format"] == 1:  # one time per commit, the earliest of its pushes
        times = {_str(sha): _int(t) for sha, t in data["commit_times"].items()}
        rows = [(p, b, a, pos, sha, times[sha]) for p, b, a, rows in data["pushes"] for pos, sha in rows]
    else:  # each push's own time for its commits
        rows = [(p, b, a, pos, sha, t) for p, b, a, rows in data["pushes"] for pos, sha, t in rows]
    commits = [
        (_str(push_id), _str(before), _str(after), _int(pos), _str(sha), _int(t))
        for push_id, before, after, pos, sha, t in rows
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
    last_event = _opt(_int, data["last_event"])
    if data["format"] == 1:  # ids only: keep them as long as the last event
        day = 0 if last_event is None else day_of(last_event)
        seen = {_str(i): day for i in data["seen"]}
    else:
        seen = {_str(i): _int(d) for i, d in data["seen"]}
    pulls = data.get("pulls") or {"rows": [], "branches": []}
    return _Facts(
        seen=seen,
        last_event=last_event,
        horizon=_opt(_int, data.get("horizon")),
        commits=commits,
        rows=[_row(row) for row in pulls["rows"]],
        branches=[(_str(push_id), _str(branch)) for push_id, branch in pulls["branches"]],
        streams=streams,
    )


def _row(row: list[Any]) -> Row:
    if len(row) != 16:
        raise ValueError(f"a PR fact row has 16 fields, got {len(row)}")
    return (
        _str(row[0]), _str(row[1]), _int(row[2]), _str(row[3]), _int(row[4]), _opt(_str, row[5]), _bool(row[6]),
        _bool(row[7]), _opt(_str, row[8]), _opt(_str, row[9]), _opt(_str, row[10]), _opt(_str, row[11]),
        _opt(_str, row[12]), _opt(_str, row[13]), _opt(_str, row[14]), _bool(row[15]),
    )  # fmt: skip


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
