"""Distributed mode's processes: the normalizer and worker consumer services, how a consumer service
runs (signals, heartbeat, burst), and the ingest and read-API apps."""
