"""Logging is configured here, at the entry point, and nowhere else."""

import logging
import sys

from metricsync.kafka.outage import RepeatFilter

# aiokafka logs every failed attempt to reach a broker (dozens of lines a second while Kafka is
# down: 61,744 lines in a 12 s outage); its repeats are let through once per interval, counted.
CHATTY_LIBRARIES = ("aiokafka",)
REPEAT_INTERVAL = 10.0


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        force=True,
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RepeatFilter(CHATTY_LIBRARIES, REPEAT_INTERVAL))
