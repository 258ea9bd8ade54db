"""The normalizer: pure mappers from raw webhook deliveries to unified events (docs/events.md)."""

from normalizer.errors import NormalizerError, UnmappableDelivery
from normalizer.mapping import MAPPERS, map_delivery
from normalizer.rules import MappingRules

__all__ = ["MAPPERS", "MappingRules", "NormalizerError", "UnmappableDelivery", "map_delivery"]
