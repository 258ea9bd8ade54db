"""`map_delivery`: one raw delivery -> its unified events, through an explicit per-source registry."""

from collections.abc import Callable, Mapping
from types import MappingProxyType

from normalizer.alertmanager import map_alertmanager
from normalizer.errors import UnmappableDelivery
from normalizer.github import map_github
from normalizer.jenkins import map_jenkins
from normalizer.payload import Parsed
from normalizer.rules import MappingRules
from schemas.events import UnifiedEvent
from schemas.raw import RawDelivery
from schemas.sources import Source

Mapper = Callable[[RawDelivery, MappingRules, Parsed], list[UnifiedEvent]]

MAPPERS: Mapping[Source, Mapper] = MappingProxyType(
    {
        Source.GITHUB: map_github,
        Source.JENKINS: map_jenkins,
        Source.ALERTMANAGER: map_alertmanager,
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
