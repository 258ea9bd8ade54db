"""Embedded mode (`metricsync serve`): one process with the in-memory bus, the SQLite store, the
pipeline that drives the core, the data directory, and the Starlette app that composes them."""
