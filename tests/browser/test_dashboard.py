"""The dashboard in a real Chromium against a real `metricsync serve` process."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Route

from tests.support import scenario
from tests.support.browser import ARTIFACTS, BrowserPage
from tests.support.embedded import Embedded
from tests.support.process import METRICSYNC, wait_until
from tests.support.webhooks import SECRETS_ENV, github_deployment, github_push, sha_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

METRICS = (
    "deployment_frequency",
    "lead_time",
    "change_failure_rate",
    "time_to_restore",
    "failed_deployment_recovery_time",  # the tile's name for the API's failed_deployment_recovery
    "rework_rate",
)
API_BLOCK = {"failed_deployment_recovery_time": "failed_deployment_recovery"}  # tile name -> API field
VALUE_FIELD = {
    "deployment_frequency": "per_day",
    "lead_time": "median_seconds",
    "change_failure_rate": "rate",
    "time_to_restore": "median_seconds",
    "failed_deployment_recovery_time": "median_seconds",
    "rework_rate": "rate",
}
# the scenario's week: the custom window [2026-03-01, 2026-03-08) is scenario.WINDOW
SCENARIO_VIEW = "window=custom&from=2026-03-01&to=2026-03-07"


def load_scenario(server: Embedded) -> None:
    for request in scenario.requests():
        assert server.post(request).status_code == 202
    wait_until("the pipeline to catch up", server.caught_up)


def deltas(page: BrowserPage) -> list[tuple[str, str]]:
    """Each tile's comparison with the previous window: (data-trend, text)."""
    shown: list[list[str]] = page.page.eval_on_selector_all(
        "#tiles [data-metric] .delta", "els => els.map(e => [e.dataset.trend, e.textContent])"
    )
    return [(trend, text) for trend, text in shown]


def api_values(server: Embedded, **params: str) -> dict[str, str]:
    report = server.dora(**params)
    values = {}
    for metric in METRICS:
        value = report[API_BLOCK.get(metric, metric)][VALUE_FIELD[metric]]
        values[metric] = "" if value is None else repr(value)
    return values


def same_numbers(tiles: dict[str, str], api: dict[str, str]) -> bool:
    if tiles.keys() != api.keys():
        return False
    return all(
        (t == a == "") or (t != "" and a != "" and float(t) == float(a))
        for t, a in zip(tiles.values(), api.values(), strict=True)
    )


def test_tiles_equal_the_api_for_all_services_and_one_service_and_the_url_round_trips(
    embedded: Embedded, page: BrowserPage, browser: Browser
) -> None:
    load_scenario(embedded)
    page.goto(f"{embedded.base}/?{SCENARIO_VIEW}")
    tiles = page.tile_values()
    assert same_numbers(tiles, api_values(embedded)), (tiles, api_values(embedded))
    assert tiles["deployment_frequency"] != ""  # the scenario has deployments in the window
    page.screenshot("scenario-all-services")
    # the previous week ends before D101, the first deployment on record: no tile compares with it
    # (not "▲ from 0": MetricSync was not told of anything then)
    assert set(deltas(page)) == {("none", "no comparison: nothing on record before 2026-03-02")}
    partly = BrowserPage.open(browser, width=1100)
    partly.goto(f"{embedded.base}/?window=custom&from=2026-03-03&to=2026-03-07")
    # the previous 5 days [02-26, 03-03) hold D101 but only their last 1.6 d are on record: not compared
    assert set(deltas(partly)) == {("none", "no comparison: on record only since 2026-03-02")}
    partly.goto(f"{embedded.base}/?window=custom&from=2026-03-03&to=2026-03-03")
    # the previous day [03-02, 03-03): its last 14 h on record, compared, saying from when the record runs
    shown = deltas(partly)
    assert all(" vs previous day (on record from 2026-03-02)" in text for _, text in shown), shown
    trend = partly.page.get_attribute("#tiles [data-metric=deployment_frequency] .delta", "data-trend")
    assert trend in ("better", "worse")
    partly.screenshot("tiles-record-begins-in-the-previous-window", full_page=False)
    partly.page.close()

    generation = page.generation()
    page.page.select_option("#f-service", "acme/shop")
    page.wait_refreshed(generation)
    query = parse_qs(urlparse(page.page.url).query)
    assert query == {"service": ["acme/shop"], "window": ["custom"], "from": ["2026-03-01"], "to": ["2026-03-07"]}
    shop = api_values(embedded, service="acme/shop")
    assert same_numbers(page.tile_values(), shop), (page.tile_values(), shop)
    assert page.page.get_attribute("tr[data-service='acme/shop']", "class") == "selected"

    # the URL is the whole view: a reload (or a shared link) shows the same
    page.page.reload()
    page.wait_ready()
    assert page.page.input_value("#f-service") == "acme/shop"
    assert page.page.input_value("#f-window") == "custom"
    assert page.page.input_value("#f-from") == "2026-03-01"
    assert same_numbers(page.tile_values(), shop)

    # back to all services through the browser's history
    generation = page.generation()
    page.page.go_back()
    page.wait_refreshed(generation)
    assert page.page.input_value("#f-service") == ""

    # a click in the services table filters the page to that service
    generation = page.generation()
    page.page.click("tr[data-service='acme/pay'] button.pick")
    page.wait_refreshed(generation)
    assert parse_qs(urlparse(page.page.url).query)["service"] == ["acme/pay"]
    assert same_numbers(page.tile_values(), api_values(embedded, service="acme/pay"))
    page.screenshot("scenario-acme-pay")


