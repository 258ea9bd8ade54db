"""`SourceRegistration`: everything the runtime knows about one source, in one object.

A source is a module in `metricsync/sources/` holding one registration, built from the core parts it
ties together: its ingest side (`ingest/<source>.py`: verifier and delivery identity, as `Sender`s), its
mapper (`normalizer/<source>.py`), the event types it maps (the "hints" that answer `accepted` rather
than `ignored`), its settings (the `IngestConfig` fields holding its secret, declared once there and
read from `METRICSYNC_<FIELD>`), and where its mapping is documented. The ingest app, the health
endpoints, the startup summary and the docs check loop over `REGISTRY`; none of them names a source.
"""

from collections.abc import Callable
from dataclasses import dataclass

from ingest.config import IngestConfig
from ingest.sender import Sender
from normalizer.mapping import Mapper
from schemas.sources import Source


@dataclass(frozen=True, slots=True)
class SourceRegistration:
    source: Source
    title: str  # as users name the tool: "GitLab"
    senders: Callable[[IngestConfig], list[Sender]]  # its endpoints, verified as `config` says
    mapper: Mapper
    mapped_events: frozenset[str]  # event types it maps (others are stored and answered "ignored")
    secret_fields: tuple[str, ...]  # the IngestConfig fields holding its secret(s)
    docs_anchor: str  # its mapping table: docs/events.md#...

    @property
    def secret_variables(self) -> tuple[str, ...]:
        return tuple(f"METRICSYNC_{name.upper()}" for name in self.secret_fields)

    def configured(self, config: IngestConfig) -> bool:
        return any(getattr(config, name) is not None for name in self.secret_fields)
