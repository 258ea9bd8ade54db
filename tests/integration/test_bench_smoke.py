"""`python -m bench --quick` against the real servers: the consumer-replay scenario (no wrk needed)
runs end to end and writes its figures. A smoke test of the harness, not a benchmark: no figure is
checked against a target."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.servers

CHECKOUT = Path(__file__).resolve().parents[2]  # the bench runs from a checkout (it is not installed)


def test_quick_pipeline_scenario_runs_and_reports(kafka_bootstrap: str, mongo_uri: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METRICSYNC_")}
    env.update(METRICSYNC_KAFKA_BOOTSTRAP=kafka_bootstrap, METRICSYNC_MONGO_URI=mongo_uri)
    output = tmp_path / "benchmarks.md"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--scenario",
            "pipeline",
            "--output",
            str(output),
            "--workdir",
            str(tmp_path / "work"),
        ],
        env=env,
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    text = output.read_text()
    for figure in (
        "| normalizer |",
        "| worker |",
        "| rebuild --distributed |",
        "worker RSS",
        "normalizer: CPU of the process",
    ):
        assert figure in text
    assert "n/a" not in text
