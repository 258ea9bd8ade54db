"""The demo a new user starts with: its catalog matches what `metricsync simulate` sends, and every read
example in the README answers 200 with data on it (in process: the embedded app, the demo catalog, the
simulation's webhooks)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from metricsync.settings import Settings
from metricsync.simulation.send import credentials
from metricsync.simulation.team import ORG, SimulationPlan, plan_webhooks, service_names
from tests.support.asgi import loaded_app
from tests.support.webhooks import signed

REPO = Path(__file__).resolve().parents[3]
DEMO_CATALOG = REPO / "deploy" / "demo" / "services.toml"
NOW = datetime(2026, 3, 5, 12, tzinfo=UTC)
DEMO_SERVICES = 3  # scripts/run --demo: `metricsync simulate --services 3`


def readme_examples() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"curl '(http://127\.0\.0\.1:8000/api/v1/[^']*)'", text)


def test_demo_catalog_names_the_simulated_services() -> None:
    catalog = tomllib.loads(DEMO_CATALOG.read_text())["services"]
    assert set(catalog) == {f"{ORG}/{name}" for name in service_names(DEMO_SERVICES)}
    assert {entry["team"] for entry in catalog.values()} == {"checkout", "discovery"}
    assert "--services 3" in (REPO / "scripts" / "run").read_text()


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        config=DEMO_CATALOG,
        github_secret=SecretStr("demo"),
        jenkins_token=SecretStr("demo"),
        alertmanager_token=SecretStr("demo"),
    )
    hooks = plan_webhooks(SimulationPlan(days=30, services=DEMO_SERVICES), NOW)
    async with loaded_app(settings, NOW, signed(hooks, credentials(settings))) as (_, c):
        yield c


async def test_every_readme_example_works_on_the_demo(demo: httpx.AsyncClient) -> None:
    examples = readme_examples()
    assert len(examples) >= 6
    for url in examples:
        parts = urlsplit(url)
        response = await demo.get(f"{parts.path}?{parts.query}")
        assert response.status_code == 200, f"{url}: {response.text}"
        query = parse_qs(parts.query)
        if parts.path == "/api/v1/dora":
            assert response.json()["deployment_frequency"]["deployments"] > 0, url
        elif parts.path == "/api/v1/dora/series":
            assert sum(p["metrics"]["deployment_frequency"]["deployments"] for p in response.json()["points"]) > 0
        elif parts.path == "/api/v1/deployments":
            assert response.json()["deployments"], url
        elif query.get("format") == ["csv"]:
            assert response.text.count("\n") > 1, url  # a header and rows
        elif parts.path == "/api/v1/services":
            teams = {row["service"]: row["team"] for row in response.json()["services"]}
            assert teams == {"acme/payments": "checkout", "acme/checkout": "checkout", "acme/catalog": "discovery"}
