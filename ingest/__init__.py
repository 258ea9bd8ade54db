"""Ingest: the webhook HTTP surface. Verifies, bounds and identifies each request, then hands the raw
delivery to a DeliverySink. Imports only `schemas` (never the normalizer, worker or runtime)."""
