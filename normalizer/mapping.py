"""`map_delivery`: one raw delivery -> its unified events, through an explicit per-source registry.

`map_or_error`: the same, or the reason the delivery becomes a dead letter. Every mode (embedded
pipeline, distributed normalizer, rebuild) maps through it, so a delivery the mappers reject, or one
that trips a mapper bug, is treated the same everywhere: kept, with its error, and the pipeline moves on."""

import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType

from normalizer.alertmanager import map_alertmanager
from normalizer.cdevents import map_cdevents
from normalizer.errors import UnmappableDelivery
from normalizer.github import map_github
from normalizer.gitlab import map_gitlab
from normalizer.jenkins import map_jenkins
from normalizer.opsgenie import map_opsgenie
from normalizer.pagerduty import map_pagerduty
from normalizer.payload import Parsed
from normalizer.push_api import map_push
from normalizer.rules import MappingRules
from schemas.events import UnifiedEvent
from schemas.raw import RawDelivery
from schemas.sources import Source

log = logging.getLogger(__name__)

Mapper = Callable[[RawDelivery, MappingRules, Parsed], list[UnifiedEvent]]

MAPPERS: Mapping[Source, Mapper] = MappingProxyType(
    {
        Source.GITHUB: map_github,
        Source.JENKINS: map_jenkins,
        Source.ALERTMANAGER: map_alertmanager,
        Source.GITLAB: map_gitlab,
        Source.PAGERDUTY: map_pagerduty,
        Source.OPSGENIE: map_opsgenie,
        Source.CDEVENTS: map_cdevents,
        Source.PUSH: map_push,
    }
)


def map_delivery(delivery: RawDelivery, rules: MappingRules, parsed: Parsed = None) -> list[UnifiedEvent]:
    """The events a delivery carries ([] for a type the metrics do not use). Pure: the same delivery
    and rules always give the same events, with the same ids. Raises UnmappableDelivery. `parsed`:
    the body as `orjson.loads` gives it, when the caller parsed it already (not parsed again)."""
    mapper = MAPPERS.get(delivery.source)
    if mapper is None:
        raise UnmappableDelivery(
            source=str(delivery.source),
            delivery_id=delivery.delivery_id,
            event_type=delivery.event_type,
            field=None,
            reason="no mapper for this source",
        )
    return mapper(delivery, rules, parsed)


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
