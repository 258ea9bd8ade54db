"""Distributed mode's MongoDB/FerretDB edge: the store (raw deliveries, events, dead letters), the
worker's append-only state log, and the read API's metrics source."""