def test_a_signed_webhook_changes_the_tile_within_3_seconds_without_reload(
    embedded: Embedded, page: BrowserPage
) -> None:
    load_scenario(embedded)
    page.goto(f"{embedded.base}/?service=acme/shop&{SCENARIO_VIEW}")
    page.page.wait_for_selector("#live[data-state=live]", timeout=5000)
    before = page.tile_values()["deployment_frequency"]
    direct_before = int(page.page.get_attribute("#leadtime [data-count=direct_commits]", "data-value") or 0)
    loaded_at = page.page.evaluate("performance.timeOrigin")

    c5 = sha_of("shop-c5")
    assert (
        embedded.post(github_push("acme/shop", sha_of("shop-c4"), [(c5, scenario.T + 5 * scenario.H)])).status_code
        == 202
    )
    sent = time.monotonic()
    assert embedded.post(github_deployment("acme/shop", 104, c5, scenario.T + 6 * scenario.H)).status_code == 202
    wait_until(
        "the read API to count the new deployment",
        lambda: api_values(embedded, service="acme/shop")["deployment_frequency"] != before,
        timeout=3,
    )
    expected = api_values(embedded, service="acme/shop")
    page.page.wait_for_selector(
        f"#tiles [data-metric=deployment_frequency][data-value='{expected['deployment_frequency']}']",
        state="attached",
        timeout=max(1, 3000 - (time.monotonic() - sent) * 1000),
    )
    elapsed = time.monotonic() - sent
    assert elapsed < 3.0
    assert page.page.evaluate("performance.timeOrigin") == loaded_at  # the same document: no reload
    assert same_numbers(page.tile_values(), expected)
    # the lead-time panel follows the live refresh too: c5 is one more direct commit
    page.page.wait_for_selector(
        f"#leadtime [data-count=direct_commits][data-value='{direct_before + 1}']", state="attached", timeout=3000
    )
    page.screenshot("live-update")


def test_the_drill_down_lists_what_the_api_lists_linked_both_ways(embedded: Embedded, page: BrowserPage) -> None:
    load_scenario(embedded)
    page.goto(f"{embedded.base}/?{SCENARIO_VIEW}")
    # by keyboard: Tab from the top of the page to the tile's button, Enter opens the drill-down
    target = "change_failure_rate"
    for _ in range(30):
        page.page.keyboard.press("Tab")
        if page.page.evaluate("document.activeElement.closest('#tiles [data-metric]')?.dataset.metric") == target:
            break
    else:
        raise AssertionError("the tile's Explain button cannot be reached with Tab")
    page.page.keyboard.press("Enter")
    page.page.wait_for_selector("#drill[data-state=ready]")
    window = scenario.WINDOW
    deployments = httpx.get(f"{embedded.base}/api/v1/deployments", params=window, timeout=10).json()["deployments"]
    incidents = httpx.get(f"{embedded.base}/api/v1/incidents", params=window, timeout=10).json()["incidents"]
    shown = page.page.eval_on_selector_all(
        "#drill [data-deployment-id]", "rows => rows.map(r => r.dataset.deploymentId)"
    )
    assert shown == [d["deployment_id"] for d in deployments]
    shown_incidents = page.page.eval_on_selector_all(
        "#drill [data-incident-id]", "rows => rows.map(r => r.dataset.incidentId)"
    )
    assert shown_incidents == [i["incident_id"] for i in incidents]
    failed = [d for d in deployments if d["failed"]]
    assert len(failed) == 2
    page.screenshot("drill-down", full_page=False)

    # deployment -> the incident that failed it -> back to the deployment
    by_incident = next(d for d in failed if d["failure_causes"][0]["kind"] == "incident")
    incident_id = by_incident["failure_causes"][0]["id"]
    row = page.page.locator(f"[data-deployment-id='{by_incident['deployment_id']}']")
    row.locator("button.link").first.click()
    focused = page.page.evaluate("document.activeElement.dataset.incidentId")
    assert focused == incident_id
    page.page.locator(f"[data-incident-id='{incident_id}'] button.link").click()
    assert page.page.evaluate("document.activeElement.dataset.deploymentId") == by_incident["deployment_id"]
    page.page.keyboard.press("Escape")
    assert not page.page.is_visible("#drill")


