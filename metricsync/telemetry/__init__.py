"""Prometheus metrics of every MetricSync process: the definitions (names, help, labels), the
collectors that read live state at scrape time (DORA gauges, lag, spool), the `/metrics` route of the
HTTP services and the small listener of the consumer services. docs/observability.md lists them."""
