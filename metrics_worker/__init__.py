"""The metric engine: unified events in, DORA metrics out (engine.py; definitions in docs/metrics.md).

Pure: imports only `schemas`, the standard library, pydantic and orjson; no I/O, no clock reads.
"""