def test_the_empty_state_shows_this_servers_webhook_urls(embedded: Embedded, page: BrowserPage) -> None:
    page.goto(embedded.base + "/")
    assert page.page.get_attribute("body", "data-state") == "empty"
    page.page.wait_for_selector("#empty[data-verified=true]")
    text = page.page.inner_text("#empty")
    for source in ("github", "jenkins", "alertmanager", "gitlab", "pagerduty", "opsgenie", "cdevents"):
        assert f"{embedded.base}/webhooks/{source}" in text
    assert f"curl -fsS {embedded.base}/api/v1/deployments" in text
    for variable in ("GITHUB_SECRET", "JENKINS_TOKEN", "ALERTMANAGER_TOKEN", "GITLAB_TOKEN", "PAGERDUTY_SECRET"):
        assert f"METRICSYNC_{variable}" in text
    for variable in ("OPSGENIE_TOKEN", "CDEVENTS_TOKEN", "PUSH_TOKEN"):
        assert f"METRICSYNC_{variable}" in text
    assert "metricsync import github" in text
    # each tool says whether this server has its secret, as /healthz does
    modes = httpx.get(f"{embedded.base}/healthz", timeout=10).json()["verification"]
    shown = page.page.eval_on_selector_all(
        "#empty [data-source]", "els => Object.fromEntries(els.map(e => [e.dataset.source, e.dataset.verification]))"
    )
    assert shown == modes
    assert set(modes.values()) <= {"hmac-sha256", "token"}  # the test servers have every secret
    assert set(source_statuses(page).values()) == {"✓ secret set"}
    assert not page.page.is_visible("#overview")
    page.screenshot("empty-state")

    # the first data arrives: the page leaves the empty state by itself
    page.page.wait_for_selector("#live[data-state=live]", timeout=5000)
    c1 = sha_of("first")
    now = scenario.T  # any time: the view below is the scenario's week
    embedded.post(github_push("acme/first", scenario.ZERO, [(c1, now - scenario.H)]))
    embedded.post(github_deployment("acme/first", 1, c1, now))
    page.page.wait_for_selector("body[data-state=ready]", state="attached", timeout=5000)
    assert page.page.is_visible("#overview")


def source_statuses(page: BrowserPage) -> dict[str, str]:
    statuses: dict[str, str] = page.page.eval_on_selector_all(
        "#empty .source-status",
        "els => Object.fromEntries(els.map(e => [e.closest('[data-source]').dataset.source, e.textContent]))",
    )
    return statuses


def test_the_empty_state_names_the_secrets_this_server_lacks(tmp_path: Path, browser: Browser) -> None:
    server = Embedded(tmp_path)
    server.extra_env = {"METRICSYNC_PAGERDUTY_SECRET": "", "METRICSYNC_OPSGENIE_TOKEN": " "}  # blank: not set
    server.start()
    try:
        page = BrowserPage.open(browser, width=1100)
        page.goto(server.base + "/")
        page.page.wait_for_selector("#empty[data-verified=true]")
        statuses = source_statuses(page)
        assert statuses.pop("pagerduty") == "✗ set METRICSYNC_PAGERDUTY_SECRET"
        assert statuses.pop("opsgenie") == "✗ set METRICSYNC_OPSGENIE_TOKEN"
        assert set(statuses.values()) == {"✓ secret set"}
        page.screenshot("empty-state-missing-secrets")
        assert page.problems() == []
        page.page.close()
    finally:
        server.stop()


