"""Mapping at the runtime's edge: one delivery's events, or the reason it becomes a dead letter.

Every mode (embedded pipeline, distributed normalizer, rebuild) maps through here, so a delivery the
mappers reject, or one that trips a mapper bug, is treated the same everywhere: kept, with its error,
and the pipeline moves on."""

from __future__ import annotations

import logging

from normalizer.errors import UnmappableDelivery
from normalizer.mapping import map_delivery
from normalizer.payload import Parsed
from normalizer.rules import MappingRules
from schemas.events import UnifiedEvent
from schemas.raw import RawDelivery

log = logging.getLogger(__name__)


def map_or_error(
    delivery: RawDelivery, rules: MappingRules, parsed: Parsed = None
) -> tuple[list[UnifiedEvent], str | None]:
    """The delivery's events and None, or no events and why it cannot be mapped (`parsed`: see
    map_delivery)."""
    try:
        return map_delivery(delivery, rules, parsed), None
    except UnmappableDelivery as e:
        log.warning("dead letter source=%s delivery_id=%s error=%s", delivery.source, delivery.delivery_id, e)
        return [], str(e)
    except Exception as e:  # a mapper bug must not stop the pipeline: keep the delivery, say why
        log.exception("mapper failed source=%s delivery_id=%s", delivery.source, delivery.delivery_id)
        return [], f"mapper error: {type(e).__name__}: {e}"
