"""Webhook generation: realistic, correctly signed deliveries built from the real payload templates.

One generator for everything that needs webhooks: `metricsync simulate` (`send`), the benchmarks
(`payloads` shaped with placeholders, then rendered by byte joins) and the tests
(tests/support/webhooks.py, on the fixtures of tests/fixtures).

- `signing`: the headers each source signs or authenticates with (HMAC, basic, bearer).
- `payloads`: how each delivery's body is shaped from a real template (changing values only).
- `team`: the made-up team's timeline (pushes, deployments of the head at the deploy's start,
  failures, incidents, rollbacks), deterministic for a seed.
- `send`: posting a timeline to a running MetricSync.

A new source adds a shaping function to `payloads`, its headers to `signing` and its events to the
timeline in `team`.
"""