def test_the_token_prompt_and_the_bearer_header(tmp_path: Path, browser: Browser) -> None:
    server = Embedded(tmp_path)
    server.extra_env = {"METRICSYNC_API_TOKEN": "s3cret-token"}
    server.start()
    page = BrowserPage.open(browser)
    page.expected_statuses.add(401)  # the wrong token below
    try:
        page.page.goto(server.base + "/")
        page.page.wait_for_selector("#token-dialog[open]")
        page.screenshot("token-prompt", full_page=False)
        # assets came without a token
        assert [r.url for r in page.requests if "/api/" in r.url] == []
        page.page.fill("#token-input", "wrong")
        page.page.press("#token-input", "Enter")
        page.page.wait_for_selector("#token-error:not([hidden])")
        page.page.fill("#token-input", "s3cret-token")
        page.page.press("#token-input", "Enter")
        page.wait_ready()
        assert page.page.get_attribute("body", "data-state") == "empty"
        api_requests = [r for r in page.requests if "/api/v1/" in r.url]
        assert api_requests
        assert all("s3cret" not in r.url and "wrong" not in r.url for r in page.requests)
        assert api_requests[-1].headers.get("authorization") == "Bearer s3cret-token"
        # once per tab: a reload does not ask again
        page.page.reload()
        page.wait_ready()
        assert not page.page.is_visible("#token-dialog")
        assert page.problems() == [], page.problems()
    finally:
        page.page.close()
        server.stop()


