"""The in-process scenarios (engine history, read API) at tiny sizes: they run and give sane figures."""

from pathlib import Path

from bench import api_reads, engine_history
from bench.context import QUICK, BenchContext, sizes_with
from bench.results import Report
from bench.servers import Servers


def test_engine_history_and_read_api_scenarios(tmp_path: Path) -> None:
    sizes = sizes_with(QUICK, history_small=300, history_large=1_500, measured_events=100, read_repeats=2)
    ctx = BenchContext(sizes, tmp_path, Report({}, "python -m bench", ""), Servers(tmp_path / "services"))
    engine_history.run(ctx)
    api_reads.run(ctx)
    figures = {f.name: f for f in ctx.report.figures}
    assert figures["large / small"].median > 0
    assert all(f.samples and f.median > 0 for f in ctx.report.figures)
    assert {name for name in figures if name.endswith("(p50)")} == {
        "dora, one service, 365 days (p50)",
        "dora, all services, 365 days (p50)",
        "series day, one service, 365 days (p50)",
        "series day, all services, 365 days (p50)",
    }
