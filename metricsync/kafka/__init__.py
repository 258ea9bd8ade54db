"""Distributed mode's Kafka edge: clients and topic admin, size limits, batched producing, the ingest
sink with its disk spool, the record codec, and the consumer-service base."""