def simulate(server: Embedded, services: int, seed: int) -> None:
    """`metricsync simulate`: 30 days of the made-up team's webhooks sent to `server`."""
    done = subprocess.run(
        [
            METRICSYNC,
            "simulate",
            "--url",
            server.base,
            "--days",
            "30",
            "--services",
            str(services),
            "--seed",
            str(seed),
        ],
        env={**SECRETS_ENV, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()


def test_many_services_long_names_and_a_narrow_window(tmp_path: Path, browser: Browser) -> None:
    server = Embedded(tmp_path)
    server.start()
    try:
        simulate(server, services=24, seed=3)
        long_name = "acme/payments-reconciliation-and-settlement-batch-worker-for-europe-west"
        c1 = sha_of("long-1")
        now = datetime.now(UTC) - timedelta(days=1)
        server.post(github_push(long_name, scenario.ZERO, [(c1, now - 3 * scenario.H)]))
        server.post(github_deployment(long_name, 1, c1, now))
        wait_until("the pipeline to catch up", server.caught_up)
        wide = BrowserPage.open(browser, width=1400)
        wide.goto(server.base + "/")
        rows = wide.page.locator("table.services tbody tr").count()
        assert rows == 25
        wide.screenshot("many-services-wide")
        # search and sort
        wide.page.fill("#service-search", "reconciliation")
        assert wide.page.locator("table.services tbody tr:not([hidden])").count() == 1
        wide.page.fill("#service-search", "")
        wide.page.click("button[data-sort=lead_time]")
        assert wide.page.get_attribute("th:has(button[data-sort=lead_time])", "aria-sort") == "ascending"
        narrow = BrowserPage.open(browser, width=390, height=844)
        narrow.goto(server.base + "/")
        narrow.screenshot("many-services-narrow")
        overflow = narrow.page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
        assert overflow is False  # only the services table scrolls sideways, inside its own box
        assert_strongest_findings_first(
            narrow, server, lambda: server.post(github_deployment(long_name, 2, c1, now + timedelta(minutes=5)))
        )
        assert wide.problems() + narrow.problems() == []
        wide.page.close()
        narrow.page.close()
    finally:
        server.stop()


def assert_strongest_findings_first(page: BrowserPage, server: Embedded, redeploy: Callable[[], object]) -> None:
    """Many findings: the strongest SHOWN (5) are shown with a tally of all, "Show all" shows the rest and
    holds across a live refresh, and the page is that much shorter until then."""
    insights = last_api_answer(page, server, "/api/v1/insights")
    found = insights["findings"]
    assert len(found) > 5, f"the scenario gives only {len(found)} findings"
    visible = "#insights .finding:not([hidden])"
    shown = page.page.eval_on_selector_all(visible, "els => els.map(e => e.querySelector('.sentence').textContent)")
    assert shown == [f["sentence"] for f in found[:5]]
    items = page.page.locator("#insights .finding")
    assert [items.nth(i).is_visible() for i in range(len(found))] == [True] * 5 + [False] * (len(found) - 5)
    tally = page.page.inner_text("#insights .tally")
    words = {"high": "strong", "medium": "medium", "low": "weak"}
    parts = [f"{n} {word}" for s, word in words.items() if (n := sum(1 for f in found if f["strength"] == s))]
    assert tally == f"{len(found)} findings: {', '.join(parts)}."
    # a finding with many links shows 3 and "+N more" (checked below once it is shown: which findings
    # are the strongest 5 depends on the day the simulated history ends)
    many = next((i for i, f in enumerate(found) if len(f["links"]) > 4), None)
    assert many is not None, "no finding of the scenario has more than 4 links"
    if many < 5:
        assert_more_links(page, many, len(found[many]["links"]))
    toggle = page.page.locator("#insights button.show-all")
    assert toggle.inner_text() == f"Show all {len(found)} findings"
    assert toggle.get_attribute("aria-expanded") == "false"
    collapsed = page.page.evaluate("document.documentElement.scrollHeight")
    page.page.locator("#insights-section").screenshot(path=str(ARTIFACTS / "many-findings-collapsed.png"))
    toggle.click()
    assert page.page.locator(visible).count() == len(found)
    assert toggle.get_attribute("aria-expanded") == "true"
    assert toggle.inner_text() == "Show the strongest 5 only"
    if many >= 5:
        assert_more_links(page, many, len(found[many]["links"]))
    expanded = page.page.evaluate("document.documentElement.scrollHeight")
    assert expanded > collapsed
    print(f"\nFIGURES insights-list findings={len(found)} page_height_collapsed={collapsed} expanded={expanded}")
    # a live refresh redraws the panel: the reader's choice stays
    generation = page.generation()
    redeploy()
    page.wait_refreshed(generation)
    assert page.page.locator(visible).count() == len(last_api_answer(page, server, "/api/v1/insights")["findings"])
    page.page.locator("#insights-section").screenshot(path=str(ARTIFACTS / "many-findings-expanded.png"))
    page.page.locator("#insights button.show-all").click()
    assert page.page.locator(visible).count() == 5


def assert_more_links(page: BrowserPage, index: int, count: int) -> None:
    """The finding at `index` (shown, with `count` > 4 links) shows 3 links and "+N more"; every link is
    in the page, and the button shows the rest."""
    finding = page.page.locator("#insights .finding").nth(index)
    links = finding.locator(".finding-links [data-href], .finding-links a[data-rel]")
    assert links.count() == count
    assert finding.locator(".finding-links .check-link:not([hidden])").count() == 3
    shown = [finding.locator(".finding-links .check-link").nth(i).is_visible() for i in range(count)]
    assert shown == [True] * 3 + [False] * (count - 3)  # as drawn, not only as marked
    more = finding.locator("button.more-links")
    assert more.inner_text().strip() == f"+{count - 3} more"
    more.click()
    assert finding.locator(".finding-links .check-link:not([hidden])").count() == count
    assert finding.locator("button.more-links").count() == 0


def last_api_answer(page: BrowserPage, server: Embedded, path: str) -> dict[str, Any]:
    """What the API answers to the page's own last request of `path` (the same scope and window)."""
    urls = [r.url for r in page.requests if urlparse(r.url).path == path]
    assert urls, f"the page never asked {path}"
    answer: dict[str, Any] = httpx.get(urls[-1], timeout=10).json()
    return answer


def stage_values(page: BrowserPage, selector: str) -> list[tuple[str, float | None]]:
    """The stages an element list shows, with their data-value as a number (None when empty)."""
    shown: list[list[str]] = page.page.eval_on_selector_all(
        selector, "els => els.map(e => [e.dataset.stage, e.dataset.value])"
    )
    return [(stage, float(value) if value else None) for stage, value in shown]


def assert_panels_show_the_api(page: BrowserPage, server: Embedded) -> tuple[dict[str, Any], dict[str, Any]]:
    lead = last_api_answer(page, server, "/api/v1/lead-time")
    insights = last_api_answer(page, server, "/api/v1/insights")
    medians = [(s["stage"], s["median_seconds"]) for s in lead["stages"]]
    assert stage_values(page, "#leadtime .stage-legend > [data-stage]") == medians
    assert stage_values(page, "#leadtime .stage-bar > [data-stage]") == [m for m in medians if m[1]]
    counts = page.page.eval_on_selector_all(
        "#leadtime [data-count]", "els => Object.fromEntries(els.map(e => [e.dataset.count, Number(e.dataset.value)]))"
    )
    assert counts == lead["counts"]
    shas = page.page.eval_on_selector_all("#leadtime tr[data-sha]", "rows => rows.map(r => r.dataset.sha)")
    assert shas == [c["sha"] for c in lead["slowest"]]
    findings = page.page.eval_on_selector_all(
        "#insights .finding",
        "els => els.map(e => [e.dataset.kind, e.dataset.strength, e.querySelector('.sentence').textContent])",
    )
    assert findings == [[f["kind"], f["strength"], f["sentence"]] for f in insights["findings"]]
    # strength is a word and a mark, not a colour alone
    for word in page.page.eval_on_selector_all("#insights .strength", "els => els.map(e => e.textContent)"):
        assert any(w in word for w in ("Strong", "Medium", "Weak"))
        assert "▲" in word
    return lead, insights


def test_the_lead_time_and_insights_panels_show_what_the_api_returns(embedded: Embedded, page: BrowserPage) -> None:
    # the scenario has no pull requests: no stage bar, its changes are direct commits
    load_scenario(embedded)
    page.goto(f"{embedded.base}/?{SCENARIO_VIEW}")
    lead, _ = assert_panels_show_the_api(page, embedded)
    assert lead["counts"]["direct_commits"] > 0
    assert lead["counts"]["pull_requests"] == 0
    assert page.page.inner_text("#leadtime .stage-bar") == "no stage has a sample"
    # the panels follow the filters
    generation = page.generation()
    page.page.select_option("#f-service", "acme/shop")
    page.wait_refreshed(generation)
    lead, _ = assert_panels_show_the_api(page, embedded)
    assert {c["service"] for c in lead["slowest"]} == {"acme/shop"}


def test_the_panels_on_the_demo_data_wide_and_narrow(tmp_path: Path, browser: Browser) -> None:
    server = Embedded(tmp_path)
    server.start()
    try:
        simulate(server, services=3, seed=1)
        wait_until("the pipeline to catch up", server.caught_up)
        wide = BrowserPage.open(browser, width=1400)
        wide.goto(server.base + "/")
        lead, insights = assert_panels_show_the_api(wide, server)
        assert all(s["samples"] > 0 for s in lead["stages"])  # the demo has reviewed pull requests
        assert lead["slowest"]
        assert insights["findings"]
        label = wide.page.get_attribute("#leadtime .stage-bar", "aria-label") or ""
        assert label.startswith("Median of each stage: Coding ")
        wide.screenshot("demo-wide")
        wide.page.locator("#leadtime-section").screenshot(path=str(ARTIFACTS / "demo-leadtime.png"))
        wide.page.locator("#insights-section").screenshot(path=str(ARTIFACTS / "demo-insights.png"))

        # a finding's deployments link opens the drill-down of that scope and window, with the bearer helper
        button = wide.page.locator("#insights .finding button[data-rel=deployments]").first
        href = button.get_attribute("data-href") or ""
        button.click()
        wide.page.wait_for_selector("#drill[data-state=ready]")
        listed = httpx.get(server.base + href, timeout=10).json()["deployments"]
        shown = wide.page.eval_on_selector_all(
            "#drill [data-deployment-id]", "rows => rows.map(r => r.dataset.deploymentId)"
        )
        assert shown == [d["deployment_id"] for d in listed][:500]
        wide.screenshot("demo-finding-drill", full_page=False)
        wide.page.keyboard.press("Escape")

        # the numbers behind a finding are one click away
        wide.page.locator("#insights .finding details summary").first.click()
        assert wide.page.locator("#insights .finding details[open] dd").count() > 0

        narrow = BrowserPage.open(browser, width=390, height=844)
        narrow.goto(server.base + "/")
        assert_panels_show_the_api(narrow, server)
        narrow.screenshot("demo-narrow")
        narrow.page.locator("#insights-section").screenshot(path=str(ARTIFACTS / "demo-narrow-insights.png"))
        narrow.page.locator("#leadtime-section").screenshot(path=str(ARTIFACTS / "demo-narrow-leadtime.png"))
        overflow = narrow.page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
        assert overflow is False
        assert wide.problems() + narrow.problems() == []
        wide.page.close()
        narrow.page.close()
    finally:
        server.stop()


MAIN_PANEL_PATHS = (
    "/api/v1/dora",
    "/api/v1/dora/series",
    "/api/v1/quality",
    "/api/v1/dora/services",
    "/api/v1/lead-time",
)


def wait_held(page: BrowserPage, held: list[Route], count: int) -> None:
    """Until `count` requests are held (Playwright calls the route handler while it runs: a wait, not a sleep)."""
    for _ in range(100):
        if len(held) >= count:
            return
        page.page.wait_for_timeout(100)
    raise AssertionError(f"the page asked for the insights {len(held)} times, not {count}")


def test_a_window_change_draws_the_main_panels_then_the_insights_of_the_new_window(
    tmp_path: Path, browser: Browser
) -> None:
    server = Embedded(tmp_path)
    server.start()
    try:
        simulate(server, services=3, seed=1)
        wait_until("the pipeline to catch up", server.caught_up)
        page = BrowserPage.open(browser, width=1400)
        page.goto(server.base + "/?window=7")
        assert page.page.get_attribute("body", "data-panels") == "ready"
        marks = page.page.evaluate(
            "['metricsync:panels', 'metricsync:ready'].map(n => performance.getEntriesByName(n)[0].startTime)"
        )
        assert marks[0] <= marks[1]
        assert_panels_show_the_api(page, server)
        week = page.page.inner_text("#insights")

        # the insights request is held at the browser (the real server answers it once let go), so the
        # loading state can be looked at; what arrived before it is recorded
        held: list[Route] = []
        answered: list[str] = []
        page.page.on("response", lambda r: answered.append(urlparse(r.url).path))

        def hold(route: Route) -> None:
            held.append(route)

        page.page.route("**/api/v1/insights?*", hold)
        generation = page.generation()
        page.page.select_option("#f-window", "30")
        page.page.wait_for_selector("#insights[data-loading=true] .loading", state="attached")
        page.page.wait_for_selector("body[data-panels=ready][data-state=loading]", state="attached", timeout=10_000)
        wait_held(page, held, 1)
        # the insights were asked only once every other panel's answer was in
        asked_after = list(answered)
        for path in MAIN_PANEL_PATHS:
            assert path in asked_after, f"{path} had not answered when the insights were asked"
        loading = page.page.inner_text("#insights .loading")
        assert loading.startswith("Comparing all services (production), ")
        assert "with the 30 days before… Greyed below: the findings of the view before." in loading
        assert page.page.get_attribute("#insights", "aria-busy") == "true"
        # the 7-day findings are still there, greyed and inert, not presented as current
        assert page.page.locator("#insights > .compared").count() == 0
        if page.page.locator("#insights .stale-findings").count():
            assert page.page.get_attribute("#insights .stale-findings", "inert") == ""
        page.page.locator("#insights-section").screenshot(path=str(ARTIFACTS / "insights-loading.png"))

        held[0].continue_()
        page.page.unroute("**/api/v1/insights?*")
        page.wait_refreshed(generation)
        assert page.page.get_attribute("#insights", "data-loading") is None
        assert page.page.locator("#insights .loading, #insights .stale-findings").count() == 0
        _, insights = assert_panels_show_the_api(page, server)
        assert insights["findings"]
        assert page.page.inner_text("#insights") != week
        compared = page.page.inner_text("#insights .compared")
        assert compared.startswith("Compared with the window just before: ")
        page.page.locator("#insights-section").screenshot(path=str(ARTIFACTS / "insights-after-window-change.png"))

        # a second change while the first one's insights load: the first answer is never drawn
        held.clear()
        page.page.route("**/api/v1/insights?*", hold)
        generation = page.generation()
        page.page.select_option("#f-window", "90")
        wait_held(page, held, 1)
        page.page.select_option("#f-service", "acme/checkout")
        wait_held(page, held, 2)
        held[0].continue_()
        page.page.wait_for_timeout(500)
        assert page.page.get_attribute("#insights", "data-loading") == "true"
        assert page.page.inner_text("#insights .loading").startswith("Comparing acme/checkout (production), ")
        held[1].continue_()
        page.page.unroute("**/api/v1/insights?*")
        page.wait_refreshed(generation)
        assert "service=acme%2Fcheckout" in held[1].request.url
        assert page.page.get_attribute("#insights", "data-loading") is None
        assert_panels_show_the_api(page, server)
        assert page.problems() == []
        page.page.close()
    finally:
        server.stop()
