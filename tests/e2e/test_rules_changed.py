"""A catalog change after data arrived is noticed: `serve` refuses with the command to run, `rebuild`
re-derives, `--accept-rule-change` applies the change to new webhooks only; a team-only change starts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import scenario
from tests.support.embedded import Embedded
from tests.support.process import METRICSYNC, wait_until
from tests.support.webhooks import SECRETS_ENV

pytestmark = pytest.mark.e2e


def serve_refused(server: Embedded) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METRICSYNC_")}
    env.update(SECRETS_ENV, METRICSYNC_DATA_DIR=str(server.data_dir), METRICSYNC_PORT=str(server.port))
    env.update(server.extra_env)
    return subprocess.run([METRICSYNC, "serve"], env=env, capture_output=True, text=True, timeout=60, check=False)


def stopped_with_history(tmp_path: Path) -> Embedded:
    """A data directory holding the scenario, derived with the default rules; its server stopped."""
    server = Embedded(tmp_path)
    server.start()
    for request in scenario.requests():
        assert server.post(request).status_code == 202
    wait_until("the pipeline to catch up", server.caught_up)
    server.stop()
    return server


def test_alias_change_refuses_then_rebuild_applies_it(tmp_path: Path) -> None:
    server = stopped_with_history(tmp_path)

    teams = tmp_path / "teams.toml"
    teams.write_text('[services."acme/shop"]\nteam = "web"\n')
    server.extra_env = {"METRICSYNC_CONFIG": str(teams)}
    server.start()  # a team-only change: nothing derived changes, it starts
    assert server.get_json("/api/v1/services")["services"][0]["team"] in ("web", None)
    server.stop()

    aliases = tmp_path / "aliases.toml"
    aliases.write_text('[services.shop]\naliases = ["acme/shop"]\nteam = "web"\n')
    server.extra_env = {"METRICSYNC_CONFIG": str(aliases)}
    refused = serve_refused(server)
    assert refused.returncode == 2, refused.stderr
    assert f"metricsync rebuild --data-dir {server.data_dir}" in refused.stderr
    assert "--accept-rule-change" in refused.stderr

    env = {k: v for k, v in os.environ.items() if not k.startswith("METRICSYNC_")}
    env.update(SECRETS_ENV, METRICSYNC_DATA_DIR=str(server.data_dir), METRICSYNC_CONFIG=str(aliases))
    rebuilt = subprocess.run([METRICSYNC, "rebuild"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert rebuilt.returncode == 0, rebuilt.stderr
    server.start()
    try:
        wait_until("the pipeline to catch up", server.caught_up)
        services = {row["service"]: row["team"] for row in server.get_json("/api/v1/services")["services"]}
        assert services.get("shop") == "web"
        assert "acme/shop" not in services
        assert scenario.mismatches("acme/shop", server.dora(service="shop")) == []
    finally:
        server.stop()


def test_accept_rule_change_starts_and_keeps_the_old_history(tmp_path: Path) -> None:
    server = stopped_with_history(tmp_path)
    aliases = tmp_path / "aliases.toml"
    aliases.write_text('[services.shop]\naliases = ["acme/shop"]\n')
    server.extra_env = {"METRICSYNC_CONFIG": str(aliases)}
    server.serve_args = ["serve", "--accept-rule-change"]
    server.start()
    try:
        services = {row["service"] for row in server.get_json("/api/v1/services")["services"]}
        assert "acme/shop" in services  # the stored history keeps its old derivation
    finally:
        server.stop()
    server.serve_args = ["serve"]
    server.start()  # the new fingerprint was adopted: a plain serve starts again
    server.stop()
