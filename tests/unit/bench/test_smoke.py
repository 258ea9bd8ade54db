"""The pure parts of `python -m bench`: figures and report, wrk script and summary, fast payloads."""

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from bench import wrk
from bench.results import BEGIN, END, Figure, Report, Target, markdown, splice, text_table
from bench.runner import SCENARIO_NAMES, build_parser, select
from bench.servers import parse_env_lines
from metricsync.settings import Settings
from metricsync.simulation.signing import github_signature
from metricsync.simulation.workload import ByteTemplate, MixedWorkload, slot
from normalizer.mapping import map_delivery
from schemas.errors import ConfigError

NOW = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("target", "samples", "verdict", "ratio"),
    [
        pytest.param(Target(">=", 100), [90, 120, 110], "yes", 1.1, id="floor-met"),
        pytest.param(Target(">=", 100), [90, 80, 95], "NO", 0.9, id="floor-missed"),
        pytest.param(Target("<", 20), [10, 30, 15], "yes", 0.75, id="ceiling-met"),
        pytest.param(Target("<=", 1), [1, 1, 1], "yes", 1.0, id="ceiling-equal"),
        pytest.param(Target("<", 20), [20, 20, 20], "NO", 1.0, id="strict-ceiling-equal"),
    ],
)
def test_figure_median_ratio_and_verdict(target: Target, samples: list[float], verdict: str, ratio: float) -> None:
    figure = Figure("1 x", "y", "ms", samples, target)
    assert figure.verdict == verdict
    assert figure.ratio == pytest.approx(ratio)
    assert figure.low == min(samples)
    assert figure.high == max(samples)


def test_value_text_shows_median_and_range() -> None:
    assert Figure("s", "f", "webhooks/s", [9000, 12000, 10500]).value_text() == "10,500 webhooks/s (9,000-12,000)"
    assert Figure("s", "f", "%", [42.0]).value_text() == "42.0%"
    assert Figure("s", "f", "ms", []).value_text() == "n/a"


def test_table_and_markdown_carry_every_figure() -> None:
    figures = [
        Figure("1 ingest", "throughput", "webhooks/s", [1, 2, 3], Target(">=", 10)),
        Figure("7", "rss", "MB", [5]),
    ]
    table = text_table(figures)
    assert "throughput" in table
    assert "rss" in table
    assert "NO" in table
    report = Report(machine={"cores": "2"}, command="python -m bench", conditions="quiet", figures=figures)
    report.note("1 ingest", "how")
    text = markdown(report)
    assert text.startswith(BEGIN)
    assert text.endswith(END)
    assert "| 1 ingest | throughput | 2.00 webhooks/s (1.00-3.00) | >= 10.0 webhooks/s | 0.20 | NO |" in text
    assert "| cores | 2 |" in text
    assert "  - how" in text


def test_splice_keeps_hand_written_text() -> None:
    first = splice(None, f"{BEGIN}\nold\n{END}")
    assert first.startswith("# Benchmarks\n\n")
    edited = first.replace("# Benchmarks\n", "# Benchmarks\n\nIntro by hand.\n") + "\n## Analysis\nkept\n"
    again = splice(edited, f"{BEGIN}\nnew\n{END}")
    assert "Intro by hand." in again
    assert "## Analysis\nkept" in again
    assert "new" in again
    assert "old" not in again


def test_select_scenarios() -> None:
    assert select(None) == list(SCENARIO_NAMES)
    assert select("read-api,ingest-distributed") == ["ingest-distributed", "read-api"]
    with pytest.raises(ConfigError, match="nope"):
        select("nope")


def test_bench_parser() -> None:
    args = build_parser().parse_args(["--quick", "--scenario", "read-api", "--runs", "2"])
    assert args.quick
    assert args.scenario == "read-api"
    assert args.runs == 2


def test_wrk_script_and_summary(tmp_path: Path) -> None:
    body = b'{"a": 1}'
    script = wrk.lua_script("run1", tmp_path / "body.json", "/webhooks/github", github_signature("s", body), 3.25)
    assert 'wrk.headers["X-GitHub-Delivery"] = me .. counter' in script
    assert "sha256=" in script
    assert "local d = 3" in script
    assert "0.2500" in script
    assert "function delay" not in wrk.lua_script("run1", tmp_path / "b", "/p", "sig", None)
    line = (
        '{"requests": 1000, "duration_us": 2000000, "status_errors": 1, "connect_errors": 0, "read_errors": 0, '
        '"write_errors": 0, "timeouts": 0, "p50_us": 1500, "p90_us": 3000, "p99_us": 9000, "max_us": 12000, '
        '"mean_us": 1700.5}'
    )
    result = wrk.parse_done("Running 2s test\n" + line + "\n")
    assert result.rate == 500
    assert result.errors == 1
    assert result.p99_ms == 9.0
    with pytest.raises(ValueError, match="no wrk summary"):
        wrk.parse_done("nothing")


def test_servers_env_lines() -> None:
    text = "export METRICSYNC_KAFKA_BOOTSTRAP=127.0.0.1:1\nMETRICSYNC_MONGO_URI=mongodb://127.0.0.1:2/\nnoise\n"
    assert parse_env_lines(text) == {
        "METRICSYNC_KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "METRICSYNC_MONGO_URI": "mongodb://127.0.0.1:2/",
    }


def test_byte_template_renders_valid_json() -> None:
    template = ByteTemplate({"a": slot("x"), "b": [slot("n"), {"c": slot("flag")}], "d": 'quote"d'})
    rendered = orjson.loads(template.render({"x": 'va"lue', "n": 42, "flag": True}))
    assert rendered == {"a": 'va"lue', "b": [42, {"c": True}], "d": 'quote"d'}


def test_mixed_workload_maps_to_the_events_it_counts() -> None:
    rules = Settings().mapping_rules()
    generated = list(MixedWorkload(6, 400, end=NOW, days=30))
    kinds: Counter[str] = Counter()
    for item in generated:
        events = map_delivery(item.delivery, rules)
        assert len(events) == item.events, item.delivery.event_type
        kinds.update(e.kind for e in events)
    assert sum(kinds.values()) >= 400
    assert set(kinds) == {"change", "deployment", "incident_opened", "incident_resolved"}
    assert len({g.delivery.delivery_id for g in generated}) == len(generated)
    assert max(g.delivery.received_at for g in generated) <= NOW


def test_memory_scenario_build_keeps_only_the_retention() -> None:
    from bench.retention import build

    # 20 services over 100 days with a 10-day retention: about 10 days of it is kept, more or less as the
    # workload's day and night fall (12.2-14.0 % of the events for ends at each hour of a day)
    # a fixed end: with the clock's, the count moved with the hour of the run (a CI run: 413 > 412.5)
    out = build(events=3000, days=100, retention_days=10, services=20, end=NOW)
    assert out["events"] >= 3000
    assert 0 < out["kept"] <= out["events"] * 0.15
    unbounded = build(events=3000, days=100, retention_days=0, services=20, end=NOW)
    assert unbounded["kept"] > out["kept"] * 5


def test_server_pids_are_found_by_their_listening_port() -> None:
    import os
    import socket

    from bench.procs import endpoint_ports, listening_pid, server_pids

    assert endpoint_ports("127.0.0.1:36689,127.0.0.1:1", "mongodb://127.0.0.1:45447/db") == {
        "Kafka": 36689,
        "FerretDB": 45447,
    }
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert listening_pid(port) == os.getpid()
        assert server_pids({"Kafka": port}) == {"Kafka": os.getpid()}
    assert listening_pid(port) is None
