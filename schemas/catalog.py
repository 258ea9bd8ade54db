"""Which service an identifier names, and which team a service belongs to.

Built from the optional TOML file at `METRICSYNC_CONFIG`:

    [services.payments]
    aliases = ["acme/payments-api", "payments-deploy"]   # repo full names, job names, alert labels
    team = "checkout"

Service ids are lower-case. An identifier with no alias is its own service id (lower-cased).
`service_id` is the one place a name becomes a service id: the catalog, the mappers (through it) and
the event schema (`EventBase.service`) use it, so the engine and the runtime take `event.service` as is.
"""

from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field


def service_id(name: str) -> str:
    """The service id a service name stands for: stripped, lower-case."""
    return name.strip().lower()


class ServiceEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    aliases: list[str] = Field(default_factory=list)
    team: str | None = None


class ServiceCatalog(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    services: dict[str, ServiceEntry] = Field(default_factory=dict)

    @cached_property
    def index(self) -> dict[str, str]:
        """Identifier (lower-case) -> service id. A cached property, not a pydantic private attribute:
        resolve runs for every event mapped, and private attributes are read through __getattr__."""
        index: dict[str, str] = {}
        for name, entry in self.services.items():
            index[service_id(name)] = service_id(name)
            for alias in entry.aliases:
                index[service_id(alias)] = service_id(name)
        return index

    def resolve(self, identifier: str) -> str:
        """The service id an identifier (repo full name, job name, alert label) stands for."""
        key = service_id(identifier)
        return self.index.get(key, key)

    def team_of(self, service: str) -> str | None:
        entry = self.services.get(service)
        return entry.team if entry else None

    def team_services(self, team: str) -> frozenset[str]:
        return frozenset(service_id(name) for name, entry in self.services.items() if entry.team == team)

    def teams(self) -> frozenset[str]:
        return frozenset(entry.team for entry in self.services.values() if entry.team)
