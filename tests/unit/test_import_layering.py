"""The layering contracts of pyproject.toml ([tool.importlinter], docs/architecture.md) hold on this
tree, and `lint-imports` fails when one is broken: each case copies the packages to a temporary
directory, adds one forbidden import, and runs the real configuration there."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "ingest", "normalizer", "metrics_worker", "metricsync", "bench", "tests")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _copy_tree(target: Path) -> None:
    shutil.copy(CHECKOUT / "pyproject.toml", target / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(
            CHECKOUT / package, target / package, ignore=shutil.ignore_patterns("__pycache__", "fixtures", "*.json")
        )


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    result = _lint_imports(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        pytest.param(
            "schemas/ports.py",
            "import metricsync.settings",
            "schemas (the contracts) import nothing of ours",
            id="schemas-imports-the-runtime",
        ),
        pytest.param(
            "normalizer/github.py",
            "import metrics_worker.engine",
            "the core packages are independent of each other",
            id="normalizer-imports-the-worker",
        ),
        pytest.param(
            "metrics_worker/engine.py",
            "import metricsync.clock",
            "the core (ingest, normalizer, metrics_worker) imports only schemas",
            id="core-imports-the-runtime",
        ),
        pytest.param(
            "metricsync/cli.py",
            "import bench.runner",
            "the installed runtime imports neither bench nor tests",
            id="runtime-imports-bench",
        ),
        pytest.param(
            "ingest/app.py",
            "import tests.support.webhooks",
            "the core (ingest, normalizer, metrics_worker) imports only schemas",
            id="core-imports-tests",
        ),
    ],
)
def test_a_forbidden_import_fails_the_lint(tmp_path: Path, module: str, line: str, contract: str) -> None:
    _copy_tree(tmp_path)
    path = tmp_path / module
    path.write_text(path.read_text() + f"\n{line}  # the violation under test\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout, result.stdout[-3000:]
