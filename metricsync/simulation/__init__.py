"""Webhook generation: realistic, correctly signed deliveries built from the real payload templates.

One generator for everything that needs webhooks: `metricsync simulate` (`send`), the benchmarks
(`payloads` shaped with placeholders, then rendered by byte joins) and the tests
(tests/support/webhooks.py, on the fixtures of tests/fixtures).

- `signing`: the headers each source signs or authenticates with (HMAC, basic, header token, bearer),
  from `Credentials` (every source's secret, named as its `IngestConfig` field).
- `payloads`: how each delivery's body is shaped from a real template (changing values only).
- `team`: the plan, the one builder of every source's webhooks, and the default team's timeline
  (PRs with reviews and drafts, direct pushes, deployments of the head at the deploy's start,
  failures, incidents, rollbacks, a slow-review period), deterministic for a seed.
- `sources`: the team on any mix of sources (`--sources`): relayed deployments, overlapping incidents.
- `send`: posting a timeline to a running MetricSync, tallying the answers, printing how to resume.

A new source adds a shaping function to `payloads`, its headers to `signing`, a method to the
builder in `team` and its events to the `--sources` timeline in `sources`.
"""
