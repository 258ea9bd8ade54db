"""Which service an identifier names, and which team a service belongs to.

Built from the optional TOML file at `METRICSYNC_CONFIG`:

    [services.payments]
    aliases = ["acme/payments-api", "payments-deploy"]   # repo full names, job names, alert labels
    team = "checkout"

Service ids are lower-case. An identifier with no alias is its own service id (lower-cased).
"""

from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field


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
            index[name.lower()] = name.lower()
            for alias in entry.aliases:
                index[alias.strip().lower()] = name.lower()
        return index

    def resolve(self, identifier: str) -> str:
        """The service id an identifier (repo full name, job name, alert label) stands for."""
        key = identifier.strip().lower()
        return self.index.get(key, key)

    def team_of(self, service: str) -> str | None:
        entry = self.services.get(service)
        return entry.team if entry else None

    def team_services(self, team: str) -> frozenset[str]:
        return frozenset(name.lower() for name, entry in self.services.items() if entry.team == team)

    def teams(self) -> frozenset[str]:
        return frozenset(entry.team for entry in self.services.values() if entry.team)
