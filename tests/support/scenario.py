"""A small hand-computed stream used end to end (embedded and distributed).

T = Monday 2026-03-02 10:00Z. Window [2026-03-01, 2026-03-08) = 7 days.

acme/shop (GitHub deployments)
  push P1 (before 0) c1 06:00, c2 07:00; push P2 (before c2) c3 09:00
  D101 sha c3 success 10:00: ships c1, c2, c3 (walk P2 -> P1): lead 4h, 3h, 1h
  alert A1 critical 10:30-11:30: after D101, before D102 -> fails D101; restore 1h; recovery 11:30-10:00 = 1.5h
  push P3 (before c3) c4 12:00, sent AFTER D102 (out of order)
  D102 sha c4 success 13:00: ships c4, lead 1h
  D103 sha c4 failure 14:00: a failed attempt
acme/pay (Jenkins, service parameter)
  push Q1 (before 0) p1 11:00; #7 pay-deploy-prod sha p1 COMPLETED 12:00 (+FINALIZED: same build)
  push Q2 (before p1) p2 13:00; #8 sha p2 COMPLETED 14:00
  rollback #1 pay-rollback-prod sha p1 15:00: redeploys #7's sha -> #8 failed, recovery 1h; R ships nothing

Expected (hand-computed):
  shop: deployments 2, lead [3600, 3600, 10800, 14400] median (3600+10800)/2 = 7200,
        p90 rank 0.9*3 = 2.7 -> 10800 + 0.7*3600 = 13320; cfr 1/2; ttr 3600; recovery 5400; rework 0/2;
        failed_attempts 1
  pay:  deployments 3, lead [3600, 3600] median 3600, p90 3600, without changes 1; cfr 1/3; no incidents;
        recovery 3600; rework 1/3
  all:  deployments 5, lead [3600 x4, 10800, 14400] median 3600, p90 rank 4.5 -> 10800 + 0.5*3600 = 12600;
        cfr 2/5; ttr 3600 (1 incident); recovery [3600, 5400] median 4500; rework 1/5
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.webhooks import Request, alert, github_deployment, github_push, jenkins_deploy, sha_of

T = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
WINDOW = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-08T00:00:00Z"}
ZERO = "0" * 40
H = timedelta(hours=1)


def requests() -> list[Request]:
    c1, c2, c3, c4 = (sha_of(f"shop-c{i}") for i in range(1, 5))
    p1, p2 = sha_of("pay-p1"), sha_of("pay-p2")
    return [
        github_push("acme/shop", ZERO, [(c1, T - 4 * H), (c2, T - 3 * H)]),
        github_push("acme/shop", c2, [(c3, T - H)]),
        github_deployment("acme/shop", 101, c3, T),
        alert("acme/shop", "f00d0001", T + H / 2, None),
        github_push("acme/pay", ZERO, [(p1, T + H)]),
        alert("acme/shop", "f00d0001", T + H / 2, T + 1.5 * H),
        jenkins_deploy("acme/pay", "pay-deploy-prod", 7, p1, T + 2 * H),
        jenkins_deploy("acme/pay", "pay-deploy-prod", 7, p1, T + 2 * H + timedelta(seconds=5), phase="FINALIZED"),
        github_deployment("acme/shop", 102, c4, T + 3 * H),
        github_push("acme/shop", c3, [(c4, T + 2 * H)]),
        github_push("acme/pay", p1, [(p2, T + 3 * H)]),
        github_deployment("acme/shop", 103, c4, T + 4 * H, state="failure"),
        jenkins_deploy("acme/pay", "pay-deploy-prod", 8, p2, T + 4 * H),
        jenkins_deploy("acme/pay", "pay-rollback-prod", 1, p1, T + 5 * H),
    ]


# metric -> expected value, per scope; only numbers the scenario pins
EXPECTED: dict[str, dict[tuple[str, str], object]] = {
    "acme/shop": {
        ("deployment_frequency", "deployments"): 2,
        ("deployment_frequency", "deploy_days"): 1,
        ("deployment_frequency", "failed_attempts"): 1,
        ("lead_time", "changes"): 4,
        ("lead_time", "median_seconds"): 7200.0,
        ("lead_time", "p90_seconds"): 13320.0,
        ("lead_time", "deployments_without_changes"): 0,
        ("change_failure_rate", "failed_deployments"): 1,
        ("change_failure_rate", "rate"): 0.5,
        ("time_to_restore", "incidents"): 1,
        ("time_to_restore", "open_incidents"): 0,
        ("time_to_restore", "median_seconds"): 3600.0,
        ("failed_deployment_recovery", "median_seconds"): 5400.0,
        ("failed_deployment_recovery", "samples"): 1,
        ("rework_rate", "rework_deployments"): 0,
    },
    "acme/pay": {
        ("deployment_frequency", "deployments"): 3,
        ("deployment_frequency", "failed_attempts"): 0,
        ("lead_time", "changes"): 2,
        ("lead_time", "median_seconds"): 3600.0,
        ("lead_time", "deployments_without_changes"): 1,
        ("change_failure_rate", "failed_deployments"): 1,
        ("time_to_restore", "incidents"): 0,
        ("time_to_restore", "median_seconds"): None,
        ("failed_deployment_recovery", "median_seconds"): 3600.0,
        ("rework_rate", "rework_deployments"): 1,
    },
    "": {
        ("deployment_frequency", "deployments"): 5,
        ("lead_time", "changes"): 6,
        ("lead_time", "median_seconds"): 3600.0,
        ("lead_time", "p90_seconds"): 12600.0,
        ("change_failure_rate", "failed_deployments"): 2,
        ("change_failure_rate", "rate"): 0.4,
        ("time_to_restore", "median_seconds"): 3600.0,
        ("failed_deployment_recovery", "median_seconds"): 4500.0,
        ("failed_deployment_recovery", "samples"): 2,
        ("rework_rate", "rework_deployments"): 1,
        ("rework_rate", "rate"): 0.2,
    },
}


def mismatches(service: str, report: dict[str, dict[str, object]]) -> list[str]:
    """Human-readable differences between a /api/v1/dora answer and the expectation ('' = all)."""
    out = []
    for (block, field), want in EXPECTED[service].items():
        got = report[block][field]
        if isinstance(want, float) and isinstance(got, int | float):
            if abs(got - want) > 1e-6:
                out.append(f"{service or 'all'} {block}.{field}: got {got}, want {want}")
        elif got != want:
            out.append(f"{service or 'all'} {block}.{field}: got {got!r}, want {want!r}")
    return out
